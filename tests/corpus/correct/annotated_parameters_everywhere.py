"""Correct: every endpoint parameter uses Annotated[...] (Path, Query, Body), including the worked example's.

Lesson 6 trimmed away.
"""

import os
import time
from typing import Annotated

from fastapi import BackgroundTasks, Body, FastAPI, Path, Query
from pydantic import BaseModel, EmailStr

app = FastAPI(title="Batcomputer API", version="7.0")

LOG_DIR = "batcomputer_logs"
LOG_FILE = os.path.join(LOG_DIR, "activity_log.txt")


def log_batcomputer_activity(user_email: str, activity: str = "") -> None:
    log_message = f"User {user_email} activity: {activity}\n"
    print(f"--- BACKGROUND TASK START: Logging activity: '{log_message.strip()}' ---")
    time.sleep(2)
    os.makedirs(LOG_DIR, exist_ok=True)
    if not os.path.exists(LOG_FILE):
        print("--- BACKGROUND TASK: Creating log file ---")
    with open(LOG_FILE, mode="a") as log_file:
        log_file.write(log_message)
    print(f"--- BACKGROUND TASK END: Activity logged to '{LOG_FILE}' for {user_email} ---")


@app.post("/log-activity/{user_email}")
async def log_user_activity(
    user_email: Annotated[EmailStr, Path(description="Whose activity to log")],
    background_tasks: BackgroundTasks,
    activity_description: Annotated[str, Query(description="What they did")] = "Generic activity logged.",
):
    background_tasks.add_task(log_batcomputer_activity, user_email, activity=activity_description)
    return {"message": f"Activity logging initiated for {user_email}."}


class IntelReportRequest(BaseModel):
    recipient_email: EmailStr
    report_name: str


def simulate_intel_report_compilation(report_request: IntelReportRequest) -> None:
    print(f"Report job started: '{report_request.report_name}' -> {report_request.recipient_email}")
    time.sleep(5)
    print(f"Report job finished: '{report_request.report_name}' -> {report_request.recipient_email}")


@app.post("/request-intel-report")
async def request_intel_report(
    report_request: Annotated[IntelReportRequest, Body()],
    background_tasks: BackgroundTasks,
) -> dict[str, str]:
    background_tasks.add_task(simulate_intel_report_compilation, report_request)
    return {"message": "Your intel report is being compiled."}
