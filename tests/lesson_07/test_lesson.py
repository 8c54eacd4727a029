"""The lesson's worked example: POST /log-activity/{user_email} and Alfred's logging task.

Worth 0 points, but reported, so a student sees at once when an edit broke the example they started from.
Only what the lesson 7 text states is checked: the rest of main.py (lesson 6's routes, keys and gadgets)
is the student's to keep, change or drop. Each test sends what its check needs and no more (an activity
where the default is not what is tested), so one mistake fails the one test about it.
"""

import diagnosis_lesson as diagnosis
import pytest
from diagnosis_lesson import LOG_FILE, TASK

from alfred.judge.feedback import call_tried, check, lines, request_tried, shown
from alfred.judge.timeline import around_the_sleeps

pytestmark = pytest.mark.lesson

EMAIL = "bruce@wayne.enterprises"
DEFAULT_ACTIVITY = "Generic activity logged."
ACTIVITY = "Calibrated the Batmobile"


def log_activity(submission, email=EMAIL, files=None, **params):
    return submission.request("POST", f"/log-activity/{email}", params=params or None, watch=[LOG_FILE],
                              files=files)


def test_log_activity_confirms_with_the_lessons_message(submission):
    seen = log_activity(submission, activity_description=ACTIVITY)
    expected = {"message": f"Activity logging initiated for {EMAIL}."}
    check(
        seen.response.status == 200 and seen.response.body == expected,
        tried=request_tried("POST", f"/log-activity/{EMAIL}", params={"activity_description": ACTIVITY}),
        got=f"status {seen.response.status} with {seen.response.text or 'an empty body'}",
        expected=f"status 200 with {shown(expected)}",
        hint="the worked example returns {'message': f'Activity logging initiated for {user_email}.'}; "
        "compare your edits with the lesson.",
    )


@pytest.mark.parametrize("bad_email", ["not-an-email", "bruce@", "bruce@wayne"])
def test_log_activity_rejects_a_bad_email_with_422(submission, bad_email):
    seen = log_activity(submission, email=bad_email, activity_description=ACTIVITY)
    check(
        seen.response.status == 422 and not seen.scheduled,
        tried=request_tried("POST", f"/log-activity/{bad_email}", params={"activity_description": ACTIVITY}),
        got=f"status {seen.response.status}" + (" and a task was scheduled" if seen.scheduled else ""),
        expected="status 422 (the path's user_email is an EmailStr) and no task scheduled",
        hint="keep `user_email: EmailStr` in the signature of the /log-activity route.",
    )


@pytest.mark.parametrize(
    ("params", "activity"),
    [({}, DEFAULT_ACTIVITY), ({"activity_description": ACTIVITY}, ACTIVITY)],
    ids=["default-activity", "given-activity"],
)
def test_log_activity_appends_one_line_to_the_log(submission, params, activity):
    seen = log_activity(submission, **params)
    expected = f"User {EMAIL} activity: {activity}\n"
    check(
        seen.files.get(LOG_FILE) == expected,
        tried=request_tried("POST", f"/log-activity/{EMAIL}", params=params),
        got=diagnosis.log_holds(seen) + diagnosis.task_trouble(seen)
        + (f"; {diagnosis.answered(seen)}" if diagnosis.answered(seen) else ""),
        expected=f"{LOG_FILE} holding exactly {shown(expected)}",
        hint=f"the query parameter activity_description defaults to {DEFAULT_ACTIVITY!r} and is passed to the "
        "task as `activity`.",
    )


def test_two_requests_leave_two_lines_in_the_log(submission):
    first = log_activity(submission, activity_description="Opened the Batcave")
    seen = log_activity(submission, activity_description="Closed the Batcave", files=first.files)
    expected = f"User {EMAIL} activity: Opened the Batcave\nUser {EMAIL} activity: Closed the Batcave\n"
    check(
        seen.files.get(LOG_FILE) == expected,
        tried=request_tried("POST", f"/log-activity/{EMAIL}", params={"activity_description": "Opened the Batcave"})
        + ", then the same with 'Closed the Batcave'",
        got=diagnosis.log_holds(seen) + diagnosis.task_trouble(seen),
        expected=f"both lines, in order: {shown(expected)}",
        hint='open the log in append mode, open(path, mode="a"), so earlier lines are kept.',
    )


def test_log_response_is_sent_before_the_task_starts(submission):
    seen = log_activity(submission, activity_description=ACTIVITY)
    sent = seen.index("response-complete")
    runs = seen.task_runs()
    waited = sum(seen.sleeps("request"))
    check(
        sent is not None and runs and all(start > sent for start, _ in runs) and not waited,
        tried=request_tried("POST", f"/log-activity/{EMAIL}", params={"activity_description": ACTIVITY}),
        got=diagnosis.answered(seen) or (
            f"{waited:g} simulated seconds of work passed before the response was complete" if waited
            else "the response was sent after the task began" if runs else "no background task ran"),
        expected=f"the whole response sent first, then {TASK} run as a background task",
        hint=f"schedule the task with background_tasks.add_task({TASK}, ...) instead of calling it.",
    )


# --- The logging task itself, called directly: its default activity, its START and END messages ---


def task_prints_around_the_work(seen):
    """The lines the task printed before its first simulated sleep, and after its last one."""
    return around_the_sleeps(seen) or ([], [])


def test_logging_task_prints_start_works_two_seconds_then_prints_end(submission):
    seen = submission.call(TASK, EMAIL, ACTIVITY, watch=[LOG_FILE])
    called = call_tried(TASK, EMAIL, ACTIVITY)
    sleeps = seen.sleeps("call")
    check(
        sleeps == [2.0],
        tried=called,
        got=f"it {diagnosis.slept(sleeps)} and printed {lines(seen.printed('call'))}{diagnosis.raised(seen)}",
        expected="2 simulated seconds of work: one time.sleep(2) between the START and END messages",
        hint=diagnosis.work_hint(seen, sleeps),
    )
    before, after = task_prints_around_the_work(seen)
    check(
        EMAIL in "\n".join(before) and ACTIVITY in "\n".join(before),
        tried=called,
        got=f"before its 2 s of work it printed {lines(before)}",
        expected=f"the START message naming {EMAIL!r} and {ACTIVITY!r}, printed before time.sleep(2)",
        hint="keep the lesson's opening "
        "print(f\"--- BACKGROUND TASK START: Logging activity: '{log_message.strip()}' ---\").",
    )
    check(
        EMAIL in "\n".join(after),
        tried=called,
        got=f"after its 2 s of work it printed {lines(after)}{diagnosis.raised(seen)}",
        expected=f"the END message naming {EMAIL!r}, printed after the log line is written",
        hint="keep the lesson's closing "
        "print(f\"--- BACKGROUND TASK END: Activity logged to '{file_path}' for {user_email} ---\").",
    )


def test_logging_task_called_without_an_activity_logs_an_empty_one(submission):
    seen = submission.call(TASK, EMAIL, watch=[LOG_FILE])
    expected = f"User {EMAIL} activity: \n"
    check(
        seen.files.get(LOG_FILE) == expected,
        tried=f"{TASK}({EMAIL!r}), with no activity",
        got=f"it raised {seen.error.sentence()}" if seen.error else diagnosis.log_holds(seen),
        expected=f"{LOG_FILE} holding exactly {shown(expected)}",
        hint='keep the lesson\'s signature, log_batcomputer_activity(user_email: str, activity: str = ""): '
        "the activity defaults to an empty string.",
    )
