"""The grader's driver: `SubprocessDriver` runs each probe in a submission process forked by the sandbox's fork
server, watched from outside by the seccomp supervisor, and returns what the judge saw as the same plain data
`InProcessDriver` returns (alfred.judge.driver). `alfred grade` (alfred.grading.grade) and the kit's sandbox
tests use it.

Linux only: it imports the supervisor (seccomp, fcntl), passes descriptors over Unix sockets and waits on
pipes with select. So nothing on the student's side imports it (conftest.py, the in-process driver, `alfred
hint`, `alfred watch`, the handout): students on Windows and macOS never load it.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import socket
import time
from pathlib import Path

from pydantic import ValidationError

from alfred.judge.driver import IMPORT_HANGS, out_of_time
from alfred.judge.observation import ErrorInfo, Reply, parse_reply
from alfred.inside.probe import MAX_REPLY_BYTES, model_report
from alfred.sandbox.limits import LIMITS
from alfred.sandbox.usage import BLOCKED, BUSY, TIMEOUT, ProbeClock
from alfred.sandbox.supervisor import Exchange, Supervisor, read_probe, read_work_folder


PROBE_FOLDER = "probe"  # the name of every probe's work folder, as the submission sees it: /sandbox/work/probe


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


class SubprocessDriver:
    """Runs each probe in a new submission process forked by the sandbox's fork server, over a data-only
    channel, and ends that process once the judge has read what it did: nothing a probe keeps (memory, `sys`,
    /tmp, IPC, children) reaches the next one, so the order of the probes tells a submission nothing.

    A late, oversized or malformed reply, or a process that died, becomes a `problem` observation that
    fails the one test that asked. `flags` collects what the instructor should look at.
    """

    local_work_folders = False  # each probe's folder is made in the submission's private work area

    def __init__(self, server, key: str, main: str = "main.py", max_reply_bytes: int = MAX_REPLY_BYTES,
                 budget_seconds: float = LIMITS.submission_seconds):
        self.server = server  # alfred.sandbox.fork_server.ForkServer, with this submission staged under `key`
        self.key = key
        self.main = main  # the student's file, relative to its staged folder
        self.max_reply_bytes = max_reply_bytes
        # The submission's own seconds over all its probes: the time its processes ran or slept
        # (alfred.sandbox.usage.ProbeClock.own_seconds); never time the machine was too busy to give them a CPU.
        self.budget_seconds = budget_seconds
        self.flags: set[str] = set()
        # The first import failure seen while a visible test ran, for the grade's headline, which the student
        # reads. Never one seen during a hidden check (`hidden_check`, set by the grader around each test):
        # what main.py raises then may carry the check's inputs (files laid out for it, what the process kept
        # of its requests), whenever the submission chooses to fail.
        self.load_error: dict | None = None
        self.hidden_check = False
        self.import_hangs = False
        self.server_broken = False  # the fork server misbehaved: it must not serve another submission
        self.busy = False  # a probe outlived the backstop with little CPU used: nothing is concluded (usage.BUSY)
        # pid (the server's), probes fd, its supervisor, work folder, the submission process's pid (the judge's)
        self._child: tuple[int, int, Supervisor, str, int] | None = None
        self._given: dict[str, bytes] | None = None
        self._serving: socket.socket | None = None  # hands the submission process a socket to serve on
        self._probe_id = 0  # drawn afresh for each probe: neither it nor the folder's name tells the probe's place
        self._spent = 0.0  # the submission's own seconds in the probes done (see budget_seconds)
        self._clock: ProbeClock | None = None  # the probe under way

    def own_seconds(self) -> float:
        """The submission's own seconds so far, the probe under way included."""
        return self._spent + (self._clock.own_seconds() if self._clock is not None else 0.0)

    def run(self, probe: dict, workdir: Path) -> dict:
        from alfred.sandbox.fork_server import ServerError

        try:
            return self._run(probe, workdir)
        except ServerError as exc:  # the sandbox itself failed: this test fails, the grader gets a new one
            self.server_broken = True
            if self._child is not None:
                self._end_child_quietly()
            return self._problem("crashed", f"the sandbox stopped answering ({exc})")

    def _run(self, probe: dict, workdir: Path) -> dict:
        if self.server_broken:
            return self._problem("crashed", "the sandbox stopped answering")
        if self.busy:  # this try is over: the grader tries the submission again, or marks it ungradable
            return self._problem(BUSY)
        refused = out_of_time(self.import_hangs, self._spent, self.budget_seconds)
        if refused:
            return self._problem("timeout", refused)
        self._child = self._start_child()
        if self._child is None:
            return self._problem("crashed", "the process for your code could not be watched by the grader")
        try:
            return self._probe(probe)
        finally:
            if self._child is not None:
                self._end_child_quietly()

    def _probe(self, probe: dict) -> dict:
        """Sends `probe` to the process just started, and makes the observation of what the judge saw."""
        pid, probes_fd, supervisor, work, student_pid = self._child
        self._probe_id = secrets.randbits(52)
        request = {"id": self._probe_id, "workdir": PROBE_FOLDER, "probe": probe}
        supervisor.watch = (f"{work}/{request['workdir']}", tuple(probe.get("watch", ())))
        supervisor.begin_probe()
        requests = _requests_of(probe)
        exchange = self._send_requests(requests, supervisor) if requests else None
        clock = self._clock = ProbeClock(student_pid)
        try:
            if not _write_before(probes_fd, (json.dumps(request) + "\n").encode(), clock.started + LIMITS.backstop_seconds):
                return self._end_child("timeout", "it stopped reading what the grader sent")
        except OSError:
            return self._end_child("crashed")
        record = read_probe(supervisor, 0, clock.verdict, self.max_reply_bytes, exchange)
        self._spent += clock.own_seconds()
        self._clock = None
        self._hang_up(supervisor)
        loaded = record.loaded
        reply = record.problem or parse_reply(record.reply)
        if not isinstance(reply, Reply) or reply.id != self._probe_id:
            problem = reply if isinstance(reply, str) else "malformed"
            if problem == BUSY:
                self.busy = True
                return self._end_child(BUSY)
            if problem in (TIMEOUT, BLOCKED) and not loaded:
                self.import_hangs = True
                return self._end_child(problem, IMPORT_HANGS)
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
                self._serving.settimeout(LIMITS.backstop_seconds)
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

    def _start_child(self) -> tuple[int, int, Supervisor, str, int] | None:
        """A new submission process for one probe, in a new, empty work folder (`PROBE_FOLDER`), under a
        supervisor of its own; None when it did not hand over its listener with its credentials (which name the
        process whose CPU the judge counts)."""
        pid, probes_fd, handover, work = self.server.spawn(self.key, PROBE_FOLDER, self.main)
        os.set_blocking(probes_fd, False)  # a process that stops reading must not stall the judge
        channel = socket.socket(fileno=handover)
        channel.settimeout(LIMITS.backstop_seconds)
        fds, student_pid = _listener_and_sender(channel)
        if len(fds) != 1 or student_pid is None:
            for fd in fds:
                os.close(fd)
            os.close(probes_fd)
            channel.close()
            self.server.end(pid)
            return None
        self._serving = channel  # on which it is handed a listening socket for each request
        return pid, probes_fd, Supervisor(fds[0]), work, student_pid

    def _end_child(self, problem: str, detail: str = "") -> dict:
        """Ends the probe's process after it failed, and says how as the probe's problem."""
        ended = self._end_child_quietly()
        return self._problem(problem, detail or (f"the process ended with {ended}" if problem == "crashed" else ""))

    def _end_child_quietly(self) -> str:
        """Ends the probe's process, and everything it started; returns how it ended."""
        pid, probes_fd, supervisor, _, _ = self._child
        self._child = None
        os.close(probes_fd)
        self._serving.close()
        try:
            ended = "gone" if self.server_broken else self.server.end(pid)
        finally:
            supervisor.stop()
        if ended == "SIGXCPU":
            self.flags.add("killed for CPU")
        return ended

    def _problem(self, problem: str, detail: str = "") -> dict:
        flag = {TIMEOUT: "killed for time", BLOCKED: "killed for time", BUSY: "not finished, little CPU used",
                "oversized": "output cut", "malformed": "malformed reply"}
        self.flags.add("killed for memory" if "MemoryError" in detail else flag.get(problem, "crashed"))
        return {"problem": problem, "problem_detail": detail}

    def stop(self) -> None:
        """Ends a probe's process left by an interrupted probe (each ends with its probe otherwise)."""
        if self._child is not None:
            self._end_child_quietly()


def _listener_and_sender(channel: socket.socket) -> tuple[list[int], int | None]:
    """The descriptors handed over on `channel` (the supervisor's listener) and the pid of the process that
    sent them, as the kernel tells it (SO_PASSCRED, set by the fork server) in this process's PID namespace."""
    import array
    import struct

    try:
        _, ancillary, _, _ = channel.recvmsg(1, socket.CMSG_SPACE(4 * 4) + socket.CMSG_SPACE(12))
    except OSError:
        return [], None
    fds, sender = array.array("i"), None
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= 12:
            sender = struct.unpack("iII", data[:12])[0]
    return list(fds), sender if sender else None


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
