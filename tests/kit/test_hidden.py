"""Hidden checks (alfred.judge.hidden): they run only when grading, on inputs drawn from the run's seed; a student
sees them only as their exercise and public sentence, and never as "done"; the handout leaves them out and the
Gradescope bundle keeps them; submissions fitted to the visible tests' inputs lose points in them only.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import zipfile
from collections import Counter

import pytest
from pydantic import EmailStr, TypeAdapter, ValidationError

from alfred import handout
from alfred.course.exercises import EXERCISES
from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, MAIN_CANDIDATES, SOLUTIONS_MAIN, SUITE_DIR
from alfred.grading import corpus
from alfred.grading.classroom import SEED_FILE, class_seed, grade_class
from alfred.grading.discovery import read_submission
from alfred.grading.grade import _headline
from alfred.grading.gradescope import bundle
from alfred.handout import HandoutError, write_handout
from alfred.judge.hidden import SEED_VARIABLE, SeedError, parse_seed
from alfred.judge.suite import run_suite, run_suites
from alfred.reports import exercism, feedback, gradescope, html, summary
from kits_lesson import skip_unless_the_kits_lesson

skip_unless_the_kits_lesson()  # lesson 7's corpora, loaded below

HIDDEN_DIR = SUITE_DIR / "hidden"


def hidden_tests(report):
    return [test for test in report["tests"] if test.get("hidden")]


@pytest.mark.slow
def test_the_reference_passes_every_hidden_check_and_the_run_records_its_seed(reference_report):
    assert hidden_tests(reference_report) and all(t["outcome"] == "passed" for t in hidden_tests(reference_report))
    assert isinstance(reference_report["hidden_seed"], int)


@pytest.mark.slow
def test_hidden_checks_run_after_every_visible_test(reference_report):
    """One submission process answers all of a student's probes: a visible test run after a hidden check could
    show, in its message, what the process kept of that check's inputs."""
    hidden_in_order = [bool(test.get("hidden")) for test in reference_report["tests"]]
    assert True in hidden_in_order and hidden_in_order == sorted(hidden_in_order)


@pytest.mark.slow
def test_the_lessons_hidden_sentences_are_its_hidden_tests(reference_report):
    """lesson.toml is what a student's run counts: it lists exactly the hidden tests, one entry per check."""
    ran = Counter((test["exercise"], test["hidden"]) for test in hidden_tests(reference_report))
    listed = Counter((exercise.id, sentence) for exercise in EXERCISES for sentence in exercise.hidden)
    assert ran == listed


@pytest.mark.slow
def test_hidden_tests_live_in_the_hidden_folder_and_only_there(reference_report):
    for test in reference_report["tests"]:
        in_folder = test["nodeid"].startswith(f"{HIDDEN_DIR.relative_to(KIT_ROOT).as_posix()}/")
        assert in_folder == bool(test["hidden"]), test["nodeid"]


@pytest.mark.slow
def test_every_homework_exercise_has_hidden_checks_that_fail_on_the_stubs(stub_report):
    for exercise in EXERCISES:
        mine = [test for test in hidden_tests(stub_report) if test["exercise"] == exercise.id]
        if exercise.number:
            assert mine and all(test["outcome"] == "failed" for test in mine), exercise.id
            assert all("Tried:" in test["message"] for test in mine)  # the teacher's view is whole


@pytest.mark.slow
def test_a_students_run_leaves_the_hidden_checks_out_and_counts_them():
    run = subprocess.run([sys.executable, "-m", "pytest", "exercises", "-p", "no:cacheprovider", "-rA"], cwd=KIT_ROOT,
                         capture_output=True, text=True, timeout=300)
    waiting = sum(len(exercise.hidden) for exercise in EXERCISES)
    assert f"{waiting} deselected" in run.stdout and "test_hidden_" not in run.stdout, run.stdout[-3000:]
    assert "seed" not in run.stdout  # nothing of the hidden checks' inputs in a student's run
    table = run.stdout[run.stdout.index("Lesson 7 progress"):]
    assert re.search(r"The lesson's worked example +\d+ / \d+ +visible: yes \(\+1 hidden\)", table), table
    assert "\nscore: 0 / 100 on the visible checks\n" in table


def hidden_messages(report):
    """What each failed hidden check tried: its inputs, in the teacher's view."""
    return {test["name"]: test["learner"]["tried"] for test in hidden_tests(report) if test["learner"]}


@pytest.mark.slow
def test_the_same_seed_draws_the_same_inputs_and_another_seed_others():
    first = run_suite(EXERCISES_MAIN, "--hidden-seed", "7")
    again = run_suite(EXERCISES_MAIN, "--hidden-seed", "7")
    other = run_suite(EXERCISES_MAIN, "--hidden-seed", "8")
    assert first["hidden_seed"] == 7 and other["hidden_seed"] == 8
    assert hidden_messages(first) == hidden_messages(again)
    differ = [name for name, tried in hidden_messages(first).items() if hidden_messages(other)[name] != tried]
    assert len(differ) >= len(hidden_messages(first)) - 1, differ  # a draw may repeat by chance, not all of them


@pytest.mark.slow
@pytest.mark.parametrize(("arguments", "environment", "said"), [
    (["--hidden-seed", "seven"], {}, "Invalid hidden seed 'seven' from --hidden-seed"),
    ([], {SEED_VARIABLE: "-3"}, f"Invalid hidden seed '-3' from the {SEED_VARIABLE} environment variable"),
], ids=["option", "environment"])
def test_a_bad_seed_stops_the_run_in_one_line_naming_its_source(arguments, environment, said):
    import os

    run = subprocess.run([sys.executable, "-m", "pytest", "--submission", str(SOLUTIONS_MAIN), *arguments,
                          "-p", "no:cacheprovider"], cwd=KIT_ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, **environment})
    assert run.returncode == pytest.ExitCode.USAGE_ERROR and said in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def _draws():
    spec = importlib.util.spec_from_file_location("hidden_draws", HIDDEN_DIR / "draws.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_every_draw_is_valid_for_the_lesson_and_none_is_a_visible_tests_input():
    draws, email = _draws(), TypeAdapter(EmailStr)
    quick_pattern = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    visible = "".join(module.read_text() for module in sorted(SUITE_DIR.glob("*.py")))  # tests and diagnoses
    for first in draws.FIRST:
        for last in draws.LAST:
            local = f"{first}.{last}42"
            for domain in draws.DOMAINS:
                assert email.validate_python(f"{local}@{domain}") and f"{local}@{domain}" not in visible
                for malformed in draws.MALFORMED:
                    bad = malformed(local, domain)
                    with pytest.raises(ValidationError):
                        email.validate_python(bad)
                    assert quick_pattern.match(bad), bad  # what a hand-made pattern lets through
    for villain in draws.VILLAINS:
        for subject in draws.SUBJECTS:
            for place in draws.PLACES:
                name = f"{villain}'s {subject} near {place}"
                assert len(name) > 30 and name not in visible, name


# --- What a student sees, what a teacher sees ---


SENTENCE = "the task must name the report it was given"
SECRET = "Riddler's secret lair near Gotham"


def _row():
    def test(name, exercise, outcome, hidden=None):
        message = "" if outcome == "passed" else f"Tried:    simulate('{SECRET}')\nGot:      x\nExpected: y\nHint:     z"
        learner = None if outcome == "passed" else {"tried": f"simulate('{SECRET}')", "got": "x", "expected": "y",
                                                    "hint": "z"}
        folder = "hidden/" if hidden else ""
        return {"nodeid": f"tests/lesson_07/{folder}test_x.py::{name}", "name": name, "exercise": exercise,
                "outcome": outcome, "message": message, "learner": learner, "hidden": hidden}

    tests = [test("test_task_visible", "task", "passed"),
             test("test_hidden_task_one", "task", "failed", SENTENCE),
             test("test_hidden_task_two", "task", "failed", SENTENCE),
             test("test_hidden_task_three", "task", "passed", "the task must sleep 5 s")]
    exercises = {e.id: {"score": 0.0, "max_score": e.points, "passed": 0, "total": 0} for e in EXERCISES}
    exercises["task"] = {"score": 12.5, "max_score": 25.0, "passed": 2, "total": 4}
    return {"student": "ann", "status": "graded", "score": 12.5, "max_score": 100.0, "exercises": exercises,
            "flags": [], "message": _headline({"tests": tests}), "tests": tests, "hidden_seed": 1234}


def test_a_student_sees_a_hidden_check_only_as_its_exercise_and_sentence():
    row = _row()
    line = f"2 hidden checks of exercise 2 (task) failed: {SENTENCE}"
    for_the_student = {
        "feedback": feedback.markdown(row),
        "gradescope": json.dumps(gradescope.results(row)),
        "exercism": json.dumps(exercism.results(row)),
        "headline": row["message"],
    }
    for kind, text in for_the_student.items():
        assert line in text or kind == "headline" and text.endswith(line), (kind, text)
        for secret in (SECRET, "test_hidden_task", "hidden/test_x.py", "1234", "Tried:"):
            assert secret not in text, (kind, secret)
    assert "1 hidden check of exercise 2 (task) passed: the task must sleep 5 s" in for_the_student["feedback"]
    results = gradescope.results(row)
    assert sum(test["score"] for test in results["tests"]) == row["score"]  # the hidden shares still count
    assert sum(test["max_score"] for test in results["tests"]) == 25.0
    assert [test["status"] for test in exercism.results(row)["tests"]] == ["pass", "fail", "pass"]


def test_the_teacher_sees_hidden_checks_whole_with_the_seed():
    row = _row()
    text = summary.markdown([row])
    assert "Exercise 2 (task), hidden: test_hidden_task_one" in text and SECRET in text
    assert "seed 1234 (`alfred grade --hidden-seed 1234`" in text
    page = html.page([row])
    assert 'id="hidden-seed"' in page and "1234" in page and "test_hidden_task_one" in page
    mixed = summary.markdown([row, {**_row(), "student": "bob", "hidden_seed": 99}])
    assert "several seeds" in mixed and "99 (1 student)" in mixed


# --- The handout and the bundle ---


def test_the_handout_leaves_the_hidden_checks_out_but_says_how_many_wait(tmp_path):
    written = write_handout(tmp_path / "handout")
    names = [path.relative_to(tmp_path / "handout").as_posix() for path in written]
    assert not [name for name in names if "/hidden/" in name or "test_hidden" in name], names
    for path in written:  # the engine's alfred/judge/hidden.py comes along: the plugin deselects, counts and seeds
        assert "mark.hidden(" not in path.read_text() or path.name == "hidden.py", path
    toml = (tmp_path / "handout" / "tests" / "lesson_07" / "lesson.toml").read_text()
    assert all(sentence in toml for exercise in EXERCISES for sentence in exercise.hidden)
    assert "6 hidden checks" in (tmp_path / "handout" / "README.md").read_text()


def test_the_handout_refuses_a_hidden_check_outside_the_hidden_folder(tmp_path, monkeypatch):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "lesson.toml").write_text((SUITE_DIR / "lesson.toml").read_text())
    (suite / "test_leak.py").write_text('import pytest\n\n@pytest.mark.hidden("x")\ndef test_x():\n    pass\n')
    monkeypatch.setattr(handout, "SUITE_DIR", suite)
    with pytest.raises(HandoutError, match="holds a hidden check"):
        write_handout(tmp_path / "handout")


def test_the_gradescope_bundle_holds_the_hidden_checks(tmp_path):
    with zipfile.ZipFile(bundle(tmp_path / "autograder.zip")) as archive:
        names = set(archive.namelist())
    for path in HIDDEN_DIR.glob("*.py"):
        assert f"kit/{path.relative_to(KIT_ROOT).as_posix()}" in names, path


# --- One seed per class ---


def test_a_class_keeps_its_seed_across_runs_into_one_out_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(SEED_VARIABLE, raising=False)
    out = tmp_path / "grades"
    out.mkdir()
    first = class_seed(out)
    assert (out / SEED_FILE).read_text().strip() == str(first)
    assert class_seed(out) == first  # a rerun, a resumed run, --student: the same inputs for everyone
    assert class_seed(out, 5) == 5 and class_seed(out) == 5  # --hidden-seed chooses, and is recorded
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv(SEED_VARIABLE, "77")
    assert class_seed(other) == 77  # a new --out: a new run, from the environment here


def test_a_seed_is_a_whole_number_or_a_uuid_such_as_a_kubernetes_jobs_uid():
    job = "3f2b8c1e-9a4d-4e7f-b6c5-0d1e2f3a4b5c"
    assert parse_seed(" 42 ", "test") == 42
    assert parse_seed(job, "test") == parse_seed(job.upper(), "test") == 0x3a4b5c + (0x2f << 24)  # its low 32 bits
    assert parse_seed(job, "test") != parse_seed(job.replace("5c", "5d"), "test")  # another Job, other inputs
    for text in ("seven", "-3", "3f2b8c1e9a4d4e7fb6c50d1e2f3a4b5c", "3f2b8c1e-9a4d-4e7f-b6c5-0d1e2f3a4b5z"):
        with pytest.raises(SeedError, match="give a whole number, 0 or more"):
            parse_seed(text, "test")


# --- Submissions fitted to the visible tests ---


FITTED = [sample for sample in corpus.load("wrong") if sample.name in {
    "task_hard_codes_the_visible_tests_reports", "endpoint_schedules_only_the_visible_tests_reports",
    "lesson_log_line_hard_codes_bruces_email", "model_report_name_max_length_30", "model_email_checked_with_a_pattern"}]


@pytest.mark.slow
def test_a_submission_fitted_to_the_visible_tests_loses_points_in_hidden_checks_only():
    assert len(FITTED) == 5
    reports = run_suites([sample.path for sample in FITTED], jobs=2)
    for sample in FITTED:
        report = reports[sample.path]
        failed = [test for test in report["tests"] if test["outcome"] != "passed"]
        assert failed and all(test["hidden"] for test in failed), (sample.name, report["hidden_seed"],
                                                                    [test["name"] for test in failed])
        assert {test["exercise"] for test in failed} == sample.loses, sample.name


@pytest.mark.slow
def test_alfred_grade_draws_one_seed_records_it_and_reproduces_a_run(tmp_path):
    entries = [read_submission(EXERCISES_MAIN, "stub", MAIN_CANDIDATES),
               read_submission(SOLUTIONS_MAIN, "reference", MAIN_CANDIDATES)]
    first = {row["student"]: row for row in grade_class(entries, tmp_path / "a", jobs=2, sandboxed=True)}
    seed = first["stub"]["hidden_seed"]
    assert first["reference"]["hidden_seed"] == seed and first["reference"]["score"] == 100
    assert f"seed {seed}" in (tmp_path / "a" / "summary.md").read_text()
    again = {row["student"]: row for row in grade_class(entries, tmp_path / "b", jobs=1, sandboxed=True,
                                                        hidden_seed=seed)}
    assert hidden_messages(again["stub"]) == hidden_messages(first["stub"])
    assert hidden_messages(again["stub"])  # the stub fails them: the inputs are in the teacher's messages
