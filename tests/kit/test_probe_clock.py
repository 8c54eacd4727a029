"""A probe's clock (alfred.sandbox.usage) stops a loop for the CPU it used and a wait that never ends for the time
its processes slept, and concludes nothing at the backstop of a probe starved of CPU by a busy machine: real
processes, their CPU and scheduling as the kernel counts them, never a timing assert on the test's own speed
(each case waits for a verdict, whatever the machine's pace)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from alfred.sandbox import usage
from alfred.sandbox.usage import BLOCKED, BUSY, TIMEOUT, ProbeClock

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/schedstat"),
                                 reason="the kernel's per-thread scheduling statistics are read from /proc")]


def _verdict_of(command: str, affinity: set[int] | None = None):
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
    verdict, (wall, ran) = _verdict_of("while True: pass")
    assert verdict == TIMEOUT and ran >= usage.LIMITS.probe_seconds


def test_code_that_waits_for_what_never_comes_is_blocked():
    verdict, (wall, ran) = _verdict_of("import threading; threading.Event().wait()")
    assert verdict == BLOCKED and wall >= usage.LIMITS.probe_seconds and ran < 1


def test_a_thread_that_ran_and_ended_still_counts():
    """A thread that worked 0.8 s of CPU then ended takes its record with it: the clock keeps the last one it saw
    (looking every 0.05 s here, as the judge does while it waits), so the probe's CPU does not vanish with it."""
    child = subprocess.Popen([sys.executable, "-c", "import sys, threading, time\n"
                              "def work():\n    while time.thread_time() < 0.8: pass\n"
                              "sys.stdin.readline()\n"  # the clock starts first: all the thread's work is the probe's
                              "t = threading.Thread(target=work); t.start(); t.join()\n"
                              "print('ended', flush=True); time.sleep(60)"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    try:
        clock = ProbeClock(child.pid)
        child.stdin.write(b"go\n")
        child.stdin.flush()
        while not select.select([child.stdout], [], [], 0.05)[0]:
            clock.spent()
        assert child.stdout.readline() == b"ended\n"
        measured = clock.spent()[1]
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        child.stdin.close()
        child.stdout.close()
    assert measured >= 0.5  # without the kept record: the main thread's few milliseconds


def test_a_wait_is_never_called_blocked_where_proc_does_not_say(monkeypatch):
    """A student's own run on macOS or Windows: this process's CPU time stands in, and a wait ends at the
    backstop, not judged."""
    monkeypatch.setattr(usage, "tasks", lambda pid, children=True: None)  # as where /proc says nothing
    monkeypatch.setattr(usage, "LIMITS", replace(usage.LIMITS, probe_seconds=1.0, backstop_seconds=2.0))
    clock = ProbeClock(os.getpid())
    while (verdict := clock.verdict()) is None:
        time.sleep(0.05)
    assert verdict == BUSY


def test_the_children_it_started_count_with_it():
    verdict, (_, ran) = _verdict_of("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
                                       "'while True: pass']); time.sleep(600)")
    assert verdict == TIMEOUT and ran >= usage.LIMITS.probe_seconds


def test_a_loop_starved_of_cpu_by_a_busy_machine_is_not_judged_rather_than_called_a_loop(monkeypatch):
    """Ten processes spinning on the probe's one CPU, each in a session of its own (the scheduler shares a CPU
    between sessions first): the loop gets about a tenth of it, so when the backstop passes (8 s here) it has
    not used the 5 s of CPU that would make it a loop, and the machine was short of CPU: nothing is concluded."""
    monkeypatch.setattr(usage, "LIMITS", replace(usage.LIMITS, probe_seconds=5.0, backstop_seconds=8.0))
    core = {min(os.sched_getaffinity(0))}
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True,
                             preexec_fn=lambda: os.sched_setaffinity(0, core)) for _ in range(10)]
    try:
        verdict, (wall, ran) = _verdict_of("while True: pass", affinity=core)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert verdict == BUSY and ran < usage.LIMITS.probe_seconds <= wall, (wall, ran)
