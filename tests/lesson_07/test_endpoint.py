"""Exercise 3 (endpoint): POST /request-intel-report schedules the report task and answers at once.

Test clients return only after background tasks have finished, so the order "response sent, then task"
is read from the probe's timeline: when grading, the prints and sleeps on it are seen from outside the
student's process, and the response is placed where the app sent it. For these tests the student's task is
replaced by a stand-in of the kit's that prints the fields it reads from the one object it is given, then
works 5 s: what the endpoint hands its task, and when, is seen in what the stand-in does, and a mistake in
the student's own task (exercise 2) costs nothing here.

The endpoint is graded on what it does with the model it declares for its body (as /openapi.json lists it),
whatever that model is called: a model named otherwise than IntelReportRequest, or one that rejects the
lesson's body, is an exercise 1 mistake and costs exercise 1 only.
"""

import re
from collections import Counter

import diagnosis_endpoint as diagnosis
import pytest
from diagnosis_endpoint import MODEL, PATH, TASK

from alfred.judge.feedback import check, request_tried

pytestmark = pytest.mark.endpoint

BODIES = [
    pytest.param({"recipient_email": "bruce@wayne.enterprises", "report_name": "Joker's last known location"}, id="joker"),
    pytest.param({"recipient_email": "oracle@gotham.gov", "report_name": "Two-Face's coin tosses"}, id="two-face"),
]
VALID = BODIES[0].values[0]
STAND_IN = {"function": TASK}  # the probe option that puts the kit's stand-in in place of the task


def post_report(submission, body=VALID, **options):
    seen = submission.request("POST", PATH, json=body, **options)
    status = seen.response.status
    if status in (404, 405, 307, 308):
        got, hint = diagnosis.no_route(status, openapi_of(submission) if status in (404, 405) else None)
        check(False, tried=f"POST {PATH}", got=got, expected="the route to exist", hint=hint)
    return seen


def post_valid_report(submission, body=VALID):
    """POSTs a report request the lesson's model accepts; returns what was seen and the body sent.

    When the student's own model rejects it (an exercise 1 mistake, graded there: a renamed field, an alias,
    a tighter limit), and the endpoint takes its body as that model, the body is reshaped to the model's
    schema and sent again, so the endpoint is graded on its own work.
    """
    seen = post_report(submission, body, stand_in=STAND_IN)
    if seen.response.status != 422:
        return seen, body
    shaped = body_for_the_students_model(openapi_of(submission), body)
    if shaped is None or shaped == body:
        return seen, body
    return post_report(submission, shaped, stand_in=STAND_IN), shaped


def openapi_of(submission):
    return submission.request("GET", "/openapi.json").response.body


def body_schema_reference(openapi):
    """The components key of the schema the route declares for its JSON body, or None when that body is not
    a model of the student's (a dict, query parameters, no body at all)."""
    try:
        schema = openapi["paths"][PATH]["post"]["requestBody"]["content"]["application/json"]["schema"]
        reference = schema.get("$ref") or next(
            (part.get("$ref") for part in schema.get("allOf", []) if isinstance(part, dict) and part.get("$ref")), None)
    except (KeyError, TypeError, AttributeError):
        return None
    if not isinstance(reference, str):
        return None
    key = reference.rsplit("/", 1)[-1]
    return None if key.startswith("Body_") else key  # Body_...: FastAPI's wrapper of an embedded body


def declared_model(openapi):
    """The name of the student's model that the endpoint declares for its body, as main.py names the class
    (FastAPI adds -Input/-Output when a model serves both ways, and module__ prefixes on a clash)."""
    key = body_schema_reference(openapi)
    return re.sub(r"-(Input|Output)$", "", key).rsplit("__", 1)[-1] if key else None


def body_for_the_students_model(openapi, body):
    """`body` reshaped to the properties and string limits of the model the endpoint declares for its body,
    or None when its body is not such a model."""
    key = body_schema_reference(openapi)
    try:
        model = openapi["components"]["schemas"][key]
        properties, required = model.get("properties", {}), model.get("required", [])
    except (KeyError, TypeError, AttributeError):
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


def holds(read, sent):
    """Whether the fields the stand-in read hold every value sent (under the field names or the aliases the body
    used; a model's further fields, optional ones, may hold more)."""
    if not isinstance(read, dict):
        return False
    held = Counter(map(str, read.values()))
    return all(held[value] >= count for value, count in Counter(map(str, sent.values())).items())


def task_ran(seen):
    """Whether anything of a task was seen: the stand-in's line, or any simulated work."""
    return bool(diagnosis.stand_in_runs(seen)) or any(e.kind == "sleep" for e in seen.events)


@pytest.mark.parametrize("body", BODIES)
def test_valid_request_gets_a_2xx_confirmation(submission, body):
    seen, sent = post_valid_report(submission, body)
    answer = seen.response
    check(
        200 <= answer.status < 300 and answer.body not in (None, {}, [], ""),
        tried=request_tried("POST", PATH, sent),
        got=diagnosis.confirmation_got(seen),
        expected="a success status (any 2xx: 200, 201, 202) with a JSON confirmation in the body, such as "
        "{\"message\": \"Alfred is on it\"}",
        hint=diagnosis.confirmation_hint(seen),
    )


@pytest.mark.parametrize("body", BODIES)
def test_the_task_is_scheduled_with_the_received_report_request(submission, body):
    seen, sent = post_valid_report(submission, body)
    # graded on the endpoint's own model, whatever its name, when the task got something else than an IntelReportRequest
    declared = declared_model(openapi_of(submission)) if diagnosis.given_another_model(seen, sent) else MODEL
    sent_at = seen.index("response-complete")
    runs = diagnosis.stand_in_runs(seen)
    got, hint = diagnosis.scheduling(seen, declared)
    check(
        sent_at is not None and len(runs) == 1 and holds(runs[0][1], sent) and runs[0][0] > sent_at,
        tried=request_tried("POST", PATH, sent),
        got=got,
        expected=f"one background_tasks.add_task({TASK}, report_request) with the {declared or MODEL} the endpoint received",
        hint=hint,
    )


def test_the_response_is_sent_before_the_report_task_runs(submission):
    seen, body = post_valid_report(submission)
    sent = seen.index("response-complete")
    started = [index for index, _ in diagnosis.stand_in_runs(seen)]  # the stand-in's line: the task began its work
    waited = sum(e.seconds or 0.0 for e in seen.events[:sent] if e.kind == "sleep") if sent is not None else 0.0
    got, hint = diagnosis.response_first(seen, waited, started)
    check(
        sent is not None and waited == 0 and started and all(start > sent for start in started),
        tried=request_tried("POST", PATH, body),
        got=got,
        expected=f"the response sent first, then {TASK} run by FastAPI in the background",
        hint=hint,
    )


@pytest.mark.parametrize(
    "body",
    ['{"recipient_email": "bruce@wayne.enterprises",', '["Joker", "Riddler"]', '"just a string"', ""],
    ids=["broken-json", "json-list", "json-string", "no-body"],
)
def test_a_body_that_is_not_a_report_request_gets_422_and_schedules_nothing(submission, body):
    seen = post_report(submission, content=body, headers={"content-type": "application/json"},
                       stand_in=STAND_IN)
    check(
        seen.response.status == 422 and not task_ran(seen),
        tried=f"POST {PATH} with the body {body}" if body else f"POST {PATH} with no body at all",
        got=f"status {seen.response.status}" + (", and the task ran" if task_ran(seen) else ""),
        expected="status 422 and no task scheduled: FastAPI validates the body against IntelReportRequest",
        hint="type the body parameter as IntelReportRequest, required (no `= None`); FastAPI then rejects "
        "bad bodies for you.",
    )


def test_a_body_the_model_rejects_gets_422_and_schedules_nothing(submission):
    body = {"recipient_email": "not-an-email", "report_name": "Bane's supply lines"}
    declared = declared_model(openapi_of(submission))
    model = declared or MODEL
    rejected_by_model = not submission.validate(model, body).model.accepted
    seen = post_report(submission, body, stand_in=STAND_IN)
    status = seen.response.status
    # A model that lets this body through is an exercise 1 mistake: the endpoint is then asked to accept what
    # its model accepts, which only an endpoint that takes its body as that model does.
    expected_ok = status == 422 if rejected_by_model else 200 <= status < 300 and declared is not None
    check(
        expected_ok and (not task_ran(seen) or not rejected_by_model),
        tried=request_tried("POST", PATH, body),
        got=f"status {status}" + (", and the task ran" if task_ran(seen) else "")
        + ("; the endpoint takes no body as a model" if declared is None and not rejected_by_model else ""),
        expected=(f"status 422 with no task scheduled, since {model} rejects this body"
                  if rejected_by_model else f"the endpoint to accept what your {model} accepts"),
        hint=f"let FastAPI validate the body: take `report_request: {MODEL}` as the parameter "
        "rather than a dict you check yourself.",
    )


def test_the_route_is_a_post_listed_in_the_openapi_schema(submission):
    schema = submission.request("GET", "/openapi.json").response.body or {}
    operations = schema.get("paths", {}).get(PATH, {}) if isinstance(schema, dict) else {}
    takes_body = "requestBody" in operations.get("post", {})
    routes, route_hint = diagnosis.other_routes(schema)
    check(
        "post" in operations and takes_body,
        tried="GET /openapi.json (the schema behind /docs)",
        got=(f"{PATH} listed with the methods {', '.join(sorted(operations)).upper()}" if operations
             else f"{PATH} not listed at all{routes}")
        + ("" if takes_body or "post" not in operations else ", taking no JSON body"),
        expected=f"{PATH} listed as a POST operation that takes a JSON body",
        hint=route_hint if not operations else diagnosis.ROUTE_HINT,
    )
