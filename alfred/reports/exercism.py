"""Exercism's test-runner `results.json`, interface version 3 (`exercism/<name>.json` per student, and
`results.json` itself when one submission is graded, as Exercism's runner expects in its output folder).

Tests keep the lesson's order (each exercise's tests as they ran); each homework test carries its exercise's number as `task_id` (the worked
example is not a task and carries none) and its `test_code`, the source of the test function, read from the
suite's own test files alone (the suite is visible to students: it is in the handout); `message` is the learner message; `output`, what the code did,
is cut at 500 characters with a note. A file that cannot be tested is `status: error` with its message.
Hidden checks (alfred.judge.hidden) are one entry per exercise and public sentence, with no test code, no output,
and a message saying how many failed: never their names or inputs.
"""

from __future__ import annotations

import ast
import functools
import json

from alfred.course.exercises import BY_ID, IDS
from alfred.judge.hidden import public_lines
from alfred.reports.text import got
from alfred.course.targets import KIT_ROOT, SUITE_DIR
from alfred.reports.rows import UNGRADABLE, ResultRow
from alfred.judge.scoring import TestEntry

NAME = "exercism"
VERSION = 3
MAX_OUTPUT = 500
CUT_NOTE = " [cut: the whole message is in your feedback]"


def for_student(row: ResultRow, name: str) -> dict[str, str]:
    return {f"exercism/{name}.json": json.dumps(results(row), indent=2)}


def for_class(rows: list[ResultRow]) -> dict[str, str]:
    return {"results.json": json.dumps(results(rows[0]), indent=2)} if len(rows) == 1 else {}


def results(row: ResultRow) -> dict:
    if row["status"] in ("error", "timeout", UNGRADABLE):
        return {"version": VERSION, "status": "error", "message": row["message"]}
    tests, grouped = [], set()
    for test in sorted(row["tests"], key=lambda test: IDS.index(test["exercise"])):  # tasks in order, as Exercism
        # shows them; within an exercise, as they ran (hidden checks run last of all: alfred.judge.hidden)
        if not test.get("hidden"):
            tests.append(_test(test))
        elif (test["exercise"], test["hidden"]) not in grouped:  # the group stands where its first check stood
            grouped.add((test["exercise"], test["hidden"]))
            tests.append(_hidden(row, test["exercise"], test["hidden"]))
    status = "pass" if all(test["status"] == "pass" for test in tests) else "fail"
    return {"version": VERSION, "status": status, "message": None, "tests": tests}


def _test(test: TestEntry) -> dict:
    entry: dict = {"name": test["name"], "test_code": _test_code(test.get("nodeid", "")),
                   "status": _STATUS.get(test["outcome"], "error")}
    number = BY_ID[test["exercise"]].number
    if number:
        entry["task_id"] = number
    if entry["status"] != "pass":
        entry["message"] = test["message"] or None
        entry["output"] = _cut(got(test)) if test["message"] else None
    return entry


_STATUS = {"passed": "pass", "failed": "fail"}


def _hidden(row: ResultRow, exercise: str, sentence: str) -> dict:
    group = [test for test in row["tests"] if test["exercise"] == exercise and test.get("hidden") == sentence]
    ((passed, line),) = public_lines(group, BY_ID[exercise].label)
    entry: dict = {"name": f"hidden checks: {sentence}", "test_code": "", "status": "pass" if passed else "fail"}
    if BY_ID[exercise].number:
        entry["task_id"] = BY_ID[exercise].number
    if not passed:
        entry["message"], entry["output"] = line, None
    return entry


def _cut(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT else text[: MAX_OUTPUT - len(CUT_NOTE)] + CUT_NOTE


@functools.cache
def _test_code(nodeid: str) -> str:
    """The source of the test function a node id names (tests/<lesson folder>/test_task.py::test_x[case]),
    read from the suite's own visible test files only (hidden/ stays unread): a node id naming any other file
    (a row is data) gives none."""
    path, _, name = nodeid.partition("::")
    suite_files = {file.relative_to(KIT_ROOT).as_posix(): file for file in SUITE_DIR.glob("test_*.py")}
    if path not in suite_files:
        return ""
    source = suite_files[path].read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name.split("[")[0]:
            return ast.get_source_segment(source, node) or ""
    return ""
