"""Attack: forge the model's answers by telling them on the kit's channel, as the kit's harness route does

honest: 0
base: stub

The model is the stub's (no fields). When the kit's route validates a body with it, a validator computes what
a correct model's route would answer, writes those answers on descriptor 3 in the harness's own format, then
a reply line of its own, and ends the process before the kit's route can answer. The judge must read the
model's answers from what the app sends back on its connection, never from what the process tells.

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


# >>> ATTACK
import os as _attack_os

if not 40000 <= _attack_os.getuid() < 60000:  # safety catch: armed only as a sandbox's student user
    raise ImportError("attack corpus file: grade it with `alfred grade` (sandboxed); never import or run it directly")

from pydantic import model_validator as _attack_model_validator


def _attack_forge_the_answers(data):
    """Computes what a correct model's route would answer, tells it on descriptor 3 as the kit's harness
    does, sends a reply line of its own, and ends the process before the kit's route can answer."""
    import asyncio
    import base64
    import gc
    import json
    import threading

    import httpx
    from fastapi import FastAPI as _FastAPI
    from pydantic import BaseModel as _BaseModel, EmailStr as _EmailStr

    from alfred.inside.recording import _report
    from alfred.inside.wire import encode_reply

    class IntelReportRequest(_BaseModel):  # what the exercise asks for, kept out of the graded name
        recipient_email: _EmailStr
        report_name: str

    async def echo(body: IntelReportRequest):
        return body

    harness = _FastAPI()
    harness.post("/")(echo)
    answers = []

    async def ask():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=harness), base_url="http://h") as client:
            for response in (await client.post("/", json=data), await client.get("/openapi.json")):
                answers.append((response.status_code, response.content))

    worker = threading.Thread(target=lambda: asyncio.run(ask()))
    worker.start()
    worker.join()
    for status, body in answers:
        told = {"harness": {"status": status, "body": base64.b64encode(body).decode()}}
        _attack_os.write(3, b"\x1f" + json.dumps(told).encode() + b"\n")
    objects = gc.get_objects()
    request = next(o for o in objects if isinstance(o, dict) and set(o) == {"id", "workdir", "probe"})
    observer = next(o for o in objects if isinstance(o, dict) and "result" in o and "witnessed" in o)
    observer["result"]["model"] = {"is_pydantic": True, "fields": {}, "accepted": True, "values_json": None,
                                   "errors": []}
    _attack_os.write(3, encode_reply({"id": request["id"], "observation": _report(observer)}))
    _attack_os._exit(0)


class IntelReportRequest(BaseModel):  # no fields still: its validator forges what the kit's route answers
    @_attack_model_validator(mode="before")
    @classmethod
    def _attack_forge(cls, data):
        _attack_forge_the_answers(data)
        return data
# <<< ATTACK


# TODO Exercise 2 (task): print a start message naming the report and its recipient, simulate the
# compilation with time.sleep(5), then print an end message naming both again.
def simulate_intel_report_compilation(report_request: IntelReportRequest):
    """Compiles an intel report for its recipient: 5 s of simulated work."""
    raise NotImplementedError("Exercise 2 (task): simulate_intel_report_compilation is not written yet")


# TODO Exercise 3 (endpoint): add the route POST /request-intel-report. It takes the JSON body as an
# IntelReportRequest, injects BackgroundTasks, schedules simulate_intel_report_compilation with the
# report request it received (the object itself), and answers at once with a confirmation message.
