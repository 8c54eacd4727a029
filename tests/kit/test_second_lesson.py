"""The engine knows no lesson: a second lesson, kept as a fixture (tests/kit/fixtures/course_99/), goes through
`pytest --submission`, `alfred grade` with every report format and `alfred hint` with ALFRED_LESSON pointing at
it and no change to alfred/; alfred/ names nothing of lesson 7; lesson files are read with their mistakes named.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alfred.course.lesson import LESSON_VARIABLE, LessonError, current, load
from alfred.reports import DEFAULT_FORMATS, FORMATS
from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, SOLUTIONS_MAIN

COURSE = KIT_ROOT / "tests" / "kit" / "fixtures" / "course_99"
LESSON_99 = COURSE / "tests" / "lesson_99"
REFERENCE = COURSE / "solutions" / "lesson_99" / "main.py"
WRONG = COURSE / "wrong" / "main.py"  # greets well, shouts in lower case
STUB = COURSE / "exercises" / "lesson_99" / "main.py"


def _run(*args: str, cwd: Path = KIT_ROOT, lesson: Path | None = LESSON_99) -> subprocess.CompletedProcess:
    environment = {**os.environ, LESSON_VARIABLE: str(lesson)} if lesson else dict(os.environ)
    environment.pop("CI", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=300)


# --- the lesson file ---


def test_lesson_99_is_read_from_its_data():
    lesson = load(LESSON_99)
    assert (lesson.name, lesson.folder, lesson.ids) == ("Lesson 99", "lesson_99", ("greet", "shout"))
    assert lesson.root == COURSE and lesson.root / lesson.student_file == STUB
    assert [e.label for e in lesson.exercises] == ["Exercise 1 (greet)", "Exercise 2 (shout)"]
    assert lesson.by_id["greet"].hints[0].startswith("Declare a GET route")


def test_lesson_7_is_the_kits_lesson_and_its_data_matches_its_files():
    lesson = current()
    assert lesson.name == "Lesson 7" and lesson.ids == ("lesson", "model", "task", "endpoint", "stretch")
    assert lesson.root / lesson.student_file == EXERCISES_MAIN and lesson.root / lesson.solutions_file == SOLUTIONS_MAIN
    stub, solution = EXERCISES_MAIN.read_text(), SOLUTIONS_MAIN.read_text()
    for exercise in lesson.homework:
        assert exercise.todo and exercise.todo in stub, exercise
        assert exercise.hints, exercise
    for name in (name for exercise in lesson.exercises for name in exercise.names):
        assert re.search(rf"^(def|class) {name}\b", solution, re.MULTILINE), name


@pytest.mark.parametrize(("text", "words"), [
    ('name = "L"\nstudent_file = "a"\nsolutions_file = "b"\n', "no [[exercises]]"),
    ('name = "L"\nstudent_file = "a"\nsolutions_file = "b"\n[[exercises]]\nid = "x"\ntitle = "X"\npoints = "ten"\n',
     "exercise 1: 'points' must be a number"),
    ('name = "L"\nstudent_file = "a"\nsolutions_file = "b"\n[[exercises]]\ntitle = "X"\npoints = 1\n',
     "exercise 1: 'id' must be a text"),
    ('name = "L"\nstudent_file = "a"\nsolutions_file = "b"\n[[exercises]]\nid = "x"\ntitle = "X"\npoints = 1\n'
     '[[exercises]]\nid = "x"\ntitle = "Y"\npoints = 1\n', "the exercise id 'x' is used twice"),
    ('name = "L"\nstudent_file = "a"\nsolutions_file = "b"\n[[exercises]]\nid = "x"\ntitle = "X"\npoints = 1\n'
     'hints = "one"\n', "exercise 1: 'hints' must be a list of str"),
    ("name = ", "is not valid TOML"),
], ids=["no-exercises", "bad-points", "no-id", "repeated-id", "hints-not-a-list", "not-toml"])
def test_a_bad_lesson_file_is_refused_naming_the_file_and_the_mistake(tmp_path, text, words):
    (tmp_path / "lesson.toml").write_text(text)
    with pytest.raises(LessonError) as refused:
        load(tmp_path)
    assert str(tmp_path / "lesson.toml") in str(refused.value) and words in str(refused.value)


@pytest.mark.parametrize("command", [["-m", "alfred", "grade"], ["-m", "alfred", "hint"],
                                     ["-c", "import sys; from alfred.__main__ import main; sys.exit(main(['grade']))"],
                                     ["-m", "alfred.hint"], ["-m", "alfred.watch"]],
                         ids=["python -m alfred grade", "python -m alfred hint", "the alfred command",
                              "python -m alfred.hint (the handout's)", "python -m alfred.watch (the handout's)"])
def test_the_alfred_command_stops_on_a_bad_lesson_file_in_one_line(tmp_path, command):
    (tmp_path / "lesson.toml").write_text('name = "L"\nstudent_file = "a"\nsolutions_file = "b"\n[[exercises]]\n'
                                          'id = "x"\ntitle = "X"\npoints = -1\n')
    run = _run(*command, lesson=tmp_path)
    assert run.returncode == 2 and run.stdout == "", run.stdout[-2000:]
    assert run.stderr.strip() == f"alfred: {tmp_path / 'lesson.toml'}: exercise 1: 'points' must be a number, 0 or more, not -1."


def test_pytest_stops_on_a_bad_lesson_file_in_one_line(tmp_path):
    (tmp_path / "lesson.toml").write_text('name = "L"\nstudent_file = "a"\nsolutions_file = "b"\n[[exercises]]\n'
                                          'id = "x"\ntitle = "X"\npoints = -1\n')
    run = _run("-m", "pytest", "-p", "no:cacheprovider", "exercises", lesson=tmp_path)
    assert run.returncode == pytest.ExitCode.USAGE_ERROR and run.stdout == "", run.stdout[-2000:]
    assert run.stderr.strip() == f"ERROR: {tmp_path / 'lesson.toml'}: exercise 1: 'points' must be a number, 0 or more, not -1."


# --- the engine holds no lesson ---

LESSON_7_NAMES = ("IntelReportRequest", "simulate_intel_report_compilation", "log_batcomputer_activity",
                  "request-intel-report", "log-activity", "batcomputer", "Lesson 7", "lesson_07", "recipient_email",
                  "report_name", "activity_log")


def test_the_engine_names_nothing_of_lesson_7():
    found = []
    for path in sorted((KIT_ROOT / "alfred").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            found += [f"{path.relative_to(KIT_ROOT)}:{number}: {name}" for name in LESSON_7_NAMES
                      if name.lower() in line.lower()]
    assert not found, "\n".join(found)


# --- the second lesson through the whole kit ---


@pytest.mark.slow
def test_a_second_lesson_is_graded_by_pytest_submission(tmp_path):
    scores = {}
    for name, sample in (("reference", REFERENCE), ("wrong", WRONG), ("stub", STUB)):
        score_file = tmp_path / f"{name}.json"
        run = _run("-m", "pytest", f"--submission={sample}", f"--score-json={score_file}", "-p", "no:cacheprovider")
        assert run.returncode in (0, 1), run.stdout[-3000:] + run.stderr[-3000:]
        assert "Lesson 99 progress" in run.stdout and "with the Lesson 99 suite" in run.stdout, run.stdout[-2000:]
        scores[name] = json.loads(score_file.read_text())
    assert scores["reference"]["score"] == 100 and scores["wrong"]["score"] == 60 and scores["reference"]["max_score"] == 100
    assert {i: e["score"] for i, e in scores["wrong"]["exercises"].items()} == {"greet": 60, "shout": 0}
    failed = [test for test in scores["wrong"]["tests"] if test["outcome"] == "failed"]
    assert [test["learner"] for test in failed] == [{
        "tried": "shout('quiet please')", "got": 'it printed "quiet please!"',
        "expected": 'it to print "QUIET PLEASE!"', "hint": "print(text.upper() + '!')."}]
    assert scores["stub"]["score"] == 0 and len(scores["stub"]["tests"]) == 3


# Where each report format writes, for the class below; a new format must say here what it writes.
REPORT_FILES = {"gradebook": ["gradebook.csv"], "summary": ["summary.md"], "feedback": ["feedback/{}.md"],
                "gradescope": ["results/{}.json"], "exercism": ["exercism/{}.json"], "html": ["report.html"],
                "prairielearn": ["prairielearn/{}.json"], "canvas": ["canvas.csv"], "moodle": ["moodle.csv"],
                "junit": ["junit/{}.xml"]}


@pytest.mark.slow
def test_a_second_lesson_goes_through_alfred_grade_and_every_report(tmp_path):
    assert set(FORMATS) <= set(REPORT_FILES), f"say in REPORT_FILES what {set(FORMATS) - set(REPORT_FILES)} writes"
    shutil.which("bwrap") or pytest.skip("alfred grade needs bubblewrap")
    class_folder, out = tmp_path / "class", tmp_path / "out"
    class_folder.mkdir()
    for student, sample in (("ada", REFERENCE), ("grace", WRONG), ("stub", STUB)):
        shutil.copyfile(sample, class_folder / f"{student}.py")
    extra = [option for name in sorted(set(FORMATS) - set(DEFAULT_FORMATS)) for option in ("--format", name)]
    run = _run("-m", "alfred", "grade", str(class_folder), "--out", str(out), "--json", "--jobs", "2", *extra)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {row["student"]: row for row in map(json.loads, run.stdout.splitlines())}
    assert {student: row["score"] for student, row in rows.items()} == {"ada": 100, "grace": 60, "stub": 0}
    assert rows["grace"]["message"].startswith("1 of 3 tests not passed (Exercise 2 (shout)). First: tried "
                                               "shout('quiet please'), got it printed \"quiet please!\"")
    for name in FORMATS:
        for pattern in REPORT_FILES[name]:
            for student in ("ada", "grace", "stub") if "{}" in pattern else ("",):
                assert (out / pattern.format(student)).is_file(), (name, pattern.format(student))
    with (out / "gradebook.csv").open() as handle:
        assert next(csv.reader(handle))[:3] == ["student", "greet", "shout"]
    assert (out / "feedback" / "grace.md").read_text().startswith("# Lesson 99 feedback")
    assert "| Exercise 2 (shout): test_shout_prints_the_text_in_capitals | 1/3 |" in (out / "summary.md").read_text()
    gradescope = json.loads((out / "results" / "grace.json").read_text())
    assert [test["name"].split(":")[0] for test in gradescope["tests"]] == ["Exercise 1 (greet)"] * 2 + ["Exercise 2 (shout)"]
    everything = "\n".join(path.read_text() for path in out.rglob("*") if path.is_file() and path.parent.name != "cache")
    assert not [name for name in LESSON_7_NAMES if name in everything]
