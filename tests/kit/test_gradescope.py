"""`alfred bundle gradescope`: the bundle follows Gradescope's autograder layout, and its `run_autograder`,
run against a temporary root (ALFRED_AUTOGRADER_ROOT) as Gradescope runs it, finds the student's file in
every upload layout and writes a results.json valid against Gradescope's schema, a partial one first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import jsonschema
import pytest

from alfred.grading import corpus
from alfred.grading.gradescope import ROOT_VARIABLE, bundle
from alfred.course.targets import SOLUTIONS_MAIN
from kits_lesson import skip_unless_the_kits_lesson

skip_unless_the_kits_lesson()  # lesson 7's corpora, loaded below

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("bash") is None, reason="run_autograder is bash")]

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "gradescope-results.schema.json").read_text())
WRONG = corpus.load("wrong")[0]
BROKEN = next(sample for sample in corpus.load("broken") if "syntax" in sample.path.name)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gradescope")
    archive = bundle(folder / "autograder.zip")
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        assert {"setup.sh", "run_autograder"} <= set(names)
        assert all(opened.getinfo(name).external_attr >> 16 & 0o111 for name in ("setup.sh", "run_autograder"))
        assert not any(name.startswith(("kit/solutions/", "kit/tests/corpus", "kit/tests/attacks")) for name in names)
        opened.extractall(folder / "source")
    return folder / "source"


def _upload(root: Path, layout: str, sample: Path) -> None:
    submission = root / "submission"
    if layout == "top-level main.py":
        target = submission / "main.py"
    elif layout == "top-level file of another name":
        target = submission / "bruce_wayne_homework.py"
    elif layout == "the handout's layout":
        target = submission / "exercises" / "lesson_07" / "main.py"
        (submission / "tests").mkdir(parents=True)
        (submission / "README.md").parent.mkdir(parents=True, exist_ok=True)
        (submission / "README.md").write_text("# my homework")
    else:  # a folder, with the project's other files
        target = submission / "my-project" / "main.py"
        (submission / "my-project" / "templates").mkdir(parents=True)
        (submission / "my-project" / "templates" / "index.html").write_text("<p>hi</p>")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(sample, target)


def _run(source: Path, root: Path, environment: dict | None = None, **popen) -> subprocess.Popen:
    environment = {**os.environ, ROOT_VARIABLE: str(root), "ALFRED_PYTHON": sys.executable, **(environment or {})}
    return subprocess.Popen([shutil.which("bash"), str(source / "run_autograder")], env=environment, **popen)


def _results(root: Path) -> dict:
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return results


@pytest.mark.parametrize("layout", ["top-level main.py", "top-level file of another name", "the handout's layout",
                                    "a folder"])
@pytest.mark.parametrize("sample, expected", [(SOLUTIONS_MAIN, 100), (WRONG.path, None), (BROKEN.path, 0)],
                         ids=["correct", "wrong", "broken"])
def test_run_autograder_grades_every_upload_layout_into_valid_results(source, tmp_path, layout, sample, expected):
    _upload(tmp_path, layout, sample)
    process = _run(source, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["tests"], results["output"]
    if expected is not None:
        assert results["score"] == expected, results["output"]
    else:
        assert 0 < results["score"] < 100, results["output"]


def test_an_upload_without_python_gets_a_valid_result_that_says_what_to_upload(source, tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "notes.txt").write_text("forgot the code")
    _run(source, tmp_path).wait(timeout=120)
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 0 and "Upload your main.py" in results["output"]


def test_a_valid_partial_result_is_there_before_grading_ends(source, tmp_path):
    hangs = tmp_path / "hangs.py"
    hangs.write_text(SOLUTIONS_MAIN.read_text() + "\n@app.middleware('http')\nasync def hang(request, call_next):\n"
                     "    while True:\n        pass\n")
    _upload(tmp_path, "top-level main.py", hangs)
    process = _run(source, tmp_path, start_new_session=True)
    results_file = tmp_path / "results" / "results.json"
    try:
        for _ in range(600):  # the platform's timeout may strike at any moment after the start
            if results_file.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        partial = json.loads(results_file.read_text())
        assert process.poll() is None, "grading ended before the partial result could be checked"
    finally:
        os.killpg(process.pid, 9)
        process.wait()
    jsonschema.validate(partial, SCHEMA)
    assert partial["score"] == 0 and "did not finish" in partial["output"]


def test_where_the_container_allows_no_sandbox_nothing_is_graded_unless_the_teacher_says_so(source, tmp_path):
    """Not graded is not a 0: no results.json, which Gradescope shows as a failed autograder run, with why."""
    _upload(tmp_path, "top-level main.py", SOLUTIONS_MAIN)
    no_bwrap = {"PATH": str(tmp_path / "empty")}  # no bubblewrap on this PATH: as in a container that forbids it
    process = _run(source, tmp_path, no_bwrap, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 1, output
    assert not (tmp_path / "results" / "results.json").exists()
    assert "not graded" in output and "bubblewrap is not installed" in output and "not a verdict" in output
    assert "your instructor sees this submission marked as failed by the autograder" in output  # Gradescope's own state
    _run(source, tmp_path, {**no_bwrap, "ALFRED_ALLOW_UNSANDBOXED": "1"}).wait(timeout=300)
    allowed = _results(tmp_path)
    assert allowed["score"] == 100 and "unsandboxed" in allowed["extra_data"]["flags"]


SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # a Gradescope image's, nothing else


@pytest.mark.skipif(os.geteuid() != 0, reason="setup.sh runs as root, as on Gradescope")
def test_setup_then_run_autograder_as_gradescope_runs_them_grade_the_reference_in_every_layout(source, tmp_path):
    """setup.sh with the system's PATH alone makes the venv from the distribution's Python (in /usr), and
    run_autograder grades with it, sandboxed, in every upload layout."""
    root = tmp_path / "autograder"
    shutil.copytree(source, root / "source")
    platform = {"PATH": SYSTEM_PATH, "HOME": str(Path.home()), ROOT_VARIABLE: str(root), "LANG": "C.UTF-8"}
    setup = subprocess.run(["/bin/bash", str(root / "source" / "setup.sh")], env=platform, capture_output=True,
                           text=True, timeout=900)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    venv_python = root / "venv" / "bin" / "python"
    base = subprocess.run([str(venv_python), "-c", "import sys; print(sys.base_prefix)"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert Path(base).resolve().is_relative_to("/usr"), base  # the system's Python, not this test's
    for layout in ("top-level main.py", "top-level file of another name", "the handout's layout", "a folder"):
        shutil.rmtree(root / "submission", ignore_errors=True)
        shutil.rmtree(root / "results", ignore_errors=True)
        _upload(root, layout, SOLUTIONS_MAIN)
        graded = subprocess.run(["/bin/bash", str(root / "source" / "run_autograder")], env=platform,
                                capture_output=True, text=True, timeout=300)
        assert graded.returncode == 0, (layout, graded.stdout + graded.stderr)
        results = _results(root)
        assert results["score"] == 100 and "unsandboxed" not in results["extra_data"]["flags"], (layout, results)


@pytest.mark.parametrize("shape, words", [("deep", "No Python file"), ("several", "several Python files")])
def test_odd_uploads_get_a_valid_result_that_says_why(source, tmp_path, shape, words):
    submission = tmp_path / "submission"
    if shape == "deep":  # deeper than any walk should go
        deep = submission.joinpath(*["d"] * 300)
        deep.mkdir(parents=True)
        (deep / "app.py").write_text("x = 1\n")
    else:
        submission.mkdir()
        for name in ("app.py", "helpers.py"):
            (submission / name).write_text("x = 1\n")
    _run(source, tmp_path).wait(timeout=300)
    results = _results(tmp_path)
    assert results["score"] == 0 and words in results["output"], results["output"]
