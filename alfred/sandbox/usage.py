"""How long a probe has really run: the CPU its processes used, not how long the machine took to give it.

A time limit in wall-clock seconds blames the student for a busy machine: a correct file was told "endless
loop" while other work loaded the grader. So a probe is limited by what its code did (`ProbeClock.verdict`):

- `timeout`: its processes used `LIMITS.probe_seconds` of CPU: a loop, the code's doing;
- `blocked`: `LIMITS.probe_seconds` of wall clock passed without that CPU used, while the machine had CPU to
  spare (its CPU pressure, the share of that time in which some task waited for a CPU, stayed under
  `CALM`): the code waits for something that never comes (a lock, a queue, `input()`), its doing too;
- `busy`: `LIMITS.backstop_seconds` of wall clock passed without that CPU used, on a machine short of CPU:
  nothing tells a wait that never ends from a machine too busy to run the code, so nothing is concluded
  (the grader tries the submission again, then marks it ungradable for the teacher).

CPU is the kernel's count, per thread, from /proc/PID/task/TID/schedstat, summed over the process and every
process it started; pressure is the kernel's too (/proc/pressure/cpu, PSI). Where /proc has neither (macOS,
Windows: a student's own run; a kernel without PSI), the CPU time of this process stands in and no probe is
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
CALM = 0.5  # at most this share of the time with some task waiting for a CPU: the machine had CPU to spare


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


def cpu_pressure() -> float | None:
    """Seconds, since the machine started, during which some task waited for a CPU (PSI), or None."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return int(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return None


@dataclass
class ProbeClock:
    """One probe's clock: started when the probe is sent, asked for a verdict while the judge waits. `pid` is
    the process that answers the probe (the processes it starts count with it)."""

    pid: int
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._base = self._sample()
        self._pressure = cpu_pressure()

    def pressure(self) -> float | None:
        """The share of the wall clock since the start in which some task of the machine waited for a CPU."""
        now, wall = cpu_pressure(), time.monotonic() - self.started
        if now is None or self._pressure is None or wall <= 0:
            return None
        return min(1.0, (now - self._pressure) / wall)

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
        """TIMEOUT, BLOCKED or BUSY (see the module's docstring), or None while the probe may go on."""
        wall, ran, _ = self.spent()
        if ran >= LIMITS.probe_seconds:
            return TIMEOUT
        if wall >= LIMITS.probe_seconds:
            pressure = self.pressure()
            if pressure is not None and pressure < CALM:
                return BLOCKED
        if wall >= LIMITS.backstop_seconds:
            return BUSY
        return None
