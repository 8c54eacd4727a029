"""Hidden check of exercise 4 (stretch): the creation message, and the new log's line, for an email and an
activity drawn afresh for each grading run, with the call without the log file in the middle of three. The
message is recognised by behaviour, as in test_stretch.py."""

import pytest
from diagnosis_stretch import LOG_DIR, LOG_FILE, Calls, announcements, without_a_creation_message
from test_stretch import TASK

from alfred.judge.feedback import call_tried, check, shown

from . import draws

pytestmark = pytest.mark.stretch


@pytest.mark.hidden("a new log file must be announced and hold the line of the email and activity given")
def test_hidden_new_log_is_announced_and_holds_the_line_it_was_given(submission, hidden_random):
    email, activity = draws.email(hidden_random), draws.activity(hidden_random)
    earlier = f"User {draws.email(hidden_random)} activity: {draws.activity(hidden_random)}\n"

    def log(**setup):
        return submission.call(TASK, email, activity, watch=[LOG_FILE], **setup)

    # The call without the log file comes between the two with one: never first (a task announcing the first
    # call in each folder) and never last (the visible tests' place), so a task fitted to the visible order
    # fails here. A task that counts its calls and knows this order still passes (SECURITY.md, "State kept
    # across probes").
    existing = log(files={LOG_FILE: earlier})
    missing = log(absent=[LOG_DIR])
    again = log(files={LOG_FILE: earlier + earlier})
    calls = Calls(missing, existing, again)
    seen = (existing, missing, again)
    line = f"User {email} activity: {activity}\n"
    written = calls.missing.files.get(LOG_FILE)
    error = next((call.error for call in seen if call.error), None)  # it explains; the file and prints decide
    check(
        bool(announcements(calls)) and written == line,
        tried=call_tried(TASK, email, activity) + ", three times: with a log file, with none, then with one again",
        got=(f"it raised {error.sentence()}" if error else
             without_a_creation_message(calls)
             if not announcements(calls) else f"the new log held {shown(written)}"),
        expected=f"a creation message the first time only, and the new {LOG_FILE} holding {shown(line)}",
        hint="announce the log file when os.path.exists(...) is False, and log the user_email and activity the "
        "task was given.",
    )
