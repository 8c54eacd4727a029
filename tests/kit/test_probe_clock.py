"""A probe's clock (alfred.sandbox.usage) stops a loop for the CPU it used, and concludes nothing of code that
used little CPU when the wall-clock backstop passes (a wait that never ends, or a machine too busy): real
processes, their CPU and scheduling as the kernel counts them, never a timing assert on the test's own speed
(each case waits for a verdict, whatever the machine's pace)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from alfred.sandbox import usage
from alfred.sandbox.usage import BUSY, TIMEOUT, ProbeClock

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/schedstat"),
                                 reason="the kernel's per-thread scheduling statistics are read from /proc")]


def _verdict_of(command: str, affinity: set[int] | None = None) -> tuple[str, tuple[float, float, float]]:
    child = subprocess.Popen([sys.executable, "-c", command], start_new_session=True,  # its group: children too
                             preexec_fn=(lambda: os.sched_setaffinity(0, affinity)) if affinity else None)
    try:
        clock = ProbeClock(child.pid)
        while (verdict := clock.verdict()) is None:
            time.sleep(0.05)
        return verdict, clock.spent()
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def test_a_loop_is_stopped_for_the_cpu_it_used():
    verdict, (wall, ran, _) = _verdict_of("while True: pass")
    assert verdict == TIMEOUT and ran >= usage.LIMITS.probe_seconds


def test_code_that_waits_for_what_never_comes_is_not_judged_a_loop(monkeypatch):
    monkeypatch.setattr(usage, "LIMITS", replace(usage.LIMITS, backstop_seconds=2.0))
    verdict, (wall, ran, _) = _verdict_of("import threading; threading.Event().wait()")
    assert verdict == BUSY and ran < usage.LIMITS.probe_seconds and wall >= 2.0


def test_the_children_it_started_count_with_it():
    verdict, (_, ran, _) = _verdict_of("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
                                       "'while True: pass']); time.sleep(600)")
    assert verdict == TIMEOUT and ran >= usage.LIMITS.probe_seconds


def test_a_probe_starved_of_cpu_by_a_busy_machine_is_busy_not_a_loop_nor_blocked(monkeypatch):
    """Ten processes spinning on the probe's one CPU: it waits to run more than it runs, so at the backstop (2 s
    here) nothing is concluded about its code."""
    monkeypatch.setattr(usage, "LIMITS", replace(usage.LIMITS, probe_seconds=5.0, backstop_seconds=2.0))
    core = {min(os.sched_getaffinity(0))}
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                             preexec_fn=lambda: os.sched_setaffinity(0, core)) for _ in range(10)]
    try:
        verdict, (wall, ran, starved) = _verdict_of("while True: pass", affinity=core)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert verdict == BUSY and ran < usage.LIMITS.probe_seconds and starved > ran, (wall, ran, starved)
