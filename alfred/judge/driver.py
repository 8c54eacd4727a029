"""Drivers run probes against a submission; `Submission` is the one door the tests go through.

A driver takes a probe (plain data) and returns what `alfred.inside.probe.run_probe` observed (plain data), as
the judge reads it from the reply line a student process sends (`alfred.judge.observation.parse_reply`).
`InProcessDriver` runs the probe in the test's own process, for a student's quick loop and the
instructor's `pytest solutions`, and reads its own reply line the same way; a driver that runs the same
probe in another process returns the same data, so tests never know which one they were given.
"""

from __future__ import annotations

import _thread
import ctypes
import json
import os
import select
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import pytest
from pydantic import ValidationError

from alfred.course.exercises import exercise_asking_for
from alfred.judge.feedback import fail
from alfred.course.lesson import written_folders
from alfred.judge.observation import ErrorInfo, Observation, Reply, parse_reply
from alfred.inside.probe import MAX_REPLY_BYTES, encode_reply, model_report, run_probe
from alfred.sandbox.limits import LIMITS
from alfred.sandbox.supervisor import Exchange, Supervisor, read_probe, read_work_folder


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
        self._spent = 0.0

    def run(self, probe: dict, workdir: Path) -> dict:
        refused = out_of_time(self.import_hangs, self._spent, LIMITS.submission_seconds if self.probe_seconds else None)
        if refused:
            return {"problem": "timeout", "problem_detail": refused}
        loaded = []
        started = time.monotonic()
        limit = _time_limit(self.probe_seconds)
        try:
            with limit:
                observation = run_probe(self.main_path, probe, workdir, lambda: loaded.append(not limit.fired.is_set()),
                                        self.project, also_skipped=written_folders())
        except ProbeTimedOut:
            pass
        finally:
            self._spent += time.monotonic() - started
        if limit.fired.is_set():  # however the probe ended: the import or a student's `except` may report it
            self.import_hangs = loaded != [True]  # stopped before main.py was imported
            return {"problem": "timeout", "problem_detail": "" if loaded == [True] else IMPORT_HANGS}
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
    """Interrupts the main thread with ProbeTimedOut once `seconds` of wall clock have passed (`fired` is set),
    then every second (a bare `except:` in student code may swallow one), until the block ends. The
    interruption is a SIGINT sent to the main thread from a watching thread (`_thread.interrupt_main` where
    threads cannot be signalled), taken by a handler of this block's: a real Ctrl-C still stops pytest. A
    thread the block started and left running (a sync task looping in FastAPI's thread pool) is ended by an
    exception raised in it (PyThreadState_SetAsyncExc), so that the run can still exit. No limit outside
    the main thread, or with `seconds` 0."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.done, self.fired = threading.Event(), threading.Event()
        self._earlier = None
        self._watcher: threading.Thread | None = None

    def __enter__(self) -> "_time_limit":
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
        if self.done.wait(self.seconds):
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
    "timeout": "your code was still running after the time limit and was stopped",
    "oversized": "your code produced more output than the grader reads",
    "malformed": "the process running your code sent back something the grader could not read",
    "crashed": "the process running your code died before it could report",
}


_ANSWER_OF = {"request": "response", "validate": "model", "call": "events"}  # what each action must report


def _write_before(fd: int, data: bytes, deadline: float) -> bool:
    """Writes all of `data` to a non-blocking pipe; False when its reader did not take it before `deadline`."""
    unsent = memoryview(data)
    while unsent:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        _, writable, _ = select.select([], [fd], [], remaining)
        if writable:
            try:
                unsent = unsent[os.write(fd, unsent):]
            except BlockingIOError:
                continue
    return True


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


def model_object(model: str, **fields: Any) -> dict:
    """An argument placeholder: the probe passes the function an object of main.py's `model` holding these
    fields (or, while that model cannot hold them, a stand-in of the kit's with that name and fields)."""
    return {"$model": {"name": model, "fields": fields}}


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

    def _answer(self, probe: dict) -> Observation | None:
        """The probe's observation, validated (None when the reply was not a valid one). Only validated
        observations are kept for later tests, as compact JSON text: whatever else a reply carried is dropped
        at once, and what a submission's kept answers cost the judge is bounded by the reply's cap in bytes."""
        if not self._fresh:
            if self._unplayed is not None:
                self.driver.run(self._unplayed, self.workdir)
                self._unplayed = None
            return _validated(self.driver.run(probe, self.workdir))
        self._fresh = False
        key = json.dumps(probe, sort_keys=True)
        if key in self.shared_answers:
            self._unplayed = probe
            return _revived(self.shared_answers[key])
        observation = _validated(self.driver.run(probe, self.workdir))
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
        needed = _ANSWER_OF.get(probe["action"])
        if observation is None or (not _stopped_early(observation) and getattr(observation, needed) is None):
            fail(
                tried=f"running {self.label} for this test",
                got="a report the grader could not read",
                expected="a well-formed report of what the code did",
                hint="this happens when code writes over the grader's channel; ask your instructor to look.",
            )
        if observation.problem == "timeout" and observation.problem_detail == IMPORT_HANGS:
            self._report_import_hang()
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


    def _report_import_hang(self) -> None:
        """Importing main.py never finished: told once, by the first test that met it, like an import error;
        the tests after it are not run (their points are lost all the same)."""
        __tracebackhide__ = True
        file = self.label.rsplit("/", 1)[-1]
        if self.shared_answers.get(_SHOWN_LOAD_ERROR) == IMPORT_HANGS:
            pytest.skip(f"not run: importing {self.label} never finishes; fix that first")
        self.shared_answers[_SHOWN_LOAD_ERROR] = IMPORT_HANGS
        fail(
            tried=f"importing {self.label}",
            got=f"it was still running after {LIMITS.probe_seconds:g} s and was stopped: code at the top level of "
            f"{file} never finishes",
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


def missing_package(error) -> str | None:
    """The package an import failed to find (`No module named 'jinja2.ext'` -> jinja2), if that is the error."""
    import re

    found = re.match(r"No module named '([\w.]+)'", error.message) if error.type == "ModuleNotFoundError" else None
    return found.group(1).split(".")[0] if found else None


class SubprocessDriver:
    """Runs probes in a submission process forked by the sandbox's fork server, over a data-only channel.

    A late, oversized or malformed reply, or a process that died, becomes a `problem` observation that
    fails the one test that asked; the next probe gets a fresh process. `flags` collects what the
    instructor should look at.
    """

    local_work_folders = False  # each test's folder is made in the submission's private work area

    def __init__(self, server, key: str, main: str = "main.py", reply_seconds: float = LIMITS.probe_seconds,
                 max_reply_bytes: int = MAX_REPLY_BYTES, budget_seconds: float = LIMITS.submission_seconds):
        self.server = server  # alfred.sandbox.fork_server.ForkServer, with this submission staged under `key`
        self.key = key
        self.main = main  # the student's file, relative to its staged folder
        self.reply_seconds = reply_seconds  # wall clock per probe; simulated sleeps take no real time
        self.max_reply_bytes = max_reply_bytes
        self.budget_seconds = budget_seconds  # wall clock for the whole submission
        self.flags: set[str] = set()
        # The first import failure seen while a visible test ran, for the grade's headline, which the student
        # reads. Never one seen during a hidden check (`hidden_check`, set by the grader around each test):
        # what main.py raises then may carry the check's inputs (files laid out for it, what the process kept
        # of its requests), whenever the submission chooses to fail.
        self.load_error: dict | None = None
        self.hidden_check = False
        self.import_hangs = False
        self.server_broken = False  # the fork server misbehaved: it must not serve another submission
        self._child: tuple[int, int, Supervisor, str] | None = None  # pid, probes fd, its supervisor, work folder
        self._workdirs: dict[str, str] = {}
        self._given: dict[str, bytes] | None = None
        self._serving: socket.socket | None = None  # hands the submission process a socket to serve on
        self._next_id = 0
        self._spent = 0.0

    def run(self, probe: dict, workdir: Path) -> dict:
        from alfred.sandbox.fork_server import ServerError

        started = time.monotonic()
        try:
            return self._run(probe, workdir)
        except ServerError as exc:  # the sandbox itself failed: this test fails, the grader gets a new one
            self.server_broken = True
            self._child = None
            return self._problem("crashed", f"the sandbox stopped answering ({exc})")
        finally:
            self._spent += time.monotonic() - started

    def _run(self, probe: dict, workdir: Path) -> dict:
        if self.server_broken:
            return self._problem("crashed", "the sandbox stopped answering")
        refused = out_of_time(self.import_hangs, self._spent, self.budget_seconds)
        if refused:
            return self._problem("timeout", refused)
        if self._child is None:
            self._child = self._start_child()
            if self._child is None:
                return self._problem("crashed", "the process for your code could not be watched by the grader")
        pid, probes_fd, supervisor, work = self._child
        self._next_id += 1
        request = {"id": self._next_id, "workdir": self._workdir_key(workdir), "probe": probe}
        supervisor.watch = (f"{work}/{request['workdir']}", tuple(probe.get("watch", ())))
        supervisor.begin_probe()
        requests = _requests_of(probe)
        exchange = self._send_requests(requests, supervisor) if requests else None
        deadline = time.monotonic() + self.reply_seconds  # for sending the probe and reading the reply
        try:
            if not _write_before(probes_fd, (json.dumps(request) + "\n").encode(), deadline):
                return self._end_child("timeout", "it stopped reading what the grader sent")
        except OSError:
            return self._end_child("crashed")
        record = read_probe(supervisor, 0, deadline, self.max_reply_bytes, exchange)
        self._hang_up(supervisor)
        loaded = record.loaded
        reply = record.problem or parse_reply(record.reply)
        if not isinstance(reply, Reply) or reply.id != self._next_id:
            problem = reply if isinstance(reply, str) else "malformed"
            if problem == "timeout" and not loaded:
                self.import_hangs = True
                return self._end_child("timeout", IMPORT_HANGS)
            return self._end_child(problem)
        if "observation" not in reply.model_fields_set:
            return self._end_child(reply.problem or "crashed", reply.detail[:300])
        observation = reply.observation
        if isinstance(observation, dict):
            # What the process printed and waited, and when, as its supervisor saw it: never what it says.
            observation["events"] = record.events
            # The response as the judge read it on its own connection to the app (None: no complete one).
            observation["response"] = record.response if probe["action"] == "request" else None
            if probe["action"] == "validate" and not (observation.get("load_error") or observation.get("missing_name")):
                # The model as the kit's route for it answered the judge's two requests on the judge's own
                # connection: never the report the process sends, nor anything it tells.
                observation["model"] = model_report([(status, body) for status, body, _ in record.answers])
            # And the files it left, read by the judge from outside: never the list the process sends.
            observation["files"], files_cut = read_work_folder(record.replied_by, supervisor.watch[0],
                                                               self._project_files())
            observation["output_truncated"] = (bool(observation.get("output_truncated")) or record.truncated
                                               or files_cut)
            if observation.get("output_truncated"):
                self.flags.add("output cut")
            if self.load_error is None and not self.hidden_check and observation.get("load_error") is not None:
                try:
                    self.load_error = ErrorInfo.model_validate(observation["load_error"]).model_dump()
                except ValidationError:
                    pass
        return observation

    def _workdir_key(self, workdir: Path) -> str:
        # Each test's tmp_path maps to its own folder in the submission's private work area.
        return self._workdirs.setdefault(str(workdir), f"test-{len(self._workdirs)}")

    def _send_requests(self, requests: list[dict], supervisor: Supervisor) -> Exchange | None:
        """Connects to the app the submission process is about to serve, and sends it the probe's requests, as
        a client would; returns the judge's side of the connection, which reads the answers, or None when they
        cannot be sent."""
        address = b"\0alfred-" + os.urandom(12).hex().encode()  # abstract: in the judge's network namespace
        connection = socket.socket(socket.AF_UNIX)
        try:
            with socket.socket(socket.AF_UNIX) as listening:  # one for this request alone, handed over
                listening.bind(address)
                listening.listen(1)
                connection.connect(address)  # queued until the app accepts it
                exchange, data = http_requests(requests)
                connection.setblocking(False)
                connection.send(data)  # a request is far smaller than a socket's buffer
                self._serving.settimeout(self.reply_seconds)
                socket.send_fds(self._serving, [b"H"], [listening.fileno()])
        except OSError:
            connection.close()
            return None
        supervisor.client = connection
        return exchange

    @staticmethod
    def _hang_up(supervisor: Supervisor) -> None:
        if supervisor.client is not None:
            supervisor.client.close()
            supervisor.client = None

    def _project_files(self) -> dict[str, bytes]:
        """The student's project files beside main.py, as staged: laid out in every work folder, they are not
        something the app wrote unless it changed them."""
        if self._given is None:
            staged = self.server.staging / self.key
            self._given = {str(path.relative_to(staged)): path.read_bytes() for path in sorted(staged.rglob("*"))
                           if path.is_file() and not path.is_symlink() and str(path.relative_to(staged)) != self.main}
        return self._given

    def _start_child(self) -> tuple[int, int, Supervisor, str] | None:
        """A new submission process, under a supervisor of its own; None when it did not hand over its listener."""
        pid, probes_fd, handover, work = self.server.spawn(self.key, self.main)
        os.set_blocking(probes_fd, False)  # a process that stops reading must not stall the judge
        channel = socket.socket(fileno=handover)
        channel.settimeout(self.reply_seconds)
        try:
            _, fds, _, _ = socket.recv_fds(channel, 1, 1)  # its supervisor's listener
        except OSError:
            fds = []
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            os.close(probes_fd)
            channel.close()
            self.server.end(pid)
            return None
        self._serving = channel  # on which it is handed a listening socket for each request
        return pid, probes_fd, Supervisor(fds[0]), work

    def _end_child(self, problem: str, detail: str = "") -> dict:
        """Ends the submission process after a failed probe; the next probe starts a fresh one."""
        pid, probes_fd, supervisor, _ = self._child
        self._child = None
        os.close(probes_fd)
        self._serving.close()
        ended = self.server.end(pid)
        supervisor.stop()
        if ended == "SIGXCPU":
            self.flags.add("killed for CPU")
        return self._problem(problem, detail or (f"the process ended with {ended}" if problem == "crashed" else ""))

    def _problem(self, problem: str, detail: str = "") -> dict:
        flag = {"timeout": "killed for time", "oversized": "output cut", "malformed": "malformed reply"}
        self.flags.add("killed for memory" if "MemoryError" in detail else flag.get(problem, "crashed"))
        return {"problem": problem, "problem_detail": detail}

    def stop(self) -> None:
        if self._child is not None:
            pid, probes_fd, supervisor, _ = self._child
            self._child = None
            os.close(probes_fd)
            self._serving.close()
            if not self.server_broken:
                self.server.end(pid)
            supervisor.stop()


def _requests_of(probe: dict) -> list[dict]:
    """The HTTP requests the judge sends for a probe: its own for a "request" probe; for a "validate" probe,
    the model's data to the kit's route that takes the model as its body, then that app's OpenAPI schema
    (alfred.inside.actions._validate serves that route; its model_report reads the two answers)."""
    if probe.get("action") == "request":
        return [probe]
    if probe.get("action") == "validate":
        return [{"method": "POST", "path": "/", "json": probe.get("data")}, {"method": "GET", "path": "/openapi.json"}]
    return []


def http_requests(requests: list[dict]) -> tuple[Exchange, bytes]:
    """(the judge's side of a connection that has sent them, the bytes) of the HTTP/1.1 requests described
    (as "request" probes describe one), as httpx would send each, one after the other on one connection."""
    import h11

    described = [_http_events(request) for request in requests]
    data = b""
    for events in described:
        writer = h11.Connection(h11.CLIENT)  # each request's bytes, as a client at its start would send them
        data += b"".join(writer.send(event) for event in events)
    client = h11.Connection(h11.CLIENT)
    for event in described[0]:
        client.send(event)
    return Exchange(client, described[1:]), data


def _http_events(probe: dict) -> list:
    """The h11 events of the request a "request" probe describes, as httpx would send it."""
    import json as json_module
    from urllib.parse import quote, urlencode

    import h11

    body = b""
    headers = [("host", "testserver"), ("user-agent", "alfred-judge"), ("accept", "*/*")]
    if probe.get("content") is not None:
        body = str(probe["content"]).encode()
    elif probe.get("json") is not None:
        body = json_module.dumps(probe["json"], ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        headers.append(("content-type", "application/json"))
    for name, value in (probe.get("headers") or {}).items():
        headers = [(key, kept) for key, kept in headers if key != name.lower()] + [(name.lower(), str(value))]
    if body or probe.get("method", "GET").upper() in ("POST", "PUT", "PATCH"):
        headers.append(("content-length", str(len(body))))
    target = quote(probe["path"], safe="/:@!$&'()*+,;=-._~%")
    if probe.get("params"):
        target += "?" + urlencode(probe["params"], doseq=True)
    request = h11.Request(method=probe.get("method", "GET").upper(), target=target, headers=headers)
    return [request, *([h11.Data(data=body)] if body else []), h11.EndOfMessage()]
