"""Correct: the report task works in five time.sleep(1) steps with progress prints between them.

Start message before the first step, end message after the last; the steps add up to the 5 s asked for.
Lesson 6 trimmed to what lesson 7 needs (nothing), app kept.
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


STEPS = ["Gathering surveillance", "Cross-referencing GCPD files", "Decrypting intercepts",
         "Analysing patterns", "Formatting the dossier"]


def simulate_intel_report_compilation(report_request: IntelReportRequest):
    print(f"Alfred begins compiling '{report_request.report_name}' for {report_request.recipient_email}")
    for number, step in enumerate(STEPS, start=1):
        time.sleep(1)
        if number < len(STEPS):
            print(f"  [{number}/{len(STEPS)}] {step}... done")
    print(f"Alfred has finished '{report_request.report_name}' and sent it to {report_request.recipient_email}")


@app.post("/request-intel-report")
def request_intel_report(report_request: IntelReportRequest, background_tasks: BackgroundTasks):
    background_tasks.add_task(simulate_intel_report_compilation, report_request)
    return {"message": f"Report '{report_request.report_name}' queued for compilation."}
