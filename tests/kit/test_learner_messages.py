"""Each learner message is true of the mistake it answers: the mistake is a corpus file (tests/corpus/), and
its messages are read for the words that say what happened, and for the words of a message that would not
be true of it (what an earlier kit said)."""

import os
import subprocess
import sys

import pytest

from alfred.course.targets import KIT_ROOT
from alfred.judge.suite import run_suites

CORPUS = KIT_ROOT / "tests" / "corpus"
MODEL_DUMP = CORPUS / "wrong" / "endpoint_adds_task_with_model_dump.py"
CALLED_DIRECTLY = CORPUS / "wrong" / "endpoint_runs_task_inline.py"
MISSPELT_ROUTE = CORPUS / "wrong" / "endpoint_wrong_path_plural.py"
ALWAYS_PRINTS = CORPUS / "wrong" / "stretch_always_prints.py"
SERVES_ON_IMPORT = CORPUS / "correct" / "uvicorn_run_at_the_top_level.py"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reports():
    return run_suites([MODEL_DUMP, CALLED_DIRECTLY, MISSPELT_ROUTE, ALWAYS_PRINTS], jobs=2)


def messages(report, test_name):
    found = [test["message"] for test in report["tests"] if test["nodeid"].split("::")[-1].split("[")[0] == test_name]
    assert found, test_name
    return found


def test_a_task_given_model_dump_says_what_it_got_and_what_it_raised(reports):
    report = reports[MODEL_DUMP]
    [message] = messages(report, "test_the_response_is_sent_before_the_report_task_runs")
    assert "was given a dict, not the report request object" in message
    assert "AttributeError: 'dict' object has no attribute 'report_name'" in message
    assert "the lesson passes the received object itself" in message
    assert not any("never ran" in test["message"] or "declare `background_tasks" in test["message"]
                   for test in report["tests"])


def test_a_task_called_in_the_endpoint_is_said_to_run_inside_the_request(reports):
    report = reports[CALLED_DIRECTLY]
    for message in messages(report, "test_the_task_is_scheduled_with_the_received_report_request"):
        assert "was called inside the endpoint: it ran during the request, before the response was sent" in message
        assert "instead of calling it" in message
    assert not any("was never scheduled" in test["message"] for test in report["tests"])


def test_a_misspelt_route_names_the_post_routes_the_app_has(reports):
    report = reports[MISSPELT_ROUTE]
    for message in messages(report, "test_valid_request_gets_a_2xx_confirmation"):
        assert "your app's POST routes: /log-activity/{user_email}, /request-intel-reports" in message
        assert "your app has POST /request-intel-reports: did you mean /request-intel-report?" in message


def test_a_creation_message_printed_on_every_call_is_said_to_be_printed_when_the_file_exists(reports):
    report = reports[ALWAYS_PRINTS]
    for message in messages(report, "test_creation_is_announced_when_the_log_file_is_missing"):
        assert "is printed even when batcomputer_logs/activity_log.txt already exists" in message
    assert not any("there is no creation message" in test["message"] for test in report["tests"])


def test_the_log_is_graded_apart_from_a_creation_message_printed_on_every_call(reports):
    """docs/decisions.md, "A creation message printed on every call costs the message, not the log": the log's
    content is graded whether or not the message is printed also when the file exists; the message's condition is
    graded by the announcement tests."""
    outcomes = {test["nodeid"].split("::")[-1]: test["outcome"] for test in reports[ALWAYS_PRINTS]["tests"]
                if test["exercise"] == "stretch" and not test.get("hidden")}
    assert outcomes == {
        "test_creation_is_announced_when_the_log_file_is_missing[no-log-folder]": "failed",
        "test_creation_is_announced_when_the_log_file_is_missing[empty-log-folder]": "failed",
        "test_creation_is_announced_before_the_file_is_opened": "failed",
        "test_an_announced_log_file_holds_the_logged_line": "passed",
        "test_a_log_file_with_earlier_entries_keeps_them": "passed",
    }


def test_uvicorn_run_on_import_is_shown_to_the_student():
    run = subprocess.run(
        [sys.executable, "-m", "pytest", f"--submission={SERVES_ON_IMPORT}", "-q", "-p", "no:cacheprovider"],
        cwd=KIT_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(KIT_ROOT)})
    assert run.returncode == 0, run.stdout
    assert "warning: uvicorn.run() was called while main.py was being tested: put it under " \
           "if __name__ == '__main__':" in run.stdout, run.stdout
