"""Drivers run probes against a submission; `Submission` is the one door the tests go through.

A driver takes a probe (plain data) and returns what `alfred.probe.run_probe` observed (plain data).
`InProcessDriver` runs the probe in the test's own process, for a student's quick loop and the
instructor's `pytest solutions`. A driver that runs the same probe in another process returns the same
dict, so tests never know which one they were given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from alfred.exercises import exercise_asking_for
from alfred.feedback import fail
from alfred.observation import Observation
from alfred.probe import run_probe


class Driver(Protocol):
    def run(self, probe: dict, workdir: Path) -> dict: ...


class InProcessDriver:
    """Runs probes here. Only for code its runner trusts: their own, or the kit's."""

    def __init__(self, main_path: Path):
        self.main_path = main_path

    def run(self, probe: dict, workdir: Path) -> dict:
        # The JSON round trip gives exactly the data another process would have sent.
        return json.loads(json.dumps(run_probe(self.main_path, probe, workdir)))


def report(recipient_email: str, report_name: str, **extra: Any) -> dict:
    """An argument placeholder: the probe passes the task a report request object with these fields."""
    return {"$report": {"recipient_email": recipient_email, "report_name": report_name, **extra}}


class Submission:
    """The student's main.py as the tests see it: send requests, call functions, validate data."""

    def __init__(self, driver: Driver, workdir: Path, label: str):
        self.driver = driver
        self.workdir = workdir
        self.label = label

    def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                content: str | None = None, headers: dict | None = None, **setup: Any) -> Observation:
        probe = {"action": "request", "method": method, "path": path, "params": params, "headers": headers}
        if content is not None:
            probe["content"] = content
        elif json is not None:
            probe["json"] = json
        return self._observe(probe, setup)

    def call(self, function: str, *args: Any, **setup: Any) -> Observation:
        return self._observe({"action": "call", "function": function, "args": list(args)}, setup)

    def validate(self, model: str, data: Any) -> Observation:
        return self._observe({"action": "validate", "model": model, "data": data}, {})

    def _observe(self, probe: dict, setup: dict) -> Observation:
        """Runs the probe; a submission that cannot be imported or lacks a name fails the test right here."""
        __tracebackhide__ = True
        unknown = set(setup) - {"files", "dirs", "watch"}
        if unknown:
            raise TypeError(f"unknown probe set-up {sorted(unknown)}")
        raw = self.driver.run({**probe, **{key: value for key, value in setup.items() if value}}, self.workdir)
        try:
            observation = Observation.model_validate(raw)
        except ValidationError as exc:
            fail(
                tried=f"running {self.label} in its own process",
                got=f"a reply the kit could not read ({exc.error_count()} problems, first: {exc.errors()[0]['msg']})",
                expected="a well-formed report of what the code did",
                hint="this happens when the code writes over the kit's channel; ask your instructor to look.",
            )
        if observation.load_error:
            error = observation.load_error
            fail(
                tried=f"importing {self.label}",
                got=error.sentence(),
                expected="the module to import cleanly",
                hint=(f"open main.py at line {error.line} and fix it" if error.line else "read the error above")
                + "; then run the tests again.",
            )
        if observation.missing_name:
            name = observation.missing_name
            exercise = exercise_asking_for(name)
            asks = f"{exercise.label} asks for it" if exercise and exercise.number else "the lesson builds it"
            fail(
                tried=f"using `{name}` from {self.label}",
                got=f"{self.label} has no `{name}` yet",
                expected=f"a `{name}` defined at the top level of main.py: {asks}",
                hint=f"check the spelling of `{name}`, and that it is not indented inside another block.",
            )
        return observation
