"""PrairieLearn's external-grading `results.json`, one per student (`prairielearn/<name>.json`), the file the
question's grading entrypoint writes to /grade/results/results.json (alfred.grading.prairielearn), so a course
can read a class's results in that format before the question goes live.

A graded file is `gradable` with `score` from 0 to 1, the headline as `message`, each exercise's points as
`output`, and one test per entry of alfred.reports.entries (hidden checks by their public line only), each
with name, points, max_points and message. A file that cannot be graded (nothing gradable: it does not import,
there is no main.py...; or the grader failed: its sandbox, a machine far too busy) is `gradable: false` with the
reason in `message` and `format_errors`: PrairieLearn marks it "invalid, not gradable", awards no points, takes
none away and charges no attempt, where a score of 0 would read as a verdict. Student words are plain text,
control characters escaped: PrairieLearn shows `message` and `output` through ANSI-to-HTML conversion, which
escapes HTML.
"""

from __future__ import annotations

import json

from alfred.course.exercises import BY_ID, IDS
from alfred.reports.entries import cut, entries
from alfred.reports.rows import UNGRADABLE, UNSCORED, ResultRow

NAME = "prairielearn"


def for_student(row: ResultRow, name: str) -> dict[str, str]:
    return {f"prairielearn/{name}.json": json.dumps(results(row), indent=2)}


def for_class(rows: list[ResultRow]) -> dict[str, str]:
    return {}


def results(row: ResultRow) -> dict:
    if row["status"] in UNSCORED:
        return not_gradable(_why(row))
    tests = [{"name": f"{entry.label}: {entry.name}", "points": round(entry.points, 4),
              "max_points": round(entry.max_points, 4), "message": entry.message} for entry in entries(row)]
    return {
        "gradable": True,
        "score": round(min(1.0, row["score"] / row["max_score"]), 6) if row["max_score"] else 0.0,
        "message": cut(row["message"]),
        "output": "\n".join(_exercise_line(row, exercise) for exercise in IDS if row["exercises"][exercise]["total"]),
        "tests": tests,
    }


def _exercise_line(row: ResultRow, exercise_id: str) -> str:
    """"Exercise 2 (task): 7/7 tests, 25/25 points", as the student's feedback heads each exercise."""
    exercise = row["exercises"][exercise_id]
    return (f"{BY_ID[exercise_id].label}: {exercise['passed']}/{exercise['total']} tests, "
            f"{exercise['score']:g}/{exercise['max_score']:g} points")


def not_gradable(why: str) -> dict:
    """A result PrairieLearn records as "invalid, not gradable": no score, no attempt used, the reason shown."""
    why = cut(why)
    return {"gradable": False, "message": why, "format_errors": [why], "tests": []}


def _why(row: ResultRow) -> str:
    if row["status"] == UNGRADABLE:
        return f"This submission was not graded, and no attempt was used: {row['message']}"
    first = next((test["message"] for test in row["tests"] if test["message"]), "")  # the import error, with its hint
    return f"{row['message']}\n\n{first}" if first and first not in row["message"] else row["message"]
