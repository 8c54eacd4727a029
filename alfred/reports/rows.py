"""The result row every report reads: one graded student, as `alfred.grading.grade` makes it and the grader's
cache stores it (JSON), typed once here so each format reads the same named fields."""

from __future__ import annotations

from typing import NotRequired, TypedDict

from alfred.judge.scoring import ExerciseScore, TestEntry

# The status of a submission the grader itself could not grade (its sandbox would not start, it crashed): not a
# verdict on the student's code, so it has no score in any report, counts in no class statistic, and is graded
# again by the next run.
UNGRADABLE = "ungradable"
UNSCORED = ("error", UNGRADABLE)  # statuses left out of the class's scores


class ResultRow(TypedDict):
    student: str  # the student's id: untrusted words, escaped by each format (alfred.reports.text)
    status: str  # graded, error (no test could run), timeout, ungradable (the grader failed: no score; UNGRADABLE)
    score: float
    max_score: float
    exercises: dict[str, ExerciseScore]  # by exercise id, every exercise of the lesson
    flags: list[str]  # what the teacher should look at: "crashed", "killed for time", "unsandboxed"...
    message: str  # one line for the gradebook and Gradescope
    tests: list[TestEntry]  # in the order they ran
    hidden_seed: NotRequired[int]  # the seed of the hidden checks' inputs, when the lesson has hidden checks
