"""The grader's side of the student sandbox: start the fork server (`alfred.sandbox.worker`) and give it orders.

`ForkServer(sandboxed=True)` runs the server under bubblewrap: new mount, PID, network, IPC and UTS
namespaces, a cleared environment, a seccomp filter, and only what student code needs to run, read-only:
/usr, the interpreter and its environment, and a copy of the kit's student-side modules (`RUNTIME_MODULES`)
at /run/alfred-runtime. The kit's folder, the class folders and the output folder are covered with an empty
tmpfs wherever they lie under one of those (a kit under /usr/src/app, say), so solutions, tests, corpora,
other students' work and reports are never visible, wherever things are installed (`SandboxView`).

The server keeps CAP_SETUID and CAP_SETGID, to run each submission as a student uid with no capabilities at
all, and CAP_SYS_ADMIN, to give each submission namespaces of its own and a new, empty tmpfs that is thrown
away after it (see `alfred.sandbox.worker`). bwrap reads its options from a pipe (`--args`), so they stay out of
/proc/1/cmdline.

One server serves many submissions in turn, so the interpreter start-up and the FastAPI imports are paid
once per grading process rather than once per student.
"""

from __future__ import annotations

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
_BOOT = (f"import sys; sys.path.insert(0, {RUNTIME_IN_SANDBOX!r}); from alfred.sandbox.worker import main; "
         "sys.exit(main(sys.argv[1:]))")


class SandboxUnavailable(Exception):
    """bubblewrap is missing or does not work here; the message says how to fix it."""


def check_bwrap() -> None:
    """Raises SandboxUnavailable unless bubblewrap can start a sandbox here."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(
            "bubblewrap is not installed, so student code cannot be sandboxed. Install it "
            "(Debian/Ubuntu: `sudo apt-get install bubblewrap`), or pass --no-sandbox for code you trust."
        )
    view = SandboxView.of_this_kit(runtime=Path("/nonexistent"), staging=Path("/nonexistent"))
    command, fds = _bwrap_command(view.options(), [view.python(), "-I", "-c", "pass"])
    try:
        trial = subprocess.run(command, capture_output=True, timeout=30, pass_fds=fds)
    finally:
        for fd in fds:
            os.close(fd)
    if trial.returncode != 0:
        raise SandboxUnavailable(
            "bubblewrap is installed but could not start a sandbox: "
            f"{trial.stderr.decode(errors='replace').strip()[:200]}. Run `alfred grade` as root, or pass --no-sandbox."
        )


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
        """The host paths bound at their own place."""
        return sorted({Path("/usr"), self.interpreter} - ({self.interpreter} if self.interpreter.is_relative_to("/usr") else set()))

    def covered(self) -> list[tuple[Path, str]]:
        """(hidden path, where it shows inside) for every hidden path that lies inside a bound path."""
        places = [(path, str(path)) for path in self.bound()]
        if self.environment is not None:
            places.append((self.environment, ENVIRONMENT_IN_SANDBOX))
        return sorted({(hidden, inside + str(hidden)[len(str(place)):]) for hidden in self.hidden
                       for place, inside in places if hidden.is_relative_to(place) and hidden != place})

    def options(self) -> list[str]:
        if self.interpreter.is_relative_to("/tmp") or self.interpreter.is_relative_to("/dev"):
            raise SandboxUnavailable(f"the Python interpreter lives in {self.interpreter}, where each student gets "
                                     "a folder of its own; install Python elsewhere (a venv under /tmp is fine).")
        options = [
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/sandbox", "--setenv", "LANG", "C.UTF-8",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",  # to run submissions as the student uid
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

    def __init__(self, sandboxed: bool, hidden: tuple[Path, ...] = ()):
        self.sandboxed = sandboxed
        # A uid of its own for this sandbox's students: per-user limits stay inside it.
        self.student_uid = STUDENT_UID_BASE + os.getpid() % STUDENT_UID_SLOTS if sandboxed else None
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
        if sandboxed:
            layout = {"isolate": True, "submissions": SUBMISSIONS_IN_SANDBOX, "students": STUDENTS_IN_SANDBOX,
                      "supervision": filter_program().hex()}
            view = SandboxView.of_this_kit(self.runtime, self.staging, hidden)
            command, fds = _bwrap_command(view.options(), [view.python(), "-I", "-c", _BOOT, str(theirs.fileno()),
                                                           json.dumps(layout)])
        else:
            layout = {"isolate": False, "submissions": str(self.staging), "students": str(self.students),
                      "supervision": filter_program().hex()}
            command, fds = [sys.executable, "-I", "-m", "alfred.sandbox.worker", str(theirs.fileno()), json.dumps(layout)], []
        passed = [theirs.fileno(), *fds]
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
        except ServerError:
            self.close()
            raise

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
        self._send({"op": "open", "key": key})
        self._read_line("opened")

    def spawn(self, key: str, main: str = "main.py") -> tuple[int, int, int, str]:
        """A new submission process: (pid, fd to write probes to, a socket on which it hands over its
        supervisor's listener, its work folder as it sees it)."""
        self._send({"op": "spawn", "key": key, "main": main, "student_uid": self.student_uid})
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
        self._send({"op": "end", "pid": pid})
        return str(self._read_line("ended")["ended"])

    def finish(self, key: str) -> int:
        """Ends what is left of the submission and throws its filesystem away; returns how many entries it
        left outside its work folder. Raises ServerError when a process of the student outlived its turn."""
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
        shutil.rmtree(self.scratch, ignore_errors=True)
        if self.cgroup:
            for _ in range(50):  # the namespace's processes take a moment to be reaped after the kill
                self.cgroup.remove()
                if not any(folder.exists() for folder in self.cgroup.folders.values()):
                    break
                time.sleep(0.02)

    def memory_events(self) -> int:
        return self.cgroup.memory_events() if self.cgroup else 0

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
