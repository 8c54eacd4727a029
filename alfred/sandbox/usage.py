"""How long a probe has really run: the CPU its processes used, not how long the machine took to give it.

A time limit in wall-clock seconds blames the student for a busy machine: a correct file was told "endless
loop" while other work loaded the grader. So a probe is limited by what its code did (`ProbeClock.verdict`):

- `timeout`: its processes used `LIMITS.probe_seconds` of CPU: a loop, the code's doing;
- `blocked`: `LIMITS.probe_seconds` of wall clock passed, more than half of it with the probe's processes
  neither running nor waiting for a CPU, and the judge (whose supervisor answers their prints and sleeps)
  not waiting for one either: they slept on something that never comes (a lock, a queue, `input()`), the
  code's doing too. A busy machine makes processes wait *for a CPU*, which counts as their time, so it never
  makes a probe blocked;
- `busy`: `LIMITS.backstop_seconds` of wall clock passed without either: the machine was too busy to tell,
  so nothing is concluded (the grader tries the submission again, then marks it ungradable for the teacher).

The numbers are the kernel's, per thread, from /proc/PID/task/TID/schedstat (time on a CPU, time runnable but
waiting for one), over the process and every process it started, and over the judge's own threads. A thread
takes its record with it when it ends, so the clock keeps the last record it saw of every thread. Where /proc
has none (macOS, Windows: a student's own run), the CPU time of this process stands in and no probe is
called `blocked`. This module runs in the student's run on every system, so it imports nothing but the
standard library and the limits.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from alfred.sandbox.limits import LIMITS

TIMEOUT, BLOCKED, BUSY = "timeout", "blocked", "busy"


def tasks(pid: int, children: bool = True) -> dict[str, tuple[int, int]] | None:
    """Every thread of process `pid` and, with `children`, of every process it started: "pid/tid" -> (ns on a
    CPU, ns waiting for one); None where /proc does not say (another system, or the process is gone)."""
    found: dict[str, tuple[int, int]] = {}
    pending, seen = [pid], set()
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
            found[f"{current}/{thread}"] = (int(fields[0]), int(fields[1]))
            pending += [int(child) for child in started]
    return found or None


@dataclass
class ProbeClock:
    """One probe's clock: started when the probe is sent, asked for a verdict while the judge waits. `pid` is
    the process that answers the probe (the processes it starts count with it); the judge is this process."""

    pid: int
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._own = self.pid == os.getpid()  # a student's own run: the probe runs in this very process
        self._cpu = time.process_time()
        self._first = self._sample()
        self._last = dict(self._first or {})

    def _sample(self) -> dict[str, tuple[int, int]] | None:
        probe = tasks(self.pid)
        if probe is None or self._own:
            return probe
        judge = tasks(os.getpid(), children=False) or {}
        return {**probe, **{f"judge {key}": (0, waited) for key, (_, waited) in judge.items()}}

    def spent(self) -> tuple[float, float, float]:
        """(wall seconds, CPU seconds, seconds the probe or the judge waited for a CPU) since the probe started."""
        wall = time.monotonic() - self.started
        now = self._sample()
        if now is None or self._first is None:
            return wall, (time.process_time() - self._cpu) if self._own else 0.0, 0.0
        self._last.update(now)  # a thread that ended keeps its last record
        ran = sum(value[0] - self._first.get(key, (0, 0))[0] for key, value in self._last.items())
        waited = sum(value[1] - self._first.get(key, (0, 0))[1] for key, value in self._last.items())
        return wall, ran / 1e9, waited / 1e9

    def own_seconds(self) -> float:
        """The code's own seconds so far, counted against the submission's budget: the wall clock less the time
        the probe's processes or the judge waited for a CPU (the busy machine's share), so running and sleeping
        both count (a probe that blocks 4.8 s every time, under the probe's limit, spends the budget all the same)."""
        wall, _, waited = self.spent()
        return max(0.0, wall - waited)

    def verdict(self) -> str | None:
        """TIMEOUT, BLOCKED or BUSY (see the module's docstring), or None while the probe may go on."""
        wall, ran, waited = self.spent()
        if ran >= LIMITS.probe_seconds:
            return TIMEOUT
        if wall >= LIMITS.probe_seconds and self._first is not None and ran + waited < wall / 2:
            return BLOCKED
        if wall >= LIMITS.backstop_seconds:
            return BUSY
        return None
