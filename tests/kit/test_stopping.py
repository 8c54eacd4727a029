"""A stopped grader leaves nothing running: whatever ends `alfred grade` (SIGTERM as `timeout`, CI and
Kubernetes send it, or SIGKILL), its grading processes and their sandboxes end with it, and finished
students keep their results.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from alfred.course.targets import SOLUTIONS_MAIN

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None,
                       reason="grading needs root and bubblewrap"),
]

# Every request waits out its reply deadline, so each such student takes its whole time budget.
HANGS = """

@app.middleware("http")
async def hang(request, call_next):
    while True:
        pass
"""


class Descendants:
    """Every process started under `root`, noted while it runs, as (pid, start time) so a reused pid is not
    mistaken for a survivor."""

    def __init__(self, root: int):
        self.root = root
        self.seen: set[tuple[int, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    @staticmethod
    def _stat(pid: int) -> tuple[int, str] | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return int(fields[1]), fields[19]  # parent, start time

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            known = {self.root} | {pid for pid, _ in self.seen}
            for name in os.listdir("/proc"):
                if name.isdigit() and (stat := self._stat(int(name))) and stat[0] in known:
                    self.seen.add((int(name), stat[1]))

    def alive(self) -> list[int]:
        return [pid for pid, started in self.seen if (stat := self._stat(pid)) and stat[1] == started
                and self._running(pid)]

    @staticmethod
    def _running(pid: int) -> bool:
        """Not a zombie; a process that ends while it is looked at is not running either."""
        try:
            return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _class(tmp_path: Path) -> Path:
    klass = tmp_path / "class"
    klass.mkdir()
    shutil.copy(SOLUTIONS_MAIN, klass / "a_honest.py")
    for number in range(4):
        (klass / f"z_hangs_{number}.py").write_text(SOLUTIONS_MAIN.read_text() + HANGS)
    return klass


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_grading_run_stopped_mid_class_leaves_no_process_behind(tmp_path, how):
    out = tmp_path / "grades"
    grader = subprocess.Popen([sys.executable, "-m", "alfred", "grade", str(_class(tmp_path)), "--out", str(out),
                               "--jobs", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              cwd=tmp_path)
    watch = Descendants(grader.pid)
    lines = []
    try:
        for line in grader.stderr:  # stop it once a student is finished and the hanging ones are being graded
            lines.append(line)
            if line.startswith("a_honest: graded"):
                break
        assert any(line.startswith("a_honest: graded") for line in lines), lines
        time.sleep(0.5)  # the hanging students are now inside their sandboxes
        assert any("bwrap" in _command(pid) for pid in watch.alive()), "no sandbox was running when stopped"
        grader.send_signal(how)
        rest = grader.communicate(timeout=60)[1]
        for _ in range(300):  # the kernel ends what the parent-death signals name, not always at once
            if not watch.alive():
                break
            time.sleep(0.1)
        survivors = {pid: _command(pid) for pid in watch.alive()}
    finally:
        watch.stop()
        if grader.poll() is None:
            grader.kill()
    assert survivors == {}
    assert (out / "results" / "a_honest.json").exists()  # a finished student keeps its results
    if how == signal.SIGTERM:  # like Ctrl-C: a clear line, and the gradebook of the students finished so far
        assert grader.returncode == 130 and "interrupted; finished results are kept" in rest
        assert "a_honest," in (out / "gradebook.csv").read_text()


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
