"""Hidden check of exercise 3 (endpoint): POST /request-intel-report with bodies drawn afresh for each grading
run, so an endpoint that schedules the task for the visible tests' reports only is seen. The kit's stand-in
task prints what it is given, as in the visible tests (test_endpoint.py)."""

import pytest
from test_endpoint import PATH, TASK, holds, post_valid_report, stand_in_runs, unanswered

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
        check(
            at is not None and len(runs) == 1 and holds(runs[0][1], sent) and runs[0][0] > at,
            tried=request_tried("POST", PATH, sent),
            got=unanswered(seen) or (f"{TASK} ran {len(runs)} times" if len(runs) != 1
                                     else f"{TASK} was given {shown(runs[0][1])}"),
            expected=f"one run of {TASK}, after the response, with the report request holding {shown(sent)}",
            hint=f"schedule background_tasks.add_task({TASK}, report_request) on every request, with the "
            "report_request received: no condition on what it holds.",
        )
