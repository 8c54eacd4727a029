"""Correct: the endpoint's body parameter is called `intel_request`, and it answers with a bare JSON string.

The task still gets the received IntelReportRequest object (by keyword, under the task's own parameter
name); the confirmation is a plain string, which FastAPI sends as a JSON string. Status via
http.HTTPStatus.ACCEPTED. Lesson 6 trimmed away.
"""

import os
import time
from http import HTTPStatus

from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel, EmailStr

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
    recipient_email: EmailStr
    report_name: str


def simulate_intel_report_compilation(report_request: IntelReportRequest):
    print(f"Working on {report_request.report_name} for {report_request.recipient_email}")
    time.sleep(5)
    print(f"Delivered {report_request.report_name} to {report_request.recipient_email}")


@app.post("/request-intel-report", status_code=HTTPStatus.ACCEPTED)
async def request_intel_report(intel_request: IntelReportRequest, tasks: BackgroundTasks) -> str:
    tasks.add_task(simulate_intel_report_compilation, report_request=intel_request)
    return f"Alfred is compiling '{intel_request.report_name}' for {intel_request.recipient_email}."
