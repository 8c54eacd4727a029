"""Gradescope's `results.json`, one per student (`results/<name>.json`): the whole score, one entry per test
with its share of its exercise's points, and student words shown as typed text. Hidden checks (alfred.judge.hidden)
are one entry per exercise and public sentence, worth their checks' shares, saying how many failed: never
their names, inputs or messages."""

from __future__ import annotations

import json

from alfred.course.exercises import BY_ID
from alfred.judge.hidden import public_lines
from alfred.reports.rows import UNGRADABLE, ResultRow
from alfred.judge.scoring import TestEntry

NAME = "gradescope"


def for_student(row: ResultRow, name: str) -> dict[str, str]:
    if row["status"] == UNGRADABLE:  # Gradescope has no score-less result: none is better than a false 0
        return {}
    return {f"results/{name}.json": json.dumps(results(row), indent=2)}


def for_class(rows: list[ResultRow]) -> dict[str, str]:
    return {}


def results(row: ResultRow) -> dict:
    tests = []
    hidden: dict[tuple[str, str], list[TestEntry]] = {}  # (exercise, sentence) -> its hidden checks
    for test in row["tests"]:
        exercise = row["exercises"][test["exercise"]]
        share = exercise["max_score"] / exercise["total"] if exercise["total"] else 0.0
        if test.get("hidden"):
            group = hidden.setdefault((test["exercise"], test["hidden"]), [])
            if not group:  # the group's entry stands where its first check stood
                tests.append({"hidden": group, "share": share})
            group.append(test)
            continue
        tests.append({
            "name": f"{BY_ID[test['exercise']].label}: {test['name']}",
            "score": round(share if test["outcome"] == "passed" else 0.0, 4),
            "max_score": round(share, 4),
            "status": "passed" if test["outcome"] == "passed" else "failed",
            "output": test["message"],
            "tags": [test["exercise"]],
            "visibility": "visible",
        })
    tests = [_hidden_entry(entry["hidden"], entry["share"]) if "hidden" in entry else entry for entry in tests]
    for number, entry in enumerate(tests, start=1):
        entry["number"] = str(number)
    return {
        "score": row["score"],
        "output": row["message"],
        "output_format": "text",  # shown as typed: a student's words never render as HTML or Markdown
        "test_output_format": "text",
        "tests": tests,
        "extra_data": {"status": row["status"], "flags": row["flags"], "exercises": row["exercises"]},
    }


def _hidden_entry(group: list[TestEntry], share: float) -> dict:
    """One entry for the hidden checks of one exercise and sentence: their points, and the public line."""
    exercise = group[0]["exercise"]
    ((passed, line),) = public_lines(group, BY_ID[exercise].label)
    return {
        "name": f"{BY_ID[exercise].label}: hidden checks: {group[0]['hidden']}",
        "score": round(share * sum(test["outcome"] == "passed" for test in group), 4),
        "max_score": round(share * len(group), 4),
        "status": "passed" if passed else "failed",
        "output": line,
        "tags": [exercise, "hidden"],
        "visibility": "visible",
    }
