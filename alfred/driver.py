"""Drivers run probes against a submission; `Submission` is the one door the tests go through.

A driver takes a probe (plain data) and returns what `alfred.probe.run_probe` observed (plain data).
`InProcessDriver` runs the probe in the test's own process, for a student's quick loop and the
instructor's `pytest solutions`. A driver that runs the same probe in another process returns the same
dict, so tests never know which one they were given.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time
from pathlib import Path
from typing import Any, Protocol

import pytest
from pydantic import ValidationError

from alfred.exercises import exercise_asking_for
from alfred.feedback import fail
from alfred.observation import Observation
from alfred.probe import run_probe


class Driver(Protocol):
    def run(self, probe: dict, workdir: Path) -> dict: ...


DRIVER_KEY = pytest.StashKey[Driver]()  # set by `alfred grade`; absent means the in-process driver
LABEL_KEY = pytest.StashKey[str]()  # how learner messages name the file, when the path would mislead


class InProcessDriver:
    """Runs probes here. Only for code its runner trusts: their own, or the kit's."""

    def __init__(self, main_path: Path):
        self.main_path = main_path

    def run(self, probe: dict, workdir: Path) -> dict:
        # The JSON round trip gives exactly the data another process would have sent.
        return json.loads(json.dumps(run_probe(self.main_path, probe, workdir)))


_PROBLEMS = {
    "timeout": "your code was still running after the time limit and was stopped",
    "oversized": "your code produced more output than the grader reads",
    "malformed": "the process running your code sent back something the grader could not read",
    "crashed": "the process running your code died before it could report",
}


def report(recipient_email: str, report_name: str, **extra: Any) -> dict:
    """An argument placeholder: the probe passes the task a report request object with these fields."""
    return {"$report": {"recipient_email": recipient_email, "report_name": report_name, **extra}}


class Submission:
    """The student's main.py as the tests see it: send requests, call functions, validate data.

    Probes are deterministic in what they start from, so the first probe of a test (a fresh, empty working
    directory) is answered from `shared_answers` when an earlier test of the same run sent the same one.
    Later probes of a test depend on what the earlier ones left behind, and always run: a first probe that
    was answered from memory is run for real just before them, so its files are there.
    """

    def __init__(self, driver: Driver, workdir: Path, label: str, shared_answers: dict | None = None):
        self.driver = driver
        self.workdir = workdir
        self.label = label
        self.shared_answers = {} if shared_answers is None else shared_answers
        self._fresh = True
        self._unplayed: dict | None = None  # a first probe answered from memory, not yet run here

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

    def _answer(self, probe: dict) -> dict:
        if not self._fresh:
            if self._unplayed is not None:
                self.driver.run(self._unplayed, self.workdir)
                self._unplayed = None
            return self.driver.run(probe, self.workdir)
        self._fresh = False
        key = json.dumps(probe, sort_keys=True)
        if key in self.shared_answers:
            self._unplayed = probe
        else:
            self.shared_answers[key] = self.driver.run(probe, self.workdir)
        return self.shared_answers[key]

    def _observe(self, probe: dict, setup: dict) -> Observation:
        """Runs the probe; a submission that cannot be imported or lacks a name fails the test right here."""
        __tracebackhide__ = True
        unknown = set(setup) - {"files", "dirs", "watch"}
        if unknown:
            raise TypeError(f"unknown probe set-up {sorted(unknown)}")
        probe = {**probe, **{key: value for key, value in setup.items() if value}}
        raw = self._answer(probe)
        try:
            observation = Observation.model_validate(raw)
        except ValidationError as exc:
            fail(
                tried=f"running {self.label} in its own process",
                got=f"a reply the kit could not read ({exc.error_count()} problems, first: {exc.errors()[0]['msg']})",
                expected="a well-formed report of what the code did",
                hint="this happens when the code writes over the kit's channel; ask your instructor to look.",
            )
        if observation.problem:
            fail(
                tried=f"running {self.label} for this test",
                got=_PROBLEMS.get(observation.problem, "the process running your code stopped unexpectedly")
                + (f" ({observation.problem_detail})" if observation.problem_detail else ""),
                expected="the code to finish within a few seconds and report what it did",
                hint="look for an endless loop, real waiting, huge output or very large data; "
                "only this test lost points.",
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


class SubprocessDriver:
    """Runs probes in a worker process (`alfred.worker`), sandboxed or not, over a data-only channel.

    A late, oversized or malformed reply, or a worker that died, becomes a `problem` observation that fails
    the one test that asked; the worker is restarted for the next probe. `flags` collects what the
    instructor should look at.
    """

    def __init__(self, launcher, reply_seconds: float = 8.0, max_reply_bytes: int = 4_500_000,
                 budget_seconds: float = 60.0):
        self.launcher = launcher  # has .start() -> Popen with the channel on stdin/stdout
        self.reply_seconds = reply_seconds
        self.max_reply_bytes = max_reply_bytes
        self.budget_seconds = budget_seconds  # wall clock for the whole submission
        self.flags: set[str] = set()
        self._process = None
        self._workdirs: dict[str, str] = {}
        self._next_id = 0
        self._spent = 0.0
        self.import_hangs = False
        self.load_error: dict | None = None  # the last import failure seen, for the grade's headline

    def run(self, probe: dict, workdir: Path) -> dict:
        started = time.monotonic()
        try:
            return self._run(probe, workdir)
        finally:
            self._spent += time.monotonic() - started

    def _run(self, probe: dict, workdir: Path) -> dict:
        if self.import_hangs:  # importing main.py never finished: it will not finish this time either
            return self._problem("timeout", "importing main.py did not finish")
        if self._spent > self.budget_seconds:
            return self._problem("timeout", f"the submission used up its {self.budget_seconds:g} s of grading time")
        if self._process is None or self._process.poll() is not None:
            self._process = self.launcher.start()
        self._next_id += 1
        request = {"id": self._next_id, "workdir": self._workdir_key(workdir), "probe": probe}
        try:
            self._process.stdin.write((json.dumps(request) + "\n").encode())
            self._process.stdin.flush()
            reply = self._read_reply()
        except (BrokenPipeError, OSError):
            reply = None
        if reply is None or reply.get("id") != self._next_id:
            self.stop()
            return self._problem(reply.get("problem", "crashed") if isinstance(reply, dict) else "crashed")
        if "observation" not in reply:
            if reply.get("problem") == "timeout" and not reply.get("loaded", True):
                self.import_hangs = True
                return self._problem("timeout", "importing main.py did not finish")
            return self._problem(reply.get("problem", "crashed"), str(reply.get("detail", ""))[:300])
        observation = reply["observation"]
        if isinstance(observation, dict):
            if observation.get("output_truncated"):
                self.flags.add("output cut")
            if isinstance(observation.get("load_error"), dict):
                self.load_error = observation["load_error"]
        return observation

    def _workdir_key(self, workdir: Path) -> str:
        # Each test's tmp_path maps to its own folder in the worker's private work area.
        return self._workdirs.setdefault(str(workdir), f"test-{len(self._workdirs)}")

    def _read_reply(self) -> dict | None:
        stream = self._process.stdout
        deadline, buffer = time.monotonic() + self.reply_seconds, b""
        while not buffer.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.flags.add("killed for time")
                return {"problem": "timeout"}
            ready, _, _ = select.select([stream], [], [], remaining)
            if ready:
                chunk = os.read(stream.fileno(), 1 << 16)
                if not chunk:
                    return None
                buffer += chunk
                if len(buffer) > self.max_reply_bytes:
                    self.flags.add("output cut")
                    return {"problem": "oversized"}
        try:
            reply = json.loads(buffer)
        except ValueError:
            self.flags.add("malformed reply")
            return {"problem": "malformed"}
        return reply if isinstance(reply, dict) else {"problem": "malformed"}

    def _problem(self, problem: str, detail: str = "") -> dict:
        flag = {"timeout": "killed for time", "oversized": "output cut", "malformed": "malformed reply"}
        self.flags.add(flag.get(problem, "crashed" if "MemoryError" not in detail else "killed for memory"))
        return {"problem": problem, "problem_detail": detail}

    def stop(self) -> None:
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGKILL)  # the whole tree: bwrap, the worker, its children
        except ProcessLookupError:
            pass
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            stream.close()
        self._process = None
