"""A student's results as the per-test lists of platforms show them (PrairieLearn's tests, JUnit's test cases):
one entry per visible test, with its share of its exercise's points, and one per hidden check group (an
exercise and a public sentence, alfred.judge.hidden), worth its checks' shares and told by its public line
only, never its tests' names, inputs or messages. The group stands where its first check stood.

Every text is a student's words made printable (alfred.judge.feedback.printable) and cut at `MAX_TEXT`, so a
format only escapes them for its own medium.
"""

from __future__ import annotations

from dataclasses import dataclass

from alfred.course.exercises import BY_ID
from alfred.judge.feedback import printable
from alfred.judge.hidden import public_lines
from alfred.judge.scoring import TestEntry
from alfred.reports.rows import ResultRow

MAX_TEXT = 4000  # characters of one message: a flood of output stays readable and the result file small
CUT_NOTE = " [cut]"


@dataclass(frozen=True)
class Entry:
    exercise: str  # the exercise's id
    name: str  # the test's name, or "hidden checks: <sentence>"
    outcome: str  # passed, failed, not run (a test skipped because the file did not import), error...
    points: float
    max_points: float
    message: str  # the learner message of a test not passed ("" when passed), or the hidden group's public line
    hidden: bool = False

    @property
    def label(self) -> str:
        return BY_ID[self.exercise].label


def entries(row: ResultRow) -> list[Entry]:
    listed: list[Entry | tuple[str, str]] = []  # a hidden group is (exercise, sentence) until all its checks are in
    groups: dict[tuple[str, str], list[TestEntry]] = {}
    for test in row["tests"]:
        if test.get("hidden"):
            key = (test["exercise"], test["hidden"])
            if key not in groups:
                listed.append(key)
            groups.setdefault(key, []).append(test)
            continue
        share = _share(row, test["exercise"])
        passed = test["outcome"] == "passed"
        listed.append(Entry(test["exercise"], cut(test["name"]), test["outcome"], share if passed else 0.0, share,
                            "" if passed else cut(test["message"])))
    return [item if isinstance(item, Entry) else _hidden(row, *item, groups[item]) for item in listed]


def _hidden(row: ResultRow, exercise: str, sentence: str, group: list[TestEntry]) -> Entry:
    ((passed, line),) = public_lines(group, BY_ID[exercise].label)
    outcomes = [test["outcome"] for test in group]
    # failed when one of them failed; not run (as its tests) when none could run, the file not importing
    outcome = "passed" if passed else "failed" if "failed" in outcomes else next(o for o in outcomes if o != "passed")
    share = _share(row, exercise)
    return Entry(exercise, cut(f"hidden checks: {sentence}"), outcome,
                 share * outcomes.count("passed"), share * len(group), cut(line), hidden=True)


def _share(row: ResultRow, exercise_id: str) -> float:
    """What one test of the exercise is worth: the exercise's points shared by its tests (alfred.judge.scoring)."""
    exercise = row["exercises"][exercise_id]
    return exercise["max_score"] / exercise["total"] if exercise["total"] else 0.0


def cut(text: str, limit: int = MAX_TEXT) -> str:
    text = printable(text)
    return text if len(text) <= limit else text[: limit - len(CUT_NOTE)] + CUT_NOTE
