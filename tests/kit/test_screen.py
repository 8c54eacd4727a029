"""What a student's terminal shows (alfred.judge.screen, written by conftest.py): real runs of `pytest exercises`
on the stubs, read as the student reads them. The first run tells the current exercise's failures in full and
the others in one line each; `-m EXERCISE` tells all of that one; failures that say the same are told once; a
file that does not import is one failure and one line; under `alfred watch` it all fits 80 by 24."""

import math
import os
import re
import shutil
import subprocess
import sys

import pytest

from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, UNDER_WATCH

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 80, 24
WATCH_LINES = 3  # alfred watch's own: the run line, "watching ...", and on the first run "Saves not noticed ..."


def student_run(*args, cwd=KIT_ROOT, watching=False):
    environment = {**os.environ, "COLUMNS": str(WIDTH), "PYTHONPATH": str(cwd)}
    environment.pop(UNDER_WATCH, None)
    if watching:
        environment[UNDER_WATCH] = "1"
    run = subprocess.run([sys.executable, "-m", "pytest", "exercises", "-p", "no:cacheprovider", *args], cwd=cwd,
                         env=environment, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    return run.stdout.splitlines()


def above_the_table(lines):
    end = next(i for i, line in enumerate(lines) if "Lesson 7 progress" in line)
    start = next(i for i, line in enumerate(lines) if re.search(r"\d+ failed", line))  # pytest's count line
    return lines[start + 1:end]


def test_the_first_run_tells_the_current_exercise_in_full_and_the_others_in_one_line():
    lines = student_run()
    told = above_the_table(lines)
    assert told[0] == "Exercise 1 (model): 15 of 15 checks fail", told
    assert sum(line.strip().startswith("Tried:") for line in told) < 15  # told once: "the same for N more tests"
    assert any(line.strip().startswith("the same for 5 more tests: test_model_rejects_an_invalid_recipient_email")
               for line in told), told
    assert told[-3:] == ["Exercise 2 (task): 6 of 6 checks fail; run `pytest exercises -m task`",
                         "Exercise 3 (endpoint): 11 of 11 checks fail; run `pytest exercises -m endpoint`",
                         "Exercise 4 (stretch): 5 of 5 checks fail; run `pytest exercises -m stretch`"]
    assert not any(line.startswith(("FAILED ", "____")) for line in lines)  # pytest's own account, left out
    assert len(lines) < 75, len(lines)  # 248 lines before: a screen or three, not five


def test_one_exercise_asked_for_is_told_in_full():
    told = above_the_table(student_run("-m", "endpoint"))
    assert told[0] == "Exercise 3 (endpoint): 11 of 11 checks fail", told
    named = [line.strip() for line in told if line.startswith("  test_")]
    same = [line for line in told if line.strip().startswith("the same for")]
    counted = len(named) + sum(int(line.split()[3]) for line in same)
    assert counted == 11, told  # every failure of the exercise, in full or as "the same for N more"


def test_a_file_that_does_not_import_is_one_failure_and_one_line(tmp_path):
    project = tmp_path / "kit"
    for folder in ("alfred", "tests/lesson_07", "exercises/lesson_07"):
        shutil.copytree(KIT_ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for file in ("conftest.py", "pyproject.toml"):
        shutil.copy(KIT_ROOT / file, project / file)
    main = project / EXERCISES_MAIN.relative_to(KIT_ROOT)
    main.write_text(main.read_text().replace("app = FastAPI(", "app = FastAPI((", 1))
    told = above_the_table(student_run(cwd=project))
    assert sum(line.strip().startswith("Tried:") for line in told) == 1, told
    assert told[-1].endswith(" more tests not run: they wait for the error above"), told


def test_under_watch_the_first_failure_sits_right_above_the_table_all_on_one_screen():
    lines = student_run("-q", watching=True)  # as alfred watch runs it
    rows = sum(max(1, math.ceil(len(line) / WIDTH)) for line in lines) + WATCH_LINES
    assert rows <= HEIGHT, "\n".join(lines)
    told = above_the_table(lines)
    assert told[0] == "Exercise 1 (model): 15 of 15 checks fail; the first:", told
    assert [line.split(":")[0].strip() for line in told if line.strip().split(":")[0] in
            ("Tried", "Got", "Expected", "Hint")] == ["Tried", "Got", "Expected", "Hint"], told
    assert all(len(line) <= WIDTH for line in told), told
