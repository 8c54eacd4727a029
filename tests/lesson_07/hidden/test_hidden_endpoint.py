"""Hidden check of exercise 3 (endpoint): POST /request-intel-report with bodies drawn afresh for each grading
run, so an endpoint that schedules the task for the visible tests' reports only is seen. The kit's stand-in
task prints what it is given, as in the visible tests (test_endpoint.py)."""

import pytest
from diagnosis_endpoint import (DICT_HINT, PATH, TASK, answer_hint, called_hint, given_a_dict, given_a_dict_got,
                                results_scheduled, scheduled_instead, stand_in_runs, unanswered)
from test_endpoint import holds, post_valid_report

from alfred.judge.feedback import check, request_tried, shown

from . import draws

pytestmark = pytest.mark.endpoint

DRAWS = 2


@pytest.mark.hidden("the endpoint must hand the task the report request it received, whatever it holds")
def test_hidden_endpoint_schedules_the_task_with_any_report_request(submission, hidden_random):
    for _ in range(DRAWS):
        body = {"recipient_email": draws.email(hidden_random), "report_name": draws.report_name(hidden_random)}
        seen, sent = post_valid_report(submission, body)
        at = seen.index("response-complete")
        runs = stand_in_runs(seen)
        got, hint = what_went_wrong(seen, runs, at)
        check(
            at is not None and len(runs) == 1 and holds(runs[0][1], sent) and runs[0][0] > at,
            tried=request_tried("POST", PATH, sent),
            got=got,
            expected=f"one run of {TASK}, after the response, with the report request holding {shown(sent)}",
            hint=hint,
        )


ANY_REQUEST_HINT = (f"schedule background_tasks.add_task({TASK}, report_request) on every request, with the "
                    "report_request received: no condition on what it holds.")


def what_went_wrong(seen, runs, at):
    """`got` and `hint` of the check, by what the endpoint did: answered no success, called the task inside
    add_task, ran it some other number of times than once, called it itself before the response, or gave it a
    report request without the values sent. The stand-in runs in place of the student's task, so what it did
    is said as what the endpoint did with the task (a call, a schedule), never as what the student's task did
    (an async def called and never awaited does not run at all)."""
    if unanswered(seen):
        return unanswered(seen), answer_hint(seen, ANY_REQUEST_HINT)
    if results_scheduled(seen):
        return scheduled_instead(seen), called_hint(seen)
    if not runs and given_a_dict(seen):
        return given_a_dict_got(seen), DICT_HINT
    if len(runs) != 1:
        others = f"; {scheduled_instead(seen)}" if scheduled_instead(seen) else ""
        return ((f"{TASK} ran {len(runs)} times" if runs else f"{TASK} never ran") + others,
                "schedule the task once per request." if runs else ANY_REQUEST_HINT)
    if at is None or runs[0][0] < at:
        return (f"{TASK} was called before the response was sent, not run by FastAPI as a background task "
                f"(it was given {shown(runs[0][1])})",
                f"hand the task to background_tasks.add_task({TASK}, report_request) rather than calling it yourself "
                "(directly, in a thread or in an executor): FastAPI then runs it once the response is sent.")
    return f"{TASK} ran after the response, but was given {shown(runs[0][1])}", ANY_REQUEST_HINT
