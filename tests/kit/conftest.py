"""The self-check's costly set-up, shared by its modules: the graded suite run once on the reference and once on
the stubs (the `reference_report` and `stub_report` fixtures). As soon as collection shows that a selected test
needs them, both runs start in one process of their own (alfred.judge.suite.run_suite there, exactly as in this
process), and grade while the tests before theirs run: on two cores the self-check hardly waits for them.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor

import pytest

from alfred.course.targets import EXERCISES_MAIN, SOLUTIONS_MAIN
from alfred.judge.suite import run_suite

SHARED_RUNS = {"reference_report": SOLUTIONS_MAIN, "stub_report": EXERCISES_MAIN}  # fixture name: main.py graded
RUNS = pytest.StashKey[dict[str, Future]]()
POOL = pytest.StashKey[ProcessPoolExecutor]()


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    needed = [name for name in SHARED_RUNS if any(name in getattr(item, "fixturenames", ()) for item in session.items)]
    if needed:
        pool = session.config.stash[POOL] = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        session.config.stash[RUNS] = {name: pool.submit(run_suite, SHARED_RUNS[name]) for name in needed}


def pytest_sessionfinish(session: pytest.Session) -> None:
    pool = session.config.stash.get(POOL, None)
    if pool is not None:
        pool.shutdown(cancel_futures=True)  # a run stopped early (-x, Ctrl-C) leaves no grading behind


@pytest.fixture(scope="session")
def reference_report(request: pytest.FixtureRequest) -> dict:
    """The reference graded once, for every check about it."""
    return request.config.stash[RUNS]["reference_report"].result()


@pytest.fixture(scope="session")
def stub_report(request: pytest.FixtureRequest) -> dict:
    """The stubs graded once, for every check about them."""
    return request.config.stash[RUNS]["stub_report"].result()
