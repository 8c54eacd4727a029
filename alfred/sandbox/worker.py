"""The student side of grading: a fork server inside the sandbox, and the submission processes it forks.

    python -I -m alfred.sandbox.worker CONTROL_FD LAYOUT_JSON

LAYOUT_JSON says where things are and how students are kept apart: {"isolate": true|false, "shared_uid":
true|false, "submissions": ..., "students": ...}. The server
imports and exercises the trusted heavy modules once (FastAPI, pydantic, freezegun...), then waits for
orders from the judge on a Unix socket (CONTROL_FD), one JSON line each:

    {"op": "open", "key": K}     gives submission K a new, empty tmpfs under <students>/K/work, which
                                 holds the work folder of its probe under way
    {"op": "spawn", "key": K, "main": "main.py", "workdir": "probe-3", "student_uid": 40123 or null}
                                 forks the process for one probe of K, in a new, empty work folder, and
                                 hands the judge its two pipe ends (SCM_RIGHTS): the judge writes the probe
                                 into one and reads the observation from the other. The server never reads
                                 what flows there, so its memory, which every later submission process
                                 inherits, holds no student's data.
    {"op": "end", "pid": N}      counts the entries that process left outside its work folder, then kills it,
                                 and with it everything it started
    {"op": "close", "key": K}    ends what is left of K, answers how many entries its processes left outside
                                 their work folders (`strays`), and throws its filesystem away whole; `left`
                                 counts processes of the student uid still alive afterwards (then the judge
                                 replaces the sandbox)

Nothing a probe does can reach the next probe, or the next student, by construction rather than by cleaning
(`isolate`): each probe is a new process, forked from this server (which never runs student code), in
namespaces of its own, made by the trusted server before it drops to the student uid: a mount namespace in
which /sandbox, /tmp and /dev/shm are new, empty tmpfs, the probe's new work folder is bound at
/sandbox/work/<name>, and /submission is its own files, read-only (other tests' folders, other students'
folders and tmpfs are covered); an IPC namespace (System V objects and POSIX queues die with it); a PID
namespace whose init is trusted code, so that every process the probe starts dies when it ends. Its work
folder is new too, and holds only what the probe lays out. Kernel keyrings are closed to the sandbox by its
seccomp filter.

    server ── C1: unshare(mount, IPC, PID), mounts ── C2: init of the new PID namespace ── C3: the student

Without `isolate` (`alfred grade --no-sandbox`, for trusted code), a submission gets a plain folder and
the same process tree without namespaces.

A submission process (C3) drops to the sandbox's student uid (with `shared_uid`, where the sandbox has one uid
for all, it drops every capability instead), sets its resource limits, then answers
probes: one JSON line in, "L" once main.py is imported, one JSON line out. Its descriptors 0-2 lead to
/dev/null, so nothing it prints can reach the judge.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import json
import os
import random
import resource
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

from alfred.sandbox.limits import LIMITS

LOADED = b"L\n"  # written once main.py has been imported, before the observation
FRESH_PER_PROBE = ("/sandbox", "/tmp", "/dev/shm")  # a new, empty tmpfs at each, for every probe
SUBMISSION = "/submission"  # the student's own files, seen read-only from inside
WORK = "work"  # the tmpfs, under <students>/K, holding the work folder of K's probe under way
WORK_IN_SANDBOX = "/sandbox/work"  # where a probe finds its work folder (the only one it sees)

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNS, _CLONE_NEWIPC, _CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
_MNT_DETACH = 2
_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    control = socket.socket(fileno=int(argv[0]))
    layout = json.loads(argv[1])
    _die_with_parent()
    from alfred.inside.probe import warm_up
    from alfred.sandbox import supervisor  # noqa: F401 - every probe's process loads its filter with it

    warm_up()  # a failure here reaches the grader's start log (stderr), which names it
    gc.freeze()  # what the template holds is never collected: no probe's process copies it to look it over
    _silence_standard_streams()
    server = _Server(layout)
    control.sendall(b'{"ready": true}\n')
    for order in _orders(control):
        answer = server.obey(control, order)
        if answer is not None:
            control.sendall((json.dumps(answer) + "\n").encode())
    return 0


def _orders(control: socket.socket):
    """Orders from the judge, one JSON line each. No file object wraps the socket: a forked child that
    closes `control` must really close the descriptor."""
    buffer = b""
    while True:
        chunk = control.recv(65536)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield json.loads(line)


class _Server:
    def __init__(self, layout: dict):
        self.isolate = bool(layout["isolate"])
        self.shared_uid = bool(layout.get("shared_uid"))  # one uid for the server and its students (no root)
        if self.shared_uid:  # bwrap's mount namespace belongs to its outer user namespace: mount in one of ours
            if _libc.unshare(_CLONE_NEWNS) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
        self.supervision = str(layout["supervision"])  # the supervisor's filter, as hex (alfred.sandbox.supervisor)
        self.submissions = Path(layout["submissions"])
        self.students = Path(layout["students"])
        self.children: dict[str, set[int]] = {}  # key -> pids of its submission processes (C1) not yet ended
        self.strays: dict[str, int] = {}  # key -> entries its ended processes left outside their work folders

    def obey(self, control: socket.socket, order: dict) -> dict | None:
        op = order["op"]
        if op == "open":
            self._open(_key(order["key"]))
            return {"opened": True}
        if op == "spawn":
            key = _key(order["key"])
            plan = self._plan(key, order["main"], _key(order["workdir"]), order["student_uid"])
            pid = _spawn(control, plan, order["student_uid"], self.shared_uid)
            self.children.setdefault(key, set()).add(pid)
            return None  # answered with the pipes by _spawn
        if op == "end":
            for key, pids in self.children.items():
                if order["pid"] in pids:
                    pids.discard(order["pid"])
                    if self.isolate:
                        self.strays[key] = self.strays.get(key, 0) + _strays(order["pid"])
            return {"ended": _end(order["pid"])}
        if op == "close":
            return self._close(_key(order["key"]), order["student_uid"])
        raise ValueError(f"unknown order {op!r}")

    def _open(self, key: str) -> None:
        root = self.students / key
        root.mkdir(mode=0o755)
        (root / WORK).mkdir()
        if self.isolate:  # a tmpfs of its own: filling it leaves room in /tmp, and the next student none of it
            _mount("tmpfs", str(root / WORK), "tmpfs", _MS_NOSUID | _MS_NODEV,
                   f"size={LIMITS.fs_bytes},nr_inodes={LIMITS.fs_inodes},mode=755")

    def _plan(self, key: str, main: str, workdir: str, student_uid: int | None) -> dict:
        """Where the probe's process finds its file and its work folder, and what to mount for it. The folder
        is new and empty (the probe lays out its scene in it); what earlier probes left is removed first."""
        if main.startswith("/") or ".." in Path(main).parts:
            raise ValueError("the student's file is named relative to its own folder")
        work = self.students / key / WORK
        for earlier in os.listdir(work):
            shutil.rmtree(work / earlier, ignore_errors=True)
        folder = work / workdir
        folder.mkdir(mode=0o755)
        if student_uid is not None:
            os.chown(folder, student_uid, student_uid)
        if not self.isolate:
            return {"main": str(self.submissions / key / main), "work": str(work), "mounts": None,
                    "supervision": self.supervision}
        return {"main": f"{SUBMISSION}/{main}", "work": WORK_IN_SANDBOX, "supervision": self.supervision,
                "mounts": {"workdir": str(folder), "files": str(self.submissions / key),
                           "cover": [str(self.submissions), str(self.students)]}}

    def _close(self, key: str, student_uid: int | None) -> dict:
        strays = self.strays.pop(key, 0)
        for pid in self.children.pop(key, set()):
            strays += _strays(pid) if self.isolate else 0
            _end(pid)
        root = self.students / key
        if self.isolate:
            _libc.umount2(str(root / WORK).encode(), _MNT_DETACH)  # the tmpfs and all it held go at once
            (root / WORK).rmdir()
            root.rmdir()
        else:
            shutil.rmtree(root, ignore_errors=True)
        count = _processes_beside_me if self.shared_uid else lambda: _processes_of(student_uid)
        left = count()
        for _ in range(100):  # killed processes take a moment to go: a namespace ends after its init
            if not left:
                break
            time.sleep(0.02)
            left = count()
        return {"closed": True, "strays": strays, "left": left}


def _key(text: str) -> str:
    if not text or not all(char.isalnum() or char in "-_" for char in text):
        raise ValueError("a submission key is letters, digits, - and _")
    return text


def _die_with_parent() -> None:
    """This process is killed when its parent ends, whatever ends it (SIGKILL included)."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _silence_standard_streams() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encoded = [value.encode() if value is not None else None for value in (source, target, fstype, data)]
    if _libc.mount(encoded[0], encoded[1], encoded[2], flags, encoded[3]) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target}: {os.strerror(error)}")


def _spawn(control: socket.socket, plan: dict, student_uid: int | None, drop_capabilities: bool) -> int:
    probes_read, probes_write = os.pipe()
    judge_end, student_end = socket.socketpair()  # carries the supervisor's listener to the judge, once
    # ... with the credentials of the process that sends it (the kernel's word, in the judge's PID namespace):
    # the judge counts that process's CPU (alfred.sandbox.usage)
    judge_end.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    pid = os.fork()
    if pid == 0:  # C1
        code = 70
        try:
            control.close()
            judge_end.close()
            _close_all_but({0, 1, 2, probes_read, student_end.fileno()})
            os.setsid()
            _die_with_parent()
            if plan["mounts"] is not None:
                _enter_own_namespaces(plan["mounts"])
            code = _run_init(plan, student_uid, drop_capabilities, probes_read, student_end)
        except BaseException:  # noqa: BLE001 - the judge sees the pipe close, and says so
            pass
        finally:
            os._exit(code)
    os.close(probes_read)
    student_end.close()
    message = (json.dumps({"pid": pid, "work": plan["work"]}) + "\n").encode()
    socket.send_fds(control, [message], [probes_write, judge_end.fileno()])
    os.close(probes_write)
    judge_end.close()
    return pid


def _enter_own_namespaces(mounts: dict) -> None:
    """Run by C1, still trusted and privileged: new mount, IPC and PID namespaces, in which /sandbox, /tmp and
    /dev/shm are new, empty tmpfs (gone with the namespace), the probe's work folder is the one folder of
    /sandbox/work, the student's files are /submission, and nobody else's are anywhere."""
    if _libc.unshare(_CLONE_NEWNS | _CLONE_NEWIPC | _CLONE_NEWPID) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    for place in FRESH_PER_PROBE:  # a tmpfs each, as a machine has: filling /tmp leaves room in the work folder
        _mount("tmpfs", place, "tmpfs", _MS_NOSUID | _MS_NODEV,
               f"size={LIMITS.fs_bytes},nr_inodes={LIMITS.fs_inodes},mode={0o777 if place == '/sandbox' else 0o1777:o}")
    workdir = f"{WORK_IN_SANDBOX}/{os.path.basename(mounts['workdir'])}"
    os.makedirs(workdir)
    os.chmod(WORK_IN_SANDBOX, 0o777)
    _mount(mounts["workdir"], workdir, None, _MS_BIND)
    _mount(mounts["files"], SUBMISSION, None, _MS_BIND)
    _mount(None, SUBMISSION, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    for covered in mounts["cover"]:
        _mount("tmpfs", covered, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV, "size=4096,mode=0755")
    _mount("mqueue", "/dev/mqueue", "mqueue", _MS_NOSUID | _MS_NODEV)


def _run_init(plan: dict, student_uid: int | None, drop_capabilities: bool, probes_fd: int,
              to_judge: socket.socket) -> int:
    """C1 forks C2, the init of the submission's PID namespace when it has one, and mirrors how it ended."""
    init = os.fork()
    if init == 0:  # C2
        code = 70
        try:
            _die_with_parent()
            if plan["mounts"] is not None:
                _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV)
            code = _reap_until_student_ends(plan, student_uid, drop_capabilities, probes_fd, to_judge)
        except BaseException:  # noqa: BLE001
            pass
        finally:
            os._exit(code)  # as init: every process left in the namespace is killed now
    os.close(probes_fd)
    to_judge.close()
    return _exit_code(os.waitpid(init, 0)[1])


def _reap_until_student_ends(plan: dict, student_uid: int | None, drop_capabilities: bool, probes_fd: int,
                             to_judge: socket.socket) -> int:
    student = os.fork()
    if student == 0:  # C3
        try:
            _die_with_parent()
            _become_student(Path(plan["work"]), student_uid, drop_capabilities)
            probes_fd = _supervised(probes_fd, to_judge, bytes.fromhex(plan["supervision"]))
            _serve(Path(plan["main"]), Path(plan["work"]), probes_fd)
        except BaseException:  # noqa: BLE001
            pass
        finally:
            os._exit(0)
    os.close(probes_fd)
    to_judge.close()
    while True:  # an init reaps whatever is handed to it, until the student's own process ends
        pid, status = os.waitpid(-1, 0)
        if pid == student:
            return _exit_code(status)


def _exit_code(status: int) -> int:
    """A child's wait status as an exit code that carries a killing signal on (128 + its number)."""
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.waitstatus_to_exitcode(status)


def _close_all_but(keep: set[int]) -> None:
    """Closes every descriptor the child inherited except `keep`: the judge's channel above all."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the descriptor of the listing itself, already closed


def _become_student(work: Path, student_uid: int | None, drop_capabilities: bool) -> None:
    random.seed()  # not the server's state: no two submissions draw the same "random" numbers
    try:  # when memory runs out, the kernel should end the student's process, not the server
        Path("/proc/self/oom_score_adj").write_text("1000")
    except OSError:
        pass
    if student_uid is not None:
        os.setgroups([])
        os.setgid(student_uid)
        os.setuid(student_uid)  # from uid 0 to another: the kernel drops every capability here
    if drop_capabilities:  # one uid for all, which is not 0: without capabilities it stays without them
        _drop_every_capability()
    work.mkdir(parents=True, exist_ok=True)
    for limit, value in LIMITS.rlimits().items():
        soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))


_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, _PR_CAPBSET_DROP = 47, 4, 24
_CAPABILITY_VERSION_3 = 0x20080522


def _drop_every_capability() -> None:
    """Empties this process's ambient, bounding, effective, permitted and inheritable capability sets, or
    raises: a submission never runs with a capability."""
    if _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "clearing the ambient capabilities")
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for capability in range(last + 1):  # needs CAP_SETPCAP to succeed; without it the bounding set is empty already
        _libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # two structs of (effective, permitted, inheritable), all empty
    if _libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "dropping the capabilities")
    status = Path("/proc/self/status").read_text()
    held = [line for line in status.splitlines() if line.startswith(("CapEff", "CapPrm", "CapInh", "CapAmb"))]
    if any(int(line.split()[1], 16) for line in held):
        raise PermissionError("a capability was left after dropping them all")


def _supervised(probes_fd: int, to_judge: socket.socket, program: bytes) -> int:
    """Puts this process under the judge's supervisor (alfred.sandbox.supervisor), before any student code runs:
    descriptors 1 to 3 lead nowhere, and every write to them, every sleep, is seen and answered by the judge.
    Returns where the probes now arrive (a descriptor above the watched ones)."""
    from alfred.inside.probe import SERVING, WITNESS_CHANNEL
    from alfred.sandbox.supervisor import listen_for_the_judge

    moved = fcntl.fcntl(probes_fd, fcntl.F_DUPFD, 10)  # above the descriptors given fixed roles here
    os.close(probes_fd)
    channel = socket.socket(fileno=fcntl.fcntl(to_judge.fileno(), fcntl.F_DUPFD, 10))
    to_judge.close()
    os.dup2(1, WITNESS_CHANNEL)  # /dev/null, like 1 and 2: what is written there is taken by the supervisor
    with channel:
        listen_for_the_judge(channel, program)
        os.dup2(channel.fileno(), SERVING)  # where the judge hands a listening socket for each of its requests
    return moved


def _serve(main_py: Path, work: Path, probes_fd: int) -> None:
    # Trusted after load (the rule is written at the top of alfred/inside/probe.py): from the first probe on, student
    # code runs in this process and may replace whatever it can name (json.dumps, builtins, this module's
    # globals). So everything this loop uses after that is bound here, before any student code has run, and
    # the request is decoded and the reply made and encoded by alfred.inside's functions, bound at their import.
    # The reply goes to the supervised channel: the judge's supervisor takes it, in order with what the
    # probe's prints and sleeps did.
    from alfred.inside.probe import WITNESS_CHANNEL, answer, decode_request

    main, base, loaded, channel, write, memoryview_ = str(main_py), str(work), LOADED, WITNESS_CHANNEL, os.write, memoryview

    def say(data: bytes) -> None:  # the supervisor takes at most 64 KiB of one write
        unsent = memoryview_(data)
        while unsent:
            unsent = unsent[write(channel, unsent):]

    with os.fdopen(probes_fd, "rb") as probes:
        for line in probes:
            request = decode_request(line)
            say(answer(request, main, base, lambda: say(loaded), True))


def _end(pid: int) -> str:
    try:
        os.kill(pid, signal.SIGKILL)  # C1: its init dies with it (PDEATHSIG), and the namespace with its init
    except ProcessLookupError:
        pass
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "gone"
    code = os.waitstatus_to_exitcode(status)
    if code > 128 and code - 128 in signal.valid_signals():
        return signal.Signals(code - 128).name
    if code < 0:
        return "SIGKILL" if -code == signal.SIGKILL else signal.Signals(-code).name
    return f"exit {code}"


def _strays(pid: int) -> int:
    """Entries the probe's process `pid` (C1, whose mount namespace the probe's is) left in its /tmp, its
    /dev/shm, or its /sandbox beside the work folder: read before it ends, as its namespace goes with it."""
    count = 0
    for place in FRESH_PER_PROBE:
        try:
            with os.scandir(f"/proc/{pid}/root{place}") as entries:
                count += sum(1 for entry in entries if f"{place}/{entry.name}" != WORK_IN_SANDBOX)
        except OSError:
            continue
    return count


def _processes_beside_me() -> int:
    """With one uid for the server and its students: the processes of this sandbox (its own PID namespace)
    other than the server and those that started it, zombies aside."""
    mine, pid = set(), os.getpid()
    while pid > 0 and pid not in mine:
        mine.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    alive = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in mine:
            continue
        try:
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        alive += state != "Z"
    return alive


def _processes_of(student_uid: int | None) -> int:
    """Processes of the student uid still alive (zombies awaiting their reaper excepted)."""
    if student_uid is None:
        return 0
    alive = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(student_uid)] and not fields.get("State", "").strip().startswith("Z"):
            alive += 1
    return alive


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
