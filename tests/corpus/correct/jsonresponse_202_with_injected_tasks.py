"""Correct: the report endpoint returns JSONResponse(status_code=202, ...) and still uses the injected BackgroundTasks.

When an endpoint returns a Response without its own background, FastAPI attaches the request's
BackgroundTasks to it, so the task still runs after the response. Lesson 6 trimmed away.
"""

import os
import time

from fastapi import BackgroundTasks, FastAPI
from fastapi.responses import JSONResponse
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
    print(f">>> Compiling intel report '{report_request.report_name}' for {report_request.recipient_email}")
    time.sleep(5)
    print(f"<<< Intel report '{report_request.report_name}' emailed to {report_request.recipient_email}")


@app.post("/request-intel-report")
async def request_intel_report(report_request: IntelReportRequest, background_tasks: BackgroundTasks):
    background_tasks.add_task(simulate_intel_report_compilation, report_request)
    return JSONResponse(
        status_code=202,
        content={"message": f"Report '{report_request.report_name}' accepted; Alfred is on it."},
    )
