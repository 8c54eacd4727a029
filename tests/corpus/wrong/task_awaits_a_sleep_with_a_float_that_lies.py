"""Wrong: the async task awaits asyncio.sleep with a float subclass that holds 5.0 and answers True when asked
whether it is at most 0 (__le__).

loses: task

asyncio.sleep is Python code: it asks `delay <= 0`, hears True, and waits nothing: the task does no work. A
kit that read the float's stored value, as it does for time.sleep (whose C code reads it so), would have
counted 5 s (a reviewer's attack). Only the task's tests of its 5 s of work fail; the endpoint runs the kit's
stand-in task, not this one.

Otherwise a copy of tests/corpus/correct/async_report_task_asyncio_sleep.py.
"""

import asyncio
import os
import time
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, EmailStr

app = FastAPI(title="Batcomputer API", version="7.0")

API_KEYS = {"alfred-secret-key": "alfred@wayne.enterprises"}


async def common_parameters(skip: int = 0, limit: int = 10) -> dict[str, int]:
    return {"skip": skip, "limit": limit}


def get_db_session():
    session = {"connected": True}
    try:
        yield session
    finally:
        session["connected"] = False


async def get_api_key(x_api_key: Annotated[str | None, Header()] = None) -> str:
    if x_api_key not in API_KEYS:
        raise HTTPException(status_code=401, detail="Invalid or missing API key")
    return x_api_key


async def verify_key_and_get_user(api_key: Annotated[str, Depends(get_api_key)]) -> dict[str, str]:
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


def log_batcomputer_activity(user_email: str, activity: str = ""):
    log_message = "User {} activity: {}\n".format(user_email, activity)
    print("--- BACKGROUND TASK START: Logging activity: '{}' ---".format(log_message.strip()))
    time.sleep(2)
    log_dir = "batcomputer_logs"
    os.makedirs(log_dir, exist_ok=True)
    file_path = os.path.join(log_dir, "activity_log.txt")
    if not os.path.exists(file_path):
        print("--- BACKGROUND TASK: Creating log file ---")
    with open(file_path, mode="a") as log_file:
        log_file.write(log_message)
    print("--- BACKGROUND TASK END: Activity logged to '{}' for {} ---".format(file_path, user_email))


@app.post("/log-activity/{user_email}")
async def log_user_activity(
    user_email: EmailStr,
    background_tasks: BackgroundTasks,
    activity_description: str = "Generic activity logged.",
):
    background_tasks.add_task(log_batcomputer_activity, user_email, activity=activity_description)
    return {"message": "Activity logging initiated for {}.".format(user_email)}


class IntelReportRequest(BaseModel):
    recipient_email: EmailStr
    report_name: str


async def simulate_intel_report_compilation(report_request: IntelReportRequest):
    print("--- REPORT START: '{}' for {} ---".format(report_request.report_name, report_request.recipient_email))
    await asyncio.sleep(_SecondsThatLie(5.0))
    print("--- REPORT DONE: '{}' sent to {} ---".format(report_request.report_name, report_request.recipient_email))


class _SecondsThatLie(float):
    """Holds 5.0; tells asyncio.sleep, which asks whether it is at most 0, that it is."""

    def __le__(self, other):
        return True


@app.post("/request-intel-report")
async def request_intel_report(report_request: IntelReportRequest, background_tasks: BackgroundTasks):
    background_tasks.add_task(simulate_intel_report_compilation, report_request)
    return {"message": "Alfred is on it: '{}' is being compiled.".format(report_request.report_name)}
