"""Questions about a probe's timeline that the tests of more than one exercise ask, written once.

A lesson's tests import these next to alfred.judge.feedback; they read an `Observation` (alfred.judge.observation) and
know no lesson.
"""

from __future__ import annotations


def around_the_sleeps(seen, phase: str = "call") -> tuple[list[str], list[str]] | None:
    """The lines printed in `phase` before its first simulated sleep, and after its last one; None when
    nothing slept (each test says what stands for the work then)."""
    timeline = [e for e in seen.events if e.phase == phase and e.kind in ("print", "sleep")]
    sleeps = [i for i, e in enumerate(timeline) if e.kind == "sleep"]
    if not sleeps:
        return None
    before = [e.text or "" for e in timeline[: sleeps[0]] if e.kind == "print"]
    after = [e.text or "" for e in timeline[sleeps[-1] + 1 :] if e.kind == "print"]
    return before, after
