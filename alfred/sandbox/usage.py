"""How long a probe has really run: what its code did, not how long the machine took to let it.

A time limit in wall-clock seconds blames the student for a busy machine: a correct file was told "endless
loop" while other work loaded the grader. So a probe is limited by what its code did (`ProbeClock.verdict`):

- `timeout`: its processes used `LIMITS.probe_seconds` of CPU: a loop, the code's doing;
- `blocked`: `LIMITS.probe_seconds` of wall clock passed in which, at nearly every look (every 0.1 s), every
  thread of the probe's processes and of the judge (whose supervisor answers their prints and sleeps) was
  asleep, none running or waiting to run, and the judge looked on time: they sleep on something that never
  comes (a lock, a queue, `input()`), the code's doing too. A busy machine leaves threads waiting *to run*,
  and makes the judge look late, so it never makes a probe blocked;
- `busy`: `LIMITS.backstop_seconds` of wall clock passed without either: the machine was too busy to tell,
  so nothing is concluded (the grader tries the submission again, then marks it ungradable for the teacher).

A submission's budget (`own_seconds`) counts its CPU and the time its probes were seen asleep, never the
time they waited to run. CPU is the kernel's count, per thread, from /proc/PID/task/TID/schedstat over the
process and every process it started (a thread that ended keeps the last record seen of it); a thread's
state is the kernel's too (/proc/.../stat). Where /proc says neither (macOS, Windows: a student's own run),
the CPU time of this process stands in, the wall clock is the budget's measure, and no probe is called
`blocked`. This module runs in the student's run on every system, so it imports nothing but the standard
library and the limits.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from alfred.sandbox.limits import LIMITS

TIMEOUT, BLOCKED, BUSY = "timeout", "blocked", "busy"


LOOK_SECONDS = 0.1  # how often the judge looks while it waits for a probe's reply
ON_TIME = 0.8  # the share of its looks the judge must take for a verdict of `blocked` (it was not starved)
ASLEEP = 0.9  # the share of looks that must find every thread asleep


def tasks(pid: int, children: bool = True) -> dict[str, tuple[int, str]] | None:
    """Every thread of process `pid` and, with `children`, of every process it started: "pid/tid" -> (ns on a
    CPU, its state: R running or waiting to run, S asleep...); None where /proc does not say."""
    found: dict[str, tuple[int, str]] = {}
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
                ran = int(Path(f"/proc/{current}/task/{thread}/schedstat").read_text().split()[0])
                state = Path(f"/proc/{current}/task/{thread}/stat").read_text().rsplit(")", 1)[1].split()[0]
                started = Path(f"/proc/{current}/task/{thread}/children").read_text().split() if children else []
            except (OSError, IndexError, ValueError):
                continue
            found[f"{current}/{thread}"] = (ran, state)
            pending += [int(child) for child in started]
    return found or None


@dataclass
class ProbeClock:
    """One probe's clock: started when the probe is sent, asked for a verdict while the judge waits (about every
    LOOK_SECONDS). `pid` is the process that answers the probe (the processes it starts count with it); the
    judge is this process, minus the thread that looks."""

    pid: int
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._cpu = time.process_time()
        self._first = tasks(self.pid) or None
        self._last_ran = {key: ran for key, (ran, _) in (self._first or {}).items()}
        self._looks = self._asleep = 0
        self._slept = 0.0  # seconds between looks that found every thread asleep
        self._looked_at = self.started

    def _look(self, probe: dict[str, tuple[int, str]] | None) -> None:
        """Notes whether every thread of the probe and of the judge (but the one looking) is asleep."""
        now = time.monotonic()
        if probe is None:
            return
        judge = (tasks(os.getpid(), children=False) or {}) if self.pid != os.getpid() else {}
        looking = f"{os.getpid()}/{threading.get_native_id()}"
        every = {**probe, **{f"judge {key}": value for key, value in judge.items()}}
        asleep = all(state not in ("R", "D") for key, (_, state) in every.items() if not key.endswith(looking))
        self._looks += 1
        if asleep:
            self._asleep += 1
            self._slept += now - self._looked_at
        self._looked_at = now

    def spent(self, probe: dict[str, tuple[int, str]] | None = None) -> tuple[float, float]:
        """(wall seconds, CPU seconds of the probe's processes) since the probe started; `probe`: its threads
        as just read (else they are read now)."""
        wall = time.monotonic() - self.started
        if self._first is None:
            return wall, (time.process_time() - self._cpu) if self.pid == os.getpid() else 0.0
        for key, (ran, _) in (probe if probe is not None else tasks(self.pid) or {}).items():
            self._last_ran[key] = ran  # a thread that ended keeps its last record
        ran = sum(value - self._first.get(key, (0, ""))[0] for key, value in self._last_ran.items())
        return wall, ran / 1e9

    def own_seconds(self) -> float:
        """The code's own seconds so far, for the submission's budget: its CPU and the time it was seen asleep
        (a probe that blocks 4.8 s every time, under the probe's limit, spends the budget all the same), never
        the time it waited to run; the wall clock where /proc does not tell."""
        wall, ran = self.spent()
        return wall if self._first is None else ran + self._slept

    def verdict(self) -> str | None:
        """TIMEOUT, BLOCKED or BUSY (see the module's docstring), or None while the probe may go on."""
        probe = tasks(self.pid)
        self._look(probe)
        wall, ran = self.spent(probe or {})
        if ran >= LIMITS.probe_seconds:
            return TIMEOUT
        expected = wall / LOOK_SECONDS
        if (wall >= LIMITS.probe_seconds and self._looks >= ON_TIME * expected
                and self._asleep >= ASLEEP * self._looks):
            return BLOCKED
        if wall >= LIMITS.backstop_seconds:
            return BUSY
        return None
