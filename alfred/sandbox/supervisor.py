"""Watching a submission process from outside it: its prints, its waits and their order, by its system calls.

No code inside the student's process decides a grade point: anything there can be reached and changed by
the student's code. What the process *does* is seen here instead, by the kernel's seccomp user notification:

- the student side (`listen_for_the_judge`, run by trusted code in the submission process before any student
  code) loads a seccomp filter that stops the process at each `write` to descriptors 1, 2 and 3, and at each
  `nanosleep` and `clock_nanosleep`, and hands the filter's listener to the judge; it keeps no copy. The same
  filter denies it new namespaces and mounts (`NAMESPACE_AND_MOUNT_CALLS`, clone with `NEW_NAMESPACE_FLAGS`);
- the judge side (`Supervisor`, a thread in the judge) answers each stop: it reads the bytes written (from
  /proc/PID/mem) and records them, and records each wait with its length and answers it at once, so time
  stays virtual. Nothing is really written: descriptors 1-3 lead nowhere, so what the judge recorded is all
  that was said. The order of the record is the order in which the kernel stopped the process.

A process asking the kernel to wait 5 s has slept 5 s, whatever code asked; a line that reached
descriptor 1 was printed, whoever wrote it. At every stop the judge also drains its own connection to the
app (`client`), so a response's bytes are placed where the process had sent them. Descriptor 3 is the
channel on which the kit's probe reports (`alfred.inside.probe`): its markers place what only the process can tell
(its phase, a task started: hints) among the prints and waits, at the moment the process tells it.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
import socket
import stat
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from alfred.sandbox.limits import LIMITS

OUT, ERR, CHANNEL = 1, 2, 3  # the descriptors watched: stdout, stderr, the probe's channel to the judge
SLEEP = "sleep"
RECEIVED = "received"  # bytes of the app's answer, as they reached the judge's connection

# <linux/seccomp.h>
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
_NOTIF_RECV = 0xC0502100  # SECCOMP_IOCTL_NOTIF_RECV: struct seccomp_notif, 80 bytes
_NOTIF_SEND = 0xC0182101  # SECCOMP_IOCTL_NOTIF_SEND: struct seccomp_notif_resp, 24 bytes
_NOTIF = struct.Struct("QIIiIQ6Q")  # id, pid, flags, nr, arch, instruction pointer, args[6]
_RESPONSE = struct.Struct("QqiI")  # id, val, error, flags
_FLAG_CONTINUE = 1
_PR_SET_NO_NEW_PRIVS = 38
_SYS_SECCOMP = 317  # x86_64
_TIMER_ABSTIME = 1
_TIMESPEC = struct.Struct("qq")

# Denied to a submission process (EPERM): new namespaces and anything that mounts.
NAMESPACE_AND_MOUNT_CALLS = ("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount",
                             "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr")
# <linux/sched.h>: CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
NEW_NAMESPACE_FLAGS = (0x80, 0x20000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)


# --- the student side: run by trusted code, before any student code ---


def filter_program() -> bytes:
    """The filter, as the kernel's classic BPF, made by libseccomp (pyseccomp) on the judge's side, where the
    library can be found; the sandbox is handed the program only."""
    import pyseccomp

    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for name in ("nanosleep", "clock_nanosleep"):
        rules.add_rule(pyseccomp.NOTIFY, name)
    for fd in (OUT, ERR, CHANNEL):
        rules.add_rule(pyseccomp.NOTIFY, "write", pyseccomp.Arg(0, pyseccomp.EQ, fd))
    # No namespaces and no mounts of its own: what the judge reads in the work folder is the folder the
    # sandbox gave, never something mounted over it (a user namespace lets any process mount there).
    for name in NAMESPACE_AND_MOUNT_CALLS:
        rules.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
    for flag in NEW_NAMESPACE_FLAGS:
        rules.add_rule(pyseccomp.ERRNO(errno.EPERM), "clone", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, flag, flag))
    rules.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "clone3")  # its flags are out of a filter's reach: C libraries fall back on clone
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as program:
        rules.export_bpf(program)
    with os.fdopen(read_end, "rb") as program:
        return program.read()


def listen_for_the_judge(channel: socket.socket, program: bytes) -> None:
    """Loads the filter `program` in this process (inherited by every thread and child it will have) and
    sends its listener to the judge over `channel`; this process keeps no descriptor of it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    instructions = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("HxxxxxxQ", len(program) // 8, ctypes.addressof(instructions))
    listener = libc.syscall(_SYS_SECCOMP, _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_NEW_LISTENER,
                            ctypes.c_char_p(fprog))
    if listener < 0:
        raise OSError(ctypes.get_errno(), "seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER)")
    try:
        socket.send_fds(channel, [b"S"], [listener])
    finally:
        os.close(listener)


# --- the judge side ---


@dataclass(slots=True)
class Seen:
    """One thing the process did, in the order the kernel stopped it: bytes written to a descriptor, or a wait."""

    kind: str  # "write", "sleep" or "received"
    fd: int = 0
    data: bytes = b""
    seconds: float = 0.0
    watched: dict[str, bool] = field(default_factory=dict)
    pid: int = 0  # the thread stopped, as the judge's /proc names it


class Supervisor:
    """Answers the stops of one submission process (and of every thread and child it starts) in a thread of
    the judge, and keeps what it saw in `seen`, in order. `watch` (a folder as the process sees it, and paths
    in it) is checked for existence at every stop, as the process's files stand at that moment. What it keeps
    is one probe's (`begin_probe`), within LIMITS: however many writes or waits a process makes, the judge
    holds at most `records` of each kind and `captured_bytes` per descriptor."""

    def __init__(self, listener: int, watch: tuple[str, tuple[str, ...]] | None = None):
        self.listener = listener
        self.seen: list[Seen] = []
        self.captured = {OUT: 0, ERR: 0, CHANNEL: 0}  # bytes kept, per descriptor
        self.kept = {OUT: 0, ERR: 0, CHANNEL: 0, SLEEP: 0}  # records kept, per descriptor and of waits
        self.truncated = False  # something was answered and not kept
        self.watch = watch
        self.client: socket.socket | None = None  # the judge's connection to the app, drained at every stop
        self.received = 0
        self.changed = threading.Condition()
        self._stopping = False
        self._wake, self._woken = os.pipe()  # `stop` writes to it: the thread stops waiting at once
        self._thread = threading.Thread(target=self._answer_stops, name="alfred-supervisor", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        """Takes what has reached the judge's connection to the app, as "received" entries of the record."""
        while self.client is not None and self.received < LIMITS.captured_bytes:
            try:
                data = self.client.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                return
            self.received += len(data)
            with self.changed:
                self.seen.append(Seen(RECEIVED, data=data))

    def begin_probe(self) -> None:
        """Forgets what was seen so far: the record and its limits start again for the next probe."""
        with self.changed:
            self.seen = []
            self.captured = dict.fromkeys(self.captured, 0)
            self.kept = dict.fromkeys(self.kept, 0)
            self.received = 0
            self.truncated = False

    def running(self) -> bool:
        """Whether any process of the filter is still there to be watched."""
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stopping = True
        os.write(self._woken, b"x")
        self._thread.join()
        for fd in (self.listener, self._wake, self._woken):
            os.close(fd)

    def wait_for(self, predicate, deadline: float) -> bool:
        """Waits until `predicate()` holds (checked under the lock, whenever something new is seen) or
        `deadline` passes (time.monotonic); True when it holds."""
        with self.changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return predicate()
                self.changed.wait(min(remaining, 0.1))
            return True

    def _answer_stops(self) -> None:
        poller = select.poll()
        poller.register(self.listener, select.POLLIN)
        poller.register(self._wake, select.POLLIN)
        buffer = bytearray(_NOTIF.size)
        while not self._stopping:
            events = dict(poller.poll())
            if self._wake in events:  # `stop`
                return
            if not events.get(self.listener, 0) & select.POLLIN:  # every process of the filter is gone
                if events.get(self.listener, 0) & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    return
                continue
            buffer[:] = bytes(_NOTIF.size)
            try:
                fcntl.ioctl(self.listener, _NOTIF_RECV, buffer)
            except OSError as exc:  # ENOENT: the stopped thread was killed meanwhile
                if exc.errno in (errno.ENOENT, errno.EINTR):
                    continue
                return
            stop_id, pid, _, number, _, _, *args = _NOTIF.unpack(buffer)
            value, flags = self._answer(pid, number, args)
            try:
                fcntl.ioctl(self.listener, _NOTIF_SEND, bytearray(_RESPONSE.pack(stop_id, value, 0, flags)))
            except OSError:
                continue  # the thread was killed while stopped

    def _answer(self, pid: int, number: int, args: list[int]) -> tuple[int, int]:
        """(the system call's return value, response flags) for one stop, recording what it did."""
        if number == _WRITE:
            fd, address, count = args[0], args[1], min(args[2], LIMITS.write_read_bytes)
            if not count:
                return 0, 0  # an empty write says nothing
            if self.captured.get(fd, LIMITS.captured_bytes) >= LIMITS.captured_bytes or \
                    self.kept.get(fd, LIMITS.records) >= LIMITS.records:
                self.truncated = True
                return args[2], 0  # said, and not kept
            data = _read_memory(pid, address, count)
            if data is None:
                return -errno.EFAULT, 0
            self.captured[fd] += len(data)
            self.kept[fd] += 1
            self._record(pid, Seen("write", fd=fd, data=data))
            return len(data), 0
        seconds = _wait_length(pid, number, args)
        if seconds is None:
            return -errno.EFAULT, 0
        if self.kept[SLEEP] < LIMITS.records:
            self.kept[SLEEP] += 1
            self._record(pid, Seen(SLEEP, seconds=seconds))
        else:
            self.truncated = True
        return 0, 0

    def _record(self, pid: int, seen: Seen) -> None:
        """Records one stop, after what reached the judge's connection to the app before it: the response's
        bytes are placed where the process had sent them, among its prints and waits."""
        self._drain()
        seen.pid = pid
        if self.watch is not None and self.watch[1]:
            folder, paths = self.watch  # as the process sees it: reached through its own root
            seen.watched = {path: _exists(pid, folder, path) for path in paths}
        with self.changed:
            self.seen.append(seen)
            self.changed.notify_all()


_WRITE = 1  # x86_64 system call numbers
_NANOSLEEP = 35
_CLOCK_NANOSLEEP = 230


def _read_memory(pid: int, address: int, count: int) -> bytes | None:
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.pread(fd, count, address) if count else b""
    except OSError:
        return None
    finally:
        os.close(fd)


def _wait_length(pid: int, number: int, args: list[int]) -> float | None:
    """How long the stopped call asked to wait, in seconds: a relative length as given (the kit's own sleeps
    ask this way), to the microsecond; an absolute deadline (clock_nanosleep with TIMER_ABSTIME, as CPython's
    own time.sleep asks) less that clock's time now, to the tenth of a second: the judge reads the clock a
    moment after the process did, and that moment grows on a busy machine."""
    if number == _NANOSLEEP:
        raw = _read_memory(pid, args[0], _TIMESPEC.size)
        absolute, clock = False, None
    else:
        raw = _read_memory(pid, args[2], _TIMESPEC.size)
        absolute, clock = bool(args[1] & _TIMER_ABSTIME), args[0]
    if raw is None or len(raw) != _TIMESPEC.size:
        return None
    sec, nsec = _TIMESPEC.unpack(raw)
    asked = sec + nsec / 1e9
    if absolute:
        try:
            asked -= time.clock_gettime(clock)
        except OSError:
            return None
    return max(0.0, round(asked, 1) if absolute else round(asked, 6))


def _exists(pid: int, folder: str, path: str) -> bool:
    """Whether `path` exists beneath the work folder `folder` of process `pid`, reached as `read_work_folder`
    reaches files: a step at a time through the process's own root, following no link. A link at the end
    counts as existing; a link on the way leads nowhere, so what the judge sees never depends on a file
    outside the process's folder."""
    parts = [*folder.strip("/").split("/"), *path.strip("/").split("/")]
    directory = _folder_beneath(pid, parts[:-1])
    if directory is None:
        return False
    try:
        os.stat(parts[-1], dir_fd=directory, follow_symlinks=False)
    except (OSError, ValueError):
        return False
    finally:
        os.close(directory)
    return True


# --- what one probe did, as the judge reads it from the supervisor's record ---


@dataclass
class ProbeRecord:
    """What the process did while it answered one probe: whether main.py was imported, the reply line (or
    why there is none: "timeout", "oversized", "crashed"), and the events, rebuilt from outside."""

    loaded: bool = False
    reply: bytes | None = None
    replied_by: int = 0  # the thread that wrote the reply
    problem: str | None = None
    events: list[dict] = field(default_factory=list)
    truncated: bool = False
    response: dict | None = None  # the first response, as the judge read it on its own connection to the app
    answers: list = field(default_factory=list)  # (status, body) of every complete response, in order


def read_probe(supervisor: Supervisor, start: int, verdict, max_reply_bytes: int, exchange=None) -> ProbeRecord:
    """Follows the supervisor's record from index `start` until the probe's reply line is complete on the
    channel, or `verdict()` names why not to wait longer (alfred.sandbox.usage.ProbeClock.verdict: "timeout",
    "blocked", "busy"), then rebuilds the probe's events from the record: every print from the bytes that
    reached descriptors 1 and 2, every sleep from a wait asked of the kernel, in the order the kernel stopped the
    process; the markers on the channel add the phase and the events only the process can tell."""
    from alfred.inside.probe import MARKER

    record = ProbeRecord()
    channel, position = bytearray(), start

    def reply_ready() -> bool:
        nonlocal position
        while position < len(supervisor.seen) and record.reply is None and record.problem is None:
            seen = supervisor.seen[position]
            position += 1
            if seen.kind != "write" or seen.fd != CHANNEL:
                continue
            channel.extend(seen.data)
            if len(channel) > max_reply_bytes:
                record.problem = "oversized"
            while b"\n" in channel and record.reply is None:
                line, _, rest = bytes(channel).partition(b"\n")
                channel[:] = rest
                if line == b"L" and not record.loaded:
                    record.loaded = True
                elif not line.startswith(MARKER):
                    record.reply, record.replied_by = line + b"\n", seen.pid
        return record.reply is not None or record.problem is not None

    while not supervisor.wait_for(reply_ready, time.monotonic() + 0.1):
        if not supervisor.running():
            record.problem = "crashed"
            break
        record.problem = verdict()
        if record.problem:
            break
    record.events, record.truncated, record.answers = _events(supervisor.seen[start:position], exchange)
    record.truncated = record.truncated or supervisor.truncated
    record.response = _response(*record.answers[0]) if record.answers else None
    return record


def _events(record: list[Seen], exchange: Exchange | None = None) -> tuple[list[dict], bool, list]:
    """The probe's events, as `alfred.inside.probe` records them in process, with the same caps; and the app's
    complete answers to the judge's requests, (status, body, content type) each, in order."""
    from alfred.inside.probe import MARKER, MAX_EVENTS, MAX_OUTPUT_CHARS, MAX_OUTPUT_EVENTS, MAX_TEXT_CHARS

    events: list[dict] = []
    pending = {OUT: b"", ERR: b""}
    channel = b""
    state = {"phase": "import", "t": 0.0, "chars": 0, "truncated": False}

    def add(kind: str, fields: dict, watched: dict) -> None:
        if len(events) >= MAX_EVENTS or (kind in ("print", "sleep") and len(events) >= MAX_OUTPUT_EVENTS):
            state["truncated"] = True
            return
        entry = {"kind": kind, "t": round(state["t"], 6), "phase": state["phase"], **fields}
        if watched:
            entry["watched"] = watched
        events.append(entry)

    def printed(fd: int, raw: bytes, watched: dict) -> None:
        if state["chars"] >= MAX_OUTPUT_CHARS:
            state["truncated"] = True
            return
        line = raw.decode("utf-8", "surrogatepass" if _surrogates_ok(raw) else "replace")
        state["chars"] += len(line)
        add("print", {"stream": "stdout" if fd == OUT else "stderr", "text": line[:MAX_TEXT_CHARS]}, watched)

    answers: list[tuple[int, bytes, str]] = []
    for seen in record:
        if seen.kind == RECEIVED:
            if exchange is not None:
                _read_answers(exchange, seen.data, answers, add)
            continue
        if seen.kind == SLEEP:
            if seen.seconds > 0:
                add("sleep", {"seconds": seen.seconds}, seen.watched)
                state["t"] += seen.seconds
        elif seen.fd in pending:
            pending[seen.fd] += seen.data
            while b"\n" in pending[seen.fd]:
                line, _, pending[seen.fd] = pending[seen.fd].partition(b"\n")
                printed(seen.fd, line, seen.watched)
        else:
            channel += seen.data
            while b"\n" in channel:
                line, _, channel = channel.partition(b"\n")
                if line.startswith(MARKER):
                    _apply_marker(line[len(MARKER):], state, add, seen.watched)
    for fd, rest in pending.items():  # a last line without its newline, as a flush at the end prints it
        if rest:
            printed(fd, rest, record[-1].watched if record else {})
    return events, state["truncated"], answers


_TOLD = frozenset({"task-start", "task-end"})  # events only the process can tell (a response is read, not told)


def _apply_marker(text: bytes, state: dict, add, watched: dict) -> None:
    import json

    try:
        told = json.loads(text)
    except ValueError:
        return
    if not isinstance(told, dict):
        return
    if isinstance(told.get("phase"), str):
        state["phase"] = told["phase"][:40]
        return
    event = told.get("event")
    if isinstance(event, dict) and event.get("kind") in _TOLD:
        fields = {name: value for name, value in event.items() if name in ("status", "function", "error")}
        add(event["kind"], fields, watched)


def _surrogates_ok(raw: bytes) -> bool:
    try:
        raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return False
    return True


# --- the files a probe left, read by the judge ---


def read_work_folder(pid: int, folder: str, given: dict[str, bytes]) -> tuple[dict[str, str], bool]:
    """The files under the work folder `folder` of process `pid` (as the process sees it, reached through its
    own root), read from outside the process as `alfred.inside.probe` lists them in process: regular files in path
    order, the first MAX_FILES of them, MAX_FILE_CHARS each, a project file left as it was given excepted.
    No link is followed, at any depth: a link planted to lead the judge elsewhere leads nowhere; and no mount
    is crossed: only what lies on the work folder's own filesystem is read (the submission may not mount, and
    were it able to, what it mounted would stay unread). Returns (files, whether some were left out)."""
    top = _folder_beneath(pid, folder.strip("/").split("/"))
    if top is None:
        return {}, False
    try:
        return _read_folder(top, given)
    finally:
        os.close(top)


def _read_folder(top: int, given: dict[str, bytes]) -> tuple[dict[str, str], bool]:
    from alfred.inside.probe import MAX_FILE_CHARS, MAX_FILES

    device = os.fstat(top).st_dev
    found: list[tuple[tuple[str, ...], bool]] = []
    folders: list[tuple[tuple[str, ...], int]] = [((), os.dup(top))]
    while folders:
        parts, fd = folders.pop()
        try:
            for name in os.listdir(fd):
                path = (*parts, name)
                try:
                    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    found.append((path, False))
                    continue
                regular = _is(info.st_mode, "file") and info.st_dev == device
                found.append((path, regular))
                if _is(info.st_mode, "dir") and info.st_dev == device:
                    child = _open_within(fd, name, os.O_RDONLY | os.O_DIRECTORY)
                    if child is not None:
                        folders.append((path, child))
        except OSError:
            pass
        finally:
            os.close(fd)
    files, cut = {}, False
    for parts, regular in sorted(found)[: MAX_FILES * 4]:
        if len(files) >= MAX_FILES:
            cut = True
            break
        if not regular:
            continue
        data = _read_within(top, "/".join(parts), limit=4 * MAX_FILE_CHARS + 4, device=device)
        relative = "/".join(parts)
        if data is None or given.get(relative) == data:
            continue
        text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")  # as open() reads text
        files[relative] = text[:MAX_FILE_CHARS]
    return files, cut


def _is(mode: int, kind: str) -> bool:
    return stat.S_ISREG(mode) if kind == "file" else stat.S_ISDIR(mode)


def _open_beneath(directory: int, parts: list[str]) -> int | None:
    """A descriptor of the folder `parts` beneath `directory`, each step refusing a link; None if any fails."""
    fd = os.dup(directory)
    for part in parts:
        try:
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except OSError:
            os.close(fd)
            return None
        os.close(fd)
        fd = child
    return fd


def _folder_beneath(pid: int, parts: list[str]) -> int | None:
    """A descriptor of the folder `parts` as process `pid` sees it (through its own root), no link followed."""
    try:
        root = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _open_beneath(root, parts)
    finally:
        os.close(root)


def _read_within(top: int, relative: str, limit: int, device: int) -> bytes | None:
    fd = _open_within(top, relative, os.O_RDONLY | os.O_NONBLOCK)
    if fd is None:
        return None
    try:
        info = os.fstat(fd)
        if not _is(info.st_mode, "file") or info.st_dev != device:
            return None
        return os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)


# openat2(2) (Linux 5.6): every component beneath `directory`, none a link, none a mount point (a bind mount
# of a file or a folder from the same filesystem included, which no device number tells apart).
_SYS_OPENAT2 = 437  # x86_64 and aarch64 alike
_RESOLVE_NO_XDEV, _RESOLVE_NO_SYMLINKS, _RESOLVE_BENEATH = 0x01, 0x04, 0x08
_libc = ctypes.CDLL(None, use_errno=True)


def _open_within(directory: int, relative: str, flags: int) -> int | None:
    """A descriptor of `relative` beneath `directory`, crossing no link and no mount; None if there is none.
    On a kernel without openat2, a step at a time refusing links (mounts are then told by device only)."""
    how = struct.pack("QQQ", flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0,
                      _RESOLVE_NO_XDEV | _RESOLVE_NO_SYMLINKS | _RESOLVE_BENEATH)
    fd = _libc.syscall(_SYS_OPENAT2, ctypes.c_int(directory), ctypes.c_char_p(os.fsencode(relative)),
                       ctypes.c_char_p(how), ctypes.c_size_t(len(how)))
    if fd >= 0:
        return fd
    if ctypes.get_errno() != errno.ENOSYS:
        return None
    *folders, name = relative.split("/")
    parent = _open_beneath(directory, folders)
    if parent is None:
        return None
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    except OSError:
        return None
    finally:
        os.close(parent)


@dataclass
class Exchange:
    """The judge's side of one connection to the app: its HTTP client (h11), which has sent the first request,
    and the events of the requests sent after it on the same connection (HTTP/1.1 pipelining: the app
    answers them in the order they were sent), which the client is told of as each answer before is read."""

    client: Any
    later: list = field(default_factory=list)
    answer: dict = field(default_factory=lambda: {"status": None, "content_type": "", "body": b""})


def _read_answers(exchange: Exchange, data: bytes, answers: list, add) -> None:
    """Feeds bytes of the app's answers to the judge's HTTP client (h11), adding each response's events as
    its parts arrive, and each complete answer to `answers`."""
    import h11

    client, answer = exchange.client, exchange.answer
    try:
        client.receive_data(data)
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                if event is h11.PAUSED and exchange.later and client.their_state is h11.DONE:
                    client.start_next_cycle()  # the next request's answer follows on the same connection
                    for sent in exchange.later.pop(0):
                        client.send(sent)
                    continue
                return
            if isinstance(event, h11.Response):
                answer.update(status=event.status_code, body=b"", content_type=next(
                    (value.decode("latin-1") for name, value in event.headers if name == b"content-type"), ""))
                add("response-start", {"status": event.status_code}, {})
            elif isinstance(event, h11.Data):
                if len(answer["body"]) < LIMITS.captured_bytes:
                    answer["body"] += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                answers.append((answer["status"], answer["body"], answer["content_type"]))
                add("response-complete", {}, {})
                if not exchange.later:
                    return
            elif isinstance(event, h11.ConnectionClosed):
                return
    except h11.ProtocolError:
        return


def _response(status: int, body: bytes, content_type: str) -> dict:
    """A response as the probe reports one (alfred.inside.actions._request), from the bytes the app sent back."""
    import codecs

    from alfred.inside.probe import MAX_BODY_CHARS, MAX_RESPONSE_CHARS, MAX_TEXT_CHARS, _from_json_bytes, _to_json

    try:
        body_json = _to_json(_from_json_bytes(body))
    except (ValueError, RecursionError):
        body_json = None
    charset = next((part.split("=", 1)[1].strip().strip('"') for part in content_type.split(";")
                    if part.strip().lower().startswith("charset=")), "utf-8")
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    text = body.decode(charset, "replace")
    return {"status": status, "body_json": body_json if body_json is not None and len(body_json) <= MAX_BODY_CHARS else None,
            "text": text[:MAX_RESPONSE_CHARS], "text_chars": len(text), "content_type": content_type[:MAX_TEXT_CHARS]}
