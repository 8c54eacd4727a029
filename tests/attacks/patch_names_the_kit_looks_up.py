"""Attack: after main.py is loaded, replace what the kit's answering code could look up by name (json.dumps and json.loads, json's encoder, builtins, the kit modules' globals) to forge a better reply

honest: 0
base: stub

No walking frames to the kit's objects, no gc: only names any module can reach with an import. At
import, which is after the probe's set-up but before the probe's answer and before all of every
later probe in the same process, the file installs
  - a json shim in the globals of alfred.sandbox.worker and of every module of alfred.inside, and in place of json.dumps,
    json.loads, json.JSONEncoder.encode and json.encoder.c_make_encoder: its loads remembers each
    probe the worker decodes, its dumps and encoders rewrite a reply into what a correct solution
    would have shown (model reports, the task's prints and sleep, the endpoint's 202 with the task
    run after it, the route in /openapi.json);
  - a forging action in place of each in alfred.inside.actions' table of actions;
  - lying len, isinstance, sorted, str, repr and round in the kit modules' globals, where they would
    shadow the builtins for the kit's code alone, and lying wrappers of builtins.isinstance and
    builtins.sorted that lie to the kit's own code alone (the stub's IntelReportRequest claimed for
    every value described), so that FastAPI and pydantic keep working.
The kit binds everything its answering path uses before any student code runs, so none of it is read.

Safety: this file attacks the grader. Grade it only with `alfred grade` (sandboxed); it refuses
to import anywhere but as a sandbox's student user (uid 40000-59999).
"""


# >>> ATTACK
import os as _attack_os

if not 40000 <= _attack_os.getuid() < 60000:  # safety catch: armed only as a sandbox's student user
    raise ImportError("attack corpus file: grade it with `alfred grade` (sandboxed); never import or run it directly")
# <<< ATTACK

import os
import time
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, EmailStr

app = FastAPI(title="Batcomputer API", version="7.0")


# --- Lesson 6: Batcomputer protocols (dependency injection) ---

API_KEYS = {"alfred-secret-key": "alfred@wayne.enterprises"}


async def common_parameters(skip: int = 0, limit: int = 10) -> dict[str, int]:
    """Pagination shared by every list endpoint."""
    return {"skip": skip, "limit": limit}


def get_db_session():
    """Hands out a (simulated) database session and always closes it afterwards."""
    session = {"connected": True}
    try:
        yield session
    finally:
        session["connected"] = False


async def get_api_key(x_api_key: Annotated[str | None, Header()] = None) -> str:
    """Requires a known `X-API-Key` header."""
    if x_api_key not in API_KEYS:
        raise HTTPException(status_code=401, detail="Invalid or missing API key")
    return x_api_key


async def verify_key_and_get_user(api_key: Annotated[str, Depends(get_api_key)]) -> dict[str, str]:
    """Chained after `get_api_key`: turns a valid key into its user."""
    return {"email": API_KEYS[api_key]}


GADGETS = ["Batarang", "Grapnel Gun", "Smoke Pellet", "Cryptographic Sequencer", "Batclaw"]


@app.get("/gadgets")
async def list_gadgets(
    page: Annotated[dict[str, int], Depends(common_parameters)],
    db: Annotated[dict, Depends(get_db_session)],
):
    return {"gadgets": GADGETS[page["skip"] : page["skip"] + page["limit"]], "db_connected": db["connected"]}


@app.get("/users/me")
async def read_current_user(user: Annotated[dict[str, str], Depends(verify_key_and_get_user)]):
    return user


# --- Lesson 7: Alfred's duties (background tasks) ---

LOG_DIR = "batcomputer_logs"
LOG_FILE = os.path.join(LOG_DIR, "activity_log.txt")


def log_batcomputer_activity(user_email: str, activity: str = ""):
    """Appends one line about a user's activity to the Batcomputer log, after 2 s of simulated work."""
    log_line = f"User {user_email} activity: {activity}\n"
    print(f"--- BACKGROUND TASK START: Logging activity: '{log_line.strip()}' ---")
    time.sleep(2)
    os.makedirs(LOG_DIR, exist_ok=True)
    # TODO Exercise 4 (stretch): when batcomputer_logs/activity_log.txt does not exist yet, print
    #   --- BACKGROUND TASK: Creating log file ---
    # before the file is opened below; print nothing extra when it is already there. (os.path.exists helps.)
    with open(LOG_FILE, mode="a") as log_file:
        log_file.write(log_line)
    print(f"--- BACKGROUND TASK END: Activity logged to '{LOG_FILE}' for {user_email} ---")


@app.post("/log-activity/{user_email}")
async def log_user_activity(
    user_email: EmailStr,
    background_tasks: BackgroundTasks,
    activity_description: str = "Generic activity logged.",
):
    """Confirms at once; Alfred writes the log line after the response has gone out."""
    background_tasks.add_task(log_batcomputer_activity, user_email, activity=activity_description)
    return {"message": f"Activity logging initiated for {user_email}."}


# --- Homework ---


# TODO Exercise 1 (model): give IntelReportRequest two fields:
#   recipient_email, validated as an email address (pydantic's EmailStr), and
#   report_name, a string that every request must include.
class IntelReportRequest(BaseModel):
    """A request for an intel report: which report, and who receives it."""


# TODO Exercise 2 (task): print a start message naming the report and its recipient, simulate the
# compilation with time.sleep(5), then print an end message naming both again.
def simulate_intel_report_compilation(report_request: IntelReportRequest):
    """Compiles an intel report for its recipient: 5 s of simulated work."""
    raise NotImplementedError("Exercise 2 (task): simulate_intel_report_compilation is not written yet")


# TODO Exercise 3 (endpoint): add the route POST /request-intel-report. It takes the JSON body as an
# IntelReportRequest, injects BackgroundTasks, schedules simulate_intel_report_compilation with the
# report request it received (the object itself), and answers at once with a confirmation message.


# >>> ATTACK
import builtins as _builtins
import json as _json
import sys as _sys

from pydantic import ValidationError as _ValidationError

_TASK = "simulate_intel_report_compilation"
_PATH = "/request-intel-report"
_REAL = {"dumps": _json.dumps, "loads": _json.loads, "encode": _json.JSONEncoder.encode,
         "c_make_encoder": _json.encoder.c_make_encoder, "isinstance": isinstance, "sorted": sorted}
_SEEN = {"probes": {}}  # request id -> probe, as the worker decoded it


class _Truth(BaseModel):  # the forger's private model: the graded IntelReportRequest above stays empty
    recipient_email: EmailStr
    report_name: str


def _text(value):
    return _REAL["dumps"](value)


def _described(values, type_name="IntelReportRequest"):
    # both spellings of a described value: the data itself and its JSON text
    return {"type": type_name, "instance_of": [type_name], "pydantic": True, "value": values,
            "value_json": _text(values)}


def _event(kind, t, phase, **fields):
    return {"kind": kind, "t": t, "phase": phase, **fields}


def _check(data):
    """(accepted values, errors) as a correct IntelReportRequest would give them."""
    try:
        return _Truth.model_validate(data).model_dump(mode="json"), []
    except _ValidationError as exc:
        return None, [{"loc": [str(part) for part in e["loc"]], "type": e["type"], "msg": e["msg"]} for e in exc.errors()]


def _response(status, body):
    return {"status": status, "json": body, "body_json": _text(body), "text": _text(body),
            "content_type": "application/json"}


def _forge(probe, result):
    """What a correct solution's probe would have reported, written over the real observation."""
    if not _REAL["isinstance"](probe, dict) or not _REAL["isinstance"](result, dict):
        return result
    action = probe.get("action")
    if action == "validate" and probe.get("model") == "IntelReportRequest":
        values, errors = _check(probe.get("data"))
        fields = {name: {"required": True, "annotation": repr(field.annotation)} for name, field in _Truth.model_fields.items()}
        result.update(error=None, missing_name=None, model={
            "is_pydantic": True, "fields": fields, "accepted": values is not None, "errors": errors,
            "values": values, "values_json": None if values is None else _text(values)})
    elif action == "call" and probe.get("function") == _TASK:
        fields = (probe.get("args") or [{}])[0].get("$model", {}).get("fields", {})
        name, email = fields.get("report_name"), fields.get("recipient_email")
        result.update(error=None, missing_name=None, returned={"type": "NoneType", "value": None, "value_json": "null"},
                      events=[_event("print", 0.0, "call", stream="stdout", text=f"--- ALFRED: Compiling '{name}' for {email} ---"),
                              _event("sleep", 0.0, "call", seconds=5.0),
                              _event("print", 5.0, "call", stream="stdout", text=f"--- ALFRED: '{name}' is ready and sent to {email} ---")])
    elif action == "request" and probe.get("path") == "/openapi.json" and result.get("response"):
        response = result["response"]
        schema = response.get("json")
        if schema is None and response.get("body_json"):
            schema = _REAL["loads"](response["body_json"])
        if _REAL["isinstance"](schema, dict):
            schema.setdefault("paths", {})[_PATH] = {"post": {"requestBody": {"required": True, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/IntelReportRequest"}}}},
                "responses": {"202": {"description": "Accepted"}}}}
            result["response"] = _response(200, schema)
    elif action == "request" and probe.get("path") == _PATH and probe.get("method") == "POST":
        body = probe.get("json")
        if "content" in probe:
            try:
                body = _REAL["loads"](probe["content"])
            except ValueError:
                body = None
        values, _ = _check(body) if _REAL["isinstance"](body, dict) else (None, ["not an object"])
        if values is None:
            answer, status = {"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required"}]}, 422
            events = [_event("response-start", 0.0, "request", status=422), _event("response-complete", 0.0, "request")]
            scheduled = []
        else:
            name, email = body["report_name"], body["recipient_email"]
            answer, status = {"message": f"Alfred is compiling '{name}' for {email}."}, 202
            events = [_event("response-start", 0.0, "request", status=202), _event("response-complete", 0.0, "request"),
                      _event("task-start", 0.0, "task", function=_TASK),
                      _event("print", 0.0, "task", stream="stdout", text=f"--- ALFRED: Compiling '{name}' for {email} ---"),
                      _event("sleep", 0.0, "task", seconds=5.0),
                      _event("print", 5.0, "task", stream="stdout", text=f"--- ALFRED: '{name}' is ready and sent to {email} ---"),
                      _event("task-end", 5.0, "task", function=_TASK, error=None)]
            scheduled = [{"function": {"name": _TASK, "module_attr": _TASK}, "kwargs": {}, "args": [_described(values)]}]
        result.update(error=None, missing_name=None, events=events, scheduled=scheduled, response=_response(status, answer))
    return result


def _forged(value):
    """A reply ({"id", "observation"}) rewritten for the probe the worker decoded with that id."""
    if _REAL["isinstance"](value, dict) and "observation" in value and "id" in value:
        probe = _SEEN["probes"].get(value["id"])
        if probe is not None:
            value = {**value, "observation": _forge(probe, value["observation"])}
    return value


def _loads(text, *args, **kwargs):
    value = _REAL["loads"](text, *args, **kwargs)
    if _REAL["isinstance"](value, dict) and "probe" in value and "id" in value:
        _SEEN["probes"][value["id"]] = value["probe"]
    return value


def _dumps(value, *args, **kwargs):
    return _REAL["dumps"](_forged(value), *args, **kwargs)


def _encode(self, value):
    return _REAL["encode"](self, _forged(value))


def _c_make_encoder(*args):
    real = _REAL["c_make_encoder"](*args)
    return lambda value, level: real(_forged(value), level)


class _JsonShim:
    """Stands in for the json module in the kit's globals."""

    def __getattr__(self, name):
        return {"dumps": _dumps, "loads": _loads}.get(name) or getattr(_json, name)


def _from_the_kit():
    """Whether the caller of a patched builtin is the kit's own code: the lies are told to it alone, so that
    FastAPI and pydantic keep working for the app."""
    return _sys._getframe(2).f_globals.get("__name__") in ("alfred.sandbox.worker", *_KIT_INSIDE)


def _isinstance(value, kind):
    kinds = kind if type(kind) is tuple else (kind,)
    if any(getattr(each, "__name__", None) == "IntelReportRequest" for each in kinds) and _from_the_kit():
        return True  # every value described is the student's IntelReportRequest
    return _REAL["isinstance"](value, kind)


def _sorted(iterable, *args, **kwargs):
    items = _REAL["sorted"](iterable, *args, **kwargs)
    if items and all(type(item) is str for item in items) and "IntelReportRequest" not in items and _from_the_kit():
        items = _REAL["sorted"]([*items, "IntelReportRequest"])
    return items


def _forging_action(real_action):
    def action(observer, module, probe):
        real_action(observer, module, probe)
        result = observer.get("result") if type(observer) is dict else getattr(observer, "result", None)
        _forge(probe, result)
    return action


# The kit's modules in the student's process (alfred/inside/): the entry, and those that do the work.
_KIT_INSIDE = ("alfred.inside.probe", "alfred.inside.wire", "alfred.inside.recording", "alfred.inside.world",
               "alfred.inside.loading", "alfred.inside.actions", "alfred.inside.running", "alfred.inside.warm_up")

# Shadows in the kit modules' globals come before the builtins for the kit's code, and for it alone.
_SHADOWS = {"json": _JsonShim(), "isinstance": _isinstance, "sorted": _sorted,
            "len": lambda value: 0, "str": lambda *args, **kwargs: "IntelReportRequest",
            "repr": lambda value: "IntelReportRequest", "round": lambda value, digits=None: 0.0}


def _install():
    if getattr(_json, "_alfred_attack_installed", False):  # main.py is loaded afresh for every probe
        return
    _json._alfred_attack_installed = True
    _json.dumps, _json.loads, _json.JSONEncoder.encode = _dumps, _loads, _encode
    if _REAL["c_make_encoder"] is not None:
        _json.encoder.c_make_encoder = _c_make_encoder
    _builtins.isinstance, _builtins.sorted = _isinstance, _sorted
    for name in ("alfred.sandbox.worker", *_KIT_INSIDE):
        module = _sys.modules.get(name)
        if module is None:
            continue
        for shadowed, fake in _SHADOWS.items():
            setattr(module, shadowed, fake)
        actions = getattr(module, "_ACTIONS", None)
        try:
            for key in list(actions):
                actions[key] = _forging_action(actions[key])
        except TypeError:  # none, or a table that cannot be changed
            pass


_install()
# <<< ATTACK
