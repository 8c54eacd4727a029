"""How long a probe has really run: the CPU its processes used, not how long the machine took to give it.

A time limit in wall-clock seconds blames the student for a busy machine: a correct file was told "endless
loop" while other work loaded the grader. So a probe is limited by what its code did (`ProbeClock.verdict`):

- `timeout`: its processes used `LIMITS.probe_seconds` of CPU: a loop, the code's doing;
- `busy`: `LIMITS.backstop_seconds` of wall clock passed with that CPU unspent: either the machine was too busy
  to give it a CPU, or the code waits for something that never comes (a lock, a queue, `input()`). Nothing
  tells the two apart for sure (a thread that ended takes its scheduling record with it), so nothing is
  concluded about the code: the grader tries the submission again, then marks it ungradable for the teacher.

CPU is the kernel's count, per thread, from /proc/PID/task/TID/schedstat, summed over the process and every
process it started (with the time each waited for a CPU, which `spent` reports). Where /proc has no such file
(macOS, Windows: a student's own run), the CPU time of this process stands in. This module runs in the
student's run on every system, so it imports nothing but the standard library and the limits.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from alfred.sandbox.limits import LIMITS

TIMEOUT, BUSY = "timeout", "busy"


def usage(pid: int, children: bool = True) -> tuple[float, float] | None:
    """(seconds on a CPU, seconds waiting for one) of process `pid` and, with `children`, every process it
    started, or None where /proc does not say (another system, or the process is gone)."""
    ran = waited = 0
    pending, seen = [pid], set()
    found = False
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            threads = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for thread in threads:
            try:
                fields = Path(f"/proc/{current}/task/{thread}/schedstat").read_text().split()
                started = Path(f"/proc/{current}/task/{thread}/children").read_text().split() if children else []
            except OSError:
                continue
            found = True
            ran, waited = ran + int(fields[0]), waited + int(fields[1])
            pending += [int(child) for child in started]
    return (ran / 1e9, waited / 1e9) if found else None


@dataclass
class ProbeClock:
    """One probe's clock: started when the probe is sent, asked for a verdict while the judge waits. `pid` is
    the process that answers the probe (the processes it starts count with it)."""

    pid: int
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._base = self._sample()

    def _sample(self) -> tuple[float, float] | None:
        measured = usage(self.pid)
        if measured is None and self.pid == os.getpid():
            return time.process_time(), 0.0  # another system: this process's CPU, waiting unknown
        return measured

    def spent(self) -> tuple[float, float, float]:
        """(wall seconds, CPU seconds, seconds waiting for a CPU) since the probe started."""
        wall = time.monotonic() - self.started
        now = self._sample()
        if now is None or self._base is None:
            return wall, 0.0, 0.0
        return wall, now[0] - self._base[0], now[1] - self._base[1]

    def verdict(self) -> str | None:
        """TIMEOUT or BUSY (see the module's docstring), or None while the probe may go on."""
        wall, ran, _ = self.spent()
        if ran >= LIMITS.probe_seconds:
            return TIMEOUT
        if wall >= LIMITS.backstop_seconds:
            return BUSY
        return None
