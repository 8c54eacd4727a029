"""The kit checks itself: the reference passes, the stubs fail where they should, every corpus sample
scores as its annotation says. Each check runs the real graded suite in-process (alfred.suite.run_suite),
exactly as `pytest --submission PATH --score-json FILE` would.
"""

import pytest

from alfred import corpus
from alfred.exercises import EXERCISES, IDS
from alfred.suite import run_suite, run_suites
from alfred.targets import EXERCISES_MAIN, SOLUTIONS_MAIN


def outcomes(report, exercise_id):
    return [test["outcome"] for test in report["tests"] if test["exercise"] == exercise_id]


def test_reference_solution_passes_every_test_of_every_exercise():
    report = run_suite(SOLUTIONS_MAIN)
    failed = [test["nodeid"] for test in report["tests"] if test["outcome"] != "passed"]
    assert not failed, failed
    assert report["score"] == report["max_score"] == 100
    assert len(report["tests"]) >= 30
    assert all(report["exercises"][exercise_id]["total"] >= 3 for exercise_id in IDS), report["exercises"]


def test_stubs_pass_the_lesson_and_fail_every_homework_test_as_a_failure():
    report = run_suite(EXERCISES_MAIN)
    assert set(outcomes(report, "lesson")) == {"passed"}
    for exercise_id in IDS[1:]:
        assert set(outcomes(report, exercise_id)) == {"failed"}, (exercise_id, outcomes(report, exercise_id))
    assert report["score"] == 0


def test_every_stub_carries_its_numbered_todo():
    stub = EXERCISES_MAIN.read_text()
    for exercise in EXERCISES:
        if exercise.number:
            assert f"TODO Exercise {exercise.number} ({exercise.id})" in stub, exercise.label


def test_stub_failures_speak_to_the_student_without_kit_tracebacks():
    report = run_suite(EXERCISES_MAIN)
    for test in report["tests"]:
        if test["outcome"] == "failed":
            message = test["message"]
            assert all(part in message for part in ("Tried:", "Got:", "Expected:", "Hint:")), message
            assert "alfred/" not in message and "Traceback" not in message, message


CORRECT, WRONG, BROKEN = corpus.load("correct"), corpus.load("wrong"), corpus.load("broken")


@pytest.fixture(scope="module")
def corpus_reports():
    """Every corpus sample graded once, in parallel: the slow part of the self-check."""
    return run_suites([sample.path for sample in CORRECT + WRONG + BROKEN])


@pytest.mark.slow
@pytest.mark.parametrize("sample", CORRECT, ids=lambda sample: sample.name)
def test_correct_solution_written_differently_scores_full_marks(sample, corpus_reports):
    report = corpus_reports[sample.path]
    failed = {test["name"]: test["message"] for test in report["tests"] if test["outcome"] != "passed"}
    assert not failed, f"{sample.summary}\n{failed}"


@pytest.mark.slow
@pytest.mark.parametrize("sample", WRONG, ids=lambda sample: sample.name)
def test_wrong_solution_loses_points_exactly_where_the_mistake_is(sample, corpus_reports):
    assert sample.loses, f"{sample.path.name} needs a `loses:` line naming where it must lose points"
    report = corpus_reports[sample.path]
    for exercise_id, entry in report["exercises"].items():
        if exercise_id in sample.loses:
            assert entry["passed"] < entry["total"], f"{sample.summary}: {exercise_id} should lose points"
        else:
            failed = [t["name"] for t in report["tests"] if t["exercise"] == exercise_id and t["outcome"] != "passed"]
            assert not failed, f"{sample.summary}: {exercise_id} should keep full marks, failed {failed}"


@pytest.mark.slow
@pytest.mark.parametrize("sample", BROKEN, ids=lambda sample: sample.name)
def test_broken_submission_loses_points_with_clear_failures_and_the_run_goes_on(sample, corpus_reports):
    report = corpus_reports[sample.path]
    for exercise_id, entry in report["exercises"].items():
        if exercise_id in sample.loses:
            assert entry["passed"] < entry["total"], f"{sample.summary}: {exercise_id} should lose points"
        else:
            assert entry["passed"] == entry["total"], f"{sample.summary}: {exercise_id} should keep full marks"
    for test in report["tests"]:
        if test["outcome"] != "passed":
            assert test["outcome"] == "failed", (test["name"], test["outcome"], test["message"])
            assert all(part in test["message"] for part in ("Tried:", "Got:", "Expected:", "Hint:")), test["message"]
            assert "Traceback" not in test["message"], test["message"]
