"""Hidden check of exercise 2 (task): the start and end messages on a report drawn afresh for each grading run,
so messages written for the visible tests' reports, not read from the object the task is given, are seen."""

import pytest
from diagnosis_task import TASK, hint_or_error, raised
from test_task import mentions_both, run_task, split_at_work

from alfred.judge.feedback import call_tried, check, lines, source_call

from . import draws

pytestmark = pytest.mark.task


@pytest.mark.hidden("the task must name the report and the recipient it was given, before and after its work")
def test_hidden_task_names_the_report_and_recipient_it_was_given(submission, hidden_random):
    name, email = draws.report_name(hidden_random), draws.email(hidden_random)
    seen = run_task(submission, name, email)
    before, after = split_at_work(seen)
    check(
        mentions_both(before, name, email) and mentions_both(after, name, email),
        tried=call_tried(TASK, source_call("IntelReportRequest", recipient_email=email, report_name=name)),
        got=f"before its work it printed {lines(before)}; after it {lines(after)}{raised(seen)}",
        expected=f"a start and an end message, each naming {name!r} and {email!r}",
        hint=hint_or_error(seen, "read the names from the object the task gets, report_request.report_name and "
                           "report_request.recipient_email, in both messages."),
    )
