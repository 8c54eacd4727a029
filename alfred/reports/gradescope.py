"""Gradescope's `results.json`, one per student (`results/<name>.json`): the whole score, one entry per test
with its share of its exercise's points, and student words shown as typed text."""

from __future__ import annotations

import json

from alfred.course.exercises import BY_ID

NAME = "gradescope"


def for_student(row: dict, name: str) -> dict[str, str]:
    return {f"results/{name}.json": json.dumps(results(row), indent=2)}


def for_class(rows: list[dict]) -> dict[str, str]:
    return {}


def results(row: dict) -> dict:
    tests = []
    for number, test in enumerate(row["tests"], start=1):
        exercise = row["exercises"][test["exercise"]]
        share = exercise["max_score"] / exercise["total"] if exercise["total"] else 0.0
        tests.append({
            "name": f"{BY_ID[test['exercise']].label}: {test['name']}",
            "number": str(number),
            "score": round(share if test["outcome"] == "passed" else 0.0, 4),
            "max_score": round(share, 4),
            "status": "passed" if test["outcome"] == "passed" else "failed",
            "output": test["message"],
            "tags": [test["exercise"]],
            "visibility": "visible",
        })
    return {
        "score": row["score"],
        "output": row["message"],
        "output_format": "text",  # shown as typed: a student's words never render as HTML or Markdown
        "test_output_format": "text",
        "tests": tests,
        "extra_data": {"status": row["status"], "flags": row["flags"], "exercises": row["exercises"]},
    }
