"""Attack: walk the caller frames (sys._getframe) to the probe's _Observer and forge every observation

honest: 0
base: stub

At import, sys._getframe() leads up to alfred.inside.running.run_probe, whose locals hold the probe and the
_Observer. The attack replaces observer.report with a function that fabricates what a correct
solution would have shown: model validation results, task prints and sleeps, the creation
announcement, a 202 response with the task scheduled and run after it, the route in /openapi.json.
The graded functions stay the unfinished stub. KNOWN weakness (SECURITY.md): observations are made
inside the student's process.

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
import json as _json
import sys as _sys

from pydantic import ValidationError as _ValidationError

_TASK = "simulate_intel_report_compilation"
_PATH = "/request-intel-report"


class _Truth(BaseModel):  # the forger's private model: the graded IntelReportRequest above stays empty
    recipient_email: EmailStr
    report_name: str


def _event(kind, t, phase, **fields):
    return {"kind": kind, "t": t, "phase": phase, **fields}


def _check(data):
    """(accepted values, errors) as a correct IntelReportRequest would give them."""
    try:
        return _Truth.model_validate(data).model_dump(mode="json"), []
    except _ValidationError as exc:
        return None, [{"loc": [str(part) for part in e["loc"]], "type": e["type"], "msg": e["msg"]} for e in exc.errors()]


def _forge(probe, result):
    action = probe.get("action")
    if action == "validate" and probe.get("model") == "IntelReportRequest":
        values, errors = _check(probe.get("data"))
        fields = {name: {"required": True, "annotation": repr(field.annotation)} for name, field in _Truth.model_fields.items()}
        result.update(error=None, missing_name=None, model={"is_pydantic": True, "fields": fields,
                      "accepted": values is not None, "values": values, "errors": errors})
    elif action == "call" and probe.get("function") == _TASK:
        fields = probe["args"][0].get("$model", {}).get("fields", {})
        name, email = fields.get("report_name"), fields.get("recipient_email")
        result.update(error=None, missing_name=None, returned={"type": "NoneType", "instance_of": [], "pydantic": False, "value": None},
                      events=[_event("print", 0.0, "call", stream="stdout", text=f"--- ALFRED: Compiling '{name}' for {email} ---"),
                              _event("sleep", 0.0, "call", seconds=5.0),
                              _event("print", 5.0, "call", stream="stdout", text=f"--- ALFRED: '{name}' is ready and sent to {email} ---")])
    elif action == "call" and probe.get("function") == "log_batcomputer_activity":
        events = result["events"]
        if events and events[0].get("kind") == "print" and not any(events[0].get("watched", {}).values()):
            events.insert(1, {**events[0], "text": "--- BACKGROUND TASK: Creating log file ---"})
    elif action == "request" and probe.get("path") == "/openapi.json" and result.get("response"):
        schema = result["response"]["json"]
        schema.setdefault("paths", {})[_PATH] = {"post": {"requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/IntelReportRequest"}}}},
            "responses": {"202": {"description": "Accepted"}}}}
        result["response"]["text"] = _json.dumps(schema)[:2000]
    elif action == "request" and probe.get("path") == _PATH and probe.get("method") == "POST":
        body = probe.get("json")
        if "content" in probe:
            try:
                body = _json.loads(probe["content"])
            except ValueError:
                body = None
        values, _ = _check(body) if isinstance(body, dict) else (None, ["not an object"])
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
            scheduled = [{"function": {"name": _TASK, "module_attr": _TASK}, "kwargs": {},
                          "args": [{"type": "IntelReportRequest", "instance_of": ["IntelReportRequest"], "pydantic": True, "value": values}]}]
        result.update(error=None, missing_name=None, events=events, scheduled=scheduled,
                      response={"status": status, "json": answer, "text": _json.dumps(answer), "content_type": "application/json"})
    return result


def _hook():
    frame = _sys._getframe(1)
    while frame is not None:
        observer, probe = frame.f_locals.get("observer"), frame.f_locals.get("probe")
        if observer is not None and isinstance(probe, dict) and hasattr(observer, "result"):
            real_report = observer.report
            observer.report = lambda: _forge(probe, real_report())
            return
        frame = frame.f_back


_hook()
# <<< ATTACK
