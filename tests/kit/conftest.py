"""The self-check's costly set-up, shared by its modules: the graded suite run once each on the reference, the
stubs and an empty app (the `reference_report`, `stub_report` and `empty_app_report` fixtures). As soon as
collection shows that a selected test needs them, these runs start in one process of their own
(alfred.judge.suite.run_suite there, exactly as in this process) and grade while the other tests run; the tests
that need them run last. On two cores the self-check hardly waits for them.
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import pytest

from alfred.course.targets import EXERCISES_MAIN, LESSON, SOLUTIONS_MAIN
from alfred.judge.suite import run_suite


def empty_app(scratch: Path) -> Path:
    """An app with no routes and no names, beside the project files the lesson gives (templates/, static/)."""
    main = scratch / "main.py"
    main.write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    for entry in LESSON.files:
        shutil.copytree(EXERCISES_MAIN.parent / entry, scratch / entry)
    return main


# Each shared run: its fixture's name, and the main.py it grades (made in a scratch folder of the session's).
SHARED_RUNS = {"reference_report": lambda scratch: SOLUTIONS_MAIN, "stub_report": lambda scratch: EXERCISES_MAIN,
               "empty_app_report": empty_app}
RUNS = pytest.StashKey[dict[str, Future]]()
POOL = pytest.StashKey[ProcessPoolExecutor]()
SCRATCH = pytest.StashKey[tempfile.TemporaryDirectory]()


def waits_for(item: pytest.Item) -> list[str]:
    """The shared runs a test needs."""
    return [name for name in SHARED_RUNS if name in getattr(item, "fixturenames", ())]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that need a shared run go last, so that the runs have the whole session to grade in."""
    items.sort(key=lambda item: bool(waits_for(item)))  # a stable sort: each part keeps its order


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    needed = [name for name in SHARED_RUNS if any(name in waits_for(item) for item in session.items)]
    if not needed:
        return
    scratch = session.config.stash[SCRATCH] = tempfile.TemporaryDirectory(prefix="alfred-self-check-")
    pool = session.config.stash[POOL] = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    session.config.stash[RUNS] = {name: pool.submit(run_suite, SHARED_RUNS[name](Path(scratch.name)))
                                  for name in needed}


def pytest_sessionfinish(session: pytest.Session) -> None:
    if POOL in session.config.stash:
        session.config.stash[POOL].shutdown(cancel_futures=True)  # a run stopped early (-x, Ctrl-C) leaves none
        session.config.stash[SCRATCH].cleanup()


def shared_run(request: pytest.FixtureRequest, name: str) -> dict:
    return request.config.stash[RUNS][name].result()


@pytest.fixture(scope="session")
def reference_report(request: pytest.FixtureRequest) -> dict:
    """The reference graded once, for every check about it."""
    return shared_run(request, "reference_report")


@pytest.fixture(scope="session")
def stub_report(request: pytest.FixtureRequest) -> dict:
    """The stubs graded once, for every check about them."""
    return shared_run(request, "stub_report")


@pytest.fixture(scope="session")
def empty_app_report(request: pytest.FixtureRequest) -> dict:
    """An app with no routes and no names, graded once."""
    return shared_run(request, "empty_app_report")
