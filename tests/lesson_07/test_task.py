"""Exercise 2 (task): simulate_intel_report_compilation(report_request) announces, works 5 s, announces.

The task is called with a report request object the kit builds, so these tests do not depend on the
student's model (exercise 1). Time is virtual: the 5 seconds pass at once.
"""

import diagnosis_task as diagnosis
import pytest
from diagnosis_task import TASK

from alfred.judge.driver import model_object
from alfred.judge.feedback import call_tried, check, source_call
from alfred.judge.timeline import around_the_sleeps

pytestmark = pytest.mark.task

REPORTS = [
    pytest.param("Penguin's smuggling routes", "bruce@wayne.enterprises", id="penguin"),
    pytest.param("Riddler's whereabouts", "oracle@gotham.gov", id="riddler"),
]


def report(email, name):
    """The report request the task is given: the student's own IntelReportRequest holding these fields, or
    while that model cannot hold them, a stand-in of the kit's (exercise 1 is graded on its own)."""
    return model_object("IntelReportRequest", recipient_email=email, report_name=name)


def run_task(submission, name, email):
    """Runs the task. An error it raises fails only the tests of what it did not get to do: a task that
    crashes in its end message still earns its start message and its 5 seconds."""
    return submission.call(TASK, report(email, name))


def split_at_work(seen):
    """The lines printed before the first simulated sleep, and after the last one. With no sleep at all, the
    first line stands for the start message and the others for the end message."""
    printed = seen.printed("call")
    return around_the_sleeps(seen) or (printed[:1], printed[1:])


def mentions_both(texts, name, email):
    """True when the lines, read together, name the report and the recipient (a banner may span lines)."""
    together = "\n".join(texts)
    return name in together and email in together


@pytest.mark.parametrize(("name", "email"), REPORTS)
def test_task_announces_the_report_and_recipient_before_the_work(submission, name, email):
    seen = run_task(submission, name, email)
    before, _ = split_at_work(seen)
    check(
        mentions_both(before, name, email),
        tried=call_tried(TASK, source_call("IntelReportRequest", recipient_email=email, report_name=name)),
        got=diagnosis.around_the_work(seen, "before", before),
        expected=f"a start message naming {name!r} and {email!r}, printed before time.sleep(5)",
        hint=diagnosis.hint_or_error(seen, "print something like "
                                     "f\"Compiling {report_request.report_name} for {report_request.recipient_email}\" first."),
    )


@pytest.mark.parametrize(("name", "email"), REPORTS)
def test_task_announces_the_report_and_recipient_after_the_work(submission, name, email):
    seen = run_task(submission, name, email)
    _, after = split_at_work(seen)
    check(
        mentions_both(after, name, email),
        tried=call_tried(TASK, source_call("IntelReportRequest", recipient_email=email, report_name=name)),
        got=diagnosis.around_the_work(seen, "after", after),
        expected=f"an end message naming {name!r} and {email!r}, printed after time.sleep(5)",
        hint=diagnosis.hint_or_error(seen, "print the end message after the sleep, and name the report and the "
                                     "recipient in it too."),
    )


@pytest.mark.parametrize(("name", "email"), REPORTS)
def test_task_works_for_exactly_five_simulated_seconds(submission, name, email):
    seen = run_task(submission, name, email)
    slept = sum(seen.sleeps("call"))
    check(
        slept == 5,
        tried=call_tried(TASK, source_call("IntelReportRequest", recipient_email=email, report_name=name)),
        got=f"it slept {slept:g} simulated seconds ({seen.sleeps('call') or 'no sleep at all'}){diagnosis.raised(seen)}",
        expected="5 simulated seconds of work: time.sleep(5) (or await asyncio.sleep(5) in an async task)",
        hint=diagnosis.sleep_hint(seen),
    )
