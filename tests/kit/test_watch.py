"""`alfred watch`, the student's loop: a real `alfred watch` on a copy of the student's project runs the suite,
runs it again in a fresh pytest after the student's file is saved (the new code is what the second table
scores), stops cleanly with exit code 0 on Ctrl-C (SIGINT) or SIGTERM, between runs and during one, leaving no
process behind; the handout runs it as `python -m alfred.watch`. Also when it polls instead of waiting for
file events, and what the progress table's `next:` line says under it.

The waits are for output lines, never for a length of time: the generous timeouts only stop a hung test.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from alfred.handout import write_handout
from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, SOLUTIONS_MAIN, SUITE_DIR
from alfred.course.targets import UNDER_WATCH
from alfred.watch import NO_EVENTS_FILESYSTEMS, STUDENT_FILE, filesystem_type, polling_reason, run
from kits_lesson import the_kits_lesson_only

PATIENCE = 180  # seconds: far beyond a slow machine's run of the suite; only a hung watch reaches it
ALFRED = Path(sys.executable).with_name("alfred")  # the command `pip install -e .` gives a student


class Watch:
    """An `alfred watch` process whose output lines are read as they come."""

    def __init__(self, command: list[str], cwd: Path):
        env = {key: value for key, value in os.environ.items() if key != UNDER_WATCH}
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True)  # its own group: see no_process_left
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str) -> list[str]:
        """Reads up to the first new line holding `text`; returns the lines read since the last wait."""
        start = len(self.lines)
        while True:
            try:
                line = self._queue.get(timeout=PATIENCE)
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} in {PATIENCE} s:\n"
                                     + "\n".join(self.lines[-60:])) from None
            if line is None:
                raise AssertionError(f"alfred watch ended before a line with {text!r}:\n" + "\n".join(self.lines[-60:]))
            self.lines.append(line)
            if text in line:
                return self.lines[start:]

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=PATIENCE)
        while (line := self._queue.get(timeout=PATIENCE)) is not None:
            self.lines.append(line)
        return code

    def no_process_left(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)  # the watch's group: itself and the pytest runs it started
        except ProcessLookupError:
            return True
        return False

    def kill(self) -> None:
        """The end of every test: whatever is left of the watch's group is killed, its pipe closed."""
        if not self.no_process_left():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=PATIENCE)
        self._reader.join(timeout=PATIENCE)
        self.process.stdout.close()


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the kit as a student has it: the plugin, the suite, the engine and the student's file."""
    copy = tmp_path / "kit"
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache")
    for folder in ("alfred", SUITE_DIR.relative_to(KIT_ROOT), EXERCISES_MAIN.parent.relative_to(KIT_ROOT)):
        shutil.copytree(KIT_ROOT / folder, copy / folder, ignore=ignore)
    for file in ("conftest.py", "pyproject.toml"):
        shutil.copy(KIT_ROOT / file, copy / file)
    return copy


@pytest.fixture
def watches():
    started: list[Watch] = []
    yield lambda command, cwd: started.append(Watch(command, cwd)) or started[-1]
    for watch in started:
        watch.kill()


def _a_run_and_its_table(watch: Watch) -> list[str]:
    lines = watch.wait_for("alfred watch: watching ")
    assert any("Lesson 7 progress" in line for line in lines), "\n".join(lines)
    return lines


@pytest.mark.slow
@pytest.mark.parametrize("poll", [True, False], ids=["poll", "file-events"])
def test_a_save_reruns_the_suite_in_a_fresh_pytest_and_shows_the_new_table(project, watches, poll):
    assert ALFRED.is_file(), f"{ALFRED} missing: install the kit with `pip install -e .`"
    watch = watches([str(ALFRED), "watch", *(["--poll"] * poll)], project)
    first = _a_run_and_its_table(watch)
    assert first[0].startswith("alfred watch: run 1 at ") and first[0].endswith(": pytest exercises"), first[0]
    assert "score: 0 / 100 on the visible checks" in first
    said = "next: Exercise 1 (model) in exercises/lesson_07/main.py; save it and the tests run again"
    assert said in "\n".join(first)  # under the watch, the next step is a save
    if poll:
        assert "(polling every 0.3 s (--poll))" in first[-1], first[-1]

    (project / STUDENT_FILE).write_text(SOLUTIONS_MAIN.read_text())  # the student saves, with every exercise done
    second = _a_run_and_its_table(watch)
    assert any(line.startswith("alfred watch: run 2 at ") and line.endswith(
        f" ({STUDENT_FILE} saved): pytest exercises") for line in second), "\n".join(second)
    assert "score: 100 / 100 on the visible checks" in second, "\n".join(second)  # the saved code, imported afresh
    assert "next: all visible checks pass; 6 hidden checks run when your work is graded; try the app by hand with uvicorn and /docs" in second  # never "done" while hidden checks wait
    assert watch.stop(signal.SIGINT) == 0
    assert watch.lines[-1] == "alfred watch: stopped." and not any("Traceback" in line for line in watch.lines)


@pytest.mark.slow
@pytest.mark.parametrize("when", ["between-runs", "during-a-run"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_stops_it_cleanly_with_exit_code_0(project, watches, when, signum):
    watch = watches([str(ALFRED), "watch", "--poll", "-m", "model"], project)
    if when == "between-runs":
        lines = _a_run_and_its_table(watch)
        rows = [line.split(")")[0] for line in lines if line.startswith("Exercise ") and " / " in line]  # the table's
        assert rows == ["Exercise 1 (model"], rows  # -m reaches pytest: one exercise's tests ran
    else:
        watch.wait_for("alfred watch: run 1 at ")  # printed just before pytest starts
    assert watch.stop(signum) == 0, "\n".join(watch.lines)
    assert watch.lines[-1] == "alfred watch: stopped.", "\n".join(watch.lines)
    assert not any("Traceback" in line for line in watch.lines), "\n".join(watch.lines)
    assert watch.no_process_left()  # nor the pytest it had started


@pytest.mark.slow
def test_the_handout_runs_it_as_python_m_alfred_watch(tmp_path, watches):
    handout = tmp_path / "lesson-7"
    write_handout(handout)
    assert (handout / "alfred" / "watch.py").is_file()  # a student command: the handout carries it
    watch = watches([sys.executable, "-m", "alfred.watch", "--poll"], handout)
    _a_run_and_its_table(watch)
    (handout / STUDENT_FILE).write_text(SOLUTIONS_MAIN.read_text())
    second = _a_run_and_its_table(watch)
    assert any(line.startswith("alfred watch: run 2 at ") for line in second) and "score: 100 / 100 on the visible checks" in second
    assert watch.stop(signal.SIGINT) == 0 and watch.lines[-1] == "alfred watch: stopped."


@the_kits_lesson_only
def test_outside_a_project_it_says_where_to_run_it_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run(argparse.Namespace(marks=None, poll=True)) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        f"alfred watch: no {STUDENT_FILE} here or above; run it in your lesson's folder, where `pytest "
        "exercises` works.\n")


def test_without_watchfiles_it_says_how_to_install_it_in_one_line(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # what a kit installed before `alfred watch` has
    assert run(argparse.Namespace(marks=None, poll=True)) == 2
    assert capsys.readouterr().err == ("alfred watch: it needs the watchfiles package, which is missing here: run "
                                       "`pip install -e .` again in your lesson's folder.\n")


def test_it_polls_where_file_events_do_not_arrive(tmp_path):
    def reason(asked=False, environ=None, release="6.1.0-amd64", filesystem="ext4"):
        return polling_reason(asked, tmp_path, environ or {}, release, filesystem)

    assert reason() == (False, "")
    assert reason(asked=True) == (True, "--poll")
    assert reason(environ={"WATCHFILES_FORCE_POLLING": "1"}) == (True, "WATCHFILES_FORCE_POLLING is set")
    assert reason(environ={"WATCHFILES_FORCE_POLLING": "false"}) == (False, "")
    assert reason(release="5.15.167.4-microsoft-standard-WSL2") == (True, "Windows Subsystem for Linux")
    assert reason(release="4.4.0-19041-Microsoft") == (True, "Windows Subsystem for Linux")
    for network in ("nfs4", "cifs", "9p", "fuse.sshfs", "vboxsf"):
        polls, why = reason(filesystem=network)
        assert polls and f"on a {network} filesystem" in why
    assert {"nfs", "cifs", "9p", "drvfs"} <= NO_EVENTS_FILESYSTEMS


def test_the_filesystem_is_that_of_the_deepest_mount_holding_the_folder():
    mountinfo = "\n".join([
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
        "40 27 0:50 / /mnt/c rw,noatime - 9p drvfs rw,aname=drvfs",
        "41 27 0:51 / /home/bruce/My\\040Drive rw - fuse.rclone gdrive: rw",
        "42 27 0:52 / /srv/nfs rw shared:5 master:3 - nfs4 server:/export rw",
        "43 42 0:53 / /srv/nfs/local rw - tmpfs tmpfs rw",
    ])
    where = {"/mnt/c/Users/bruce/lesson": "9p", "/mnt/cache": "ext4", "/home/bruce/My Drive/lesson": "fuse.rclone",
             "/srv/nfs/lesson": "nfs4", "/srv/nfs/local/lesson": "tmpfs", "/": "ext4"}
    for path, kind in where.items():
        assert filesystem_type(Path(path), mountinfo) == kind, path
    assert filesystem_type(Path("/"), "") is None
