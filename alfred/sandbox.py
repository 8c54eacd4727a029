"""The grader's side of the student sandbox: start the fork server (`alfred.worker`) and give it orders.

`ForkServer(sandboxed=True)` runs the server under bubblewrap: new mount, PID, network, IPC and UTS
namespaces; the interpreter, its libraries and the kit's `alfred` package read-only; submissions read-only
under /submissions, copied there one at a time; size-capped tmpfs at /sandbox, /tmp and /dev/shm (and the
sandbox's own /dev/mqueue) as the only writable places; a cleared environment. The server keeps only
CAP_SETUID and CAP_SETGID, to fork each submission process as a student uid with no capabilities at all.
Tests, solutions and other students' files are never mounted. bwrap reads its options from a pipe
(`--args`), so they stay out of /proc/1/cmdline.

One server serves many submissions in turn, so the interpreter start-up and the FastAPI imports are paid
once per grading process rather than once per student. Between two submissions it kills every process of
the student user and empties the writable places.
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
from pathlib import Path

from alfred.cgroups import Cgroup
from alfred.targets import KIT_ROOT

WORK_BYTES = 64 * 1024 * 1024
SANDBOX_MEMORY_BYTES = 1024 * 1024 * 1024  # the fork server and the submission process it serves
SANDBOX_PIDS = 128
START_SECONDS = 60
IN_SANDBOX = {"submissions": "/submissions", "work": "/sandbox"}
SANDBOX_WRITABLE = ["/sandbox", "/tmp", "/dev/shm", "/dev/mqueue"]
STUDENT_UID_BASE, STUDENT_UID_SLOTS = 40000, 20000


class SandboxUnavailable(Exception):
    """bubblewrap is missing or does not work here; the message says how to fix it."""


def check_bwrap() -> None:
    """Raises SandboxUnavailable unless bubblewrap can start a sandbox here."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(
            "bubblewrap is not installed, so student code cannot be sandboxed. Install it "
            "(Debian/Ubuntu: `sudo apt-get install bubblewrap`), or pass --no-sandbox for code you trust."
        )
    command, fds = _bwrap_command(_sandbox_options(Path("/nonexistent")), [sys.executable, "-I", "-c", "pass"])
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


class ServerError(Exception):
    """The fork server stopped answering; the grader starts a new one."""


class ForkServer:
    """A started `alfred.worker` fork server, sandboxed or not, with a staging folder for submissions."""

    def __init__(self, sandboxed: bool):
        self.sandboxed = sandboxed
        # A uid of its own for this sandbox's students: per-user limits and keyrings stay inside it.
        self.student_uid = STUDENT_UID_BASE + os.getpid() % STUDENT_UID_SLOTS if sandboxed else None
        self.scratch = Path(tempfile.mkdtemp(prefix="alfred-server-"))
        self.staging = self.scratch / "submissions"
        self.plain_work = self.scratch / "work"
        for folder in (self.scratch, self.staging, self.plain_work):
            folder.mkdir(exist_ok=True)
            folder.chmod(0o755)
        self.cgroup = Cgroup.create(f"alfred-{os.getpid()}-{id(self):x}", SANDBOX_MEMORY_BYTES, SANDBOX_PIDS) \
            if sandboxed else None
        self._control, theirs = socket.socketpair()
        command, passed = [sys.executable, "-I", "-m", "alfred.worker", str(theirs.fileno())], [theirs.fileno()]
        if sandboxed:
            command, fds = _bwrap_command(_sandbox_options(self.staging), command)
            passed += fds
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=passed, start_new_session=True,
                preexec_fn=self.cgroup.join_in_child if self.cgroup else None,
                env={} if sandboxed else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        finally:
            for fd in passed[1:]:
                os.close(fd)
            theirs.close()
        self._control.settimeout(START_SECONDS)
        try:
            self._read_line("ready")
            if sandboxed:  # a grading run stopped before its cleaning may have left keys under this uid
                self.clean(None)
        except ServerError:
            self.close()
            raise

    # --- where things are, seen from inside ---

    def main_path(self, key: str) -> str:
        base = IN_SANDBOX["submissions"] if self.sandboxed else str(self.staging)
        return f"{base}/{key}/main.py"

    def work_path(self, key: str) -> str:
        return f"{IN_SANDBOX['work'] if self.sandboxed else self.plain_work}/{key}"

    # --- orders ---

    def stage(self, key: str, source: bytes) -> None:
        folder = self.staging / key
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
        (folder / "main.py").write_bytes(source)
        (folder / "main.py").chmod(0o644)

    def spawn(self, key: str) -> tuple[int, int, int]:
        """A new submission process: (pid, fd to write probes to, fd to read replies from)."""
        self._send({"op": "spawn", "main": self.main_path(key), "work": self.work_path(key),
                    "student_uid": self.student_uid})
        try:
            message, fds, _, _ = socket.recv_fds(self._control, 4096, 2)
        except OSError as exc:
            raise ServerError(f"no answer to spawn: {exc}") from None
        if len(fds) != 2 or not message.endswith(b"\n"):
            for fd in fds:
                os.close(fd)
            raise ServerError("spawn answered without its pipes")
        try:
            pid = json.loads(message)["pid"]
        except (ValueError, KeyError, TypeError):
            raise ServerError("spawn answered something else") from None
        return pid, fds[0], fds[1]

    def end(self, pid: int) -> str:
        self._send({"op": "end", "pid": pid})
        return str(self._read_line("ended")["ended"])

    def clean(self, key: str | None) -> int:
        """Ends the submission's processes, empties the writable places, and returns how many entries it
        left outside its own work folder. Raises ServerError when something could not be removed."""
        places = SANDBOX_WRITABLE if self.sandboxed else [str(self.plain_work)]
        self._send({"op": "clean", "places": places, "keep": self.work_path(key) if key else "",
                    "skeleton": _mount_skeleton() if self.sandboxed else [], "student_uid": self.student_uid})
        answer = self._read_line("clean")
        if key:
            shutil.rmtree(self.staging / key, ignore_errors=True)
        if answer.get("left") != 0:  # whatever stayed would reach the next student: this sandbox is done
            raise ServerError(f"the sandbox could not be emptied ({answer.get('left')} things left)")
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


# Kernel keyrings belong to a uid, not to a sandbox: they outlive processes, and a student can lock its own
# against the cleaning (KEYCTL_SETPERM). A seccomp filter keeps the whole sandbox away from them.
_KEY_SYSCALLS = {"x86_64": (0xC000003E, (248, 249, 250)), "aarch64": (0xC00000B7, (217, 218, 219))}
_X32_BIT = 0x40000000


def _seccomp_filter() -> bytes:
    """A classic BPF program for bwrap's --seccomp: add_key, request_key and keyctl fail with EPERM, and so
    does every call of another ABI (i386 or x32 on x86_64: other ways in); everything else is allowed."""
    arch, numbers = _KEY_SYSCALLS.get(platform.machine(), (None, ()))
    load, jump_eq, jump_ge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    if arch is None:  # an architecture the kit does not know: no filter, the cleaning still clears keyrings
        return struct.pack("<HBBI", ret, 0, 0, allow)
    count = len(numbers)
    to_deny = lambda index: 4 + count - index  # noqa: E731 - jump offset from instruction `index` to the last
    program = [(load, 0, 0, 4), (jump_eq, 0, to_deny(1), arch),  # seccomp_data.arch
               (load, 0, 0, 0), (jump_ge, to_deny(3), 0, _X32_BIT)]  # seccomp_data.nr
    program += [(jump_eq, to_deny(4 + k), 0, number) for k, number in enumerate(numbers)]
    program += [(ret, 0, 0, allow), (ret, 0, 0, deny)]
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in program)


def _sandbox_options(staging: Path) -> list[str]:
    options = [
        "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session", "--clearenv",
        "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", IN_SANDBOX["work"], "--setenv", "LANG", "C.UTF-8",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",  # only to fork submissions as uid 65534
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
        "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
        "--proc", "/proc", "--dev", "/dev", "--mqueue", "/dev/mqueue",
        "--size", str(WORK_BYTES), "--perms", "0777", "--tmpfs", IN_SANDBOX["work"],
        "--size", str(WORK_BYTES), "--perms", "1777", "--tmpfs", "/tmp",
        "--size", str(WORK_BYTES), "--perms", "1777", "--tmpfs", "/dev/shm",  # else sized like bwrap's /dev
    ]
    for path in _trusted_paths():
        options += [*_parents(path), "--ro-bind", str(path), str(path)]
    options += ["--perms", "0755", "--dir", IN_SANDBOX["submissions"]]
    if staging.is_dir():
        options += ["--ro-bind", str(staging), IN_SANDBOX["submissions"]]
    return [*options, "--chdir", IN_SANDBOX["work"]]


def _trusted_paths() -> list[Path]:
    """The interpreter, the kit's environment and the `alfred` package: nothing else of the host."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix), KIT_ROOT / "alfred"}
    return sorted(path for path in paths if not str(path).startswith("/usr/"))


def _mount_skeleton() -> list[str]:
    """Folders bwrap made inside the writable places to hold read-only mounts (a kit kept under /tmp, say):
    they are the sandbox's, not the student's, so cleaning leaves them and counts them as no stray."""
    skeleton = set()
    for path in _trusted_paths():
        for place in SANDBOX_WRITABLE:
            if path.is_relative_to(place) and path != Path(place):
                skeleton.add(str(Path(place) / path.relative_to(place).parts[0]))
    return sorted(skeleton)


def _parents(path: Path) -> list[str]:
    """Creates each parent folder in the sandbox as world-readable, so uid 65534 can walk to `path`."""
    options = []
    for parent in reversed(path.parents[:-1]):
        options += ["--perms", "0755", "--dir", str(parent)]
    return options
