"""Hidden checks: tests that run only when work is graded, on inputs drawn afresh for each grading run.

A lesson's test is hidden when it carries `@pytest.mark.hidden("the public sentence")` besides its exercise
marker: the sentence is all a student ever reads of it ("the task must name the report it was given"). Who
calls this module: conftest.py registers `HiddenChecks` as a plugin, the reports group hidden results with
`public_lines`, and `alfred grade` draws one seed per class with `draw_seed`.

- **When they run.** Whenever a run grades or checks the kit: `alfred grade`, `pytest --submission`,
  `pytest solutions`, the kit's own `pytest`. A student's run (`pytest exercises`, and the handout's bare
  `pytest`) deselects them; the handout does not even hold them (they live in the suite's `hidden/` folder).
- **Their inputs.** The `hidden_random` fixture is a `random.Random` seeded by the run's seed and the test's
  name, so every test draws its own inputs (report names, addresses...) from the lesson's word lists, the
  same for every student of a run and whatever order or selection the tests run in. The seed comes from
  `--hidden-seed N`, else the ALFRED_HIDDEN_SEED environment variable (a whole number, or a UUID such as a
  Kubernetes Job's uid), else os.urandom: a run is reproduced by giving its seed, which the report header,
  `--score-json` and `alfred grade`'s reports record.
- **How many.** A student's run has no hidden tests, yet says how many wait at grading: the lesson's
  lesson.toml lists each hidden check's public sentence under its exercise (`hidden = [...]`), and a kit test
  checks that the list and the hidden tests agree. lesson.toml is the one source of truth because it is the
  only lesson file both the kit and the handout hold.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # scoring imports this module: the type is named for readers and checkers only
    from alfred.judge.scoring import TestEntry

MARKER = "hidden"
SEED_OPTION = "--hidden-seed"
SEED_VARIABLE = "ALFRED_HIDDEN_SEED"
SEED_KEY = pytest.StashKey[int]()
UUID_LENGTH = 36  # a UUID written out with its hyphens, as Kubernetes gives a Job's uid
HIDDEN_FOLDER = "hidden"  # the suite's sub-folder holding the hidden tests: left out of the handout


class SeedError(ValueError):
    """A seed that is not a whole number from 0; the message names the value and where it came from."""


def draw_seed() -> int:
    """A fresh seed: 32 random bits, short enough to type back as `--hidden-seed N`."""
    return int.from_bytes(os.urandom(4), "big")


def parse_seed(text: str, source: str) -> int:
    """A whole number from 0, or a UUID, whose low 32 bits are the seed: a Kubernetes Job gives every pod its
    uid (deploy/kubernetes/grade-job.yaml), so the shards of one run share a seed and each run has its own."""
    text = str(text).strip()
    try:
        seed = int(text)
    except ValueError:
        try:
            seed = uuid.UUID(text).int % 2**32 if len(text) == UUID_LENGTH else -1
        except ValueError:
            seed = -1
    if seed < 0:
        raise SeedError(f"Invalid hidden seed '{text}' from {source}: give a whole number, 0 or more (or a UUID)")
    return seed


def chosen_seed(option: str | None, environ: dict | None = None) -> int:
    """The run's seed: the option, else the environment variable, else a fresh one."""
    environ = os.environ if environ is None else environ
    if option is not None:
        return parse_seed(option, SEED_OPTION)
    if environ.get(SEED_VARIABLE):
        return parse_seed(environ[SEED_VARIABLE], f"the {SEED_VARIABLE} environment variable")
    return draw_seed()


def sentence_of(item: pytest.Item) -> str | None:
    """The public sentence of a hidden test, or None for a visible one."""
    mark = item.get_closest_marker(MARKER)
    if mark is None:
        return None
    if len(mark.args) != 1 or not isinstance(mark.args[0], str) or not mark.args[0].strip() or mark.kwargs:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER}(...) takes one sentence a student may read, "
                                f"such as \"the task must name the report it was given\"; got {mark.args!r}")
    return mark.args[0].strip()


def declare_marker(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(sentence): a hidden check, run only when grading; the sentence "
                            "is all a student sees of it")


class HiddenChecks:
    """Pytest plugin: deselects hidden tests in a student's run, and seeds the inputs of the others."""

    def __init__(self, student_run: bool, seed: int):
        self.student_run, self.seed = student_run, seed
        self.ran = 0  # hidden tests collected to run

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        hidden = [item for item in items if sentence_of(item) is not None]
        if self.student_run and hidden:
            items[:] = [item for item in items if sentence_of(item) is None]
            config.hook.pytest_deselected(items=hidden)
        else:
            self.ran = len(hidden)

    def pytest_report_header(self, config: pytest.Config) -> str | None:
        if self.student_run:
            return None
        return f"alfred: hidden checks draw their inputs with seed {self.seed} ({SEED_OPTION} {self.seed} draws the same)"

    @pytest.fixture
    def hidden_random(self, request: pytest.FixtureRequest) -> random.Random:
        """The inputs of one hidden test: the run's seed and the test's name, so the same for every student of
        a run and for any order or selection of the tests."""
        return random.Random(f"{self.seed}:{request.node.name}")


# --- what a student reads of hidden results ---


def public_lines(tests: list[TestEntry], exercise_label: str) -> list[tuple[bool, str]]:
    """The hidden tests among `tests` (one exercise's results) as a student may read them: one line per public
    sentence, with how many of its checks failed and never their inputs or code. (all passed, line) pairs, in
    the suite's order."""
    groups: dict[str, list[bool]] = {}
    for test in tests:
        if test.get("hidden"):
            groups.setdefault(test["hidden"], []).append(test["outcome"] == "passed")
    of = exercise_label[0].lower() + exercise_label[1:]
    lines = []
    for sentence, passed in groups.items():
        failed, total = passed.count(False), len(passed)
        checks = f"hidden check{'s' * (total != 1)} of {of}"
        if not failed:
            lines.append((True, f"{total} {checks} passed: {sentence}"))
        elif failed == total:
            lines.append((False, f"{total} {checks} failed: {sentence}"))
        else:
            lines.append((False, f"{failed} of {total} {checks} failed: {sentence}"))
    return lines


def visible(tests: list[TestEntry]) -> list[TestEntry]:
    return [test for test in tests if not test.get("hidden")]
