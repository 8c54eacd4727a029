"""`alfred bundle prairielearn` and `--format prairielearn`: the question folder follows PrairieLearn's layout
and its info.json schema, and its grading entrypoint, run against a temporary /grade (ALFRED_PRAIRIELEARN_ROOT)
as PrairieLearn runs it, grades every upload layout into a results.json valid against PrairieLearn's results
format; a file that cannot be graded is `gradable: false`, never a score of 0.

The schemas (tests/kit/schemas/prairielearn-*.schema.json) were written from PrairieLearn's documentation and
the code that reads these files; each says where from.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from alfred.course.exercises import EXERCISES
from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, SOLUTIONS_MAIN, SUITE_DIR
from alfred.grading import corpus
from alfred.grading.discovery import GradeError
from alfred.grading.grade import ungradable_row
from alfred.grading.prairielearn import ENTRYPOINT, ROOT_VARIABLE, bundle
from alfred.judge.hidden import HIDDEN_FOLDER
from alfred.reports import prairielearn
from kits_lesson import skip_unless_the_kits_lesson

skip_unless_the_kits_lesson()  # lesson 7's corpora, loaded below

SCHEMAS = Path(__file__).parent / "schemas"
RESULTS_SCHEMA = json.loads((SCHEMAS / "prairielearn-results.schema.json").read_text())
INFO_SCHEMA = json.loads((SCHEMAS / "prairielearn-info-question.schema.json").read_text())
WRONG = corpus.load("wrong")[0]
BROKEN = next(sample for sample in corpus.load("broken") if "syntax" in sample.path.name)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MAX_RESULTS_BYTES = 1024 * 1024  # PrairieLearn's grader host refuses a larger results.json (apps/grader-host)


def _valid(results: dict) -> dict:
    jsonschema.validate(results, RESULTS_SCHEMA)
    assert len(json.dumps(results).encode()) < MAX_RESULTS_BYTES
    return results


# --- the results format ---


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [text for item in value for text in _strings(item)] if isinstance(value, list) else []


def _row(status: str = "graded", message: str = "Every test passed.", outcome: str = "passed") -> dict:
    row = ungradable_row("robin", "x")
    tests = [{"nodeid": "tests/x/test_task.py::test_task_prints", "name": "test_task_prints", "exercise": "task",
              "outcome": outcome, "message": "" if outcome == "passed" else message, "learner": None, "hidden": None},
             {"nodeid": "tests/x/hidden/test_h.py::test_h", "name": "test_hidden_secret_name", "exercise": "task",
              "outcome": outcome, "message": "" if outcome == "passed" else "Got: SECRET-INPUT", "learner": None,
              "hidden": "the task must name the report it was given"}]
    exercises = {**row["exercises"], "task": {"score": 25.0 if outcome == "passed" else 0.0, "max_score": 25.0,
                                              "passed": 2 if outcome == "passed" else 0, "total": 2}}
    return {**row, "status": status, "score": 25.0 if outcome == "passed" else 0.0, "exercises": exercises,
            "flags": [], "message": message, "tests": tests}


def test_a_graded_file_scores_from_0_to_1_with_each_tests_share_and_hidden_checks_by_their_sentence():
    results = _valid(prairielearn.results(_row(outcome="failed", message="Got: \x1b[2Jboom")))
    assert results["gradable"] is True and results["score"] == 0.0
    assert [test["max_points"] for test in results["tests"]] == [12.5, 12.5]
    assert results["tests"][1]["name"].endswith("hidden checks: the task must name the report it was given")
    assert "1 hidden check of exercise 2 (task) failed" in results["tests"][1]["message"]
    assert "SECRET-INPUT" not in json.dumps(results) and "test_hidden_secret_name" not in json.dumps(results)
    assert not [text for text in _strings(results) if CONTROL.search(text)]
    assert "\\x1b[2J" in results["tests"][0]["message"]  # shown as typed, never a terminal command
    passed = _valid(prairielearn.results(_row()))
    assert passed["score"] == 0.25 and sum(test["points"] for test in passed["tests"]) == 25.0


@pytest.mark.parametrize("status", ["error", "ungradable"])
def test_a_file_that_cannot_be_graded_is_not_gradable_never_a_0(status):
    row = _row(status=status, message="main.py does not import: SyntaxError at line 3", outcome="failed")
    if status == "ungradable":
        row = ungradable_row("robin", "the grader could not start its sandbox")
    results = _valid(prairielearn.results(row))
    assert results["gradable"] is False and "score" not in results
    assert results["format_errors"] and results["message"] == results["format_errors"][0]
    assert ("SyntaxError at line 3" if status == "error" else "could not start its sandbox") in results["message"]


def test_a_flood_of_output_keeps_the_file_under_prairielearns_1_mb():
    results = _valid(prairielearn.results(_row(outcome="failed", message="Got: " + "y" * 5_000_000)))
    assert results["tests"][0]["message"].endswith("[cut]")


def test_the_schemas_can_fail():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"gradable": True, "score": 1.5}, RESULTS_SCHEMA)  # PrairieLearn: "score is out of range"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"score": 1, "tests": [{"name": "x", "points": 1, "max_score": 1}]}, RESULTS_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"gradable": False, "score": 0}, RESULTS_SCHEMA)  # not graded is not a 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"uuid": "x", "type": "v3", "title": "t", "topic": "t"}, INFO_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"uuid": "04c54e1e-6ff7-5a80-94a4-4fff18c805a1", "type": "v3", "title": "t", "topic": "t",
                             "gradingMethod": "External", "externalGradingOptions": {"entrypoint": "/x"}}, INFO_SCHEMA)


# --- the question folder ---


@pytest.fixture(scope="module")
def question(tmp_path_factory) -> Path:
    return bundle(tmp_path_factory.mktemp("course") / "alfred_question", image="someone/alfred-grader")


def test_the_question_folder_follows_prairielearns_layout_and_info_schema(question, tmp_path):
    info = json.loads((question / "info.json").read_text())
    jsonschema.validate(info, INFO_SCHEMA)
    options = info["externalGradingOptions"]
    assert info["gradingMethod"] == "External" and options["image"] == "someone/alfred-grader"
    assert options["entrypoint"] == ENTRYPOINT == "/grade/tests/run_autograder"  # the question's tests/ is /grade/tests
    entrypoint = question / "tests" / "run_autograder"
    assert entrypoint.is_file() and os.access(entrypoint, os.X_OK)
    again = bundle(tmp_path / "again", image="someone/alfred-grader")
    assert json.loads((again / "info.json").read_text())["uuid"] == info["uuid"]  # bundled again: the same question
    with pytest.raises(GradeError, match="not an empty folder"):
        bundle(again)


def test_students_see_the_task_and_the_stub_and_the_hidden_checks_stay_in_tests(question):
    html = (question / "question.html").read_text()
    for element in ("<pl-question-panel>", '<pl-file-upload file-patterns="*.py">', "<pl-external-grader-results>",
                    "<pl-submission-panel>"):
        assert element in html
    assert (question / "clientFilesQuestion" / "main.py").read_text() == EXERCISES_MAIN.read_text()
    shown = [path for path in question.rglob("*") if path.is_file() and "tests" not in path.relative_to(question).parts]
    assert not [path for path in shown if HIDDEN_FOLDER in path.parts or "solutions" in path.parts], shown
    kit = question / "tests" / "kit"
    hidden = sorted((SUITE_DIR / HIDDEN_FOLDER).glob("*.py"))
    assert hidden and all((kit / path.relative_to(KIT_ROOT)).is_file() for path in hidden)
    assert not (kit / "solutions").exists() and not (kit / "tests" / "corpus").exists()
    assert f"{sum(len(exercise.hidden) for exercise in EXERCISES)} hidden checks" in html


def test_the_image_installs_what_the_kit_needs_and_holds_no_part_of_it(question):
    import tomllib

    listed = (question / "image" / "requirements.txt").read_text().splitlines()
    assert listed == tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    containerfile = (question / "image" / "Containerfile").read_text()
    assert "bubblewrap" in containerfile and "requirements.txt" in containerfile
    assert not re.search(r"^COPY (?!requirements\.txt)", containerfile, flags=re.MULTILINE)


# --- the entrypoint, run as PrairieLearn runs it ---


def _upload(root: Path, layout: str, sample: Path | None) -> None:
    student = root / "student"
    student.mkdir(parents=True)
    if sample is None:
        return
    target = {"a single main.py": student / "main.py", "a renamed file": student / "bruce_wayne_homework.py",
              "the handout's layout": student / EXERCISES_MAIN.relative_to(KIT_ROOT)}[layout]
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(sample, target)


def _run(question: Path, root: Path, environment: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, ROOT_VARIABLE: str(root), "ALFRED_PYTHON": sys.executable, **(environment or {})}
    return subprocess.run([shutil.which("bash") or "/bin/bash", str(question / "tests" / "run_autograder")],
                          env=environment, capture_output=True, text=True, timeout=300)


def _results(root: Path) -> dict:
    return _valid(json.loads((root / "results" / "results.json").read_text()))


@pytest.mark.slow
@pytest.mark.parametrize("layout, sample, expected", [
    ("a single main.py", SOLUTIONS_MAIN, 1.0),
    ("the handout's layout", SOLUTIONS_MAIN, 1.0),
    ("a renamed file", WRONG.path, None),
    ("an empty upload", None, "not gradable"),
    ("a single main.py", BROKEN.path, "not gradable"),
], ids=["main.py", "handout", "renamed", "empty", "does-not-import"])
def test_the_entrypoint_grades_every_upload_layout_into_valid_results(question, tmp_path, layout, sample, expected):
    _upload(tmp_path, layout, sample)
    run = _run(question, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr  # a non-zero exit would make PrairieLearn drop the result
    results = _results(tmp_path)
    if expected == "not gradable":
        assert results["gradable"] is False and "score" not in results, results
        words = "Upload your main.py" if sample is None else "does not import"
        assert words in results["message"], results["message"]
    elif expected is None:
        assert results["gradable"] and 0 < results["score"] < 1, results["message"]
    else:
        assert results["gradable"] and results["score"] == expected, results["message"]
        assert len(results["tests"]) >= 40 and all(test["points"] == test["max_points"] for test in results["tests"])


@pytest.mark.slow
def test_the_entrypoint_writes_what_alfred_grade_format_prairielearn_writes(question, tmp_path):
    """One format, two roads: a course checks a class with `alfred grade --format prairielearn` before the
    question goes live, and sees what its students will see."""
    _upload(tmp_path / "root", "a single main.py", WRONG.path)
    assert _run(question, tmp_path / "root", {"ALFRED_HIDDEN_SEED": "7"}).returncode == 0
    from alfred.cli import main

    class_folder = tmp_path / "class"
    (class_folder / "submission").mkdir(parents=True)
    shutil.copy(WRONG.path, class_folder / "submission" / "main.py")
    assert main(["grade", str(class_folder), "--out", str(tmp_path / "out"), "--format", "prairielearn",
                 "--hidden-seed", "7", "--jobs", "1"]) == 0
    graded = _valid(json.loads((tmp_path / "out" / "prairielearn" / "submission.json").read_text()))
    assert _results(tmp_path / "root") == graded


@pytest.mark.slow
def test_where_the_container_allows_no_sandbox_the_submission_is_not_gradable_unless_the_teacher_says_so(
        question, tmp_path):
    _upload(tmp_path, "a single main.py", SOLUTIONS_MAIN)
    no_bwrap = {"PATH": str(tmp_path / "empty")}  # no bubblewrap on this PATH: as in a container that forbids it
    run = _run(question, tmp_path, no_bwrap)
    assert run.returncode == 0, run.stdout + run.stderr
    results = _results(tmp_path)
    assert results["gradable"] is False and "score" not in results
    assert "bubblewrap is not installed" in results["message"] and "not a verdict" in results["message"]
    assert _run(question, tmp_path, {**no_bwrap, "ALFRED_ALLOW_UNSANDBOXED": "1"}).returncode == 0
    assert _results(tmp_path)["score"] == 1.0
