"""When the grader fails, not the student: the cause is named for the teacher, and the submission is
`ungradable` (no score anywhere, out of the class's statistics, graded again by the next run), never an
error row scored 0 with the grader's words told to the student as theirs.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest

from alfred.grading.discovery import discover
from alfred.grading.grade import ungradable_row
from alfred.reports import exercism, feedback, gradebook, gradescope, html, summary
from alfred.reports.rows import UNGRADABLE
from alfred.sandbox import fork_server
from alfred.sandbox.fork_server import OWN_UID, SandboxUnavailable, SandboxView
from alfred.course.targets import MAIN_CANDIDATES, SOLUTIONS_MAIN
from kits_lesson import the_kits_lesson_only

SCHEMAS = Path(__file__).parent / "schemas"


def _graded(student: str, score: float) -> dict:
    row = ungradable_row(student, "x")
    return {**row, "status": "graded", "score": score, "flags": [], "message": "Every test passed."}


@the_kits_lesson_only
def test_an_ungradable_row_has_no_score_in_any_report_and_counts_in_no_statistic():
    failed = ungradable_row("carol", "the grader could not start its sandbox: bwrap: no permission")
    rows = [_graded("alice", 100.0), failed, _graded("bob", 50.0)]
    assert failed["status"] == UNGRADABLE and "grader failure" in failed["flags"]

    carol = gradebook.csv_text(rows).splitlines()[2].split(",")
    assert carol[0] == "carol" and carol[1:7] == [""] * 6 and carol[8] == UNGRADABLE  # blank points, blank total

    told = feedback.markdown(failed)
    assert "Score:" not in told and "no verdict on your code" in told and "bwrap: no permission" in told

    assert "mean 75" in summary.markdown(rows) and f"{UNGRADABLE}: 1" in summary.markdown(rows)
    page = html.page(rows)
    assert ">75<" in page and f'class="status-{UNGRADABLE}"' in page

    assert gradescope.for_student(failed, "carol") == {}  # no results.json rather than a false 0
    results = exercism.results(failed)
    jsonschema.validate(results, json.loads((SCHEMAS / "exercism-results-v3.schema.json").read_text()))
    assert results["status"] == "error" and "not graded" in results["message"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_a_sandbox_that_fails_to_start_says_what_bubblewrap_or_the_server_said(monkeypatch):
    monkeypatch.setattr(fork_server, "_BOOT", "import sys; sys.stderr.write('cannot find /nowhere/python3\\n'); "
                                              "sys.exit(3)")
    mode = OWN_UID if os.geteuid() == 0 else fork_server.SHARED
    with pytest.raises(fork_server.ServerError, match="cannot find /nowhere/python3"):
        fork_server.ForkServer(sandboxed=True, mode=mode)


def test_an_interpreter_that_leads_out_of_the_sandbox_is_named_before_any_sandbox_starts(tmp_path):
    environment = tmp_path / "venv"
    (environment / "bin").mkdir(parents=True)
    for name in {"python", "python3", Path(os.sys.executable).name}:
        (environment / "bin" / name).symlink_to("/opt/elsewhere/bin/python3.12")
    view = SandboxView(Path("/run/x"), Path("/run/y"), Path("/usr"), environment)
    with pytest.raises(SandboxUnavailable, match="/opt/elsewhere/bin/python3.12, which the sandbox does not show"):
        view.check()
    system = tmp_path / "system-venv"
    (system / "bin").mkdir(parents=True)
    for name in {"python", "python3", Path(os.sys.executable).name}:
        (system / "bin" / name).symlink_to("/usr/bin/python3")
    SandboxView(Path("/run/x"), Path("/run/y"), Path("/usr"), system).check()  # a venv of the system Python


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")
def test_a_grading_process_whose_sandbox_cannot_start_marks_the_student_ungradable(tmp_path, monkeypatch):
    """Twice (the retry) the sandbox fails: the row is ungradable with the cause, and the cache keeps no
    hash, so the next run grades it again."""
    from alfred.grading import classroom, grade

    klass = tmp_path / "class" / "alice"
    klass.mkdir(parents=True)
    shutil.copy(SOLUTIONS_MAIN, klass / "main.py")
    entries = discover([tmp_path / "class"], main_candidates=MAIN_CANDIDATES).entries
    monkeypatch.setattr(fork_server, "_BOOT", "import sys; sys.stderr.write('the sandbox said no\\n'); sys.exit(3)")
    monkeypatch.setattr(grade, "_servers", {})
    row = grade.grade_one(entries[0], sandboxed=True, hidden_seed=1)
    assert row["status"] == UNGRADABLE and "the sandbox said no" in row["message"], row["message"]
    classroom._finish(tmp_path / "out", entries[0].slug, row, "some-hash", "0" * 64, None, ("gradebook",))
    cached = json.loads((tmp_path / "out" / "cache" / f"{entries[0].slug}.json").read_text())
    assert cached["hash"] == ""
