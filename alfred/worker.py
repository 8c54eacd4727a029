"""The student side of grading: a probe server that runs inside the sandbox, one per submission.

    python -m alfred.worker MAIN_PY WORK_ROOT

It imports the trusted heavy modules once, then answers probes read from its channel: one JSON line in,
one JSON line out. Each probe runs in a fresh child forked for it, with resource limits and a wall-clock
limit, so an endless loop, a crash or a memory bomb ends that probe (and only that test) while the next
probe starts clean. Student output never reaches the channel: the channel moves to private descriptors
at start-up and descriptors 0-2 point to /dev/null.

Everything this process sends is a claim; `alfred.driver.SubprocessDriver` checks its size and shape,
and the judge decides.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import time
from pathlib import Path

PROBE_SECONDS = 5.0  # wall clock per probe: simulated sleeps take no real time, so this is generous
MAX_REPLY_BYTES = 4_000_000
LOADED = b"L"  # sent by a probe's child once main.py is imported, before its JSON report
CHILD_LIMITS = {
    resource.RLIMIT_AS: 1_500_000_000,  # address space: a CPython with FastAPI maps about 0.4 GB of it
    resource.RLIMIT_CPU: 10,
    resource.RLIMIT_FSIZE: 5_000_000,
    resource.RLIMIT_NOFILE: 256,
    resource.RLIMIT_NPROC: 64,  # per user: a fork bomb stops here (root, outside the sandbox, is exempt)
    resource.RLIMIT_CORE: 0,
}


def main(argv: list[str]) -> int:
    main_py, work_root = Path(argv[0]), Path(argv[1])
    channel_in, channel_out = _take_channel()
    from alfred import probe as probe_module

    probe_module.warm_up()
    for line in channel_in:
        request = json.loads(line)
        workdir = work_root / request["workdir"]
        workdir.mkdir(parents=True, exist_ok=True)
        reply = _run_in_child(main_py, request["probe"], workdir, (channel_in.fileno(), channel_out.fileno()))
        channel_out.write(json.dumps({"id": request["id"], **reply}) + "\n")
        channel_out.flush()
    return 0


def _take_channel():
    """Moves the channel off descriptors 0 and 1, so prints and os.write(1, ...) cannot reach it."""
    channel_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    channel_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    return channel_in, channel_out


def _run_in_child(main_py: Path, probe: dict, workdir: Path, channel: tuple[int, int]) -> dict:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no channel, limits first, then student code
        os.close(read_end)
        for fd in channel:
            os.close(fd)
        try:
            os.setsid()
            for limit, value in CHILD_LIMITS.items():
                resource.setrlimit(limit, (value, value))
            from alfred.probe import run_probe

            observation = run_probe(main_py, probe, workdir, on_loaded=lambda: os.write(write_end, LOADED))
            data = json.dumps({"observation": observation}).encode()
        except BaseException as exc:  # noqa: BLE001 - whatever happened, report it and leave
            data = json.dumps({"problem": "crashed", "detail": f"{type(exc).__name__}: {exc}"[:500]}).encode()
        with os.fdopen(write_end, "wb") as out:
            out.write(data)
        os._exit(0)
    os.close(write_end)
    return _collect(pid, read_end)


def _collect(pid: int, read_end: int) -> dict:
    """Reads the child's report within the time limit, then makes sure it and its group are gone.

    Reading stops at end of file, or once the child has exited (a grandchild it left behind may hold the
    pipe open), or at the deadline.
    """
    deadline = time.monotonic() + PROBE_SECONDS
    chunks, size, problem, status = [], 0, None, None
    os.set_blocking(read_end, False)
    try:
        while True:
            if time.monotonic() > deadline:
                problem = "timeout"
                break
            ready, _, _ = select.select([read_end], [], [], 0.05)
            chunk = _read_available(read_end) if ready else b""
            if chunk is None:  # end of file
                break
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                problem = "oversized"
                break
            chunks.append(chunk)
            if not ready:
                exited, status = os.waitpid(pid, os.WNOHANG)
                if exited:
                    chunks.append(_read_available(read_end) or b"")
                    break
    finally:
        os.close(read_end)
    status = _end_group(pid, status)
    data = b"".join(chunks)
    loaded = data.startswith(LOADED)
    if problem:
        return {"problem": problem, "loaded": loaded}
    try:
        return json.loads(data.removeprefix(LOADED))
    except ValueError:
        return {"problem": "crashed", "loaded": loaded, "detail": _describe_status(status)}


def _read_available(fd: int) -> bytes | None:
    """What can be read now without blocking; None at end of file."""
    try:
        chunk = os.read(fd, 1 << 16)
    except BlockingIOError:
        return b""
    return chunk or None


def _end_group(pid: int, status: int | None) -> int:
    """Kills whatever is left of the child's process group (it called setsid) and reaps the child."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if status is None:
        _, status = os.waitpid(pid, 0)
    return status


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        signal_number = os.WTERMSIG(status)
        return f"killed by {signal.Signals(signal_number).name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
