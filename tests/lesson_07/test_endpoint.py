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

import difflib
import json
import re
from collections import Counter

import pytest

from alfred.judge.feedback import check, request_tried, shown

pytestmark = pytest.mark.endpoint

PATH = "/request-intel-report"
TASK = "simulate_intel_report_compilation"
MODEL = "IntelReportRequest"
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
        routes, route_hint = other_routes(openapi_of(submission)) if status in (404, 405) else ("", "")
        check(
            False,
            tried=f"POST {PATH}",
            got=f"status {status}: there is no POST route at {PATH}{routes}" if status in (404, 405) else
            f"status {status}, a redirect: FastAPI answers so when the route is declared with a trailing slash",
            expected="the route to exist",
            hint=route_hint if status in (404, 405) else f'declare the path exactly as "{PATH}", with no "/" at the end.',
        )
    return seen


def other_routes(openapi):
    """What `got` adds about the POST routes the app has instead (as /openapi.json lists them), and the hint,
    which asks "did you mean" when one of them is a near spelling of the lesson's."""
    paths = openapi.get("paths", {}) if isinstance(openapi, dict) else {}
    routes = sorted(path for path, operations in paths.items() if isinstance(operations, dict) and "post" in operations)
    near = difflib.get_close_matches(PATH, routes, n=1, cutoff=0.6)
    listed = f"; your app's POST routes: {', '.join(routes)}" if routes else "; your app has no POST route"
    return listed, (f"your app has POST {near[0]}: did you mean {PATH}? {ROUTE_HINT.capitalize()}" if near
                    else ROUTE_HINT)


STAND_IN = {"function": TASK}  # the probe option that puts the kit's stand-in in place of the task


def stand_in_runs(seen):
    """(index, the fields it read) for each run of the kit's stand-in for this probe, in timeline order (a
    printed line that only looks like the stand-in's is not one: the judge checks a token drawn per probe)."""
    runs = []
    for index, event in enumerate(seen.events):
        if event.kind == "stand-in" and event.function == TASK:
            try:
                read = json.loads(event.text or "")
            except ValueError:
                read = None
            runs.append((index, read if isinstance(read, dict) else None))
    return runs


def holds(read, sent):
    """Whether the fields the stand-in read hold every value sent (under the field names or the aliases the body
    used; a model's further fields, optional ones, may hold more)."""
    if not isinstance(read, dict):
        return False
    held = Counter(map(str, read.values()))
    return all(held[value] >= count for value, count in Counter(map(str, sent.values())).items())


def task_ran(seen):
    """Whether anything of a task was seen: the stand-in's line, or any simulated work."""
    return bool(stand_in_runs(seen)) or any(e.kind == "sleep" for e in seen.events)


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


def body_model(submission):
    """The model the endpoint takes its body as, read from /openapi.json; IntelReportRequest when the body
    is not a model, so that the lesson's model is what such an endpoint is measured against."""
    return declared_model(openapi_of(submission)) or MODEL


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


def report_tasks(seen):
    return [run for run in seen.scheduled if run.function.module_attr == TASK]


def results_scheduled(seen):
    """The types of what add_task got that is not a function: the result of a call, such as None, or a coroutine
    when an async def is called."""
    return [run.function.name for run in seen.scheduled if not run.function.callable]


def task_called_during_the_request(seen):
    """Whether the report task was called while the request was handled. What the student's own task returns
    is not seen: the kit's stand-in runs in its place, a plain function that returns None whether the
    student's is a def (which would return None too) or an async def (which would return a coroutine)."""
    sent = seen.index("response-complete")
    return any(sent is None or index < sent for index, _ in stand_in_runs(seen))


def called_hint(seen):
    return (f"add_task wants the function itself: background_tasks.add_task({TASK}, report_request). Writing "
            f"{TASK}(report_request) inside it calls the task at once and schedules what the call returns: a "
            "`def` task runs on the spot, before the response is sent, and returns None; an `async def` task "
            "returns a coroutine, which nothing ever runs.")


def scheduled_instead(seen):
    """How the test's `got` names tasks that are not the report task, spelling out a called-instead-of-passed task."""
    names = [run.function.name for run in seen.scheduled if run.function.module_attr != TASK]
    results = results_scheduled(seen)
    if results and results[0] == "NoneType" and task_called_during_the_request(seen):
        # the stand-in's None is not what the student's task returns (an async def gives a coroutine): not shown
        return f"add_task was given the result of a call, not a function; {TASK} itself was called inside the endpoint"
    if results:
        given = "None" if results[0] == "NoneType" else f"a {results[0]} object"
        return f"add_task was given {given}, the result of a call, not a function"
    return f"other tasks scheduled: {', '.join(names)}" if names else ""


def confirmation_got(seen):
    """What the endpoint answered, saying what is wrong with it: a success status with nothing in the body is
    not blamed on its status."""
    answer = seen.response
    error = f" ({seen.error.sentence()})" if seen.error else ""
    if not 200 <= answer.status < 300 or answer.status == 204:
        return f"status {answer.status}{error} with {answer.text or 'an empty body'}"
    if answer.text.strip() == "null":
        return f"status {answer.status}, a success, but the body is null: the endpoint returned nothing (None)"
    if answer.body is None and answer.text:
        return f"status {answer.status}, a success, but the body is not JSON: {answer.text[:200]}"
    return f"status {answer.status}, a success, but the body {answer.text or '(empty)'} confirms nothing"


def confirmation_hint(seen):
    answer = seen.response
    if 200 <= answer.status < 300 and answer.status != 204:
        if answer.text.strip() == "null":
            return ("end the endpoint with a return, such as return {\"message\": \"Alfred is on it\"}: a function "
                    "that reaches its end without one returns None, which FastAPI sends as null.")
        if answer.body is None and answer.text:
            return "return a dict, such as {\"message\": \"Alfred is on it\"}: FastAPI sends it as JSON."
        return "return a confirmation with a message in it, such as {\"message\": \"Alfred is on it\"}."
    return answer_hint(seen, status_hint(answer.status))


def status_hint(status):
    """The hint for an answer whose status is not a success one (nor one answer_hint knows better): the status
    is what is wrong, whatever the body holds."""
    means = ("says the request failed" if 400 <= status < 500 else "is a redirect" if 300 <= status < 400
             else "is no success status")
    return (f"status {status} {means}: answer with a success status, 200 (FastAPI's default, with no "
            "status_code in the decorator) or 202 Accepted (status_code=202: the report is accepted, compiled "
            f"later). If the decorator does not set {status}, look for what answers it: an HTTPException the "
            "endpoint raises, or a dependency.")


@pytest.mark.parametrize("body", BODIES)
def test_valid_request_gets_a_2xx_confirmation(submission, body):
    seen, sent = post_valid_report(submission, body)
    answer = seen.response
    check(
        200 <= answer.status < 300 and answer.body not in (None, {}, [], ""),
        tried=request_tried("POST", PATH, sent),
        got=confirmation_got(seen),
        expected="a success status (any 2xx: 200, 201, 202) with a JSON confirmation in the body, such as "
        "{\"message\": \"Alfred is on it\"}",
        hint=confirmation_hint(seen),
    )


def received_as(arguments, model, sent):
    """The arguments that are the endpoint's `model` instance holding the body that was sent."""
    return [
        argument for argument in arguments
        if model in argument.instance_of and isinstance(argument.value, dict)
        and all(argument.value.get(name, value) == value for name, value in sent.items())
    ]


@pytest.mark.parametrize("body", BODIES)
def test_the_task_is_scheduled_with_the_received_report_request(submission, body):
    seen, sent = post_valid_report(submission, body)
    scheduled = report_tasks(seen)
    arguments = [argument for run in scheduled for argument in run.all_arguments()]
    received, model, declared = received_as(arguments, MODEL, sent), MODEL, MODEL
    if arguments and not received:  # graded on the endpoint's own model, whatever its name
        declared = declared_model(openapi_of(submission))
        model = declared or MODEL
        received = received_as(arguments, model, sent)
    given = ", ".join(f"{a.type} {shown(a.value, 120)}" for a in arguments) or "nothing"
    others = scheduled_instead(seen)
    never = ("called inside the endpoint: it ran during the request, before the response was sent, and was never "
             "given to add_task" if task_called_during_the_request(seen) and not results_scheduled(seen)
             else "never scheduled")
    times = {0: never, 1: f"scheduled once, given {given}"}.get(len(scheduled), f"scheduled {len(scheduled)} times")
    plain_dict_body = len(arguments) == 1 and arguments[0].type == "dict" and declared is None
    sent_at = seen.index("response-complete")
    runs = stand_in_runs(seen)
    check(
        sent_at is not None and len(runs) == 1 and holds(runs[0][1], sent) and runs[0][0] > sent_at,
        tried=request_tried("POST", PATH, sent),
        got=f"{TASK} was {times}" + (f"; {others}" if others else "")
        + (f"; {unanswered(seen)}" if unanswered(seen) else "")
        + ("; the endpoint takes its body as a plain dict (typed `dict`, not a model), so a dict is all it had "
           "to pass on" if plain_dict_body else ""),
        expected=f"one background_tasks.add_task({TASK}, report_request) with the {model} the endpoint received",
        hint=answer_hint(seen, _scheduling_hint(seen, scheduled, arguments, model, plain_dict_body)) if not scheduled
        else _scheduling_hint(seen, scheduled, arguments, model, plain_dict_body),
    )


def _scheduling_hint(seen, scheduled, arguments, model, plain_dict_body):
    if not scheduled and results_scheduled(seen):
        return called_hint(seen)
    if not scheduled and task_called_during_the_request(seen):
        return (f"hand the task to background_tasks.add_task({TASK}, report_request) instead of calling it: "
                "FastAPI then runs it after the response is sent.")
    if not scheduled:
        return f"call background_tasks.add_task({TASK}, report_request): the function itself, then its argument."
    if len(scheduled) > 1:
        return "schedule the task once per request."
    if len(arguments) != 1:
        return "pass one argument, the report_request object, not its fields one by one."
    given = arguments[0]
    if plain_dict_body:
        return (f"type the body parameter as the model, `report_request: {MODEL}`: typed `dict`, FastAPI hands the "
                "endpoint a plain dict it never validated, and that is what reaches the task.")
    if given.type == "dict":
        return DICT_HINT
    if model not in given.instance_of:
        return f"the task got a {given.type}: pass on the {model} the endpoint received, as it is."
    return "pass the report_request the endpoint received, unchanged."


DICT_HINT = (f"the lesson passes the received object itself: background_tasks.add_task({TASK}, report_request), "
             "not report_request.model_dump() or a dict: the task reads report_request.report_name, which a dict "
             "does not have.")


def given_a_dict(seen):
    """Whether add_task gave the report task one plain dict (report_request.model_dump(), say)."""
    arguments = [argument for run in report_tasks(seen) for argument in run.all_arguments()]
    return len(arguments) == 1 and arguments[0].type == "dict"


def given_a_dict_got(seen):
    """`got` for a report task given a dict: what it got, and what a task that reads the lesson's fields raises."""
    raised = any(e.kind == "task-end" and e.function == TASK and e.error for e in seen.events)
    return (f"{TASK} was given a dict, not the report request object"
            + (", and raised at once when FastAPI ran it after the response: " if raised else ": ")
            + "reading report_request.report_name from a dict raises AttributeError: 'dict' object has no "
            "attribute 'report_name'")


OWN_TASKS_HINT = ("FastAPI runs only the tasks of the BackgroundTasks it injects: declare `background_tasks: "
                  "BackgroundTasks` as a parameter of the endpoint and call add_task on it, instead of building "
                  "BackgroundTasks() yourself.")


def test_the_response_is_sent_before_the_report_task_runs(submission):
    seen, body = post_valid_report(submission)
    sent = seen.index("response-complete")
    started = [index for index, _ in stand_in_runs(seen)]  # the stand-in's line: the task began its work
    waited = sum(e.seconds or 0.0 for e in seen.events[:sent] if e.kind == "sleep") if sent is not None else 0.0
    handed_over = bool(report_tasks(seen))  # add_task got the report task, whether or not FastAPI ran it
    others = scheduled_instead(seen)
    if unanswered(seen):
        got = unanswered(seen)
        hint = answer_hint(seen, "answer a valid report request with a 2xx confirmation first (see Got).")
    elif results_scheduled(seen):
        got, hint = others, called_hint(seen)
    elif waited:
        got = f"{waited:g} simulated seconds of work passed before the response was complete"
        hint = (f"schedule it with background_tasks.add_task({TASK}, report_request); running it yourself "
                "(directly, in a thread or in an executor) does the work while the request is still open.")
    elif handed_over and not started and given_a_dict(seen):
        got, hint = given_a_dict_got(seen), DICT_HINT
    elif handed_over and not started:
        got = f"{TASK} was given to add_task, but never ran: FastAPI never ran the BackgroundTasks it was added to"
        hint = OWN_TASKS_HINT
    elif not started:
        got = "the report task never ran as a background task" + (f"; {others}" if others else "")
        hint = f"inject `background_tasks: BackgroundTasks` and call background_tasks.add_task({TASK}, report_request)."
    else:
        got = "the task started before the response was sent"
        hint = f"schedule it with background_tasks.add_task({TASK}, report_request) and return the confirmation."
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
    routes, route_hint = other_routes(schema)
    check(
        "post" in operations and takes_body,
        tried="GET /openapi.json (the schema behind /docs)",
        got=(f"{PATH} listed with the methods {', '.join(sorted(operations)).upper()}" if operations
             else f"{PATH} not listed at all{routes}")
        + ("" if takes_body or "post" not in operations else ", taking no JSON body"),
        expected=f"{PATH} listed as a POST operation that takes a JSON body",
        hint=route_hint if not operations else ROUTE_HINT,
    )
