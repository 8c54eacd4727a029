"""What a student's terminal shows of a run's failures, above the progress table (conftest.py writes it).

Only the exercise the student is on is told in full: its failures, each learner message once (failures that
say the same thing are one message and "the same for N more tests"). Every other exercise with failures is one
line naming the command that shows them; the tests a file that does not import never ran are one line. Under
`alfred watch` the screen is 80 by 24 or so: only the current exercise's first failure, fitted to the width, and
the table below it says the rest.
The same grouping serves the feedback files (alfred.reports.feedback): `told_once`.
"""

from __future__ import annotations

import textwrap

from alfred.course.exercises import BY_ID
from alfred.judge.scoring import ScoreReport, TestEntry

NOT_RUN = "not run:"  # how a test that waits for an import error begins its message (alfred.judge.driver)
WATCH_FIELD_LINES = 2  # under `alfred watch` each field of a failure takes at most 2 lines: 8, the table the rest


def test_name(test: TestEntry) -> str:
    return test["nodeid"].split("::")[-1]


def told_once(tests: list[TestEntry]) -> list[tuple[TestEntry, list[TestEntry]]]:
    """The failed tests, each with the later ones whose message says the same: what happened and what to do (what
    was tried and expected aside: one mistake met by several tests reads the same), in the order first met."""
    groups: dict[tuple, tuple[TestEntry, list[TestEntry]]] = {}
    for test in tests:
        learner = test.get("learner")
        key = ((learner["got"], learner["hint"]) if isinstance(learner, dict)
               else (test["message"],))
        if key in groups:
            groups[key][1].append(test)
        else:
            groups[key] = (test, [])
    return list(groups.values())


def same_for(more: list[TestEntry], shown_names: int = 3) -> str:
    """`the same for 2 more tests: a, b`, naming a few."""
    names = [test_name(test) for test in more]
    listed = ", ".join(names[:shown_names]) + (", ..." if len(names) > shown_names else "")
    return f"the same for {len(more)} more test{'s' * (len(more) != 1)}: {listed}"


def failure_lines(report: ScoreReport, first: str | None, command: str, watching: bool, width: int = 80) -> list[str]:
    """The lines above the table: the failures of exercise `first` (the `next:` line's), told once each (under
    watch, its first failure only, fitted to `width`), and one line for each other
    exercise that has failures (not under watch: the table says it), or for the tests an import error kept from
    running."""
    tests = [test for test in report["tests"] if not test.get("hidden")]
    not_run = [test for test in tests if test["outcome"] == "skipped" and test["message"].startswith(NOT_RUN)]
    lines: list[str] = []
    for exercise_id, entry in report["exercises"].items():
        failed = [test for test in tests if test["exercise"] == exercise_id and test["outcome"] == "failed"]
        if not failed:
            continue
        label = BY_ID[exercise_id].label
        if not_run or exercise_id == first:
            groups = told_once(failed)
            lines.append(f"{label}: {len(failed)} of {entry['total']} checks fail" + ("; the first:" if watching else ""))
            for test, more in groups[:1] if watching else groups:
                lines.append(f"  {test_name(test)}")
                lines += _fitted(test["message"], width) if watching else _indented(test["message"])
                if more and not watching:
                    lines.append(f"    {same_for(more)}")
        elif not watching:  # under watch the table below says it
            lines.append(f"{label}: {len(failed)} of {entry['total']} checks fail; run `{command} -m {exercise_id}`")
    if not_run:
        lines.append(f"{len(not_run)} more test{'s' * (len(not_run) != 1)} not run: they wait for the error above")
    return lines


def _indented(message: str) -> list[str]:
    return [f"    {line}" for line in message.splitlines()]


def _fitted(message: str, width: int) -> list[str]:
    """`message` wrapped to `width` under its labels (Tried:, Got: ...), each field cut to its first
    WATCH_FIELD_LINES lines, so the hint is always on screen."""
    wrapped: list[str] = []
    for line in message.splitlines():
        field = textwrap.wrap(line, width=max(40, width - 1), initial_indent="  ", subsequent_indent=" " * 12) or [""]
        if len(field) > WATCH_FIELD_LINES:
            field = field[:WATCH_FIELD_LINES - 1] + [field[WATCH_FIELD_LINES - 1][:max(40, width - 1) - 4] + " ..."]
        wrapped += field
    return wrapped
