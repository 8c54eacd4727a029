"""The engine knows no lesson: a second lesson, kept as a fixture (tests/kit/fixtures/course_99/), with its
templates/, static/, Jinja2 and a page over 4 kB, goes through the handout in a fresh virtual environment
(`pytest exercises`, `python -m alfred.hint`), `pytest --submission`, `alfred grade` with every report format
and the Gradescope runner with ALFRED_LESSON pointing at it and no change to alfred/; alfred/ names nothing of
lesson 7; lesson files are read with their mistakes named; a page longer than the lesson's bound is said so.
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

import zipfile
from dataclasses import replace

import pytest
from kits_lesson import the_kits_lesson_only

from alfred.course.lesson import LESSON_VARIABLE, LessonError, current, load
from alfred.inside.probe import MAX_RESPONSE_CHARS
from alfred.judge.observation import page_bound
from alfred.reports import DEFAULT_FORMATS, FORMATS
from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, SOLUTIONS_MAIN
from kits_lesson import the_kits_lesson_only

COURSE = KIT_ROOT / "tests" / "kit" / "fixtures" / "course_99"
LESSON_99 = COURSE / "tests" / "lesson_99"
REFERENCE = COURSE / "solutions" / "lesson_99" / "main.py"
WRONG = COURSE / "wrong" / "main.py"  # greets well, lists the guests, shouts in lower case
STUB = COURSE / "exercises" / "lesson_99" / "main.py"
# Each sample's folder holds templates/ and static/ beside its main.py, as the lesson's `files` ask.


def _run(*args: str, cwd: Path = KIT_ROOT, lesson: Path | None = LESSON_99) -> subprocess.CompletedProcess:
    environment = {**os.environ, LESSON_VARIABLE: str(lesson)} if lesson else dict(os.environ)
    environment.pop("CI", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=300)


# --- the lesson file ---


def test_lesson_99_is_read_from_its_data():
    lesson = load(LESSON_99)
    assert (lesson.name, lesson.folder, lesson.ids) == ("Lesson 99", "lesson_99", ("greet", "shout", "guests"))
    assert lesson.root == COURSE and lesson.root / lesson.student_file == STUB
    assert [e.label for e in lesson.exercises] == ["Exercise 1 (greet)", "Exercise 2 (shout)", "Exercise 3 (guests)"]
    assert lesson.by_id["greet"].hints[0].startswith("Declare a GET route")
    assert (lesson.files, lesson.packages, lesson.response_chars) == (("templates/", "static/"), ("jinja2>=3.1,<4",), 16_000)


def test_a_lesson_may_raise_its_page_bound_only_within_the_judges_ceiling():
    lesson = load(LESSON_99)
    assert page_bound(lesson) == 16_000
    assert page_bound(replace(lesson, response_chars=MAX_RESPONSE_CHARS)) == MAX_RESPONSE_CHARS
    with pytest.raises(LessonError) as refused:
        page_bound(replace(lesson, response_chars=MAX_RESPONSE_CHARS + 1))
    assert str(refused.value) == (f"{LESSON_99 / 'lesson.toml'}: bounds: 'response_chars' may be at most "
                                  f"{MAX_RESPONSE_CHARS:,}, the most the judge reads, not {MAX_RESPONSE_CHARS + 1:,}.")


@the_kits_lesson_only
def test_lesson_7_is_the_kits_lesson_and_its_data_matches_its_files():
    lesson = current()
    assert lesson.name == "Lesson 7" and lesson.ids == ("lesson", "model", "task", "endpoint", "stretch")
    assert lesson.files == () and lesson.packages == () and lesson.response_chars == 2_000  # it needs none of them
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
    ('name = "L"\nstudent_file = "a"\nsolutions_file = "b"\nfiles = ["../secrets/"]\n[[exercises]]\nid = "x"\n'
     'title = "X"\npoints = 1\n', "'files' must name paths inside main.py's folder, like \"templates/\", not '../secrets/'"),
    ('name = "L"\nstudent_file = "a"\nsolutions_file = "b"\n[bounds]\nresponse_chars = 500\n[[exercises]]\nid = "x"\n'
     'title = "X"\npoints = 1\n', "bounds: 'response_chars' must be a whole number from 2,000, not 500"),
], ids=["no-exercises", "bad-points", "no-id", "repeated-id", "hints-not-a-list", "not-toml", "files-outside",
        "bound-below-the-default"])
def test_a_bad_lesson_file_is_refused_naming_the_file_and_the_mistake(tmp_path, text, words):
    (tmp_path / "lesson.toml").write_text(text)
    with pytest.raises(LessonError) as refused:
        load(tmp_path)
    assert str(tmp_path / "lesson.toml") in str(refused.value) and words in str(refused.value)


@pytest.mark.slow
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


@pytest.mark.slow
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
    """Its main.py given alone (wrong/main.py) is graded with the templates/ and static/ of its folder."""
    scores = {}
    for name, sample in (("reference", REFERENCE.parent), ("wrong", WRONG), ("stub", STUB.parent)):
        score_file = tmp_path / f"{name}.json"
        run = _run("-m", "pytest", f"--submission={sample}", f"--score-json={score_file}", "-p", "no:cacheprovider")
        assert run.returncode in (0, 1), run.stdout[-3000:] + run.stderr[-3000:]
        assert "Lesson 99 progress" in run.stdout and "with the Lesson 99 suite" in run.stdout, run.stdout[-2000:]
        scores[name] = json.loads(score_file.read_text())
    assert scores["reference"]["score"] == 100 and scores["wrong"]["score"] == 80 and scores["reference"]["max_score"] == 100
    assert {i: e["score"] for i, e in scores["wrong"]["exercises"].items()} == {"greet": 40, "shout": 0, "guests": 40}
    failed = [test for test in scores["wrong"]["tests"] if test["outcome"] == "failed"]
    assert [test["learner"] for test in failed] == [{
        "tried": "shout('quiet please')", "got": 'it printed "quiet please!"',
        "expected": 'it to print "QUIET PLEASE!"', "hint": "print(text.upper() + '!')."}]
    assert scores["stub"]["score"] == 0 and len(scores["stub"]["tests"]) == 6


@pytest.mark.slow
def test_a_main_py_without_the_lessons_project_files_is_told_which_it_lacks(tmp_path):
    alone = tmp_path / "alone" / "main.py"
    alone.parent.mkdir()
    shutil.copyfile(REFERENCE, alone)
    run = _run("-m", "pytest", f"--submission={alone}", "-p", "no:cacheprovider")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR and run.stdout == "", run.stdout[-2000:]
    assert run.stderr.strip() == (f"ERROR: {alone.parent} has no `templates/` and no `static/`: Lesson 99 keeps "
                                  "`templates/`, `static/` beside main.py, so hand in the whole folder that holds "
                                  "main.py, not main.py alone.")
    hint = _run("-m", "alfred", "hint", cwd=_project_of(tmp_path / "project", REFERENCE, with_files=False))
    assert hint.returncode == 2 and hint.stderr.startswith("alfred: ") and "has no `templates/`" in hint.stderr, hint.stderr


def _project_of(folder: Path, main: Path, with_files: bool = True) -> Path:
    """A student's project as the lesson lays it out: main.py where the lesson puts it, with (or without) the
    templates/ and static/ beside it."""
    lesson = load(LESSON_99)
    student_file = folder / lesson.student_file
    student_file.parent.mkdir(parents=True)
    shutil.copyfile(main, student_file)
    for entry in lesson.files if with_files else ():
        shutil.copytree(main.parent / entry, student_file.parent / entry)
    return folder


@pytest.mark.slow
def test_a_page_longer_than_the_lessons_bound_fails_saying_so(tmp_path):
    """The same lesson without its [bounds]: the guest book's 10 kB page is read to 2,000 characters only, and
    every failure it causes says the page was longer than the grader reads."""
    course = tmp_path / "course_99"
    shutil.copytree(COURSE, course)
    toml = course / "tests" / "lesson_99" / "lesson.toml"
    toml.write_text(re.sub(r"\[bounds\]\n(#.*\n)*response_chars = .*\n", "", toml.read_text()))
    assert load(toml).response_chars == 2_000
    score_file = tmp_path / "score.json"
    run = _run("-m", "pytest", f"--submission={course / 'solutions' / 'lesson_99'}", f"--score-json={score_file}",
               "-p", "no:cacheprovider", lesson=toml.parent)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    failed = [test for test in json.loads(score_file.read_text())["tests"] if test["outcome"] == "failed"]
    assert [test["name"] for test in failed] == ["test_guests_page_links_every_guest_to_their_greeting",
                                                 "test_guests_page_counts_the_guests_at_its_end"], failed
    for test in failed:
        assert test["learner"]["got"].endswith(
            "(note: GET /guests answered a page of 10,362 characters, longer than the 2,000 the grader reads, so "
            "what comes after those was not checked; the lesson may raise `response_chars` in its lesson.toml's "
            "[bounds])"), test["learner"]


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
    for student, sample in (("ada", REFERENCE), ("grace", WRONG), ("stub", STUB)):  # each folder whole
        shutil.copytree(sample.parent, class_folder / student)
    shutil.copyfile(REFERENCE, class_folder / "linus.py")  # main.py alone: told what it lacks, never graded without
    extra = [option for name in sorted(set(FORMATS) - set(DEFAULT_FORMATS)) for option in ("--format", name)]
    run = _run("-m", "alfred", "grade", str(class_folder), "--out", str(out), "--json", "--jobs", "2", *extra)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {row["student"]: row for row in map(json.loads, run.stdout.splitlines())}
    assert {student: row["score"] for student, row in rows.items()} == {"ada": 100, "grace": 80, "stub": 0, "linus": 0}
    assert rows["grace"]["message"].startswith("1 of 6 tests not passed (Exercise 2 (shout)). First: tried "
                                               "shout('quiet please'), got it printed \"quiet please!\"")
    assert rows["linus"]["status"] == "error" and rows["linus"]["message"].endswith(
        "linus.py has no `templates/` and no `static/`: Lesson 99 keeps `templates/`, `static/` beside main.py, so "
        "hand in the whole folder that holds main.py, not main.py alone"), rows["linus"]
    for name in FORMATS:
        for pattern in REPORT_FILES[name]:
            for student in ("ada", "grace", "stub") if "{}" in pattern else ("",):
                assert (out / pattern.format(student)).is_file(), (name, pattern.format(student))
    with (out / "gradebook.csv").open() as handle:
        assert next(csv.reader(handle))[:4] == ["student", "greet", "shout", "guests"]
    assert (out / "feedback" / "grace.md").read_text().startswith("# Lesson 99 feedback")
    assert "| Exercise 2 (shout): test_shout_prints_the_text_in_capitals | 1/3 |" in (out / "summary.md").read_text()
    gradescope = json.loads((out / "results" / "grace.json").read_text())
    assert [test["name"].split(":")[0] for test in gradescope["tests"]] == \
        ["Exercise 1 (greet)"] * 2 + ["Exercise 2 (shout)"] + ["Exercise 3 (guests)"] * 3
    everything = "\n".join(path.read_text() for path in out.rglob("*") if path.is_file() and path.parent.name != "cache")
    assert not [name for name in LESSON_7_NAMES if name in everything]


# --- the second lesson handed out, and graded on Gradescope ---


@pytest.fixture(scope="module")
def handout_99(tmp_path_factory) -> tuple[Path, str]:
    """Lesson 99's handout (`alfred handout`), installed as a student installs it in a fresh virtual
    environment: (its folder, that environment's Python). The one environment this module builds."""
    folder = tmp_path_factory.mktemp("handout-99") / "lesson-99"
    written = _run("-m", "alfred", "handout", str(folder))
    assert written.returncode == 0, written.stderr[-3000:]
    venv = tmp_path_factory.mktemp("handout-99-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "-e", str(folder)],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return folder, str(venv / "bin" / "python")


def _student_runs(python: str, folder: Path, *args: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in (LESSON_VARIABLE, "CI", "PYTHONPATH")}
    return subprocess.run([python, *args], cwd=folder, env=environment, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_the_second_lesson_is_handed_out_with_its_files_and_packages_and_works_in_a_fresh_environment(handout_99, tmp_path):
    folder, python = handout_99
    lesson = load(LESSON_99)
    given = folder / "exercises" / "lesson_99"
    for entry in lesson.files:  # byte for byte, beside the student's main.py
        for file in (STUB.parent / entry).rglob("*"):
            assert (given / file.relative_to(STUB.parent)).read_bytes() == file.read_bytes(), file
    handed = (folder / "pyproject.toml").read_text()
    assert '"jinja2>=3.1,<4"' in handed and 'lesson = "tests/lesson_99"' in handed
    readme = (folder / "README.md").read_text()
    assert "`cd exercises/lesson_99 && uvicorn main:app --reload`" in readme
    assert "the folder `exercises/lesson_99` whole (main.py with `templates/`, `static/` beside it)" in readme
    jinja = _student_runs(python, folder, "-c", "import jinja2")  # installed by the handout's own dependencies
    assert jinja.returncode == 0, jinja.stderr

    stubs = _student_runs(python, folder, "-m", "pytest", "exercises", "-p", "no:cacheprovider")
    assert stubs.returncode == 1 and "\nscore: 0 / 100\nnext: Exercise 1 (greet)" in stubs.stdout, stubs.stdout[-3000:]
    assert "Tried:" in stubs.stdout and "Traceback" not in stubs.stdout and "RuntimeError" not in stubs.stdout
    hint = _student_runs(python, folder, "-m", "alfred.hint")  # no exercise named: it runs the suite first
    assert hint.returncode == 0 and hint.stdout.startswith(
        "Exercise 1 (greet), GET /greet/{name}: hint 1 of 3, from the failing test "), \
        hint.stdout + hint.stderr

    solved = tmp_path / "solved"
    shutil.copytree(folder, solved)
    shutil.copyfile(REFERENCE, solved / "exercises" / "lesson_99" / "main.py")
    for command in (["exercises"], ["--submission=exercises/lesson_99/main.py"]):
        run = _student_runs(python, solved, "-m", "pytest", *command, "-p", "no:cacheprovider")
        assert run.returncode == 0 and "\nscore: 100 / 100\n" in run.stdout, run.stdout[-3000:]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None or shutil.which("bash") is None,
                    reason="the Gradescope runner is bash and grades in bubblewrap")
def test_the_second_lesson_is_graded_by_its_gradescope_bundle(tmp_path):
    bundled = _run("-m", "alfred", "bundle", "gradescope", "--out", str(tmp_path / "autograder.zip"))
    assert bundled.returncode == 0, bundled.stderr[-3000:]
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "source")
    assert "kit/tests/kit/fixtures/course_99/exercises/lesson_99/templates/guests.html" in names
    assert not [name for name in names if "/solutions/" in name or "/corpus/" in name or "/attacks/" in name]
    assert "'jinja2>=3.1,<4'" in (tmp_path / "source" / "setup.sh").read_text()
    results = {}
    for upload, sample, alone in (("folder", WRONG, False), ("alone", REFERENCE, True)):
        root = tmp_path / upload
        if alone:
            (root / "submission").mkdir(parents=True)
            shutil.copyfile(sample, root / "submission" / "main.py")
        else:
            shutil.copytree(sample.parent, root / "submission" / "my-project")
        environment = {key: value for key, value in os.environ.items() if key != LESSON_VARIABLE}
        environment.update(ALFRED_AUTOGRADER_ROOT=str(root), ALFRED_PYTHON=sys.executable,  # setup.sh's venv, as here
                           PYTHONPATH=str(tmp_path / "source" / "kit"))  # the bundle's kit grades, as on Gradescope
        graded = subprocess.run(["bash", str(tmp_path / "source" / "run_autograder")], capture_output=True, text=True,
                                env=environment, cwd=root, timeout=300)
        assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
        results[upload] = json.loads((root / "results" / "results.json").read_text())
    assert results["folder"]["score"] == 80 and len(results["folder"]["tests"]) == 6, results["folder"]
    assert results["alone"]["score"] == 0 and "has no `templates/` and no `static/`" in results["alone"]["output"], \
        results["alone"]
