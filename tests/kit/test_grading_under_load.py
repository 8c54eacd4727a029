"""A busy machine bends no grade: a small class graded on a quiet machine, then again with the grader pinned to
one CPU beside processes that spin on it, gets the same verdicts, or `ungradable` (the machine was too busy to
tell), never a correct file told it ran out of time. The load is bounded (a fixed number of processes, killed
in `finally`) and the check reads verdicts, never how long anything took.

So that a modest load bites, both runs grade with a probe limit of 0.25 s (of CPU, as always; the reference
spends 0.035 s at most in one probe), and the busy run grades at the lowest priority (nice 19) on one CPU
beside a spinning process: a probe that costs a tenth of the limit in CPU then takes longer than the
limit on the wall clock, which a wall-clock limit called an endless loop (checked by swapping the rule).
Which files end ungradable depends on the machine; none ends with another verdict."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alfred.course.targets import KIT_ROOT, SOLUTIONS_MAIN

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="grading sandboxes with bubblewrap")]

CORRECT = ["five_one_second_steps_with_progress.py"]
WRONG = ["task_sleeps_with_a_float_that_lies.py"]
HOGS = 1


GRADE = """
import sys
from dataclasses import replace
from alfred.sandbox import usage
usage.LIMITS = replace(usage.LIMITS, probe_seconds=0.25)
from alfred.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _grade(klass: Path, out: Path, squeezed: set[int] | None = None) -> dict[str, dict]:
    """`alfred grade` of `klass`; `squeezed`: on that CPU alone, at the lowest priority (nice 19), beside the
    spinning processes, which then take nearly all of it."""

    def squeeze() -> None:
        os.sched_setaffinity(0, squeezed)
        os.nice(19)

    command = [sys.executable, "-c", GRADE, "grade", str(klass), "--out", str(out), "--json", "--jobs", "2",
               "--hidden-seed", "11"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=KIT_ROOT,
                          preexec_fn=squeeze if squeezed else None)
    assert done.returncode == 0, done.stderr[-3000:]
    return {row["student"]: row for row in map(json.loads, done.stdout.splitlines())}


def _verdict(row: dict) -> tuple:
    return row["status"], {key: value["score"] for key, value in row["exercises"].items()}


def test_a_class_graded_on_a_busy_machine_gets_its_quiet_verdicts_or_ungradable(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    shutil.copy(SOLUTIONS_MAIN, klass / "reference.py")
    for name in CORRECT:
        shutil.copy(KIT_ROOT / "tests" / "corpus" / "correct" / name, klass / name)
    for name in WRONG:
        shutil.copy(KIT_ROOT / "tests" / "corpus" / "wrong" / name, klass / name)
    quiet = _grade(klass, tmp_path / "quiet")
    core = {min(os.sched_getaffinity(0))}
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=lambda: os.sched_setaffinity(0, core))
            for _ in range(HOGS)]
    try:
        busy = _grade(klass, tmp_path / "busy", squeezed=core)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert quiet.keys() == busy.keys()
    for student, row in busy.items():
        assert row["status"] == "ungradable" or _verdict(row) == _verdict(quiet[student]), (student, row["message"])
        if student.removesuffix(".py") in ("reference", *(name.removesuffix(".py") for name in CORRECT)):
            assert row["status"] in ("graded", "ungradable") and "killed for time" not in row["flags"], row
    assert all(quiet[f"{name.removesuffix('.py')}"]["score"] == 100 for name in ["reference.py", *CORRECT])
