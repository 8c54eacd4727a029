"""`alfred grade`, end to end: the demo class, a class from the corpus, bad input, resuming.

Student code runs in bubblewrap here, as in real grading (`.ci/run` installs bubblewrap).
"""

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from alfred.grading import corpus
from alfred.cli import DEMO_CLASS, main
from alfred.course.exercises import IDS
from alfred.judge.suite import run_suites
from alfred.course.targets import SOLUTIONS_MAIN
from kits_lesson import skip_unless_the_kits_lesson

skip_unless_the_kits_lesson()  # lesson 7's corpora, loaded below

pytestmark = pytest.mark.slow

# A copy of the published format (shared/specs), kept with the tests so the check runs anywhere.
GRADESCOPE_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "gradescope-results.schema.json").read_text())
EXERCISM_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "exercism-results-v3.schema.json").read_text())


def grade(capsys, *args):
    code = main(["grade", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def json_rows(out):
    return {row["student"]: row for row in map(json.loads, out.splitlines())}


@pytest.fixture(scope="module")
def demo_grades(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "grades"
    completed = subprocess.run([sys.executable, "-m", "alfred", "grade", "--out", str(out), "--json",
                                "--format", "exercism"],
                               capture_output=True, text=True, timeout=300, cwd=tmp_path_factory.getbasetemp())
    return completed, out


def test_demo_class_is_graded_by_the_real_command(demo_grades):
    completed, out = demo_grades
    assert completed.returncode == 0, completed.stderr
    rows = json_rows(completed.stdout)
    assert set(rows) == {path.stem for path in DEMO_CLASS.iterdir()}
    assert rows["dick_grayson"]["score"] == 100
    assert rows["dick_grayson"]["flags"] == []  # an honest submission raises no flag, wherever the kit lives
    assert rows["tim_drake"]["status"] == "error" and "line" in rows["tim_drake"]["message"]
    for row in rows.values():  # the seed of the hidden checks, the same for the whole class
        assert set(row) == {"student", "status", "score", "max_score", "exercises", "flags", "message", "hidden_seed"}
        assert row["hidden_seed"] == int((out / "hidden-seed").read_text())
        assert set(row["exercises"]) == set(IDS)
    gradebook = (out / "gradebook.csv").read_text().splitlines()
    assert gradebook[0].startswith("student,lesson,model,task,endpoint,stretch,total")
    assert len(gradebook) == 1 + len(rows)
    assert "Pass rate per test" in (out / "summary.md").read_text()
    assert "Score:" in (out / "feedback" / "jason_todd.md").read_text()


FEEDBACK_LINES = 90  # a file a teacher sends as it is: a few screens, not every test of the lesson


def test_demo_class_feedback_is_short_with_the_score_and_the_first_thing_to_fix_on_top(demo_grades):
    _, out = demo_grades
    for feedback in sorted((out / "feedback").glob("*.md")):
        lines = feedback.read_text().splitlines()
        assert len(lines) < FEEDBACK_LINES, (feedback.name, len(lines))
        assert lines[2].startswith("Score: "), feedback.name
        blocks = ["\n".join(lines[i + 1:i + 4]) for i, line in enumerate(lines) if line.strip().startswith("Tried:")]
        assert len(blocks) == len(set(blocks)), feedback.name  # what was got, expected and hinted, told once
    jason = (out / "feedback" / "jason_todd.md").read_text().splitlines()
    assert jason[4].startswith("First to fix, in "), jason[:6]


def test_every_results_file_is_valid_gradescope_json(demo_grades):
    _, out = demo_grades
    files = sorted((out / "results").glob("*.json"))
    assert files
    for path in files:
        jsonschema.validate(json.loads(path.read_text()), GRADESCOPE_SCHEMA)


def test_every_exercism_file_is_valid_interface_3_json_with_tests_in_order(demo_grades):
    _, out = demo_grades
    files = {path.stem: json.loads(path.read_text()) for path in (out / "exercism").glob("*.json")}
    assert set(files) == {path.stem for path in DEMO_CLASS.iterdir()}
    for results in files.values():
        jsonschema.validate(results, EXERCISM_SCHEMA)
    assert files["tim_drake"]["status"] == "error" and "line" in files["tim_drake"]["message"]
    assert files["dick_grayson"]["status"] == "pass"
    tests = files["jason_todd"]["tests"]
    assert files["jason_todd"]["status"] == "fail" and any(test["status"] == "fail" for test in tests)
    visible = [test for test in tests if not test["name"].startswith("hidden checks: ")]
    assert all(test["test_code"].startswith(f"def {test['name'].split('[')[0]}(") for test in visible)
    hidden = [test for test in tests if test not in visible]  # one entry per sentence, its code never shown
    assert hidden and all(test["test_code"] == "" for test in hidden)
    task_ids = [test.get("task_id", 0) for test in tests]
    assert task_ids == sorted(task_ids) and set(task_ids) == {0, 1, 2, 3, 4}  # the worked example has none
    assert not (out / "results.json").exists()  # a class: one file per student, no single results.json


CLASS_SAMPLES = [
    *corpus.load("correct")[:2], *corpus.load("wrong")[::6], *corpus.load("broken")[:3],
]


def test_a_class_from_the_corpus_gets_exactly_the_scores_each_submission_gets_alone(tmp_path, capsys):
    klass = tmp_path / "class"
    klass.mkdir()
    for sample in CLASS_SAMPLES:
        shutil.copy(sample.path, klass / sample.path.name)
    code, out, err = grade(capsys, klass, "--out", tmp_path / "grades", "--json", "--jobs", "2")
    assert code == 0, err
    rows = json_rows(out)
    alone = run_suites([sample.path for sample in CLASS_SAMPLES])
    for sample in CLASS_SAMPLES:
        row, single = rows[sample.name], alone[sample.path]
        assert row["score"] == single["score"], (sample.name, row["message"])
        assert row["exercises"] == single["exercises"], sample.name


def test_a_rerun_skips_unchanged_work_and_regrades_what_changed(tmp_path, capsys):
    klass = tmp_path / "class"
    klass.mkdir()
    shutil.copy(SOLUTIONS_MAIN, klass / "alice.py")
    shutil.copy(DEMO_CLASS / "tim_drake.py", klass / "tim.py")
    out = tmp_path / "grades"
    grade(capsys, klass, "--out", out)
    _, _, err = grade(capsys, klass, "--out", out)
    assert "alice: graded, 100/100 (unchanged)" in err and "tim: error, 0/100 (unchanged)" in err
    shutil.copy(SOLUTIONS_MAIN, klass / "tim.py")
    _, _, err = grade(capsys, klass, "--out", out)
    assert "alice: graded, 100/100 (unchanged)" in err and "tim: graded, 100/100\n" in err
    _, _, err = grade(capsys, klass, "--out", out, "--student", "alice", "--force")
    assert err.startswith("alice: graded, 100/100\n") and "tim:" not in err
    gradebook = (out / "gradebook.csv").read_text()
    assert "\nalice," in gradebook and "\ntim," in gradebook  # one student regraded, the class still listed


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda root: None, "does not exist"),
        (lambda root: root.mkdir(), "No submissions found"),
    ],
    ids=["missing-path", "empty-class"],
)
def test_bad_paths_are_one_line_errors(tmp_path, capsys, make, expected):
    target = tmp_path / "class"
    make(target)
    code, out, err = grade(capsys, target, "--out", tmp_path / "grades")
    assert code == 2 and out == ""
    assert expected in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("given", "expected"),
    [("grades.txt", "is a file"), ("missing/grades", "does not exist"), ("grades.txt/grades", "is not a folder")],
    ids=["a file", "a missing parent folder", "a parent that is a file"],
)
def test_a_bad_out_option_is_a_one_line_error_before_any_grading(tmp_path, capsys, given, expected):
    (tmp_path / "grades.txt").write_text("not a folder")
    code, stdout, err = grade(capsys, DEMO_CLASS / "dick_grayson.py", "--out", tmp_path / given)
    assert code == 2 and stdout == ""
    assert expected in err and len(err.strip().splitlines()) == 1


def test_unreadable_submissions_get_an_error_row_and_the_rest_are_graded(tmp_path, capsys):
    klass = tmp_path / "class"
    (klass / "no_main").mkdir(parents=True)
    (klass / "no_main" / "notes.txt").write_text("I forgot to upload main.py")
    (klass / "binary.py").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff" * 10)
    (klass / "huge.py").write_text("# " + "x" * 2_000_000)
    outside = tmp_path / "outside.py"
    shutil.copy(SOLUTIONS_MAIN, outside)
    (klass / "linked.py").symlink_to(outside)
    shutil.copy(SOLUTIONS_MAIN, klass / "honest.py")
    code, out, err = grade(capsys, klass, "--out", tmp_path / "grades", "--json")
    assert code == 0, err
    rows = json_rows(out)
    assert rows["honest"]["score"] == 100
    expected = {"no_main": "no main.py", "binary": "not UTF-8", "huge": "at most", "linked": "symbolic link"}
    for student, words in expected.items():
        assert rows[student]["status"] == "error" and words in rows[student]["message"], rows[student]


def test_endless_loops_and_output_floods_are_contained(tmp_path, capsys):
    klass = tmp_path / "class"
    klass.mkdir()
    solution = SOLUTIONS_MAIN.read_text()
    (klass / "loops.py").write_text("while True:\n    pass\n" + solution)
    (klass / "floods.py").write_text(solution.replace(
        "    time.sleep(5)\n", "    time.sleep(5)\n    print('spam ' * 1000 * 1000)\n    sys.stdout.write('x' * 10**8)\n"
    ).replace("import time\n", "import sys\nimport time\n"))
    shutil.copy(SOLUTIONS_MAIN, klass / "honest.py")
    code, out, err = grade(capsys, klass, "--out", tmp_path / "grades", "--json")
    assert code == 0, err
    rows = json_rows(out)
    assert rows["loops"]["status"] == "timeout" and "killed for time" in rows["loops"]["flags"]
    assert rows["floods"]["exercises"]["model"]["score"] == 20 and "output cut" in rows["floods"]["flags"]
    assert rows["honest"]["score"] == 100


def test_without_bubblewrap_grading_refuses_and_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on this PATH
    code, out, err = grade(capsys, DEMO_CLASS / "dick_grayson.py", "--out", tmp_path / "grades")
    assert code == 2 and "apt-get install bubblewrap" in err and "--no-sandbox" in err


def test_no_sandbox_marks_every_result(tmp_path, capsys):
    code, out, err = grade(capsys, DEMO_CLASS / "dick_grayson.py", "--out", tmp_path / "grades", "--json",
                           "--no-sandbox")
    assert code == 0
    assert json_rows(out)["dick_grayson"]["flags"] == ["unsandboxed"]


def test_progress_lines_name_each_student_when_piped(demo_grades):
    completed, _ = demo_grades
    assert "dick_grayson: graded, 100/100" in completed.stderr
    assert "\r" not in completed.stderr  # no progress bar redraws when piped


def test_a_project_near_the_size_limit_keeps_room_for_every_test(tmp_path, capsys):
    """A project's files are laid out in each test's folder; the folders of finished tests are removed, so a
    5 MB project (the most a student's folder may hold) never fills the submission's filesystem."""
    project = tmp_path / "class" / "big_project"
    (project / "static").mkdir(parents=True)
    shutil.copy(SOLUTIONS_MAIN, project / "main.py")
    (project / "static" / "logo.bin").write_bytes(bytes(range(256)) * 19_000)  # 4.9 MB
    code, out, err = grade(capsys, tmp_path / "class", "--out", tmp_path / "grades", "--json")
    assert code == 0, err
    assert json_rows(out)["big_project"]["score"] == 100, json_rows(out)["big_project"]["message"]


def test_the_judge_stops_one_slow_submission_and_grades_the_next(tmp_path, capsys, monkeypatch):
    """However a submission makes grading slow (its own waits, or output that is slow to check), the judge's
    whole work on it has a wall-clock limit; the student after it is graded."""
    from alfred.grading import grade as grading

    # An honest submission takes the judge 2-5 s (52 probes, each in a new process); this one never ends.
    monkeypatch.setattr(grading, "LIMITS", replace(grading.LIMITS, judge_seconds=12.0))
    klass = tmp_path / "class"
    klass.mkdir()
    (klass / "a_slow.py").write_text(SOLUTIONS_MAIN.read_text() + "\n@app.middleware('http')\n"
                                     "async def hang(request, call_next):\n    while True:\n        pass\n")
    shutil.copy(SOLUTIONS_MAIN, klass / "b_honest.py")
    code, out, err = grade(capsys, klass, "--out", tmp_path / "grades", "--json", "--jobs", "1")
    assert code == 0, err
    rows = json_rows(out)
    assert rows["a_slow"]["status"] == "timeout" and "judge time limit" in rows["a_slow"]["flags"]
    assert rows["b_honest"]["score"] == 100
