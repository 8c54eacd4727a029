"""Exercise 3 (endpoint): POST /request-intel-report schedules the report task and answers at once.

Test clients return only after background tasks have finished, so the order "response sent, then task"
is read from the probe's timeline, where the end of the response and the start of each task are events.
"""

import pytest

from alfred.feedback import check, shown

pytestmark = pytest.mark.endpoint

PATH = "/request-intel-report"
TASK = "simulate_intel_report_compilation"
BODIES = [
    pytest.param({"recipient_email": "bruce@wayne.enterprises", "report_name": "Joker's last known location"}, id="joker"),
    pytest.param({"recipient_email": "oracle@gotham.gov", "report_name": "Two-Face's coin tosses"}, id="two-face"),
]
VALID = BODIES[0].values[0]
ROUTE_HINT = f'declare the route with @app.post("{PATH}") and give it a parameter typed IntelReportRequest.'


def post_report(submission, body=VALID, **options):
    seen = submission.request("POST", PATH, json=body, **options)
    status = seen.response.status
    if status in (404, 405, 307, 308):
        check(
            False,
            tried=f"POST {PATH}",
            got=f"status {status}: there is no POST route at {PATH}" if status in (404, 405) else
            f"status {status}, a redirect: FastAPI answers so when the route is declared with a trailing slash",
            expected="the route to exist",
            hint=ROUTE_HINT if status in (404, 405) else f'declare the path exactly as "{PATH}", with no "/" at the end.',
        )
    return seen


def post_valid_report(submission, body=VALID):
    """POSTs a report request the lesson's model accepts; returns what was seen and the body sent.

    When the student's own IntelReportRequest rejects it (an exercise 1 mistake, graded there: a renamed
    field, an alias, a tighter limit), and the endpoint takes its body as that model, the body is reshaped
    to the model's schema and sent again, so the endpoint is graded on its own work.
    """
    seen = post_report(submission, body)
    if seen.response.status != 422:
        return seen, body
    shaped = body_for_the_students_model(submission.request("GET", "/openapi.json").response.body, body)
    if shaped is None or shaped == body:
        return seen, body
    return post_report(submission, shaped), shaped


def body_for_the_students_model(openapi, body):
    """`body` reshaped to the properties and string limits of the endpoint's IntelReportRequest schema,
    or None when the endpoint does not take exactly that model as its body."""
    try:
        reference = openapi["paths"][PATH]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        name = reference.rsplit("/", 1)[-1]
        model = openapi["components"]["schemas"][name]
        properties, required = model.get("properties", {}), model.get("required", [])
    except (KeyError, TypeError, AttributeError):
        return None
    if not name.startswith("IntelReportRequest"):
        return None
    shaped = {}
    for key, schema in properties.items():
        text_schema = next((option for option in [schema, *schema.get("anyOf", [])] if option.get("type") == "string"), None)
        if text_schema is None or (key not in required and key not in body):
            continue
        is_email = key == "recipient_email" or text_schema.get("format") == "email" or "email" in key.lower()
        text = body.get(key, body["recipient_email"] if is_email else body["report_name"])
        limit = text_schema.get("maxLength")
        shaped[key] = text[:limit] if limit and not is_email else text
    return shaped if all(key in shaped for key in required) else None


def answer_hint(seen, hint):
    """The hint for an endpoint that did not answer a valid request with a 2xx confirmation, by what it did."""
    status = seen.response.status
    if status == 422:
        return ("the endpoint rejected a valid report request: take the body as one parameter typed "
                "IntelReportRequest (no Body(embed=True), no other required parameter).")
    if status == 204:
        return "a 204 answer carries no body: answer 200 (the default) or 202 with the confirmation."
    if status >= 500:
        return ("the endpoint failed while answering (see Got); a ResponseValidationError means the "
                "response_model does not fit what you return.")
    return hint


def unanswered(seen):
    """What a test that needs a 2xx answer says when there was none, or "" when there was."""
    answer = seen.response
    if 200 <= answer.status < 300:
        return ""
    error = f" ({seen.error.sentence()})" if seen.error else ""
    return f"the endpoint answered status {answer.status}{error} with {(answer.text or 'an empty body')[:200]}"


def tried(body=VALID):
    return f"POST {PATH} with {shown(body)}"


def report_tasks(seen):
    return [run for run in seen.scheduled if run.function.module_attr == TASK]


def results_scheduled(seen):
    """What add_task got when the task was called instead of passed: None, or a coroutine for an async def."""
    return [run.function.name for run in seen.scheduled if not run.function.callable]


def called_hint(seen):
    what_the_call_does = ("only creates a coroutine, which FastAPI cannot run" if "coroutine" in results_scheduled(seen)
                          else "runs the task on the spot and schedules what it returns")
    return (f"add_task wants the function itself: background_tasks.add_task({TASK}, report_request). "
            f"Writing {TASK}(report_request) inside it {what_the_call_does}.")


def scheduled_instead(seen):
    """How the test's `got` names tasks that are not the report task, spelling out a called-instead-of-passed task."""
    names = [run.function.name for run in seen.scheduled if run.function.module_attr != TASK]
    results = results_scheduled(seen)
    if results:
        given = "None" if results[0] == "NoneType" else f"a {results[0]} object"
        return f"add_task was given {given}, the result of a call, not a function"
    return f"other tasks scheduled: {', '.join(names)}" if names else ""


@pytest.mark.parametrize("body", BODIES)
def test_valid_request_gets_a_2xx_confirmation(submission, body):
    seen, sent = post_valid_report(submission, body)
    answer = seen.response
    error = f" ({seen.error.sentence()})" if seen.error else ""
    check(
        200 <= answer.status < 300 and answer.body not in (None, {}, [], ""),
        tried=tried(sent),
        got=f"status {answer.status}{error} with {answer.text or 'an empty body'}",
        expected="a 2xx status (200 or 202) and a JSON confirmation, such as {\"message\": \"Alfred is on it\"}",
        hint=answer_hint(seen, "return a dict with a message from the endpoint; it must not wait for the report."),
    )


@pytest.mark.parametrize("body", BODIES)
def test_the_task_is_scheduled_with_the_received_report_request(submission, body):
    seen, sent = post_valid_report(submission, body)
    scheduled = report_tasks(seen)
    arguments = [argument for run in scheduled for argument in run.all_arguments()]
    given = ", ".join(f"{a.type} {shown(a.value, 120)}" for a in arguments) or "nothing"
    received = [
        argument for argument in arguments
        if "IntelReportRequest" in argument.instance_of and isinstance(argument.value, dict)
        and all(argument.value.get(name, value) == value for name, value in sent.items())
    ]
    others = scheduled_instead(seen)
    times = {0: "never scheduled", 1: f"scheduled once, given {given}"}.get(len(scheduled), f"scheduled {len(scheduled)} times")
    check(
        len(scheduled) == 1 and len(arguments) == 1 and received,
        tried=tried(sent),
        got=f"{TASK} was {times}" + (f"; {others}" if others else "") + (f"; {unanswered(seen)}" if unanswered(seen) else ""),
        expected=f"one background_tasks.add_task({TASK}, report_request) with the IntelReportRequest the endpoint received",
        hint=answer_hint(seen, _scheduling_hint(seen, scheduled, arguments)) if not scheduled
        else _scheduling_hint(seen, scheduled, arguments),
    )


def _scheduling_hint(seen, scheduled, arguments):
    if not scheduled and results_scheduled(seen):
        return called_hint(seen)
    if not scheduled:
        return f"call background_tasks.add_task({TASK}, report_request): the function itself, then its argument."
    if len(scheduled) > 1:
        return "schedule the task once per request."
    if len(arguments) != 1:
        return "pass one argument, the report_request object, not its fields one by one."
    given = arguments[0]
    if given.type == "dict":
        return "pass the report_request object itself, not report_request.model_dump() or a dict."
    if "IntelReportRequest" not in given.instance_of:
        return f"the task got a {given.type}: type the endpoint's body parameter as IntelReportRequest and pass it on."
    return "pass the report_request the endpoint received, unchanged."


def test_the_response_is_sent_before_the_task_starts(submission):
    seen, body = post_valid_report(submission)
    sent = seen.index("response-complete")
    started = [start for start, _ in seen.task_runs() if seen.events[start].function == TASK]
    waited = sum(seen.sleeps("request"))
    check(
        sent is not None and waited == 0 and started and all(start > sent for start in started),
        tried=tried(body),
        got=unanswered(seen) or (
            f"{waited:g} simulated seconds of work passed before the response was complete" if waited
            else "the report task never ran as a background task" if not started
            else "the task started before the response was sent"),
        expected=f"the response sent first, then {TASK} run by FastAPI in the background",
        hint=called_hint(seen) if results_scheduled(seen) else answer_hint(seen, (
            f"schedule it with background_tasks.add_task({TASK}, report_request); running it yourself "
            "(directly, in a thread or in an executor) does the work while the request is still open.")),
    )


def test_the_report_task_runs_after_the_response(submission):
    seen, body = post_valid_report(submission)
    sent = seen.index("response-complete")
    after = [e.function for e in seen.events[(sent or 0) + 1:] if e.kind == "task-start"]
    check(
        sent is not None and TASK in after,
        tried=tried(body),
        got=scheduled_instead(seen) if results_scheduled(seen) else unanswered(seen) or
        f"after the response, {'these background tasks ran: ' + ', '.join(after) if after else 'no background task ran'}",
        expected=f"{TASK} to run after the response",
        hint=called_hint(seen) if results_scheduled(seen) else answer_hint(seen,
        f"inject `background_tasks: BackgroundTasks` and call background_tasks.add_task({TASK}, ...)."),
    )


@pytest.mark.parametrize(
    "body",
    ['{"recipient_email": "bruce@wayne.enterprises",', '["Joker", "Riddler"]', '"just a string"', ""],
    ids=["broken-json", "json-list", "json-string", "no-body"],
)
def test_a_body_that_is_not_a_report_request_gets_422_and_schedules_nothing(submission, body):
    seen = post_report(submission, content=body, headers={"content-type": "application/json"})
    check(
        seen.response.status == 422 and not report_tasks(seen),
        tried=f"POST {PATH} with the body {body}" if body else f"POST {PATH} with no body at all",
        got=f"status {seen.response.status}" + (", and the task was scheduled" if report_tasks(seen) else ""),
        expected="status 422 and no task scheduled: FastAPI validates the body against IntelReportRequest",
        hint="type the body parameter as IntelReportRequest, required (no `= None`); FastAPI then rejects "
        "bad bodies for you.",
    )


def test_a_body_the_model_rejects_gets_422_and_schedules_nothing(submission):
    body = {"recipient_email": "not-an-email", "report_name": "Bane's supply lines"}
    rejected_by_model = not submission.validate("IntelReportRequest", body).model.accepted
    seen = post_report(submission, body)
    status = seen.response.status
    expected_ok = status == 422 if rejected_by_model else 200 <= status < 300
    check(
        expected_ok and (not report_tasks(seen) or not rejected_by_model),
        tried=tried(body),
        got=f"status {status}" + (", and the task was scheduled" if report_tasks(seen) else ""),
        expected=("status 422 with no task scheduled, since IntelReportRequest rejects this body"
                  if rejected_by_model else "the endpoint to accept what your IntelReportRequest accepts"),
        hint="let FastAPI validate the body: take `report_request: IntelReportRequest` as the parameter "
        "rather than a dict you check yourself.",
    )


def test_the_route_is_a_post_listed_in_the_openapi_schema(submission):
    schema = submission.request("GET", "/openapi.json").response.body or {}
    operations = schema.get("paths", {}).get(PATH, {}) if isinstance(schema, dict) else {}
    takes_body = "requestBody" in operations.get("post", {})
    check(
        "post" in operations and takes_body,
        tried="GET /openapi.json (the schema behind /docs)",
        got=(f"{PATH} listed with the methods {', '.join(sorted(operations)).upper()}" if operations
             else f"{PATH} not listed at all")
        + ("" if takes_body or "post" not in operations else ", taking no JSON body"),
        expected=f"{PATH} listed as a POST operation that takes a JSON body",
        hint=ROUTE_HINT,
    )
