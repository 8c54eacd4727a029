"""The command contract, as a student or instructor types it: `pytest exercises`, `--submission`, `-m`,
`--score-json`, the rubric in pyproject.toml, and serving the files with a real uvicorn."""

import json
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from alfred.course.exercises import IDS
from alfred.judge.scoring import RubricError, load_rubric
from alfred.course.targets import KIT_ROOT

pytestmark = pytest.mark.slow


def run_pytest(*args, cwd=KIT_ROOT):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


def test_pytest_exercises_with_one_exercise_names_its_target_and_runs_only_that_exercise(tmp_path):
    score_file = tmp_path / "score.json"
    completed = run_pytest("exercises", "-m", "endpoint", "--score-json", score_file)
    assert completed.returncode == 1, completed.stdout
    assert "alfred: testing exercises/lesson_07/main.py" in completed.stdout
    assert re.search(r"Exercise 3 \(endpoint\)\s+0 / \d+\s+not yet", completed.stdout)
    assert "Traceback" not in completed.stdout
    report = json.loads(score_file.read_text())
    assert set(report["exercises"]) == set(IDS)
    assert {test["exercise"] for test in report["tests"]} == {"endpoint"}


def test_a_students_run_ends_with_the_progress_table():
    completed = run_pytest("exercises")
    tail = [line for line in completed.stdout.splitlines() if line.strip()][-9:]
    assert "Lesson 7 progress" in tail[0] and tail[-2] == "score: 0 / 100 on the visible checks", completed.stdout[-2000:]
    assert tail[-1].startswith("next: Exercise 1 (model) in exercises/lesson_07/main.py; "
                               "then run `pytest exercises -m model`, or `alfred watch -m model` "
                               "to run its tests at every save")  # the commands to run next
    assert not any(re.search(r"\d+ (failed|passed)", line) for line in tail)  # pytest's counts come before it


def test_scores_add_up_from_exact_points_rounded_once():
    from alfred.judge.scoring import TestResult, score

    rubric = {"lesson": 0.0, "model": 20.0, "task": 25.0, "endpoint": 35.0, "stretch": 20.0}
    outcomes = {"model": ["passed", "passed", "failed"], "task": ["passed", "failed", "failed"],
                "endpoint": ["passed"], "stretch": ["failed"]}
    results = [TestResult(f"{exercise}-{n}", f"t{n}", exercise, outcome)
               for exercise, listed in outcomes.items() for n, outcome in enumerate(listed)]
    report = score(results, rubric)
    assert [report["exercises"][e]["score"] for e in ("model", "task", "endpoint")] == [13.33, 8.33, 35.0]
    assert report["score"] == 56.67  # 13.333... + 8.333... + 35, not 13.33 + 8.33 + 35


def test_submission_accepts_a_folder_holding_lesson_07_main_py(tmp_path):
    folder = tmp_path / "robin" / "lesson_07"
    folder.mkdir(parents=True)
    (folder / "main.py").write_text((KIT_ROOT / "solutions" / "lesson_07" / "main.py").read_text())
    score_file = tmp_path / "score.json"
    completed = run_pytest("--submission", tmp_path / "robin", "--score-json", score_file, "-q")
    assert completed.returncode == 0, completed.stdout
    assert "warning" not in completed.stdout.lower(), completed.stdout  # markers known though pyproject was not read
    report = json.loads(score_file.read_text())
    assert report["score"] == report["max_score"] == 100.0
    assert all(test["outcome"] == "passed" and test["message"] == "" for test in report["tests"])


@pytest.mark.parametrize("given", ["no/such/place", "pyproject.toml"], ids=["missing", "not-python"])
def test_a_bad_submission_path_is_a_one_line_error_naming_it(given):
    completed = run_pytest("--submission", given)
    assert completed.returncode == 4  # pytest's usage error
    errors = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and given in errors[0], completed.stderr


def test_submission_outside_the_kit_folder_is_a_one_line_error_saying_where_to_run(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "test_stranger.py").write_text("def test_stranger():\n    pass\n")  # not collected
    completed = run_pytest("--submission", KIT_ROOT / "solutions", cwd=tmp_path)
    assert completed.returncode == 4
    errors = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and f"cd {KIT_ROOT}" in errors[0], completed.stderr


def test_the_rubric_reads_pyproject_and_names_the_source_of_a_bad_value(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.alfred.points]\nmodel = 30\ntask = 15\n")
    assert load_rubric(pyproject) == {"lesson": 0, "model": 30, "task": 15, "endpoint": 35, "stretch": 20}
    pyproject.write_text("[tool.alfred.points]\ntask = 'x'\n")
    with pytest.raises(RubricError, match=r"Invalid points 'x' for exercise 'task' in pyproject.toml \[tool.alfred.points\]"):
        load_rubric(pyproject)
    pyproject.write_text("[tool.alfred.points]\nbonus = 5\n")
    with pytest.raises(RubricError, match="Unknown exercise 'bonus'"):
        load_rubric(pyproject)


def test_the_default_rubric_is_the_documented_one():
    assert load_rubric(KIT_ROOT / "pyproject.toml") == {
        "lesson": 0, "model": 20, "task": 25, "endpoint": 35, "stretch": 20,
    }


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("module", ["exercises.lesson_07.main", "solutions.lesson_07.main"])
def test_the_file_serves_under_a_real_uvicorn_with_its_docs(tmp_path, module):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"{module}:app", "--port", str(port), "--app-dir", str(KIT_ROOT)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                docs = httpx.get(f"{base}/docs")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            pytest.fail("uvicorn did not start")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        paths = httpx.get(f"{base}/openapi.json").json()["paths"]
        assert "/log-activity/{user_email}" in paths
        assert ("/request-intel-report" in paths) == module.startswith("solutions")
        answer = httpx.post(f"{base}/log-activity/bruce@wayne.enterprises", timeout=10)
        assert answer.json() == {"message": "Activity logging initiated for bruce@wayne.enterprises."}
    finally:
        server.terminate()
        server.communicate(timeout=10)
