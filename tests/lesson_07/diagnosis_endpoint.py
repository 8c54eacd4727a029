"""What went wrong in exercise 3 (endpoint), for test_endpoint.py and its hidden check: the `got` sentences and
the hints of its failures, and the readings of the timeline they rest on (the stand-in's runs, what add_task
was given, whether the task was called inside the request).

It imports nothing from the test module, which imports it: the lesson's names its sentences use are defined
here, and the tests take them from here.
"""

import difflib
import json

from alfred.judge.feedback import shown

PATH = "/request-intel-report"
TASK = "simulate_intel_report_compilation"
MODEL = "IntelReportRequest"
ROUTE_HINT = f'declare the route with @app.post("{PATH}") and give it a parameter typed IntelReportRequest.'


def no_route(status, openapi):
    """`got` and `hint` for a POST that found no route (404, 405: with the app's POST routes, from `openapi`) or
    was redirected (307, 308: a route declared with a trailing slash)."""
    if status in (404, 405):
        routes, route_hint = other_routes(openapi)
        return f"status {status}: there is no POST route at {PATH}{routes}", route_hint
    return (f"status {status}, a redirect: FastAPI answers so when the route is declared with a trailing slash",
            f'declare the path exactly as "{PATH}", with no "/" at the end.')


def other_routes(openapi):
    """What `got` adds about the POST routes the app has instead (as /openapi.json lists them), and the hint,
    which asks "did you mean" when one of them is a near spelling of the lesson's."""
    paths = openapi.get("paths", {}) if isinstance(openapi, dict) else {}
    routes = sorted(path for path, operations in paths.items() if isinstance(operations, dict) and "post" in operations)
    near = difflib.get_close_matches(PATH, routes, n=1, cutoff=0.6)
    listed = f"; your app's POST routes: {', '.join(routes)}" if routes else "; your app has no POST route"
    return listed, (f"your app has POST {near[0]}: did you mean {PATH}? {ROUTE_HINT.capitalize()}" if near
                    else ROUTE_HINT)


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


def received_as(arguments, model, sent):
    """The arguments that are the endpoint's `model` instance holding the body that was sent."""
    return [
        argument for argument in arguments
        if model in argument.instance_of and isinstance(argument.value, dict)
        and all(argument.value.get(name, value) == value for name, value in sent.items())
    ]


def given_another_model(seen, sent):
    """Whether the report task was given arguments, none of them an IntelReportRequest holding the body sent:
    the endpoint is then graded on its own model, whatever its name, read from /openapi.json."""
    arguments = _arguments(seen)
    return bool(arguments) and not received_as(arguments, MODEL, sent)


def _arguments(seen):
    return [argument for run in report_tasks(seen) for argument in run.all_arguments()]


def scheduling(seen, declared):
    """`got` and `hint` for a report task not scheduled once with the request the endpoint received; `declared`
    is the model the endpoint is graded on (None: its body is not a model)."""
    scheduled, arguments = report_tasks(seen), _arguments(seen)
    model = declared or MODEL
    given = ", ".join(f"{a.type} {shown(a.value, 120)}" for a in arguments) or "nothing"
    others = scheduled_instead(seen)
    never = ("called inside the endpoint: it ran during the request, before the response was sent, and was never "
             "given to add_task" if task_called_during_the_request(seen) and not results_scheduled(seen)
             else "never scheduled")
    times = {0: never, 1: f"scheduled once, given {given}"}.get(len(scheduled), f"scheduled {len(scheduled)} times")
    plain_dict_body = len(arguments) == 1 and arguments[0].type == "dict" and declared is None
    got = (f"{TASK} was {times}" + (f"; {others}" if others else "")
           + (f"; {unanswered(seen)}" if unanswered(seen) else "")
           + ("; the endpoint takes its body as a plain dict (typed `dict`, not a model), so a dict is all it had "
              "to pass on" if plain_dict_body else ""))
    hint = _scheduling_hint(seen, scheduled, arguments, model, plain_dict_body)
    return got, answer_hint(seen, hint) if not scheduled else hint


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
    arguments = _arguments(seen)
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


def response_first(seen, waited, started):
    """`got` and `hint` for a report task not run after the response: `waited` is the simulated work done before
    the response was complete, `started` the timeline indexes where the stand-in began its work."""
    others = scheduled_instead(seen)
    handed_over = bool(report_tasks(seen))  # add_task got the report task, whether or not FastAPI ran it
    if unanswered(seen):
        return unanswered(seen), answer_hint(seen, "answer a valid report request with a 2xx confirmation first (see Got).")
    if results_scheduled(seen):
        return others, called_hint(seen)
    if waited:
        return (f"{waited:g} simulated seconds of work passed before the response was complete",
                f"schedule it with background_tasks.add_task({TASK}, report_request); running it yourself "
                "(directly, in a thread or in an executor) does the work while the request is still open.")
    if handed_over and not started and given_a_dict(seen):
        return given_a_dict_got(seen), DICT_HINT
    if handed_over and not started:
        return (f"{TASK} was given to add_task, but never ran: FastAPI never ran the BackgroundTasks it was added to",
                OWN_TASKS_HINT)
    if not started:
        return ("the report task never ran as a background task" + (f"; {others}" if others else ""),
                f"inject `background_tasks: BackgroundTasks` and call background_tasks.add_task({TASK}, report_request).")
    return ("the task started before the response was sent",
            f"schedule it with background_tasks.add_task({TASK}, report_request) and return the confirmation.")
