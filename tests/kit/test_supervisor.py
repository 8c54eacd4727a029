"""The supervisor sees what a process does from outside it: every write to descriptors 1-3 and every wait,
in order, whoever in the process asked (a thread, a child, ctypes), and answers waits at once."""

import ctypes
import os
import signal
import socket
import threading
import time

import pytest

from alfred.sandbox.limits import LIMITS
from alfred.sandbox.supervisor import CHANNEL, SLEEP, Supervisor, filter_program, listen_for_the_judge, read_probe


def supervised(body, watch=None) -> Supervisor:
    """Runs `body()` in a child process under a supervisor of the judge's (watching `watch`, a folder as the
    child sees it and paths in it), and returns the supervisor once the child has ended (descriptors 1-3 of
    the child lead to /dev/null)."""
    program = filter_program()
    judge_end, child_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            judge_end.close()
            null = os.open(os.devnull, os.O_WRONLY)
            for fd in (1, 2, CHANNEL):
                os.dup2(null, fd)
            listen_for_the_judge(child_end, program)
            child_end.close()
            body()
            code = 0
        finally:
            os._exit(code)
    child_end.close()
    _, fds, _, _ = socket.recv_fds(judge_end, 1, 1)
    judge_end.close()
    supervisor = Supervisor(fds[0], watch)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and os.waitpid(pid, os.WNOHANG) == (0, 0):
        time.sleep(0.01)
    supervisor.wait_for(lambda: False, time.monotonic() + 0.2)
    supervisor.stop()
    return supervisor


def what(supervisor):
    return [(seen.kind, seen.fd, seen.data) if seen.kind == "write" else (SLEEP, seen.seconds) for seen in supervisor.seen]


def test_writes_and_waits_are_seen_in_order_and_waits_take_no_real_time():
    def body():
        os.write(1, b"start\n")
        time.sleep(5)  # CPython asks for an absolute deadline
        os.write(2, b"oops\n")
        libc = ctypes.CDLL(None)
        libc.nanosleep(ctypes.byref((ctypes.c_long * 2)(2, 500_000_000)), None)  # a relative wait
        os.write(1, b"end\n")

    started = time.monotonic()
    supervisor = supervised(body)
    assert time.monotonic() - started < 5, "a supervised wait is answered at once"
    assert what(supervisor) == [("write", 1, b"start\n"), (SLEEP, 5.0), ("write", 2, b"oops\n"), (SLEEP, 2.5),
                                ("write", 1, b"end\n")]


def test_a_thread_and_a_child_process_are_watched_too():
    def body():
        worker = threading.Thread(target=lambda: (time.sleep(1), os.write(1, b"from a thread\n")))
        worker.start()
        worker.join()
        child = os.fork()
        if child == 0:
            os.write(1, b"from a child\n")
            os._exit(0)
        os.waitpid(child, 0)

    assert what(supervised(body)) == [(SLEEP, 1.0), ("write", 1, b"from a thread\n"), ("write", 1, b"from a child\n")]


def test_a_write_through_another_descriptor_is_not_taken_for_a_print():
    def body():
        copy = os.dup(1)  # the same /dev/null, under a number the filter does not watch
        os.write(copy, b"unseen\n")
        os.write(1, b"seen\n")

    assert what(supervised(body)) == [("write", 1, b"seen\n")]


def test_a_probe_record_is_rebuilt_from_what_was_seen_and_claims_on_the_channel_add_no_print():
    def body():
        os.write(CHANNEL, b"L\n")
        os.write(CHANNEL, b'\x1f{"phase": "call"}\n')
        os.write(1, b"Compiling\n")
        os.write(CHANNEL, b'\x1f{"event": {"kind": "print", "stream": "stdout", "text": "claimed"}}\n')
        time.sleep(5)
        os.write(CHANNEL, b'{"id": 1, "observation": {"events": [{"kind": "sleep", "seconds": 9}]}}\n')

    supervisor = supervised(body)
    record = read_probe(supervisor, 0, lambda: None, 512 * 1024)
    assert record.loaded and record.reply.startswith(b'{"id": 1')
    assert [(event["kind"], event.get("text"), event.get("seconds"), event["phase"]) for event in record.events] == [
        ("print", "Compiling", None, "call"), ("sleep", None, 5.0, "call")]


@pytest.mark.parametrize("signal_number", [signal.SIGKILL])
def test_a_process_killed_while_stopped_leaves_the_supervisor_working(signal_number):
    def body():
        os.write(1, b"before\n")
        os.kill(os.getpid(), signal_number)

    assert what(supervised(body)) == [("write", 1, b"before\n")]


@pytest.mark.slow
def test_what_the_judge_keeps_is_bounded_by_count_as_well_as_by_bytes():
    # A reviewer's attack made the judge keep one record per empty write: 461 MiB in a minute.
    records = LIMITS.records

    def body():
        for _ in range(records + 500):
            os.write(1, b"")  # says nothing: answered, never kept
            os.write(2, b"x")  # a byte each: kept up to the count, not the byte cap
        time.sleep(1)  # waits have their own count
        os.write(CHANNEL, b"L\n")  # and the channel its own: a reply is never crowded out by prints

    supervisor = supervised(body)
    kinds = [(seen.kind, seen.fd) for seen in supervisor.seen]
    assert kinds.count(("write", 1)) == 0 and kinds.count(("write", 2)) == records
    assert (SLEEP, 0) in kinds and ("write", CHANNEL) in kinds and supervisor.truncated
    supervisor.begin_probe()  # the next probe starts from nothing, with its limits whole again
    assert supervisor.seen == [] and not supervisor.truncated


def test_a_watched_path_is_looked_up_through_no_link(tmp_path):
    # A reviewer's attack: the log folder as a link to a folder of the judge's machine, so that whether a file
    # exists there decided a stretch test, one bit at a time.
    outside = tmp_path / "judge's own folder"
    (outside / "logs").mkdir(parents=True)
    (outside / "logs" / "activity_log.txt").write_text("on the judge's side\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "logs").symlink_to(outside / "logs")
    (work / "here.txt").symlink_to(outside / "logs" / "activity_log.txt")  # a link at the end: it exists

    def body():
        os.write(1, b"looked\n")

    supervisor = supervised(body, watch=(str(work), ("logs/activity_log.txt", "here.txt", "none.txt")))
    assert supervisor.seen[0].watched == {"logs/activity_log.txt": False, "here.txt": True, "none.txt": False}


def test_a_supervised_process_makes_no_namespace_and_mounts_nothing_yet_forks_and_runs_threads():
    """A reviewer's attack: a user and mount namespace of its own let a submission mount kernel files over its
    log file for the judge to read (tests/attacks/namespace_mount_over_the_log.py)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def body():
        results = [libc.unshare(0x10000000), libc.unshare(0x00020000), libc.unshare(0x08000000),
                   libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)]
        thread = threading.Thread(target=lambda: None)
        thread.start()
        thread.join()
        child = os.fork()
        if child == 0:
            os._exit(7)
        _, status = os.waitpid(child, 0)
        os.write(1, repr((results, os.waitstatus_to_exitcode(status))).encode())

    seen = supervised(body)
    assert [item.data for item in seen.seen if item.kind == "write"] == [b"([-1, -1, -1, -1], 7)"]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting in a mount namespace of its own needs root")
def test_the_judge_reads_nothing_across_a_mount_in_the_work_folder(tmp_path):
    from alfred.sandbox.supervisor import read_work_folder

    work = tmp_path / "work"
    (work / "logs").mkdir(parents=True)
    (work / "logs" / "activity_log.txt").write_text("an honest entry\n")
    (work / "kernel.txt").write_text("placeholder\n")
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # its own mount namespace, in which it mounts over parts of the work folder
        code = 1
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            assert libc.unshare(0x00020000) == 0
            assert libc.mount(None, b"/", None, 16384 | (1 << 18), None) == 0  # MS_REC | MS_PRIVATE
            assert libc.mount(b"tmpfs", str(work / "logs").encode(), b"tmpfs", 0, None) == 0
            (work / "logs" / "activity_log.txt").write_text("mounted over the folder\n")
            assert libc.mount(b"/etc/hostname", str(work / "kernel.txt").encode(), None, 4096, None) == 0  # MS_BIND
            os.write(ready_write, b"R")
            time.sleep(60)
            code = 0
        finally:
            os._exit(code)
    try:
        assert os.read(ready_read, 1) == b"R"
        files, _ = read_work_folder(pid, str(work), {})
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert files == {}  # the honest entry is under the mount: unseen by the process, and unread by the judge
