"""The student's feedback, `feedback/<name>.md`: the score, then every exercise's tests, each failure with its
learner message in a fence nothing in it can close. A hidden check (alfred.judge.hidden) shows only its exercise
and its public sentence, grouped: never its name, its inputs or what it got."""

from __future__ import annotations

from alfred.course.exercises import BY_ID, IDS, LESSON
from alfred.judge.hidden import public_lines, visible
from alfred.reports.text import code_block, code_span, plain
from alfred.reports.rows import UNGRADABLE, ResultRow

NAME = "feedback"


def for_student(row: ResultRow, name: str) -> dict[str, str]:
    return {f"feedback/{name}.md": markdown(row)}


def for_class(rows: list[ResultRow]) -> dict[str, str]:
    return {}


def markdown(row: ResultRow) -> str:
    lines = [f"# {LESSON.name} feedback for {code_span(row['student'])}", ""]
    if row["status"] == UNGRADABLE:
        return "\n".join([*lines, "Not graded yet: the grader failed on its own side, so this is no verdict on your "
                          "code and there is no score. Your instructor sees it listed for review and grades it "
                          "again.", "", *code_block(row["message"], indent=""), ""])
    lines += [f"Score: **{row['score']:g} / {row['max_score']:g}** ({row['status']})", ""]
    if row["status"] in ("error", "timeout"):
        lines += ["Your submission could not be tested:", "", *code_block(row["message"], indent=""), "",
                  "Fix that first; the tests below did not run because of it.", ""]
    for exercise_id in IDS:
        entry = row["exercises"][exercise_id]
        mine = [test for test in row["tests"] if test["exercise"] == exercise_id]
        if not mine:
            continue
        lines += [f"## {BY_ID[exercise_id].label}: {entry['passed']}/{entry['total']} tests, "
                  f"{entry['score']:g}/{entry['max_score']:g} points", ""]
        for test in visible(mine):
            mark = "passed" if test["outcome"] == "passed" else "**not yet**"
            lines.append(f"- {mark}: {test['name']}")  # the suite's own name (merge checks it: alfred.grading.shards)
            if test["outcome"] == "failed" or (test["outcome"] != "passed" and row["status"] == "graded"):
                lines += ["", *code_block(test["message"], indent="  "), ""]  # a file that does not import: told once
        for passed, line in public_lines(mine, BY_ID[exercise_id].label):
            lines.append(f"- {line}" if passed else f"- **not yet**: {line}")
        lines.append("")
    if row["flags"]:
        lines += ["Notes for your instructor: " + ", ".join(plain(flag) for flag in row["flags"]), ""]
    lines.append(f"Run `pytest {LESSON.student_file.split('/')[0]}` to see the same tests on your machine.")
    return "\n".join(lines) + "\n"
