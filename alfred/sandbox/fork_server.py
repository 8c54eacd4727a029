"""The grader's side of the student sandbox: start the fork server (`alfred.sandbox.worker`) and give it orders.

`ForkServer(sandboxed=True)` runs the server under bubblewrap: new mount, PID, network, IPC and UTS
namespaces, a cleared environment, a seccomp filter, and only what student code needs to run, read-only:
/usr, the interpreter and its environment, and a copy of the kit's student-side modules (`RUNTIME_MODULES`)
at /run/alfred-runtime. The kit's folder, the class folders and the output folder are covered with an empty
tmpfs wherever they lie under one of those (a kit under /usr/src/app, say), so solutions, tests, corpora,
other students' work and reports are never visible, wherever things are installed (`SandboxView`).

Two ways to start it (`SandboxMode`), the first the machine allows (`sandbox_mode`):
- `own uid`, when the grader is root: the server keeps CAP_SETUID and CAP_SETGID, to run each submission as
  a student uid with no capabilities at all, and CAP_SYS_ADMIN, to give each submission namespaces of its
  own and a new, empty tmpfs that is thrown away after it (see `alfred.sandbox.worker`).
- `shared uid`, for a teacher who is not root: bubblewrap
  makes an unprivileged user namespace in which the server and every submission have one uid (`SHARED_UID`,
  the teacher's own outside); the server keeps CAP_SYS_ADMIN in that namespace alone, and each submission
  drops every capability before it runs. Everything else is as fresh per student as in the first mode;
  what it gives up is written in `SandboxMode.gives_up` and told once per run.

bwrap reads its options from a pipe (`--args`), so they stay out of /proc/1/cmdline.

One server serves many submissions in turn, so the interpreter start-up and the FastAPI imports are paid
once per grading process rather than once per student.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from alfred.sandbox.cgroups import Cgroup
from alfred.sandbox.limits import LIMITS
from alfred.sandbox.supervisor import filter_program
from alfred.course.targets import KIT_ROOT

# All of the kit that runs inside the sandbox, as paths under alfred/.
RUNTIME_MODULES = ("__init__.py", "inside/__init__.py", "inside/actions.py", "inside/loading.py", "inside/probe.py",
                   "inside/recording.py", "inside/running.py", "inside/warm_up.py", "inside/wire.py", "inside/world.py",
                   "sandbox/__init__.py", "sandbox/worker.py", "sandbox/supervisor.py", "sandbox/limits.py")
RUNTIME_IN_SANDBOX = "/run/alfred-runtime"
ENVIRONMENT_IN_SANDBOX = "/run/alfred-environment"  # the kit's virtual environment, wherever it is installed
SUBMISSIONS_IN_SANDBOX, STUDENTS_IN_SANDBOX = "/submissions", "/students"
STUDENT_UID_BASE, STUDENT_UID_SLOTS = 40000, 20000
SHARED_UID = 40000  # in `shared uid` mode: the one uid of the server and every submission, inside the sandbox


def _boot(runtime: str) -> str:
    """The server's start: the kit's student-side modules from `runtime` (this kit's copy), never whatever
    `alfred` the interpreter's environment would import."""
    return (f"import sys; sys.path.insert(0, {runtime!r}); from alfred.sandbox.worker import main; "
            "sys.exit(main(sys.argv[1:]))")


_BOOT = _boot(RUNTIME_IN_SANDBOX)


class SandboxUnavailable(Exception):
    """bubblewrap is missing or does not work here; the message names the cause and how to fix it."""


@dataclass(frozen=True)
class SandboxMode:
    """How the sandbox isolates students from each other and from the grader (see the module's docstring)."""

    name: str  # "own uid" or "shared uid"
    own_uids: bool  # each sandbox's students run as a uid of their own, not the server's

    @property
    def gives_up(self) -> str:
        """What this mode does not give, in one sentence for the teacher ("" when nothing)."""
        if self.own_uids:
            return ""
        return ("grading without root: student code runs in an unprivileged user namespace with one uid for the "
                "grader's sandbox and its students (each student still gets fresh namespaces, files and processes, "
                "and no capabilities), so the per-user process limit counts the sandbox's own processes too, and "
                "memory and process counts are limited by rlimits alone unless a cgroup can be made")


OWN_UID, SHARED = SandboxMode("own uid", True), SandboxMode("shared uid", False)


def sandbox_mode() -> SandboxMode:
    """The mode that starts a real fork server here (root: `own uid`; another user: `shared uid`); raises
    SandboxUnavailable naming why it does not. Checked once per process, bubblewrap and user. Root never takes
    `shared uid`: bubblewrap run by root covers parts of /proc that a user namespace then may not mount afresh."""
    return _mode_with(shutil.which("bwrap"), os.geteuid())


@functools.cache
def _mode_with(bwrap: str | None, euid: int) -> SandboxMode:
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap is not installed, so student code cannot be sandboxed. Install it "
            "(Debian/Ubuntu: `sudo apt-get install bubblewrap`), or pass --no-sandbox for code you trust."
        )
    SandboxView.of_this_kit(runtime=Path("/nonexistent"), staging=Path("/nonexistent")).check()
    mode = OWN_UID if euid == 0 else SHARED
    try:
        ForkServer(sandboxed=True, mode=mode).close()
    except ServerError as exc:
        raise SandboxUnavailable(f"bubblewrap is installed but could not start a sandbox here ({mode.name} mode: "
                                 f"{exc}). {_advice(str(exc))}Or pass --no-sandbox for code you trust.") from None
    return mode


def _advice(said: str) -> str:
    """What to do about what bubblewrap said, as a sentence ending in a space ("" when there is no advice)."""
    if any(words in said for words in ("setting up uid map", "No permissions to create new namespace",
                                       "Creating new namespace failed", "Operation not permitted")):
        return ("This machine does not let this user make namespaces: allow unprivileged user namespaces "
                "(`sysctl kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04 and later, bubblewrap's AppArmor "
                "profile), or in a container allow the `unshare` and `clone` system calls (Docker: a seccomp "
                "profile that permits them). ")
    return ""


@dataclass(frozen=True)
class SandboxView:
    """What the sandbox's file system shows, read-only: /usr, the interpreter at its own place, its virtual
    environment (if any) at ENVIRONMENT_IN_SANDBOX, the runtime copy and the staged submissions; and the
    `hidden` paths covered wherever one of those holds them."""

    runtime: Path
    staging: Path
    interpreter: Path  # sys.base_prefix
    environment: Path | None = None  # sys.prefix when it is a virtual environment
    hidden: tuple[Path, ...] = field(default=())

    @classmethod
    def of_this_kit(cls, runtime: Path, staging: Path, hidden: tuple[Path, ...] = ()) -> SandboxView:
        """This interpreter and its environment; this kit's folder, its installed `alfred` package (in
        site-packages when the kit is not installed in place) and `hidden` hidden."""
        base, prefix = Path(sys.base_prefix).resolve(), Path(sys.prefix)
        package = Path(__file__).resolve().parents[1]
        return cls(runtime, staging, base, prefix if prefix.resolve() != base else None,
                   (KIT_ROOT.resolve(), package, *(path.resolve() for path in hidden)))

    def python(self) -> str:
        """The interpreter's path inside: the environment's, wherever it was installed (a venv finds its
        site-packages from where it is run, through its pyvenv.cfg)."""
        if self.environment is None:
            return sys.executable
        return f"{ENVIRONMENT_IN_SANDBOX}/bin/{Path(sys.executable).name}"

    def bound(self) -> list[Path]:
        """The host paths bound at their own place: /usr always (the system's libraries, and the interpreter
        itself for a system Python or a venv made from one), and the interpreter's prefix when it lies elsewhere."""
        return sorted({Path("/usr")} | (set() if self.interpreter.is_relative_to("/usr") else {self.interpreter}))

    def check(self) -> None:
        """Raises SandboxUnavailable, naming the path, when the interpreter the sandbox would run leads through
        a link to a place the sandbox does not show (an absolute link must lead into a bound path: the
        environment itself is seen elsewhere inside)."""
        path = Path(sys.executable) if self.environment is None else self.environment / "bin" / Path(sys.executable).name
        start, bound = path, self.bound()
        for _ in range(40):
            if not path.is_symlink():
                return
            target = Path(os.readlink(path))
            path = Path(os.path.normpath(target if target.is_absolute() else path.parent / target))
            if target.is_absolute() and not any(path.is_relative_to(place) for place in bound):
                raise SandboxUnavailable(
                    f"the interpreter the sandbox would run, {start}, leads to {path}, which the sandbox does not "
                    f"show (it shows {', '.join(map(str, bound))} and the kit's environment); make the kit's venv "
                    "from a Python installed under one of those")

    def covered(self) -> list[tuple[Path, str]]:
        """(hidden path, where it shows inside) for every hidden path that lies inside a bound path."""
        places = [(path, str(path)) for path in self.bound()]
        if self.environment is not None:
            places.append((self.environment, ENVIRONMENT_IN_SANDBOX))
        return sorted({(hidden, inside + str(hidden)[len(str(place)):]) for hidden in self.hidden
                       for place, inside in places if hidden.is_relative_to(place) and hidden != place})

    def options(self, mode: SandboxMode) -> list[str]:
        if self.interpreter.is_relative_to("/tmp") or self.interpreter.is_relative_to("/dev"):
            raise SandboxUnavailable(f"the Python interpreter lives in {self.interpreter}, where each student gets "
                                     "a folder of its own; install Python elsewhere (a venv under /tmp is fine).")
        options = [
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/sandbox", "--setenv", "LANG", "C.UTF-8",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            *(("--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID") if mode.own_uids else  # to run submissions as the student uid
              ("--unshare-user", "--uid", str(SHARED_UID), "--gid", str(SHARED_UID), "--cap-drop", "ALL")),
            "--cap-add", "CAP_SYS_ADMIN",  # to give each submission its own namespaces and tmpfs
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
            "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
            "--proc", "/proc", "--dev", "/dev", "--mqueue", "/dev/mqueue",
            "--tmpfs", "/sandbox", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm",  # mount points; each student gets its own
        ]
        for path in self.bound():
            options += [*_parents(path), "--ro-bind", str(path), str(path)]
        options += ["--perms", "0755", "--dir", "/run"]  # bwrap would make it 0700: the student uid walks through it
        if self.environment is not None:
            options += ["--ro-bind", str(self.environment), ENVIRONMENT_IN_SANDBOX]
        for _, inside in self.covered():
            options += ["--perms", "0755", "--size", "4096", "--tmpfs", inside, "--remount-ro", inside]
        for place in (RUNTIME_IN_SANDBOX, SUBMISSIONS_IN_SANDBOX, STUDENTS_IN_SANDBOX, "/submission"):
            options += ["--perms", "0755", "--dir", place]
        if self.runtime.is_dir():
            options += ["--ro-bind", str(self.runtime), RUNTIME_IN_SANDBOX]
        if self.staging.is_dir():
            options += ["--ro-bind", str(self.staging), SUBMISSIONS_IN_SANDBOX]
        return [*options, "--chdir", "/sandbox"]


class ServerError(Exception):
    """The fork server stopped answering; the grader starts a new one."""


class ForkServer:
    """A started `alfred.sandbox.worker` fork server, sandboxed or not, with a staging folder for submissions."""

    def __init__(self, sandboxed: bool, hidden: tuple[Path, ...] = (), mode: SandboxMode | None = None):
        self.sandboxed = sandboxed
        self.exchanging = False  # an order was sent and its answer is not read yet
        self.mode = (mode or sandbox_mode()) if sandboxed else None
        # A uid of its own for this sandbox's students (per-user limits stay inside it), where the grader may
        # give one; in `shared uid` mode the submissions drop their capabilities instead.
        self.student_uid = STUDENT_UID_BASE + os.getpid() % STUDENT_UID_SLOTS \
            if self.mode is not None and self.mode.own_uids else None
        self.scratch = Path(tempfile.mkdtemp(prefix="alfred-server-"))
        self.staging = self.scratch / "submissions"
        self.students = self.scratch / "students"  # without a sandbox: each submission's plain folder
        self.runtime = self.scratch / "runtime"
        for folder in (self.scratch, self.staging, self.students):
            folder.mkdir(exist_ok=True)
            folder.chmod(0o755)
        _copy_runtime(self.runtime)
        self.cgroup = Cgroup.create(f"alfred-{os.getpid()}-{id(self):x}", LIMITS.memory_bytes, LIMITS.pids) \
            if sandboxed else None
        self._control, theirs = socket.socketpair()
        supervision = filter_program().hex()
        if self.mode is not None:
            layout = {"isolate": True, "shared_uid": not self.mode.own_uids, "submissions": SUBMISSIONS_IN_SANDBOX,
                      "students": STUDENTS_IN_SANDBOX, "supervision": supervision}
            view = SandboxView.of_this_kit(self.runtime, self.staging, hidden)
            command, fds = _bwrap_command(view.options(self.mode), [view.python(), "-I", "-c", _BOOT,
                                                                    str(theirs.fileno()), json.dumps(layout)])
        else:
            layout = {"isolate": False, "shared_uid": False, "submissions": str(self.staging),
                      "students": str(self.students), "supervision": supervision}
            command, fds = [sys.executable, "-I", "-c", _boot(str(self.runtime)), str(theirs.fileno()),
                            json.dumps(layout)], []
        passed = [theirs.fileno(), *fds]
        # What bwrap or the server's start-up says before the server silences itself: the cause of a failed start.
        self._start_log = open(self.scratch / "start.log", "w+b")  # noqa: SIM115 - closed with the server
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._start_log,
                pass_fds=passed, start_new_session=True, preexec_fn=self._in_child,
                env={} if sandboxed else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        finally:
            for fd in fds:
                os.close(fd)
            theirs.close()
        self._control.settimeout(LIMITS.start_seconds)
        try:
            self._read_line("ready")
        except ServerError as exc:
            said = self.start_log()
            self.close()
            raise ServerError(f"{exc}; it said: {said}" if said else str(exc)) from None

    def start_log(self) -> str:
        """The last words bwrap or the server's start-up wrote (bounded), on one line."""
        self._start_log.seek(0, os.SEEK_END)
        size = self._start_log.tell()
        self._start_log.seek(max(0, size - 2000))
        lines = self._start_log.read().decode(errors="replace").strip().splitlines()
        return " / ".join(line.strip() for line in lines[-6:] if line.strip())

    def _in_child(self) -> None:
        """Between fork and exec: the server dies with this grading process, and is counted by its cgroup."""
        die_with_parent()
        if self.cgroup:
            self.cgroup.join_in_child()

    # --- orders ---

    def stage(self, key: str, files: dict[str, bytes]) -> None:
        """Copies one submission's files (relative path -> bytes) for the server, and gives it a new,
        empty filesystem for its turn."""
        folder = self.staging / key
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
        for relative, data in files.items():
            target = folder / relative
            for parent in reversed(target.relative_to(folder).parents[:-1]):
                (folder / parent).mkdir(mode=0o755, exist_ok=True)
                (folder / parent).chmod(0o755)
            target.write_bytes(data)
            target.chmod(0o644)
        with self._exchange():
            self._send({"op": "open", "key": key})
            self._read_line("opened")

    def spawn(self, key: str, workdir: str, main: str = "main.py") -> tuple[int, int, int, str]:
        """A new submission process for one probe, in the work folder `workdir` (a name: one per test): (pid,
        fd to write the probe to, a socket on which it hands over its supervisor's listener, the folder that
        holds its work folder, as it sees it)."""
        with self._exchange():
            self._send({"op": "spawn", "key": key, "main": main, "workdir": workdir, "student_uid": self.student_uid})
            try:
                message, fds, _, _ = socket.recv_fds(self._control, 4096, 2)
            except OSError as exc:
                raise ServerError(f"no answer to spawn: {exc}") from None
        if len(fds) != 2 or not message.endswith(b"\n"):
            for fd in fds:
                os.close(fd)
            raise ServerError("spawn answered without its pipes")
        try:
            answer = json.loads(message)
            pid, work = int(answer["pid"]), str(answer["work"])
        except (ValueError, KeyError, TypeError):
            raise ServerError("spawn answered something else") from None
        return pid, fds[0], fds[1], work

    def end(self, pid: int) -> str:
        with self._exchange():
            self._send({"op": "end", "pid": pid})
            return str(self._read_line("ended")["ended"])

    def finish(self, key: str) -> int:
        """Ends what is left of the submission and throws its filesystem away; returns how many entries it
        left outside its work folder. Raises ServerError when a process of the student outlived its turn."""
        with self._exchange():
            self._send({"op": "close", "key": key, "student_uid": self.student_uid})
            answer = self._read_line("closed")
        shutil.rmtree(self.staging / key, ignore_errors=True)
        if answer.get("left") != 0:  # whatever stayed would reach the next student: this sandbox is done
            raise ServerError(f"{answer.get('left')} processes of the submission outlived it")
        return int(answer.get("strays", 0))

    def close(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self._control.close()
        self._start_log.close()
        shutil.rmtree(self.scratch, ignore_errors=True)
        if self.cgroup:
            for _ in range(50):  # the namespace's processes take a moment to be reaped after the kill
                self.cgroup.remove()
                if not any(folder.exists() for folder in self.cgroup.folders.values()):
                    break
                time.sleep(0.02)

    def memory_events(self) -> int:
        return self.cgroup.memory_events() if self.cgroup else 0

    @contextlib.contextmanager
    def _exchange(self):
        """Marks an order and its answer as one exchange (`exchanging`), which the judge's deadline never cuts in
        two (alfred.grading.grade): an answer left unread would be read as the answer to the next order."""
        self.exchanging = True
        try:
            yield
        finally:
            self.exchanging = False

    def _send(self, order: dict) -> None:
        try:
            self._control.sendall((json.dumps(order) + "\n").encode())
        except OSError as exc:
            raise ServerError(f"the fork server is gone: {exc}") from None

    def _read_line(self, expected: str) -> dict:
        """The server's next answer, which must be one JSON object holding `expected`: anything else means
        the channel is no longer the server's alone, and the grader starts a new server."""
        data = b""
        while not data.endswith(b"\n"):
            try:
                chunk = self._control.recv(4096)
            except OSError as exc:
                raise ServerError(f"the fork server did not answer: {exc}") from None
            if not chunk or len(data) > 65536:
                raise ServerError("the fork server closed its channel")
            data += chunk
        try:
            answer = json.loads(data)
        except (ValueError, RecursionError):
            answer = None
        if not isinstance(answer, dict) or expected not in answer or data.count(b"\n") != 1:
            raise ServerError(f"unexpected answer on the fork server's channel (waiting for {expected!r})")
        return answer


def die_with_parent(parent: int | None = None) -> None:
    """Asks the kernel to kill the calling process when its parent ends, however the parent ends. With
    `parent` (the pid the parent had before the fork), a parent already gone ends this process at once."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _copy_runtime(runtime: Path) -> None:
    """The student-side modules, and nothing else of the kit, for the sandbox to import."""
    package = runtime / "alfred"
    package.mkdir(parents=True)
    for folder in (runtime, package):
        folder.chmod(0o755)
    for name in RUNTIME_MODULES:
        copy = package / name
        if not copy.parent.is_dir():
            copy.parent.mkdir()
            copy.parent.chmod(0o755)
        shutil.copyfile(KIT_ROOT / "alfred" / name, copy)
        copy.chmod(0o644)


# --- bubblewrap ---


def _bwrap_command(options: list[str], command: list[str]) -> tuple[list[str], list[int]]:
    """The bwrap command line, and the pipes it reads its options and its seccomp filter from (pass them
    on, then close them)."""
    filter_fd = _pipe_holding(_seccomp_filter())
    options_fd = _pipe_holding(b"".join(option.encode() + b"\0" for option in [*options, "--seccomp", str(filter_fd)]))
    return ["bwrap", "--args", str(options_fd), *command], [options_fd, filter_fd]


def _pipe_holding(data: bytes) -> int:
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


# Kernel keyrings outlive processes and namespaces: a seccomp filter keeps the whole sandbox away from them
# (the calls it denies: LIMITS.keyring_syscalls), so there is nothing to clean.
_X32_BIT = 0x40000000


def _seccomp_filter() -> bytes:
    """A classic BPF program for bwrap's --seccomp: add_key, request_key and keyctl fail with EPERM, and so
    does every call of another ABI (i386 or x32 on x86_64: other ways in); everything else is allowed."""
    arch, numbers = LIMITS.keyring_syscalls.get(platform.machine(), (None, ()))
    load, jump_eq, jump_ge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    if arch is None:  # an architecture the kit does not know: no filter
        return struct.pack("<HBBI", ret, 0, 0, allow)
    count = len(numbers)
    to_deny = lambda index: 4 + count - index  # noqa: E731 - jump offset from instruction `index` to the last
    program = [(load, 0, 0, 4), (jump_eq, 0, to_deny(1), arch),  # seccomp_data.arch
               (load, 0, 0, 0), (jump_ge, to_deny(3), 0, _X32_BIT)]  # seccomp_data.nr
    program += [(jump_eq, to_deny(4 + k), 0, number) for k, number in enumerate(numbers)]
    program += [(ret, 0, 0, allow), (ret, 0, 0, deny)]
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in program)


def _parents(path: Path) -> list[str]:
    """Creates each parent folder in the sandbox as world-readable, so the student uid can walk to `path`."""
    options = []
    for parent in reversed(path.parents[:-1]):
        options += ["--perms", "0755", "--dir", str(parent)]
    return options
