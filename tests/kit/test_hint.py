"""`alfred hint [EXERCISE]`, run as a student runs it (a real `python -m alfred hint` in their project's folder):
the next hint of the first unfinished exercise, or of the one named, one at a time: first what its failing test
says to do, then the lesson's hints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alfred.grading import corpus
from alfred.handout import write_handout
from alfred.judge.suite import run_suite
from alfred.course.lesson import LESSON_VARIABLE, current, load
from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, SOLUTIONS_MAIN
from kits_lesson import the_kits_lesson_only

LESSON = current()
LESSON_99 = KIT_ROOT / "tests" / "kit" / "fixtures" / "course_99" / "tests" / "lesson_99"
CORPUS = corpus.CORPUS_DIR / "wrong"


def hint(project: Path, *args: str, lesson: Path | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != LESSON_VARIABLE}
    if lesson:
        environment[LESSON_VARIABLE] = str(lesson)
    return subprocess.run([sys.executable, "-m", "alfred", "hint", *args], cwd=project, env=environment,
                          capture_output=True, text=True, timeout=120)


def project_with(tmp_path: Path, main: Path, student_file: str = LESSON.student_file) -> Path:
    """A student's project: their file where the lesson puts it."""
    project = tmp_path / "project"
    (project / student_file).parent.mkdir(parents=True)
    shutil.copyfile(main, project / student_file)
    return project


def shown(run: subprocess.CompletedProcess) -> tuple[str, str, str]:
    """(heading, the hint as one line, the next: line) of a hint printed by `alfred hint`."""
    assert run.returncode == 0 and run.stderr == "", run.stderr
    lines = run.stdout.splitlines()
    return lines[0], " ".join(line.strip() for line in lines[1:-1]), lines[-1]


def state(project: Path) -> dict:
    return json.loads((project / ".alfred" / "hints.json").read_text())


def first_failure(main: Path, exercise_id: str) -> tuple[str, str]:
    """(test name, Hint field) of the exercise's first failure in the student's own run of `main`: what
    `pytest exercises -m EXERCISE` shows first."""
    report = run_suite(main, "-m", f"{exercise_id} and not hidden")
    test = next(test for test in report["tests"] if test["outcome"] == "failed")
    return test["nodeid"].split("::")[-1], test["learner"]["hint"]


@pytest.mark.slow
def test_hints_come_one_at_a_time_for_the_first_unfinished_exercise_then_for_the_one_named(tmp_path):
    project = project_with(tmp_path, EXERCISES_MAIN)  # the stub: the worked example done, exercise 1 not
    model, endpoint = LESSON.by_id["model"], LESSON.by_id["endpoint"]
    model_test, model_hint = first_failure(EXERCISES_MAIN, "model")
    endpoint_test, endpoint_hint = first_failure(EXERCISES_MAIN, "endpoint")

    heading, text, after = shown(hint(project))  # first what the failing test says, then the lesson's hints
    assert heading == f"Exercise 1 (model), IntelReportRequest model: hint 1 of 4, from the failing test {model_test}"
    assert text == model_hint and after == "next: `alfred hint model` for hint 2, or `pytest exercises -m model` to check your work"
    heading, text, _ = shown(hint(project))
    assert heading.endswith("hint 2 of 4") and text == model.hints[0]

    heading, text, _ = shown(hint(project, "endpoint"))
    assert heading == ("Exercise 3 (endpoint), POST /request-intel-report endpoint: hint 1 of 4, from the failing test "
                       f"{endpoint_test}") and text == endpoint_hint
    heading, text, _ = shown(hint(project, "1"))  # an exercise's number names it too
    assert heading.endswith("hint 3 of 4") and text == model.hints[1]
    heading, text, after = shown(hint(project, "model"))
    assert heading.endswith("hint 4 of 4") and text == model.hints[2]
    assert after == "next: `pytest exercises -m model` to check your work; that was the last hint"
    heading, text, _ = shown(hint(project, "model"))
    assert heading.endswith("hint 4 of 4 (the last one, again)") and text == model.hints[2]
    assert state(project) == {"lesson_07": {
        "model": {"lesson_hints_shown": 3, "failure_hint_shown": model_hint},
        "endpoint": {"lesson_hints_shown": 0, "failure_hint_shown": endpoint_hint}}}


@pytest.mark.slow
def test_the_first_hint_is_the_failures_and_a_new_failure_comes_first_again(tmp_path):
    project = project_with(tmp_path, CORPUS / "endpoint_adds_task_with_model_dump.py")
    endpoint = LESSON.by_id["endpoint"]
    heading, text, _ = shown(hint(project))
    assert heading.startswith("Exercise 3 (endpoint), POST /request-intel-report endpoint: hint 1 of 4, from the "
                              "failing test test_the_task_is_scheduled_with_the_received_report_request")
    assert "passes the received object itself" in text and "model_dump()" in text, text
    heading, text, _ = shown(hint(project))
    assert heading.endswith("hint 2 of 4") and text == endpoint.hints[0]

    shutil.copyfile(CORPUS / "endpoint_runs_task_inline.py", project / LESSON.student_file)  # fixed, and the next mistake
    inline_test, inline_hint = first_failure(project / LESSON.student_file, "endpoint")
    heading, text, _ = shown(hint(project))
    assert heading.endswith(f"hint 1 of 4, from the failing test {inline_test}") and text == inline_hint
    assert "passes the received object itself" not in text
    heading, text, _ = shown(hint(project))  # the lesson's hints go on where they were
    assert heading.endswith("hint 3 of 4") and text == endpoint.hints[1]


@pytest.mark.slow
def test_the_first_unfinished_exercise_is_the_one_the_students_file_fails(tmp_path):
    sample = next(sample for sample in corpus.load("wrong") if sample.loses == {"task"} and sample.path.is_file())
    project = project_with(tmp_path, sample.path)
    failing_test, failing_hint = first_failure(sample.path, "task")
    heading, text, _ = shown(hint(project))
    assert heading.startswith("Exercise 2 (task), ") and heading.endswith(f"from the failing test {failing_test}")
    assert text == failing_hint, sample.name
    heading, text, _ = shown(hint(project))
    assert heading.startswith("Exercise 2 (task), ") and text == LESSON.by_id["task"].hints[0], sample.name


@pytest.mark.slow
def test_when_every_exercise_passes_no_hint_is_needed(tmp_path):
    project = project_with(tmp_path, SOLUTIONS_MAIN)
    run = hint(project)
    assert run.returncode == 0 and run.stdout.startswith(
        "All visible checks of Lesson 7 pass; 6 hidden checks run when your work is graded: no hint needed."), run.stdout
    assert not (project / ".alfred").exists()
    heading, text, _ = shown(hint(project, "model"))  # nothing fails: the lesson's hints alone
    assert heading == "Exercise 1 (model), IntelReportRequest model: hint 1 of 3" and text == LESSON.by_id["model"].hints[0]
    assert state(project) == {"lesson_07": {"model": {"lesson_hints_shown": 1}}}


@pytest.mark.slow
def test_a_file_that_does_not_import_is_sent_to_its_error_first(tmp_path):
    project = project_with(tmp_path, KIT_ROOT / "tests" / "corpus" / "broken" / "indentation_error.py")
    run = hint(project)
    assert run.returncode == 0 and run.stdout == (
        f"{LESSON.student_file} does not import: run `pytest exercises` and fix the error its first failure names.\n")


@the_kits_lesson_only
@pytest.mark.slow
def test_outside_a_project_or_for_an_unknown_exercise_it_says_what_to_do_in_one_line(tmp_path):
    run = hint(tmp_path)
    assert run.returncode == 2 and run.stdout == "" and run.stderr == (
        f"alfred: no {LESSON.student_file} here or above; run `alfred hint` in your project's folder.\n")
    project = project_with(tmp_path, EXERCISES_MAIN)
    (project / "exercises" / "deeper").mkdir()
    run = hint(project / "exercises" / "deeper", "models")  # found from a folder inside the project
    assert run.returncode == 2 and run.stdout == "" and run.stderr == (
        "alfred: no exercise 'models' in Lesson 7; its exercises are lesson, model (1), task (2), endpoint (3), "
        "stretch (4).\n")


@pytest.mark.slow
def test_another_lesson_gives_its_own_hints(tmp_path):
    lesson_99 = load(LESSON_99)
    project = project_with(tmp_path, lesson_99.root / lesson_99.student_file, lesson_99.student_file)
    for entry in lesson_99.files:  # its templates/ and static/, beside main.py as the handout puts them
        shutil.copytree(lesson_99.root / lesson_99.student_file.rsplit("/", 1)[0] / entry,
                        project / lesson_99.student_file.rsplit("/", 1)[0] / entry)
    greet_hint = 'return {"message": f"Hello, {name}!"} from @app.get("/greet/{name}").'  # its tests' hints
    heading, text, after = shown(hint(project, lesson=LESSON_99))
    assert heading == ("Exercise 1 (greet), GET /greet/{name}: hint 1 of 3, from the failing test "
                       "test_greet_says_hello_by_name[Ada]") and text == greet_hint
    heading, text, _ = shown(hint(project, lesson=LESSON_99))
    assert heading == "Exercise 1 (greet), GET /greet/{name}: hint 2 of 3" and text == lesson_99.by_id["greet"].hints[0]
    heading, text, _ = shown(hint(project, "shout", lesson=LESSON_99))
    assert heading == "Exercise 2 (shout), shout(text): hint 1 of 2, from the failing test " \
        "test_shout_prints_the_text_in_capitals" and text == "print(text.upper() + '!')."
    assert state(project) == {"lesson_99": {"greet": {"lesson_hints_shown": 1, "failure_hint_shown": greet_hint},
                                            "shout": {"lesson_hints_shown": 0,
                                                      "failure_hint_shown": "print(text.upper() + '!')."}}}


@pytest.mark.slow
def test_the_handout_gives_hints_as_python_m_alfred_hint(tmp_path):
    handout = tmp_path / "handout"
    write_handout(handout)
    environment = {key: value for key, value in os.environ.items() if key != LESSON_VARIABLE}
    run = subprocess.run([sys.executable, "-m", "alfred.hint"], cwd=handout, env=environment, capture_output=True,
                         text=True, timeout=120)
    heading, text, after = shown(run)
    model_test, model_hint = first_failure(handout / LESSON.student_file, "model")
    assert heading == f"Exercise 1 (model), IntelReportRequest model: hint 1 of 4, from the failing test {model_test}"
    assert text == model_hint and after.startswith("next: `python -m alfred.hint model` for hint 2")
    assert state(handout) == {"lesson_07": {"model": {"lesson_hints_shown": 0, "failure_hint_shown": model_hint}}}
    assert ".alfred/" in (handout / ".gitignore").read_text()
