"""Correct: both lesson 7 endpoints are plain `def` (FastAPI runs them in its threadpool) and print like the lesson.

The endpoints print "Preparing background task" / "Returning response" as the lesson's worked example does.
Lesson 6 kept.
"""

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


# --- Background Task Functions (Alfred's Duties) ---


def log_batcomputer_activity(user_email: str, activity: str = ""):
    """ Simulates Alfred logging activity to the Batcomputer logs. """
    log_message = f"User {user_email} activity: {activity}\n"
    print(f"--- BACKGROUND TASK START: Logging activity: '{log_message.strip()}' ---")
    time.sleep(2)
    log_dir = "batcomputer_logs"
    os.makedirs(log_dir, exist_ok=True)
    file_path = os.path.join(log_dir, "activity_log.txt")
    if not os.path.exists(file_path):
        print("--- BACKGROUND TASK: Creating log file ---")
    with open(file_path, mode="a") as log_file:
        log_file.write(log_message)
    print(f"--- BACKGROUND TASK END: Activity logged to '{file_path}' for {user_email} ---")


def simulate_intel_report_compilation(report_request: "IntelReportRequest"):
    print(f"--- BACKGROUND TASK START: Compiling '{report_request.report_name}' for {report_request.recipient_email} ---")
    time.sleep(5)
    print(f"--- BACKGROUND TASK END: '{report_request.report_name}' sent to {report_request.recipient_email} ---")


# --- Models ---


class IntelReportRequest(BaseModel):
    recipient_email: EmailStr
    report_name: str


# --- Endpoints ---


@app.post("/log-activity/{user_email}")
def log_user_activity(
    user_email: EmailStr,
    background_tasks: BackgroundTasks,
    activity_description: str = "Generic activity logged.",
):
    confirmation_message = f"Activity logging initiated for {user_email}."
    print(f"Endpoint '/log-activity/{user_email}': Preparing background task.")
    background_tasks.add_task(log_batcomputer_activity, user_email, activity=activity_description)
    print(f"Endpoint '/log-activity/{user_email}': Returning response.")
    return {"message": confirmation_message}


@app.post("/request-intel-report")
def request_intel_report(report_request: IntelReportRequest, background_tasks: BackgroundTasks):
    print("Endpoint '/request-intel-report': Preparing background task.")
    background_tasks.add_task(simulate_intel_report_compilation, report_request)
    print("Endpoint '/request-intel-report': Returning response.")
    return {"message": f"Alfred is compiling the intel report '{report_request.report_name}'."}
