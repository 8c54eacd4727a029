"""Turns test outcomes into points: the rubric, per-exercise partial credit, and the score report.

`ResultCollector` is a pytest plugin that notes every suite test's exercise (from its marker), outcome and
learner message, kept as its four fields (alfred.judge.feedback.LearnerMessage) besides its text. `score` applies the rubric: within an exercise, each test is worth the same share of the
exercise's points, a hidden check (alfred.judge.hidden) as much as a visible test: a hidden check re-asks what the
exercise asks on other inputs, so it weighs as any other check of it, and a student's run, which has no hidden
check, scores the visible tests alone (and says so). `pytest --score-json`, the progress table and `alfred grade` all use these two.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from typing import NotRequired, TypedDict
from pathlib import Path

import pytest

from alfred.course.exercises import BY_ID, IDS
from alfred.judge.feedback import LearnerFailure, printable
from alfred.judge.hidden import sentence_of

RUBRIC_TABLE = "tool.alfred.points"


class RubricError(Exception):
    """A bad `[tool.alfred.points]` entry; the message names the value and where it came from."""


def load_rubric(pyproject: Path) -> dict[str, float]:
    rubric = {exercise.id: float(exercise.points) for exercise in BY_ID.values()}
    try:
        with pyproject.open("rb") as handle:
            table = tomllib.load(handle).get("tool", {}).get("alfred", {}).get("points", {})
    except FileNotFoundError:
        return rubric
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{pyproject.name} is not valid TOML: {exc}") from None
    source = f"in {pyproject.name} [{RUBRIC_TABLE}]"
    for exercise_id, value in table.items():
        if exercise_id not in BY_ID:
            raise RubricError(f"Unknown exercise '{exercise_id}' {source}: the ids are {', '.join(IDS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise RubricError(f"Invalid points '{value}' for exercise '{exercise_id}' {source}")
        rubric[exercise_id] = float(value)
    return rubric


@dataclass
class TestResult:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    nodeid: str
    name: str
    exercise: str
    outcome: str = "not run"  # passed, failed, error, skipped
    message: str = ""  # the whole message as a terminal shows it
    learner: dict[str, str] | None = None  # a check's message: tried, got, expected, hint; None for other text
    hidden: str | None = None  # a hidden check's public sentence (alfred.judge.hidden): all a student may see of it


class TestEntry(TypedDict):
    """One test in a score report: a TestResult as JSON (what --score-json, the cache and the reports hold)."""

    nodeid: str
    name: str
    exercise: str
    outcome: str
    message: str
    learner: dict[str, str] | None
    hidden: str | None


class ExerciseScore(TypedDict):
    score: float
    max_score: float
    passed: int
    total: int


class ScoreReport(TypedDict):
    """What `score` returns and `pytest --score-json` writes."""

    score: float
    max_score: float
    exercises: dict[str, ExerciseScore]
    tests: list[TestEntry]
    hidden_seed: NotRequired[int]  # the run's hidden checks' seed, when they ran


class ResultCollector:
    """Pytest plugin: one TestResult per collected suite test, filled in as reports arrive."""

    def __init__(self, suite_dir: Path):
        self.suite_dir = suite_dir
        self.results: dict[str, TestResult] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if self.suite_dir not in Path(item.path).parents:
                continue
            ids = [mark.name for mark in item.iter_markers() if mark.name in BY_ID]
            if len(ids) != 1:
                raise pytest.UsageError(f"{item.nodeid} needs exactly one exercise marker of {IDS}, has {ids}")
            self.results[item.nodeid] = TestResult(item.nodeid, item.name, ids[0], hidden=sentence_of(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        result = self.results.get(item.nodeid)
        if result is not None and report.failed and not result.message:
            result.message, result.learner = _message(report, call)
        elif result is not None and report.skipped and not result.message and isinstance(report.longrepr, tuple):
            result.message = printable(str(report.longrepr[2]).removeprefix("Skipped: "))[:MAX_MESSAGE_CHARS]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        result = self.results.get(report.nodeid)
        if result is None:
            return
        if report.failed:
            result.outcome = "failed" if report.when == "call" else "error"
        elif report.skipped and result.outcome == "not run":
            result.outcome = "skipped"
        elif report.passed and report.when == "call":
            result.outcome = "passed"


MAX_MESSAGE_CHARS = 3000


def _message(report: pytest.TestReport, call: pytest.CallInfo) -> tuple[str, dict[str, str] | None]:
    """The learner message of a failure: its text, and its fields when a check made it. Anything else (an
    error inside the kit, whatever caused it) is named but never shown: a traceback would print the tests'
    source into a student's feedback."""
    error = call.excinfo.value if call.excinfo else None
    learner = None
    if isinstance(error, LearnerFailure):
        text = error.learner.text
        learner = {key: _bounded(value) for key, value in asdict(error.learner).items()}
    elif isinstance(error, pytest.fail.Exception) and not error.pytrace:
        text = report.longreprtext
    else:
        kind = type(error).__name__ if error else "an unknown error"
        text = (f"The grader could not check this test ({kind} in the {report.when} step). "
                "This is not a verdict on your code; your instructor can rerun it.")
    return _bounded(text), learner


def _bounded(text: str) -> str:
    """Student words made printable and cut at MAX_MESSAGE_CHARS: a message never floods a report."""
    text = printable(text)
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 12] + " [cut short]"


def score(results: list[TestResult], rubric: dict[str, float]) -> ScoreReport:
    """The score report: totals, one entry per exercise id (all present), and every test's outcome.
    Every number is rounded once, from exact values: the total is the exact sum of the exercises' exact
    points, so 13.333... + 8.333... + 35 totals 56.67, as a teacher adding fractions would."""
    exercises: dict[str, ExerciseScore] = {}
    exact_total = 0.0
    for exercise_id in IDS:
        mine = [result for result in results if result.exercise == exercise_id]
        passed = sum(result.outcome == "passed" for result in mine)
        points = rubric[exercise_id]
        exact = points * passed / len(mine) if mine else 0.0
        exact_total += exact
        exercises[exercise_id] = {"score": round(exact, 2), "max_score": points, "passed": passed, "total": len(mine)}
    return {
        "score": round(exact_total, 2),
        "max_score": sum(entry["max_score"] for entry in exercises.values()),
        "exercises": exercises,
        "tests": [TestEntry(**asdict(result)) for result in results],
    }
