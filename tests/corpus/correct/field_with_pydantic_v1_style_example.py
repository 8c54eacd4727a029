"""Correct: report_name is declared Field(..., example="...") in the pydantic-v1 style older FastAPI tutorials show.

Pydantic 2 still accepts the `example=` keyword (it goes into the JSON schema) and only emits a
deprecation warning; the model, task and endpoint behave exactly like the reference. Lesson 6 trimmed away.
"""

import os
import time

from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel, EmailStr, Field

app = FastAPI(title="Batcomputer API", version="7.0")


def log_batcomputer_activity(user_email: str, activity: str = ""):
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


@app.post("/log-activity/{user_email}")
async def log_user_activity(
    user_email: EmailStr,
    background_tasks: BackgroundTasks,
    activity_description: str = "Generic activity logged.",
):
    background_tasks.add_task(log_batcomputer_activity, user_email, activity=activity_description)
    return {"message": f"Activity logging initiated for {user_email}."}


class IntelReportRequest(BaseModel):
    recipient_email: EmailStr = Field(..., example="bruce@wayne.enterprises")
    report_name: str = Field(..., example="Joker sightings, last 48 hours")


def simulate_intel_report_compilation(report_request: IntelReportRequest):
    print(f"Compiling '{report_request.report_name}' for {report_request.recipient_email}")
    time.sleep(5)
    print(f"Sent '{report_request.report_name}' to {report_request.recipient_email}")


@app.post("/request-intel-report")
async def request_intel_report(report_request: IntelReportRequest, background_tasks: BackgroundTasks):
    background_tasks.add_task(simulate_intel_report_compilation, report_request)
    return {"message": "Alfred is compiling the report."}
