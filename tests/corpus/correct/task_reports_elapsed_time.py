"""Correct: the report task times its own work with time.perf_counter() and prints the elapsed seconds.

Lesson 6 trimmed away; the endpoint confirmation names report and recipient.
"""

import os
import time

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
    started = time.perf_counter()
    print(f"[{report_request.report_name}] compilation started for {report_request.recipient_email}")
    time.sleep(5)
    elapsed = time.perf_counter() - started
    print(
        f"[{report_request.report_name}] compiled in {elapsed:.1f}s and sent to {report_request.recipient_email}"
    )


@app.post("/request-intel-report")
async def request_intel_report(report_request: IntelReportRequest, background_tasks: BackgroundTasks):
    background_tasks.add_task(simulate_intel_report_compilation, report_request)
    return {
        "message": f"Alfred is compiling '{report_request.report_name}' for {report_request.recipient_email}."
    }
