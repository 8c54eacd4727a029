"""The student side of grading: a fork server inside the sandbox, and the submission processes it forks.

    python -I -m alfred.worker CONTROL_FD

The server imports and exercises the trusted heavy modules once (FastAPI, pydantic, freezegun...), then
waits for orders from the judge on a Unix socket (CONTROL_FD):

    {"op": "spawn", "main": "/submissions/k/main.py", "work": "/sandbox/k", "student_uid": 40123 or null}
        forks a submission process and hands the judge its two pipe ends (SCM_RIGHTS): the judge writes
        probes into one and reads observations from the other. The server never reads what flows there,
        so its memory, which every later submission process inherits, holds no student's data.
    {"op": "end", "pid": N}   kills that submission process and its group; answers how it ended
    {"op": "clean", "places": [...], "keep": "/sandbox/k", "skeleton": [...]}   kills every process of the
                              student user, empties those folders but for the `skeleton` folders that hold
                              the sandbox's read-only mounts, and answers how many other entries lay outside `keep`
                              (`strays`) and how many things it could not remove (`left`)

A submission process drops to the sandbox's student uid, sets its resource limits, closes the
control socket, then answers probes: one JSON line in, "L" once main.py is imported, one JSON line out.
Its descriptors 0-2 lead to /dev/null, so nothing it prints can reach the judge.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
from pathlib import Path

LOADED = b"L\n"  # written once main.py has been imported, before the observation
CHILD_LIMITS = {
    resource.RLIMIT_AS: 1_500_000_000,  # address space: a CPython with FastAPI maps about 0.4 GB of it
    resource.RLIMIT_CPU: 20,  # seconds of CPU for all the probes of one submission
    resource.RLIMIT_FSIZE: 5_000_000,
    resource.RLIMIT_NOFILE: 256,
    resource.RLIMIT_NPROC: 64,  # per user: a fork bomb stops here (root, outside the sandbox, is exempt)
    resource.RLIMIT_CORE: 0,
}
CLEAN_BATCH = 200  # folders per chmod/rm command: 200 names of 255 bytes stay far below any argv limit


def main(argv: list[str]) -> int:
    control = socket.socket(fileno=int(argv[0]))
    _silence_standard_streams()
    from alfred.probe import warm_up

    warm_up()
    control.sendall(b'{"ready": true}\n')
    for order in _orders(control):
        if order["op"] == "spawn":
            _spawn(control, Path(order["main"]), Path(order["work"]), order["student_uid"])
        elif order["op"] == "end":
            control.sendall((json.dumps({"ended": _end(order["pid"])}) + "\n").encode())
        elif order["op"] == "clean":
            skeleton = set(order["skeleton"])
            strays = _strays(order["places"], {order["keep"], *skeleton})
            _clean(order["places"], order["student_uid"], skeleton)
            answer = {"clean": True, "strays": strays, "left": _leftovers(order["places"], skeleton, order["student_uid"] is not None)}
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


def _silence_standard_streams() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _spawn(control: socket.socket, main_py: Path, work: Path, student_uid: int | None) -> None:
    probes_read, probes_write = os.pipe()
    replies_read, replies_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            control.close()
            _close_all_but({0, 1, 2, probes_read, replies_write})
            _become_student(work, student_uid)
            _serve(main_py, work, probes_read, replies_write)
        except BaseException:  # noqa: BLE001 - the judge sees the pipe close, and says so
            pass
        finally:
            os._exit(0)
    os.close(probes_read)
    os.close(replies_write)
    message = (json.dumps({"pid": pid}) + "\n").encode()
    socket.send_fds(control, [message], [probes_write, replies_read])
    os.close(probes_write)
    os.close(replies_read)


def _close_all_but(keep: set[int]) -> None:
    """Closes every descriptor the child inherited except `keep`: the judge's channel above all."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the descriptor of the listing itself, already closed


def _become_student(work: Path, student_uid: int | None) -> None:
    os.setsid()
    random.seed()  # not the server's state: no two submissions draw the same "random" numbers
    try:  # when memory runs out, the kernel should end the student's process, not the server
        Path("/proc/self/oom_score_adj").write_text("1000")
    except OSError:
        pass
    if student_uid is not None:
        os.setgroups([])
        os.setgid(student_uid)
        os.setuid(student_uid)  # from uid 0 to another: the kernel drops every capability here
    work.mkdir(parents=True, exist_ok=True)
    for limit, value in CHILD_LIMITS.items():
        soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))


def _serve(main_py: Path, work: Path, probes_fd: int, replies_fd: int) -> None:
    from alfred.probe import run_probe

    with os.fdopen(probes_fd, "rb") as probes, os.fdopen(replies_fd, "wb", buffering=0) as replies:
        for line in probes:
            request = json.loads(line)
            workdir = work / request["workdir"]
            workdir.mkdir(parents=True, exist_ok=True)
            try:
                observation = run_probe(main_py, request["probe"], workdir, on_loaded=lambda: replies.write(LOADED))
                reply = {"id": request["id"], "observation": observation}
            except MemoryError:
                reply = {"id": request["id"], "problem": "crashed", "detail": "MemoryError"}
            except Exception as exc:  # noqa: BLE001 - report it; the judge decides
                reply = {"id": request["id"], "problem": "crashed", "detail": f"{type(exc).__name__}: {exc}"[:300]}
            replies.write((json.dumps(reply) + "\n").encode())


def _end(pid: int) -> str:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "gone"
    if os.WIFSIGNALED(status):
        return signal.Signals(os.WTERMSIG(status)).name
    return f"exit {os.waitstatus_to_exitcode(status)}"


def _strays(places: list[str], keep: set[str]) -> int:
    """Entries in the writable places other than the submission's own work folder and the sandbox's own."""
    count = 0
    for place in places:
        try:
            count += sum(1 for entry in Path(place).iterdir() if str(entry) not in keep)
        except OSError:
            continue
    return count


def _clean(places: list[str], student_uid: int | None, skeleton: set[str]) -> None:
    """Leaves nothing of one submission for the next: no process, no file, no shared memory, no key.
    Each step runs whatever the ones before it met; `_leftovers` tells the judge what still remains."""
    cleaner = os.fork()
    if cleaner == 0:
        try:
            if student_uid is not None:  # as the student user: end all its processes, then remove what it left
                os.setgroups([])
                os.setgid(student_uid)
                os.setuid(student_uid)
            for step in (_kill_student_processes, _clear_keyrings) if student_uid is not None else ():
                _try(step)
            for place in places:
                _try(_empty, place, skeleton)
            if student_uid is not None:  # only a sandbox has an IPC namespace of its own: never touch the host's
                _try(_remove_ipc_objects)
        finally:
            os._exit(0)
    os.waitpid(cleaner, 0)
    _reap_children()


def _try(step, *args) -> None:
    try:
        step(*args)
    except Exception:  # noqa: BLE001 - the judge counts what is left and replaces a sandbox it cannot empty
        pass


def _kill_student_processes() -> None:
    for _ in range(3):  # again, for a child forked while the first signal went round
        try:
            os.kill(-1, signal.SIGKILL)  # every process of this user that this namespace can see, but this one
        except ProcessLookupError:
            return


def _empty(place: str, skeleton: set[str]) -> None:
    """Removes everything in `place` but the sandbox's own folders. Plain entries go one by one; folders
    go to chmod and rm in batches, so neither countless entries nor long names overflow a command line."""
    folders = []
    with os.scandir(place) as entries:
        for entry in entries:
            if entry.path in skeleton:
                continue
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.path)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
    for start in range(0, len(folders), CLEAN_BATCH):
        batch = folders[start:start + CLEAN_BATCH]
        subprocess.run(["chmod", "-R", "u+rwx", "--", *batch], stderr=subprocess.DEVNULL, check=False)
        subprocess.run(["rm", "-rf", "--", *batch], stderr=subprocess.DEVNULL, check=False)


def _leftovers(places: list[str], skeleton: set[str], sandboxed: bool) -> int:
    """What cleaning could not remove: entries in the writable places and the sandbox's System V IPC objects."""
    left = 0
    for place in places:
        with contextlib.suppress(OSError), os.scandir(place) as entries:
            left += sum(1 for entry in entries if entry.path not in skeleton)
    for table in ("shm", "sem", "msg") if sandboxed else ():
        with contextlib.suppress(OSError):
            left += len(Path(f"/proc/sysvipc/{table}").read_text().splitlines()[1:])
    return left


def _clear_keyrings() -> None:
    """Empties the user's kernel keyrings, which outlive processes and namespaces."""
    import ctypes
    import platform

    keyctl = {"x86_64": 250, "aarch64": 219}.get(platform.machine())
    if keyctl is None:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    keyrings = [-4, -5]  # KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING
    persistent = libc.syscall(keyctl, 22, -1, -2)  # KEYCTL_GET_PERSISTENT (own uid), linked to the process keyring
    if persistent > 0:
        keyrings.append(persistent)
    for keyring in keyrings:
        libc.syscall(keyctl, 7, keyring)  # KEYCTL_CLEAR


def _reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _remove_ipc_objects() -> None:
    """System V shared memory, semaphores and queues outlive processes; remove the student's."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return
    for table, call, remove in (("shm", "shmctl", 0), ("sem", "semctl", 0), ("msg", "msgctl", 0)):
        try:
            rows = Path(f"/proc/sysvipc/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            ident = int(row.split()[1])
            if call == "semctl":
                libc.semctl(ident, 0, remove)
            else:
                getattr(libc, call)(ident, remove, None)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
