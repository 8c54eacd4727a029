"""`alfred watch`: the student's loop. Runs the lesson's suite (what `pytest exercises` runs) now and again
each time a file under `exercises/` is saved, so the progress table and its `next:` line are always on screen.

    alfred watch                  `pytest exercises` now, then after every save
    alfred watch -m model         one exercise's tests only, as `pytest exercises -m model`
    alfred watch --poll           look for saves by polling, where file events do not arrive
    python -m alfred.watch ...    the same where the `alfred` command is not installed (the handout)

Each run is a fresh `pytest` process, so the student's module is imported afresh every time. Saves are seen
through the operating system's file events (the watchfiles library). Where those do not arrive it polls
instead: with `--poll`, with WATCHFILES_FORCE_POLLING set (watchfiles' own switch), on Windows Subsystem for
Linux, on a filesystem that does not deliver events (network drives, the shared folders of virtual machines
and containers), or when file events cannot be set up. Ctrl-C stops it with exit code 0.

The project is the nearest folder, from the current one upwards, holding conftest.py and the student's file
(the lesson's student_file, exercises/<lesson folder>/main.py). This module imports only the standard library,
watchfiles (when it runs) and the course layer (`alfred.course`: the lesson, its exercises and files), so the
handout can run it without the grader.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from alfred.course.lesson import told_in_one_line

with told_in_one_line(__name__ == "__main__"):  # run as `python -m alfred.watch`: a bad lesson file in one line
    from alfred.course.exercises import IDS, LESSON
    from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, UNDER_WATCH

STUDENT_FILE = EXERCISES_MAIN.relative_to(KIT_ROOT).as_posix()  # exercises/<lesson folder>/main.py
WATCHED = STUDENT_FILE.split("/")[0]  # exercises: what the student passes to pytest, and where they edit
# Filesystems whose changes made elsewhere (another machine, the host of a VM or container, Windows) send no
# file events to this kernel: a save there is seen only by polling. Types as /proc/self/mountinfo spells them.
NO_EVENTS_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "afs", "ceph", "glusterfs", "lustre", "gpfs", "davfs",
    "9p", "drvfs", "v9fs",  # a Windows drive under WSL 2 and WSL 1; QEMU's shared folders
    "vboxsf", "vmhgfs", "prl_fs", "virtiofs", "fakeowner", "grpcfuse", "osxfs",  # VM and container shares
    "fuse.sshfs", "fuse.vmhgfs-fuse", "fuse.grpcfuse", "fuse.rclone", "fuse.davfs2", "fuse.glusterfs",
    "fuse.ceph-fuse", "fuse.s3fs", "fuse.gcsfuse",
})
APP_WRITES = tuple(entry.rstrip("/") for entry in LESSON.writes)  # the app's own files when run by hand: no edits
POLL_EVERY_MS = 300
WAKE_EVERY_MS = 200  # how often the watcher returns to Python with no change (to start up, and for Ctrl-C)


class WatchError(Exception):
    """alfred watch cannot run here; the message says why, in one line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `alfred watch`, shared by the `alfred` command and `python -m alfred.watch`."""
    parser.add_argument("-m", dest="marks", metavar="EXERCISE",
                        help=f"run only these tests, as `pytest {WATCHED} -m EXERCISE` ({', '.join(IDS)})")
    parser.add_argument("--poll", action="store_true",
                        help="look for saves by polling (for network drives, WSL, VM or container shares, "
                        "where file events do not arrive)")


def main(argv: list[str] | None = None) -> int:
    """`python -m alfred.watch`: for a project with no `alfred` command."""
    parser = argparse.ArgumentParser(prog="python -m alfred.watch", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # as `alfred` does: stopped is stopped, exit code 0
    try:
        return run(args, command="python -m alfred.watch")
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace, command: str = "alfred watch") -> int:
    """Runs the suite now and after every save until Ctrl-C (or SIGTERM), then returns 0; 2, with one line on
    stderr, where it cannot run."""
    try:
        return _loop(args, command)
    except WatchError as exc:
        print(f"alfred watch: {exc}", file=sys.stderr)
        return 2


def _loop(args: argparse.Namespace, command: str) -> int:
    project = find_project(Path.cwd())
    folder = project / WATCHED
    polling, why = polling_reason(args.poll, folder)
    # -q: no header, one line of dots; the current exercise's first failure and the table fill the screen
    pytest_command = [sys.executable, "-c", _PYTEST, WATCHED, "-q", *(["-m", args.marks] if args.marks else [])]
    saves = None
    try:
        saves, polling, why = _start_watching(folder, polling, why)
        where = _shown(folder) + "/"
        how = f"polling every {POLL_EVERY_MS / 1000:g} s ({why})" if polling else "file events"
        runs, changed = 0, None
        while True:
            runs += 1
            _run_suite(pytest_command, project, runs, changed)
            _say(f"watching {where} ({how}); Ctrl-C to stop.")
            if not polling and runs == 1:
                _say(f"Saves not noticed (a network drive, WSL, a shared folder)? Stop it and run `{command} --poll`.")
            changed = _next_change(saves)
    except KeyboardInterrupt:
        _say("stopped.")
        return 0
    finally:
        if saves is not None:
            saves.close()


def find_project(start: Path) -> Path:
    """The nearest folder, from `start` upwards, holding conftest.py and the student's file."""
    for folder in (start, *start.parents):
        if (folder / "conftest.py").is_file() and (folder / STUDENT_FILE).is_file():
            return folder
    raise WatchError(f"no {STUDENT_FILE} here or above; run it in your lesson's folder, where `pytest "
                     f"{WATCHED}` works.")


def polling_reason(asked: bool, folder: Path, environ: dict | None = None, release: str | None = None,
                   filesystem: str | None = None) -> tuple[bool, str]:
    """Whether to poll for saves in `folder`, and why (the arguments after `folder` are for tests)."""
    environ = os.environ if environ is None else environ
    release = platform.uname().release if release is None else release
    filesystem = filesystem_type(folder) if filesystem is None else filesystem
    if asked:
        return True, "--poll"
    if environ.get("WATCHFILES_FORCE_POLLING", "").lower() not in {"", "false", "disable", "disabled"}:
        return True, "WATCHFILES_FORCE_POLLING is set"
    if filesystem in NO_EVENTS_FILESYSTEMS:
        return True, f"{_shown(folder)} is on a {filesystem} filesystem, which sends no file events"
    if "microsoft" in release.lower():
        return True, "Windows Subsystem for Linux"
    return False, ""


def filesystem_type(path: Path, mountinfo: str | None = None) -> str | None:
    """The type of the filesystem holding `path`, from /proc/self/mountinfo; None where there is none
    (macOS, Windows) or it cannot be read."""
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text()
        except OSError:
            return None
    path = path.resolve()
    depth, found = -1, None
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        separator = fields.index("-", 6)
        mount_point = Path(_unescape(fields[4]))
        if (path == mount_point or mount_point in path.parents) and len(mount_point.parts) >= depth:
            depth, found = len(mount_point.parts), fields[separator + 1]  # >=: a later mount hides an earlier
    return found


def _unescape(field: str) -> str:
    """mountinfo writes a space, tab, newline and backslash in a path as \\040, \\011, \\012, \\134."""
    for code, character in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, character)
    return field


def _start_watching(folder: Path, polling: bool, why: str) -> tuple[Iterator[set], bool, str]:
    """Sets the watcher up before the first run, so that a save from then on is seen; falls back to
    polling when file events cannot be set up (too many watched folders on the machine, say)."""
    try:
        return _watcher(folder, polling), polling, why
    except OSError as exc:
        if polling:
            raise WatchError(f"cannot watch {_shown(folder)}: {exc}") from None
        _say(f"file events cannot be set up here ({exc}); polling instead.")
        return _start_watching(folder, True, "file events could not be set up")


def _watcher(folder: Path, polling: bool) -> Iterator[set]:
    try:
        import watchfiles
    except ImportError:  # a kit installed before `alfred watch` came, and not installed again since
        raise WatchError("it needs the watchfiles package, which is missing here: run `pip install -e .` again "
                         "in your lesson's folder.") from None
    ignored = watchfiles.DefaultFilter(ignore_dirs=(*watchfiles.DefaultFilter.ignore_dirs, *APP_WRITES))
    saves = watchfiles.watch(folder, watch_filter=ignored, force_polling=polling, poll_delay_ms=POLL_EVERY_MS,
                             rust_timeout=WAKE_EVERY_MS, yield_on_timeout=True, debounce=1600, step=50)
    try:
        next(saves)  # the watcher starts on the first step and returns within WAKE_EVERY_MS
    except BaseException:
        saves.close()
        raise
    return saves


def _next_change(saves: Iterator[set]) -> str:
    """Waits for a change and names its file (one of them, if a save touched several)."""
    for changes in saves:
        if changes:
            return _shown(Path(min(path for _, path in changes)))
    raise KeyboardInterrupt  # the watcher stopped


# `python -m pytest`, except for Ctrl-C before pytest's session starts: the watch starts it with SIGINT and
# SIGTERM blocked (so that no Ctrl-C falls between starting it and being able to stop it), and until the
# session starts a Ctrl-C ends it quietly (the signal's default action) instead of printing a
# KeyboardInterrupt traceback from pytest's own imports; from then on Ctrl-C is pytest's to handle, as usual.
# Windows has no signal masks (`pthread_sigmask`): there nothing is blocked, and the rest is the same.
_PYTEST = """
import signal
signal.signal(signal.SIGINT, signal.SIG_DFL)
if hasattr(signal, "pthread_sigmask"):
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
import pytest

class Interruptible:
    def pytest_sessionstart(self):
        signal.signal(signal.SIGINT, signal.default_int_handler)

raise SystemExit(pytest.main(plugins=[Interruptible()]))
"""


def _run_suite(command: list[str], project: Path, runs: int, changed: str | None) -> None:
    if sys.stdout.isatty():
        sys.stdout.write("\033[2J\033[H")  # a clear screen for each run: its table ends the screen
    cause = f" ({changed} saved)" if changed else ""
    typed = [part for part in command[3:] if part != "-q"]  # the command as the student would type it
    _say(f"run {runs} at {time.strftime('%H:%M:%S')}{cause}: {' '.join(['pytest', *typed])}")
    # No Ctrl-C may fall between starting pytest and being able to stop it: until `child` is set, one is only
    # noted (and raised after). The child starts with SIGINT and SIGTERM blocked (the forking thread's mask is
    # inherited) and unblocks them itself (`_PYTEST`); on Windows, which has no signal masks, only noted.
    noted: list[int] = []
    handlers = {signum: signal.signal(signum, lambda number, frame: noted.append(number))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    held = signal.pthread_sigmask(signal.SIG_BLOCK, set(handlers)) if hasattr(signal, "pthread_sigmask") else None
    try:
        child = subprocess.Popen(command, cwd=project, env={**os.environ, UNDER_WATCH: "1"})
    except BaseException:
        _restore(held, handlers)
        raise
    try:
        _restore(held, handlers)
        if noted:
            raise KeyboardInterrupt
        code = child.wait()
    except KeyboardInterrupt:
        _stop(child)
        raise
    if code not in (0, 1):  # 0: all passed, 1: some failed; both end with the table
        _say(f"pytest stopped with exit code {code}.")


def _restore(held: set | None, handlers: dict) -> None:
    """Puts back the signal mask (None: none was changed) and the handlers `_run_suite` replaced."""
    if held is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def _stop(child: subprocess.Popen) -> None:
    """Ctrl-C reached the watch (a terminal sends it to pytest too): pytest gets the chance to stop as on
    Ctrl-C, then is killed."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut the clean-up short
    try:
        if child.poll() is None:
            child.send_signal(signal.SIGINT if os.name == "posix" else signal.SIGTERM)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def _shown(path: Path) -> str:
    """`path` as the student would type it: relative to the current folder where it lies beneath it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return str(path)


def _say(line: str) -> None:
    print(f"alfred watch: {line}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
