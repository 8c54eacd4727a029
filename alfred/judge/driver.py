"""Drivers run probes against a submission; `Submission` is the one door the tests go through.

A driver takes a probe (plain data) and returns what `alfred.inside.probe.run_probe` observed (plain data), as
the judge reads it from the reply line a student process sends (`alfred.judge.observation.parse_reply`).
`InProcessDriver` runs the probe in the test's own process, for a student's quick loop and the
instructor's `pytest solutions`, and reads its own reply line the same way; the grader's driver
(`alfred.judge.sandboxed.SubprocessDriver`) runs the same probe in a sandboxed process and returns the same
data, so tests never know which one they were given.

This module is the student's side (conftest.py imports it, and the handout carries it): it runs on Windows
and macOS as on Linux, so it imports nothing of the sandbox but its limits, and its time limit needs no POSIX
signal. What only the Linux grader needs lives in alfred.judge.sandboxed.
"""

from __future__ import annotations

import _thread
import ctypes
import json
import os
import secrets
import signal
import threading
from pathlib import Path
from typing import Any, Protocol

import pytest
from pydantic import ValidationError

from alfred.course.exercises import exercise_asking_for
from alfred.judge.feedback import CUT_SHORT, fail
from alfred.course.lesson import current, written_folders
from alfred.judge.observation import Observation, Reply, page_bound, parse_reply
from alfred.inside.probe import STAND_IN_SAYS, encode_reply, run_probe
from alfred.sandbox.limits import LIMITS
from alfred.sandbox.usage import BLOCKED, BUSY, TIMEOUT, ProbeClock


class Driver(Protocol):
    # True: each test's probes run in a folder of this machine (the test's tmp_path). False: the driver keeps
    # its work folders where the probes run (a sandbox), one per test, and `workdir` only names it.
    local_work_folders: bool

    def run(self, probe: dict, workdir: Path) -> dict: ...


DRIVER_KEY = pytest.StashKey[Driver]()  # set by `alfred grade`; else the run's in-process driver, made at its first test
LABEL_KEY = pytest.StashKey[str]()  # how learner messages name the file, when the path would mislead


class InProcessDriver:
    """Runs probes here. Only for code its runner trusts: their own, or the kit's.

    With the grader's time limits (LIMITS.probe_seconds per probe, LIMITS.submission_seconds in all), so an
    endless loop fails its tests with the message grading gives instead of freezing the student's run: the
    main thread is interrupted (`_time_limit`). `probe_seconds=0` turns the limits off (a debugger session)."""

    local_work_folders = True

    def __init__(self, main_path: Path, project: Path | None = None, probe_seconds: float = LIMITS.probe_seconds):
        self.main_path = main_path
        self.project = project  # the folder given, whose other files the app finds beside it
        self.probe_seconds = probe_seconds
        self.import_hangs = False
        self.busy = False  # a probe outlived the backstop with little CPU used: the run judges nothing more
        self._spent = 0.0

    def run(self, probe: dict, workdir: Path) -> dict:
        if self.busy:
            return {"problem": BUSY}
        refused = out_of_time(self.import_hangs, self._spent, LIMITS.submission_seconds if self.probe_seconds else None)
        if refused:
            return {"problem": "timeout", "problem_detail": refused}
        loaded = []
        limit = _time_limit(self.probe_seconds)
        try:
            with limit:
                observation = run_probe(self.main_path, probe, workdir, lambda: loaded.append(not limit.fired.is_set()),
                                        self.project, also_skipped=written_folders())
        except ProbeTimedOut:
            pass
        finally:
            self._spent += limit.own_seconds()
        if limit.fired.is_set():  # however the probe ended: the import or a student's `except` may report it
            if limit.verdict == BUSY:  # the machine or a wait, not a loop: nothing is concluded
                self.busy = True
                return {"problem": BUSY}
            self.import_hangs = loaded != [True]  # stopped before main.py was imported
            return {"problem": limit.verdict, "problem_detail": "" if loaded == [True] else IMPORT_HANGS}
        # The reply line another process would have sent, read as the judge reads it: exactly the same data.
        reply = parse_reply(encode_reply({"id": 0, "observation": observation}))
        if not isinstance(reply, Reply):
            return {"problem": reply}
        if "observation" not in reply.model_fields_set:
            return {"problem": reply.problem or "crashed", "problem_detail": reply.detail[:300]}
        return reply.observation


IMPORT_HANGS = "importing main.py did not finish"


def out_of_time(import_hangs: bool, spent: float, budget: float | None) -> str | None:
    """Why a probe is not even started, the same for every driver: importing main.py never finished before
    (it will not finish this time either), or the submission's time is spent (`budget` None: no limit)."""
    if import_hangs:
        return IMPORT_HANGS
    if budget is not None and spent > budget:
        return f"the submission used up its {budget:g} s of grading time"
    return None


class ProbeTimedOut(BaseException):
    """Raised in the main thread when a probe run there outlives its time. A BaseException, so that student
    code's `except Exception:` does not keep it."""


class _time_limit:
    """Interrupts the main thread with ProbeTimedOut once the probe's clock gives a verdict (alfred.sandbox.usage:
    its CPU spent, asleep on something that never comes, or the machine too busy: `verdict`, and `fired` is
    set), then every second (a bare `except:` in student code may swallow one), until the block ends. The
    interruption is a SIGINT sent to the main thread from a watching thread (`_thread.interrupt_main` where
    threads cannot be signalled, as on Windows: no alarm, timer or other POSIX signal is needed), taken by a
    handler of this block's: a real Ctrl-C still stops pytest. A thread the block started and left running (a
    sync task looping in FastAPI's thread pool) is ended by an exception raised in it
    (PyThreadState_SetAsyncExc), so that the run can still exit. No limit outside the main thread, or with
    `seconds` 0."""

    def __init__(self, seconds: float):
        self.seconds = seconds  # 0: no limit
        self.done, self.fired = threading.Event(), threading.Event()
        self.verdict: str | None = None
        self._earlier = None
        self._watcher: threading.Thread | None = None
        self._clock: ProbeClock | None = None

    def own_seconds(self) -> float:
        """The code's own seconds in this block (alfred.sandbox.usage.ProbeClock.own_seconds)."""
        return self._clock.own_seconds() if self._clock is not None else 0.0

    def __enter__(self) -> "_time_limit":
        self._clock = ProbeClock(os.getpid())
        self._threads_before = set(threading.enumerate())
        if self.seconds and threading.current_thread() is threading.main_thread():
            self._earlier = signal.signal(signal.SIGINT, self._interrupted)
            self._watcher = threading.Thread(target=self._watch, name="alfred-probe-time-limit", daemon=True)
            self._watcher.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.done.set()
        if self._watcher is not None:
            self._watcher.join()
            signal.signal(signal.SIGINT, self._earlier)
        if self.fired.is_set():  # a loop in a thread the probe started (a sync task) would outlive the run
            for thread in set(threading.enumerate()) - self._threads_before - {self._watcher}:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(ProbeTimedOut))

    def _interrupted(self, number, frame) -> None:
        if self.done.is_set():
            return  # late: the probe has ended
        if self.fired.is_set():
            raise ProbeTimedOut
        (self._earlier if callable(self._earlier) else signal.default_int_handler)(number, frame)

    def _watch(self) -> None:
        while not self.done.wait(0.05):
            self.verdict = self._clock.verdict()
            if self.verdict is not None:
                break
        else:
            return
        self.fired.set()
        main = threading.main_thread().ident
        while not self.done.is_set():
            if hasattr(signal, "pthread_kill"):  # a real signal: it also wakes a main thread blocked in select()
                signal.pthread_kill(main, signal.SIGINT)
            else:
                _thread.interrupt_main(signal.SIGINT)
            self.done.wait(1.0)


_PROBLEMS = {
    TIMEOUT: "your code was still running after the time limit and was stopped",
    BLOCKED: (f"your code had not finished after {LIMITS.probe_seconds:g} s, using little CPU while the computer "
              "had plenty to spare: it waits for something that never comes, and was stopped"),
    "oversized": "your code produced more output than the grader reads",
    "malformed": "the process running your code sent back something the grader could not read",
    "crashed": "the process running your code died before it could report",
}


_ANSWER_OF = {"request": "response", "validate": "model", "call": "events"}  # what each action must report

NOT_JUDGED = (f"not judged: after {LIMITS.backstop_seconds:g} s this test had not finished, its code having spent "
              "most of that time waiting for a CPU: the computer was too busy (the tests after it are not run "
              "either); run again when it is less busy")


def _validated(raw: Any) -> Observation | None:
    try:
        return Observation.model_validate(raw)
    except (ValidationError, RecursionError):
        return None


def _kept(observation: Observation | None) -> str | None:
    """An observation as kept for later tests: its JSON text, a few bytes per value where the validated
    objects take a hundred (a reply of 4,000 events: 0.4 MB of text against 6 MB of objects)."""
    return None if observation is None else json.dumps(observation.model_dump(), separators=(",", ":"))


def _revived(kept: str | None) -> Observation | None:
    return None if kept is None else Observation.model_validate(json.loads(kept))


def _stopped_early(observation: Observation) -> bool:
    """Observations that end before the action could answer: a problem, an import error, a missing name."""
    return bool(observation.problem or observation.load_error or observation.missing_name or observation.error)


RESPONSE_CHARS = page_bound(current())  # how much of a page the tests read


def _read_within_bound(observation: Observation, request: str) -> Observation:
    """The observation as the tests read it: its page cut to the lesson's bound, and a page longer than that
    noted for every failure of the test (alfred.judge.feedback.CUT_SHORT)."""
    response = observation.response
    if response is None:
        return observation
    response = response.model_copy(update={"text": response.text[:RESPONSE_CHARS]})
    if response.cut_short:
        CUT_SHORT.append(f"{request} answered a page of {response.text_chars:,} characters, longer than the "
                         f"{RESPONSE_CHARS:,} the grader reads, so what comes after those was not checked; "
                         "the lesson may raise `response_chars` in its lesson.toml's [bounds]")
    return observation.model_copy(update={"response": response})


def _with_stand_in_token(probe: dict) -> tuple[dict, str]:
    """The probe as sent, with a value drawn for it alone that the kit's stand-in task prints (`stand_in`):
    a line no code can print without calling the stand-in, whatever it read of the kit's source."""
    if not probe.get("stand_in"):
        return probe, ""
    token = secrets.token_hex(8)
    return {**probe, "stand_in": {**probe["stand_in"], "token": token}}, token


def _stand_in_lines_marked(raw: Any, probe: dict, token: str) -> Any:
    """The raw observation with each line the stand-in printed for this probe (its function's name, " got ",
    this probe's token, then the fields it read as JSON) made a "stand-in" event holding that JSON. A line
    that only looks like one (no token, another token) stays a printed line."""
    if not token or not isinstance(raw, dict) or not isinstance(raw.get("events"), list):
        return raw
    function = str(probe["stand_in"].get("function"))
    said = function + STAND_IN_SAYS + token + " "
    raw["events"] = [{"kind": "stand-in", "t": event.get("t"), "phase": event.get("phase"), "function": function,
                      "text": event["text"][len(said):]}
                     if isinstance(event, dict) and event.get("kind") == "print" and isinstance(event.get("text"), str)
                     and event["text"].startswith(said) else event
                     for event in raw["events"]]
    return raw


def model_object(model: str, **fields: Any) -> dict:
    """An argument placeholder: the probe passes the function an object of main.py's `model` holding these
    fields (or, while that model cannot hold them, a stand-in of the kit's with that name and fields)."""
    return {"$model": {"name": model, "fields": fields}}


class Submission:
    """The student's main.py as the tests see it: send requests, call functions, validate data.

    Every probe starts afresh: main.py loaded anew, in a new work folder holding the project's files and what
    the probe lays out (`files=`, `absent=`, `dirs=`), in a new process when the probes run in the sandbox.
    What one probe leaves never reaches another; a test that needs it lays it out again (say
    `files=first.files`). So a probe an earlier test of the same run already sent is answered from
    `shared_answers`.
    """

    def __init__(self, driver: Driver, workdir: Path, label: str, shared_answers: dict | None = None):
        self.driver = driver
        self.workdir = workdir
        self.label = label
        self.shared_answers = {} if shared_answers is None else shared_answers
        self._probes = 0

    def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                content: str | None = None, headers: dict | None = None, **setup: Any) -> Observation:
        probe = {"action": "request", "method": method, "path": path, "params": params, "headers": headers}
        if content is not None:
            probe["content"] = content
        elif json is not None:
            probe["json"] = json
        return _read_within_bound(self._observe(probe, setup), f"{method} {path}")

    def call(self, function: str, *args: Any, **setup: Any) -> Observation:
        return self._observe({"action": "call", "function": function, "args": list(args)}, setup)

    def validate(self, model: str, data: Any) -> Observation:
        return self._observe({"action": "validate", "model": model, "data": data}, {})

    def _answer(self, probe: dict) -> Observation | None:
        """The probe's observation, validated (None when the reply was not a valid one). Only validated
        observations are kept for later tests, as compact JSON text: whatever else a reply carried is dropped
        at once, and what a submission's kept answers cost the judge is bounded by the reply's cap in bytes."""
        key = json.dumps(probe, sort_keys=True)
        if key in self.shared_answers:
            return _revived(self.shared_answers[key])
        self._probes += 1
        workdir = self.workdir / f"probe-{self._probes}"
        if self.driver.local_work_folders:
            workdir.mkdir()
        sent, token = _with_stand_in_token(probe)
        observation = _validated(_stand_in_lines_marked(self.driver.run(sent, workdir), probe, token))
        self.shared_answers[key] = _kept(observation)
        return observation

    def _observe(self, probe: dict, setup: dict) -> Observation:
        """Runs the probe; a submission that cannot be imported or lacks a name fails the test right here."""
        __tracebackhide__ = True
        unknown = set(setup) - {"absent", "files", "dirs", "watch", "stand_in"}
        if unknown:
            raise TypeError(f"unknown probe set-up {sorted(unknown)}")
        probe = {**probe, **{key: value for key, value in setup.items() if value}}
        observation = self._answer(probe)
        if observation is not None:
            self.note_warnings(observation.warnings)
        needed = _ANSWER_OF.get(probe["action"])
        if observation is None or (not _stopped_early(observation) and getattr(observation, needed) is None):
            fail(
                tried=f"running {self.label} for this test",
                got="a report the grader could not read",
                expected="a well-formed report of what the code did",
                hint="this happens when code writes over the grader's channel; ask your instructor to look.",
            )
        if observation.problem in (TIMEOUT, BLOCKED) and observation.problem_detail == IMPORT_HANGS:
            self._report_import_hang(observation.problem)
        if observation.problem == BUSY:  # nothing is concluded about the code
            pytest.skip(NOT_JUDGED)
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
            self._report_load_error(observation.load_error)
        if observation.missing_name:
            name = observation.missing_name
            exercise = exercise_asking_for(name)
            asks = f"{exercise.label} asks for it" if exercise and exercise.number else "the lesson builds it"
            fail(
                tried=f"using `{name}` from {self.label}",
                got=f"{self.label} has no `{name}` yet",
                expected=f"`{name}` defined at the top level of main.py: {asks}",
                hint=f"check the spelling of `{name}`, and that it is not indented inside another block.",
            )
        return observation


    def note_warnings(self, warnings: list[str]) -> None:
        """Keeps the warnings the code gave (uvicorn.run() called on import, a coroutine never awaited), each
        once per run, for the run's end to show: `warnings_of(shared_answers)`."""
        kept = self.shared_answers.setdefault(_WARNINGS, {})
        for warning in warnings:
            if len(kept) < MAX_WARNINGS_SHOWN:
                kept[warning[:300]] = None

    def _report_import_hang(self, problem: str) -> None:
        """Importing main.py never finished: told once, by the first test that met it, like an import error;
        the tests after it are not run (their points are lost all the same)."""
        __tracebackhide__ = True
        file = self.label.rsplit("/", 1)[-1]
        if self.shared_answers.get(_SHOWN_LOAD_ERROR) == IMPORT_HANGS:
            pytest.skip(f"not run: importing {self.label} never finishes; fix that first")
        self.shared_answers[_SHOWN_LOAD_ERROR] = IMPORT_HANGS
        fail(
            tried=f"importing {self.label}",
            got=(f"it was still running after {LIMITS.probe_seconds:g} s of CPU" if problem == TIMEOUT else
                 f"it had not finished after {LIMITS.probe_seconds:g} s, waiting with little CPU used")
            + f", and was stopped: code at the top level of {file} never finishes",
            expected="the module to import in a moment, defining the app and its functions",
            hint=f"look at the top level of {file}, outside every function, for an endless loop (`while True:`), a "
            "wait, or a call that starts the server (uvicorn.run belongs under `if __name__ == \"__main__\":`). "
            "Every other test waits for this one.",
        )

    def _report_load_error(self, error) -> None:
        """main.py does not import: the first test to meet it fails with the whole story, once per run; every
        later test meeting the same error is skipped as not run, pointing back to it."""
        __tracebackhide__ = True
        file = self.label.rsplit("/", 1)[-1]  # the student's own file name: tim_drake.py, main.py
        if self.shared_answers.get(_SHOWN_LOAD_ERROR) == error.sentence(file):
            pytest.skip(f"not run: {self.label} does not import ({error.sentence(file)[:200]}); fix that first")
        self.shared_answers[_SHOWN_LOAD_ERROR] = error.sentence(file)
        where = f"at line {error.line} of {file}" if error.line else f"in {file}"
        package = missing_package(error)
        if package:
            fail(
                tried=f"importing {self.label}",
                got=f"{file} imports `{package}` ({where}), which is not installed where your code is tested",
                expected=f"{file} to import only what the lesson uses (fastapi, pydantic...) or what your teacher "
                "added to the course",
                hint=f"remove the import {where}, or if the course uses that package, ask your teacher whether "
                "it can be added to the grading environment. Every other test waits for this one.",
            )
        fail(
            tried=f"importing {self.label}",
            got=error.sentence(file),
            expected="the module to import cleanly",
            hint=(f"open {file} at line {error.line} and fix it" if error.line else "read the error above")
            + "; then run the tests again. Every other test waits for this one.",
        )


_SHOWN_LOAD_ERROR = "$shown-load-error"  # a key no probe's JSON can take
_WARNINGS = "$warnings"
MAX_WARNINGS_SHOWN = 3


def warnings_of(shared_answers: dict) -> list[str]:
    """The warnings a run's probes met, in the order first met (see Submission.note_warnings)."""
    return list(shared_answers.get(_WARNINGS, {}))


def missing_package(error) -> str | None:
    """The package an import failed to find (`No module named 'jinja2.ext'` -> jinja2), if that is the error."""
    import re

    found = re.match(r"No module named '([\w.]+)'", error.message) if error.type == "ModuleNotFoundError" else None
    return found.group(1).split(".")[0] if found else None
