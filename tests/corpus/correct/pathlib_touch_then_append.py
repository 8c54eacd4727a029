"""Correct: stretch with pathlib: when the log file is missing, print the message and Path.touch() it, then append.

The message comes before the file exists; the line is then appended with Path.open("a"). `import time as t`.
Lesson 6 trimmed away.
"""

import time as t
from pathlib import Path

from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel, EmailStr

app = FastAPI(title="Batcomputer API", version="7.0")

LOG_FILE = Path("batcomputer_logs", "activity_log.txt")


def log_batcomputer_activity(user_email: str, activity: str = ""):
    log_message = f"User {user_email} activity: {activity}\n"
    print(f"--- BACKGROUND TASK START: Logging activity: '{log_message.strip()}' ---")
    t.sleep(2)
    LOG_FILE.parent.mkdir(exist_ok=True)
    if not LOG_FILE.is_file():
        print("--- BACKGROUND TASK: Creating log file ---")
        LOG_FILE.touch()
    with LOG_FILE.open(mode="a") as log_file:
        log_file.write(log_message)
    print(f"--- BACKGROUND TASK END: Activity logged to '{LOG_FILE}' for {user_email} ---")


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
    print(f"Alfred: '{report_request.report_name}' for {report_request.recipient_email} - compiling now.")
    t.sleep(5)
    print(f"Alfred: '{report_request.report_name}' for {report_request.recipient_email} - complete.")


@app.post("/request-intel-report", status_code=202)
def request_intel_report(report_request: IntelReportRequest, background_tasks: BackgroundTasks):
    background_tasks.add_task(simulate_intel_report_compilation, report_request)
    return {"message": "Accepted. Alfred will send the report by email."}
