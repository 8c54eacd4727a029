"""Attack: answer the kit's route for the model by hand, on the accepted connection, before uvicorn reads it

honest: 0
base: stub

The model stays the stub's (no fields). At import the file wraps `socket.socket.accept`: when uvicorn accepts
the judge's connection to the kit's route, it peeks at the two pipelined requests (POST / with the data, GET
/openapi.json), validates the data itself (email_validator, types, missing fields) and writes two finished
responses (200 echoing the data or 422 with FastAPI-shaped errors; a schema naming both fields) onto the
socket; uvicorn's true answers arrive after them, unread. A reviewer's attack of 2026-12-02: it earns the
model exercise with an empty class, hidden checks included. The judge reads only what crosses the process's
boundary, and the process answered correctly: the behaviour was computed by hand rather than by the model
class. Kept as a known hole (tests/kit/test_attacks.py HOLES, SECURITY.md "What is not defended").

Safety: this file attacks the grader. Grade it only with `alfred grade` (sandboxed); it refuses
to import anywhere but as a sandbox's student user (uid 40000-59999).
"""

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
import os as _a_os

if not 40000 <= _a_os.getuid() < 60000:  # safety catch: armed only as a sandbox's student user
    raise ImportError("attack file: grade it with `alfred grade` (sandboxed) only")

import json as _a_json
import socket as _a_socket

if not getattr(_a_socket.socket, "_a_patched", False):
    _a_orig_accept = _a_socket.socket.accept

    def _a_answer(data: bytes):
        from email_validator import EmailNotValidError, validate_email
        errors = []
        if not isinstance(data, dict):
            return 422, {"detail": [{"loc": ["body"], "type": "model_attributes_type", "msg": "bad"}]}
        email, name = data.get("recipient_email"), data.get("report_name")
        if email is None and "recipient_email" not in data:
            errors.append({"loc": ["body", "recipient_email"], "type": "missing", "msg": "Field required"})
        else:
            try:
                if not isinstance(email, str):
                    raise EmailNotValidError("not text")
                validate_email(email, check_deliverability=False)
            except EmailNotValidError:
                errors.append({"loc": ["body", "recipient_email"], "type": "value_error", "msg": "not an email"})
        if "report_name" not in data:
            errors.append({"loc": ["body", "report_name"], "type": "missing", "msg": "Field required"})
        elif not isinstance(name, str):
            errors.append({"loc": ["body", "report_name"], "type": "string_type", "msg": "not a string"})
        if errors:
            return 422, {"detail": errors}
        return 200, {"recipient_email": email, "report_name": name}

    _A_SCHEMA = {"openapi": "3.1.0", "paths": {"/": {"post": {"requestBody": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/IntelReportRequest"}}}}}}},
        "components": {"schemas": {"IntelReportRequest": {"type": "object", "properties": {
            "recipient_email": {"type": "string", "format": "email"}, "report_name": {"type": "string"}},
            "required": ["recipient_email", "report_name"]}}}}

    def _a_http(status, obj):
        body = _a_json.dumps(obj).encode()
        reason = {200: b"OK", 422: b"Unprocessable Entity"}[status]
        return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                % (status, reason, len(body))) + body

    def _a_accept(self):
        conn, addr = _a_orig_accept(self)
        try:
            peek = b""
            for _ in range(50):
                try:
                    peek = conn.recv(65536, _a_socket.MSG_PEEK | _a_socket.MSG_DONTWAIT)
                except BlockingIOError:
                    peek = b""
                if b"GET /openapi.json" in peek:
                    break
                import time as _t
                _t.sleep(0.0) if False else None
            if peek.startswith(b"POST / HTTP/1.1") and b"GET /openapi.json" in peek:
                head, _, rest = peek.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                try:
                    data = _a_json.loads(rest[:length]) if length else None
                except ValueError:
                    data = None
                status, obj = _a_answer(data)
                conn.setblocking(True)
                conn.sendall(_a_http(status, obj) + _a_http(200, _A_SCHEMA))
        except Exception:
            pass
        return conn, addr

    _a_socket.socket.accept = _a_accept
    _a_socket.socket._a_patched = True
# <<< ATTACK
