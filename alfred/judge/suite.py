"""Runs the graded suite on one submission inside this process and returns its score report.

The kit's self-check and `alfred grade` call this; it runs exactly what `pytest --submission PATH
--score-json FILE` runs, so a grade never differs from what a student or instructor sees by hand.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from alfred.judge import pytest_options
from alfred.course.targets import KIT_ROOT, SUITE_DIR


class SuiteError(Exception):
    """The suite itself could not run (a usage error, an internal error): never a student's fault."""


def run_suite(main: Path, *pytest_args: str, plugins: tuple = ()) -> dict:
    with tempfile.TemporaryDirectory(prefix="alfred-suite-") as scratch:
        score_file = Path(scratch) / "score.json"
        args = [
            str(SUITE_DIR), "--submission", str(main), "--score-json", str(score_file),
            "--rootdir", str(KIT_ROOT), "--basetemp", str(Path(scratch) / "tmp"),
            "-p", "no:cacheprovider", "-p", "no:terminal", "--disable-plugin-autoload",
            # The judge never runs student code itself, so these end-of-session garbage collections only cost.
            "-p", "no:unraisableexception", "-p", "no:threadexception", *pytest_args,
        ]
        exit_code = pytest.main(args, plugins=[pytest_options, *plugins])  # options by object: no re-import
        if exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not score_file.exists():
            raise SuiteError(f"the suite could not run on {main} (pytest exit code {int(exit_code)})")
        return json.loads(score_file.read_text())


def run_suites(mains: list[Path], jobs: int | None = None) -> dict[Path, dict]:
    """Score reports for many submissions, graded in parallel in fresh processes (one pytest each)."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    workers = max(1, min(jobs or os.cpu_count() or 1, len(mains)))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return dict(zip(mains, pool.map(run_suite, mains)))
