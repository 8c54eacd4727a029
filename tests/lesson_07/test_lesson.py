"""The lesson's worked example: POST /log-activity/{user_email} and Alfred's logging task.

Worth 0 points, but reported, so a student sees at once when an edit broke the example they started from.
"""

import pytest

from alfred.feedback import check, lines, shown

pytestmark = pytest.mark.lesson

EMAIL = "bruce@wayne.enterprises"
LOG_FILE = "batcomputer_logs/activity_log.txt"
DEFAULT_ACTIVITY = "Generic activity logged."


def log_activity(submission, email=EMAIL, **params):
    return submission.request("POST", f"/log-activity/{email}", params=params or None, watch=[LOG_FILE])


def task_trouble(seen):
    error = seen.task_error()
    return f" (the task raised {error.sentence()})" if error else ""


def tried(email=EMAIL, **params):
    query = "".join(f"?{name}={value}" for name, value in params.items())
    return f"POST /log-activity/{email}{query}"


def test_log_activity_confirms_with_the_lessons_message(submission):
    seen = log_activity(submission)
    expected = {"message": f"Activity logging initiated for {EMAIL}."}
    check(
        seen.response.status == 200 and seen.response.body == expected,
        tried=tried(),
        got=f"status {seen.response.status} with {seen.response.text or 'an empty body'}",
        expected=f"status 200 with {shown(expected)}",
        hint="the worked example returns {'message': f'Activity logging initiated for {user_email}.'}; "
        "compare your edits with the lesson.",
    )


@pytest.mark.parametrize("bad_email", ["not-an-email", "bruce@", "bruce@wayne"])
def test_log_activity_rejects_a_bad_email_with_422(submission, bad_email):
    seen = log_activity(submission, email=bad_email)
    check(
        seen.response.status == 422 and not seen.scheduled,
        tried=tried(bad_email),
        got=f"status {seen.response.status}" + (" and a task was scheduled" if seen.scheduled else ""),
        expected="status 422 (the path's user_email is an EmailStr) and no task scheduled",
        hint="keep `user_email: EmailStr` in the signature of the /log-activity route.",
    )


@pytest.mark.parametrize(
    ("params", "activity"),
    [({}, DEFAULT_ACTIVITY), ({"activity_description": "Calibrated the Batmobile"}, "Calibrated the Batmobile")],
    ids=["default-activity", "given-activity"],
)
def test_log_activity_appends_one_line_to_the_log(submission, params, activity):
    seen = log_activity(submission, **params)
    expected = f"User {EMAIL} activity: {activity}\n"
    check(
        seen.files.get(LOG_FILE) == expected,
        tried=tried(**params),
        got=(f"{LOG_FILE} holds {shown(seen.files.get(LOG_FILE))}" if LOG_FILE in seen.files else f"no {LOG_FILE}")
        + task_trouble(seen),
        expected=f"{LOG_FILE} holding exactly {shown(expected)}",
        hint=f"the query parameter activity_description defaults to {DEFAULT_ACTIVITY!r} and is passed to the "
        "task as `activity`.",
    )


def test_two_requests_leave_two_lines_in_the_log(submission):
    log_activity(submission, activity_description="Opened the Batcave")
    seen = log_activity(submission, activity_description="Closed the Batcave")
    expected = f"User {EMAIL} activity: Opened the Batcave\nUser {EMAIL} activity: Closed the Batcave\n"
    check(
        seen.files.get(LOG_FILE) == expected,
        tried=f"{tried(activity_description='Opened the Batcave')}, then the same with 'Closed the Batcave'",
        got=f"{LOG_FILE} holds {shown(seen.files.get(LOG_FILE))}{task_trouble(seen)}",
        expected=f"both lines, in order: {shown(expected)}",
        hint='open the log in append mode, open(path, mode="a"), so earlier lines are kept.',
    )


def test_logging_task_prints_start_then_works_two_seconds_then_prints_end(submission):
    seen = log_activity(submission)
    task_events = [e for e in seen.events if e.phase == "task" and e.kind in ("print", "sleep")]
    kinds = [e.kind for e in task_events]
    first_sleep = kinds.index("sleep") if "sleep" in kinds else None
    check(
        seen.sleeps("task") == [2.0] and "print" in kinds[:first_sleep] and "print" in kinds[first_sleep + 1 :],
        tried=tried(),
        got=f"the task printed {lines(seen.printed('task'))} and slept {seen.sleeps('task')} simulated seconds, "
        f"in this order: {', '.join(kinds) or 'nothing'}{task_trouble(seen)}",
        expected="a start message, then time.sleep(2), then an end message",
        hint="log_batcomputer_activity prints its START message, sleeps 2 s, writes, then prints its END message.",
    )


def test_log_response_is_sent_before_the_task_starts(submission):
    seen = log_activity(submission)
    sent = seen.index("response-complete")
    runs = seen.task_runs()
    check(
        sent is not None and runs and all(start > sent for start, _ in runs) and not seen.sleeps("request"),
        tried=tried(),
        got="the response was sent after the task began" if runs else "no background task ran",
        expected="the whole response sent first, then log_batcomputer_activity run as a background task",
        hint="schedule the task with background_tasks.add_task(log_batcomputer_activity, ...) instead of calling it.",
    )
