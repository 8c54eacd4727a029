"""The kit checks itself: the reference passes, the stubs fail where they should, every corpus sample
scores as its annotation says, and every behaviour is graded once. Each check runs the real graded suite
(alfred.judge.suite.run_suite), exactly as `pytest --submission PATH --score-json FILE` would; the runs on the
reference, the stubs and an empty app are shared set-up (conftest.py beside this file).
The checks of the reference and the stubs are the engine's, and run with any lesson; those of the corpora
are lesson 7's (kits_lesson), skipped with another lesson selected.
"""

import itertools
from collections import defaultdict

import pytest

from alfred.grading import corpus
from alfred.course.exercises import EXERCISES, IDS
from alfred.judge.suite import run_suites
from alfred.course.targets import EXERCISES_MAIN
from kits_lesson import ANOTHER_LESSON, the_kits_lesson_only


def outcomes(report, exercise_id):
    return [test["outcome"] for test in report["tests"] if test["exercise"] == exercise_id]


def test_reference_solution_passes_every_test_of_every_exercise(reference_report):
    report = reference_report
    failed = [test["nodeid"] for test in report["tests"] if test["outcome"] != "passed"]
    assert not failed, failed
    assert report["score"] == report["max_score"] == 100
    assert all(report["exercises"][exercise_id]["total"] >= 1 for exercise_id in IDS), report["exercises"]


@the_kits_lesson_only
def test_lesson_7s_suite_has_at_least_three_tests_per_exercise(reference_report):
    report = reference_report
    assert len(report["tests"]) >= 30
    assert all(report["exercises"][exercise_id]["total"] >= 3 for exercise_id in IDS), report["exercises"]


def test_stubs_pass_the_lesson_and_fail_every_homework_test_as_a_failure(stub_report):
    report = stub_report
    for exercise in EXERCISES:  # the worked example (no number) is done in the stub; every exercise is not
        expected = {"failed"} if exercise.number else {"passed"}
        assert set(outcomes(report, exercise.id)) == expected, (exercise.id, outcomes(report, exercise.id))
    assert report["score"] == 0


def test_every_stub_carries_its_numbered_todo():
    stub = EXERCISES_MAIN.read_text()
    for exercise in EXERCISES:
        if exercise.number:
            assert f"TODO Exercise {exercise.number} ({exercise.id})" in stub, exercise.label


def test_stub_failures_speak_to_the_student_without_kit_tracebacks(stub_report):
    for test in stub_report["tests"]:
        if test["outcome"] == "failed":
            message = test["message"]
            assert all(part in message for part in ("Tried:", "Got:", "Expected:", "Hint:")), message
            assert "alfred/" not in message and "Traceback" not in message, message


def test_no_test_passes_on_an_empty_app(empty_app_report):
    """An app with no routes and no names (conftest.empty_app): no worked-example test may pass on it (the
    lesson's checks are of what the lesson builds, not of what FastAPI answers anyway), nor, of course, any
    homework test."""
    passed = [test["nodeid"] for test in empty_app_report["tests"] if test["outcome"] == "passed"]
    assert not passed, passed
    assert {test["exercise"] for test in empty_app_report["tests"]} == set(IDS)


CORRECT, WRONG, BROKEN = ([], [], []) if ANOTHER_LESSON else (corpus.load(kind) for kind in ("correct", "wrong", "broken"))


@pytest.fixture(scope="module")
def corpus_reports():
    """Every corpus sample graded once, in parallel: the slow part of the self-check."""
    return run_suites([sample.path for sample in CORRECT + WRONG + BROKEN])


@the_kits_lesson_only
@pytest.mark.slow
@pytest.mark.parametrize("sample", CORRECT, ids=lambda sample: sample.name)
def test_correct_solution_written_differently_scores_full_marks(sample, corpus_reports):
    report = corpus_reports[sample.path]
    failed = {test["name"]: test["message"] for test in report["tests"] if test["outcome"] != "passed"}
    assert not failed, f"{sample.summary} (--hidden-seed {report.get('hidden_seed')})\n{failed}"


@the_kits_lesson_only
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
            assert not failed, (f"{sample.summary}: {exercise_id} should keep full marks, failed {failed} "
                                f"(--hidden-seed {report.get('hidden_seed')})")


@the_kits_lesson_only
@pytest.mark.slow
@pytest.mark.parametrize("sample", BROKEN, ids=lambda sample: sample.name)
def test_broken_submission_loses_points_with_clear_failures_and_the_run_goes_on(sample, corpus_reports):
    report = corpus_reports[sample.path]
    for exercise_id, entry in report["exercises"].items():
        if exercise_id in sample.loses:
            assert entry["passed"] < entry["total"], f"{sample.summary}: {exercise_id} should lose points"
        else:
            assert entry["passed"] == entry["total"], f"{sample.summary}: {exercise_id} should keep full marks"
    failed = [test for test in report["tests"] if test["outcome"] == "failed"]
    skipped = [test for test in report["tests"] if test["outcome"] == "skipped"]
    assert failed and len(failed) + len(skipped) == sum(test["outcome"] != "passed" for test in report["tests"])
    for test in failed:
        assert all(part in test["message"] for part in ("Tried:", "Got:", "Expected:", "Hint:")), test["message"]
        assert "Traceback" not in test["message"], test["message"]
    if skipped:  # a file that does not import: the error is told once, every other test waits for it
        assert len(failed) == 1 and "importing" in failed[0]["message"], [test["message"] for test in failed]
        assert all(test["message"].startswith("not run:") and "does not import" in test["message"]
                   for test in skipped), skipped[0]["message"]


# --- Every behaviour graded once ---
#
# Two tests of one exercise that pass and fail on exactly the same submissions, over every corpus sample and
# the stubs, grade one mistake twice: they are merged, or sharpened until some realistic submission (a wrong
# sample of its own) tells them apart. Parametrized cases of one test are exempt: they check one behaviour on
# several inputs, each case worth its share of the exercise, which is the kit's partial credit. A pair that
# must stay goes below with its reason, written as {"test_a", "test_b"} (test names without parameters).
SAME_VERDICTS_ALLOWED: dict[frozenset[str], str] = {}


def name_without_parameters(nodeid):
    """A test's name without its parameters: what its parametrized cases share."""
    return nodeid.split("::")[-1].split("[")[0]


def verdict_groups(reports):
    """Groups of suite tests (node ids) that pass and fail on exactly the same submissions in `reports`,
    and each test's exercise."""
    verdicts, exercise_of = defaultdict(list), {}
    for report in reports:
        for test in report["tests"]:
            verdicts[test["nodeid"]].append(test["outcome"] == "passed")
            exercise_of[test["nodeid"]] = test["exercise"]
    assert {len(vector) for vector in verdicts.values()} == {len(reports)}, "every report grades every test"
    groups = defaultdict(list)
    for nodeid, vector in verdicts.items():
        groups[tuple(vector)].append(nodeid)
    return [group for group in groups.values() if len(group) > 1], exercise_of


@the_kits_lesson_only
@pytest.mark.slow
def test_no_two_tests_of_an_exercise_fail_on_exactly_the_same_submissions(corpus_reports, stub_report):
    reports = [corpus_reports[sample.path] for sample in CORRECT + WRONG + BROKEN] + [stub_report]
    groups, exercise_of = verdict_groups(reports)
    pairs = [pair for group in groups for pair in itertools.combinations(group, 2)]
    print(f"{len(pairs)} pairs of tests with the same verdicts on {len(reports)} submissions:")
    for first, second in pairs:
        print(f"  {exercise_of[first]}/{exercise_of[second]}: {first.split('::')[-1]}, {second.split('::')[-1]}")
    same_mistake = {}  # pairs of different tests of one exercise, by their names
    for first, second in pairs:
        names = frozenset({name_without_parameters(first), name_without_parameters(second)})
        if exercise_of[first] == exercise_of[second] and len(names) == 2:
            same_mistake[names] = (first, second)
    unexplained = [pair for names, pair in same_mistake.items() if names not in SAME_VERDICTS_ALLOWED]
    assert not unexplained, (
        "these tests of one exercise pass and fail on exactly the same submissions: merge them, or sharpen one "
        f"and add the wrong sample that tells them apart: {unexplained}")
    stale = [sorted(names) for names in SAME_VERDICTS_ALLOWED if names not in same_mistake]
    assert not stale, f"SAME_VERDICTS_ALLOWED lists pairs that no longer fail together: {stale}"
