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


NO_SLEEP_HINT = "keep the lesson's time.sleep(2) between the START message and writing the log line."


def slept(sleeps):
    return f"slept {' + '.join(f'{seconds:g}' for seconds in sleeps)} simulated seconds" if sleeps else "never slept"


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
        got=f"the task printed {lines(seen.printed('task'))} and {slept(seen.sleeps('task'))}, "
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


# --- The worked example's own words: the task's default activity and its START and END messages ---


def test_logging_task_called_without_an_activity_logs_an_empty_one(submission):
    seen = submission.call("log_batcomputer_activity", EMAIL, watch=[LOG_FILE])
    expected = f"User {EMAIL} activity: \n"
    check(
        seen.error is None and seen.files.get(LOG_FILE) == expected,
        tried=f"log_batcomputer_activity({EMAIL!r}), with no activity",
        got=(
            f"it raised {seen.error.sentence()}" if seen.error
            else f"{LOG_FILE} holds {shown(seen.files.get(LOG_FILE))}" if LOG_FILE in seen.files
            else f"no {LOG_FILE}"
        ),
        expected=f"{LOG_FILE} holding exactly {shown(expected)}",
        hint='keep the lesson\'s signature, log_batcomputer_activity(user_email: str, activity: str = ""): '
        "the activity defaults to an empty string.",
    )


def task_prints_around_the_work(seen):
    """The lines the logging task printed before its simulated sleep, and after it."""
    timeline = [e for e in seen.events if e.phase == "task" and e.kind in ("print", "sleep")]
    sleeps = [i for i, e in enumerate(timeline) if e.kind == "sleep"]
    if not sleeps:
        return [], []
    before = [e.text or "" for e in timeline[: sleeps[0]] if e.kind == "print"]
    after = [e.text or "" for e in timeline[sleeps[-1] + 1 :] if e.kind == "print"]
    return before, after


def test_logging_task_start_message_names_the_user_and_the_activity(submission):
    activity = "Calibrated the Batmobile"
    seen = log_activity(submission, activity_description=activity)
    before, _ = task_prints_around_the_work(seen)
    together = "\n".join(before)
    check(
        EMAIL in together and activity in together,
        tried=tried(activity_description=activity),
        got=(f"before its 2 s of work the task printed {lines(before)}" if seen.sleeps("task")
             else f"the task never slept, so it has no before and after: it printed {lines(seen.printed('task'))}")
        + task_trouble(seen),
        expected=f"the START message naming {EMAIL!r} and {activity!r}, printed before time.sleep(2)",
        hint=NO_SLEEP_HINT if not seen.sleeps("task") else "keep the lesson's opening "
        "print(f\"--- BACKGROUND TASK START: Logging activity: '{log_line.strip()}' ---\").",
    )


def test_logging_task_end_message_names_the_user(submission):
    seen = log_activity(submission)
    _, after = task_prints_around_the_work(seen)
    check(
        EMAIL in "\n".join(after),
        tried=tried(),
        got=(f"after its 2 s of work the task printed {lines(after)}" if seen.sleeps("task")
             else f"the task never slept, so it has no before and after: it printed {lines(seen.printed('task'))}")
        + task_trouble(seen),
        expected=f"the END message naming {EMAIL!r}, printed after the log line is written",
        hint=NO_SLEEP_HINT if not seen.sleeps("task") else "keep the lesson's closing "
        "print(f\"--- BACKGROUND TASK END: Activity logged to '{LOG_FILE}' for {user_email} ---\").",
    )


# --- Lesson 6's routes, which main.py still carries. They are optional in a lesson 7 answer (many correct
# answers drop them), so a 404 passes; a route that is there must behave as lesson 6 built it. ---

GADGETS = ["Batarang", "Grapnel Gun", "Smoke Pellet", "Cryptographic Sequencer", "Batclaw"]
API_KEY, API_USER = "alfred-secret-key", "alfred@wayne.enterprises"
LESSON_6_HINT = "{route} comes from lesson 6; lesson 7 answers may drop it, but kept it must work as it did there."


@pytest.mark.parametrize(
    ("params", "page"),
    [(None, GADGETS), ({"skip": 1, "limit": 2}, GADGETS[1:3])],
    ids=["default-page", "skip-1-limit-2"],
)
def test_kept_gadgets_route_lists_a_page_from_an_open_session(submission, params, page):
    seen = submission.request("GET", "/gadgets", params=params)
    expected = {"gadgets": page, "db_connected": True}
    query = "?" + "&".join(f"{name}={value}" for name, value in params.items()) if params else ""
    check(
        seen.response.status == 404 or (seen.response.status == 200 and seen.response.body == expected),
        tried=f"GET /gadgets{query}",
        got=f"status {seen.response.status} with {seen.response.text or 'an empty body'}",
        expected=f"status 200 with {shown(expected)} (or no /gadgets route at all)",
        hint=LESSON_6_HINT.format(route="GET /gadgets (common_parameters, get_db_session)"),
    )


def test_kept_gadgets_route_lists_its_pagination_defaults_in_the_openapi_schema(submission):
    schema = submission.request("GET", "/openapi.json").response.body or {}
    paths = schema.get("paths", {}) if isinstance(schema, dict) else {}
    operation = paths.get("/gadgets", {}).get("get", {})
    defaults = {p.get("name"): p.get("schema", {}).get("default") for p in operation.get("parameters", [])}
    check(
        "/gadgets" not in paths or (defaults.get("skip") == 0 and defaults.get("limit") == 10),
        tried="GET /openapi.json (the schema behind /docs)",
        got=f"GET /gadgets listed with the query defaults {shown(defaults)}",
        expected="GET /gadgets listed with the query parameters skip (default 0) and limit (default 10)",
        hint=LESSON_6_HINT.format(route="common_parameters(skip: int = 0, limit: int = 10)"),
    )


def test_kept_users_me_route_turns_a_known_api_key_into_its_user(submission):
    seen = submission.request("GET", "/users/me", headers={"X-API-Key": API_KEY})
    expected = {"email": API_USER}
    check(
        seen.response.status == 404 or (seen.response.status == 200 and seen.response.body == expected),
        tried=f"GET /users/me with the header X-API-Key: {API_KEY}",
        got=f"status {seen.response.status} with {seen.response.text or 'an empty body'}",
        expected=f"status 200 with {shown(expected)} (or no /users/me route at all)",
        hint=LESSON_6_HINT.format(route="GET /users/me (get_api_key, then verify_key_and_get_user)"),
    )


@pytest.mark.parametrize("headers", [None, {"X-API-Key": "joker-guess"}], ids=["no-key", "unknown-key"])
def test_kept_users_me_route_refuses_a_missing_or_unknown_api_key_with_401(submission, headers):
    seen = submission.request("GET", "/users/me", headers=headers)
    expected = {"detail": "Invalid or missing API key"}
    check(
        seen.response.status == 404 or (seen.response.status == 401 and seen.response.body == expected),
        tried="GET /users/me "
        + (f"with the header X-API-Key: {headers['X-API-Key']}" if headers else "with no X-API-Key header"),
        got=f"status {seen.response.status} with {seen.response.text or 'an empty body'}",
        expected=f"status 401 with {shown(expected)} (or no /users/me route at all)",
        hint=LESSON_6_HINT.format(route='get_api_key, which raises HTTPException(status_code=401, '
                                  'detail="Invalid or missing API key") for a key not in API_KEYS,'),
    )
