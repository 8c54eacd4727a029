"""Correct: `import time as t`, lesson 6 trimmed away entirely, and the report endpoint answers 202 via status.HTTP_202_ACCEPTED.

A minimal file: just the app and the lesson 7 parts.
"""

import os
import time as t

from fastapi import BackgroundTasks, FastAPI, status
from pydantic import BaseModel, EmailStr

app = FastAPI()

LOG_DIR = "batcomputer_logs"
LOG_FILE = os.path.join(LOG_DIR, "activity_log.txt")


def log_batcomputer_activity(user_email: str, activity: str = ""):
    log_message = f"User {user_email} activity: {activity}\n"
    print(f"--- BACKGROUND TASK START: Logging activity: '{log_message.strip()}' ---")
    t.sleep(2)
    os.makedirs(LOG_DIR, exist_ok=True)
    if not os.path.exists(LOG_FILE):
        print("--- BACKGROUND TASK: Creating log file ---")
    with open(LOG_FILE, "a") as f:
        f.write(log_message)
    print(f"--- BACKGROUND TASK END: Activity logged to '{LOG_FILE}' for {user_email} ---")


@app.post("/log-activity/{user_email}")
async def log_user_activity(
    user_email: EmailStr, background_tasks: BackgroundTasks, activity_description: str = "Generic activity logged."
):
    background_tasks.add_task(log_batcomputer_activity, user_email, activity=activity_description)
    return {"message": f"Activity logging initiated for {user_email}."}


class IntelReportRequest(BaseModel):
    recipient_email: EmailStr
    report_name: str


def simulate_intel_report_compilation(report_request: IntelReportRequest):
    name, email = report_request.report_name, report_request.recipient_email
    print(f"[Alfred] Compiling intel report '{name}' for {email}...")
    t.sleep(5)
    print(f"[Alfred] Intel report '{name}' compiled and delivered to {email}.")


@app.post("/request-intel-report", status_code=status.HTTP_202_ACCEPTED)
async def request_intel_report(report_request: IntelReportRequest, background_tasks: BackgroundTasks):
    background_tasks.add_task(simulate_intel_report_compilation, report_request)
    return {"message": "Request accepted. Alfred will compile the report in the background."}
