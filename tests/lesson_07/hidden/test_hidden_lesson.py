"""Hidden check of the lesson's worked example: POST /log-activity/{user_email} on an email and an activity
drawn afresh for each grading run (hidden/draws.py), so a log line written for the visible tests' email only
is seen."""

import pytest

from alfred.judge.feedback import check, request_tried, shown

from . import draws

pytestmark = pytest.mark.lesson

LOG_FILE = "batcomputer_logs/activity_log.txt"


@pytest.mark.hidden("the worked example must confirm and log the email and activity it was given")
def test_hidden_log_activity_confirms_and_logs_the_email_and_activity_it_was_given(submission, hidden_random):
    email, activity = draws.email(hidden_random), draws.activity(hidden_random)
    seen = submission.request("POST", f"/log-activity/{email}", params={"activity_description": activity},
                              watch=[LOG_FILE])
    confirmation = {"message": f"Activity logging initiated for {email}."}
    line = f"User {email} activity: {activity}\n"
    check(
        seen.response.status == 200 and seen.response.body == confirmation and seen.files.get(LOG_FILE) == line,
        tried=request_tried("POST", f"/log-activity/{email}", params={"activity_description": activity}),
        got=f"status {seen.response.status} with {seen.response.text or 'an empty body'}; "
        + (f"{LOG_FILE} holds {shown(seen.files.get(LOG_FILE))}" if LOG_FILE in seen.files else f"no {LOG_FILE}"),
        expected=f"status 200 with {shown(confirmation)}, and {LOG_FILE} holding exactly {shown(line)}",
        hint="use the user_email and the activity the request gives, in the message and in the log line: nothing "
        "written for one email only.",
    )
