"""A student's own run and the grade agree: on every file of every corpus, the in-process driver that
`pytest exercises` uses and the sandboxed driver whose prints, sleeps and order are seen from outside the
student's process (alfred.sandbox.supervisor) reach the same verdict on every test, the hidden checks included: both
ways draw their inputs from one seed, fresh for each run of this check and named when it fails.
"""

import pytest

from alfred.grading import corpus
from alfred.grading.discovery import read_submission
from alfred.grading.classroom import grade_class
from alfred.judge.suite import run_suites
from alfred.course.targets import MAIN_CANDIDATES
from alfred.judge.hidden import SEED_VARIABLE, draw_seed
from kits_lesson import skip_unless_the_kits_lesson

skip_unless_the_kits_lesson()  # lesson 7's corpora, loaded below

pytestmark = pytest.mark.slow

SAMPLES = corpus.load("correct") + corpus.load("wrong") + corpus.load("broken")
SEED = draw_seed()


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    """{sample name: ({test: outcome} in process, {test: outcome} supervised in the sandbox)}."""
    out = tmp_path_factory.mktemp("supervised") / "grades"
    entries = [read_submission(sample.path, sample.name, MAIN_CANDIDATES) for sample in SAMPLES]
    rows = {row["student"]: row for row in grade_class(entries, out, jobs=2, sandboxed=True, force=True,
                                                       hidden_seed=SEED)}
    with pytest.MonkeyPatch.context() as patch:  # the in-process runs, spawned, read the seed from the environment
        patch.setenv(SEED_VARIABLE, str(SEED))
        in_process = run_suites([sample.path for sample in SAMPLES], jobs=2)
    assert {report["hidden_seed"] for report in in_process.values()} == {SEED}
    outcomes = lambda tests: {test["nodeid"]: test["outcome"] for test in tests}  # noqa: E731
    return {sample.name: (outcomes(in_process[sample.path]["tests"]), outcomes(rows[sample.name]["tests"]))
            for sample in SAMPLES}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda sample: sample.name)
def test_the_supervised_grade_gives_every_test_the_verdict_the_students_own_run_gives(sample, verdicts):
    own, graded = verdicts[sample.name]
    assert own, "the student's own run ran no test"
    differing = {test: (own.get(test), graded.get(test)) for test in own.keys() | graded.keys()
                 if own.get(test) != graded.get(test)}
    assert not differing, f"{sample.name}: (own run, grade) differ with --hidden-seed {SEED}: {differing}"
