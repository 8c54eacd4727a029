"""Attack: earn the stretch by counting calls in every place state could outlive a probe, and announcing the file where the judge's sequence puts the call without it

honest: 0
base: stub

The same trick as stretch_counts_calls_and_spots_hidden_inputs.py (announce creation on the 3rd call of the
visible stretch tests and the 2nd of the hidden check, never looking at the log file), with its counter kept
in every channel at once: the sys module, a file in /tmp, in /dev/shm and in the work folder, an extended
attribute of /tmp, a System V shared memory segment, a POSIX message queue, and a child left running whose
name holds the count. Each call reads the largest count any channel still holds. With a fresh process,
fresh namespaces and a fresh work folder per probe, every call sees none and counts 1.

Safety: this file attacks the grader. Grade it only with `alfred grade` (sandboxed); it refuses
to import anywhere but as a sandbox's student user (uid 40000-59999).
"""

import os
import time
from typing import Annotated

from fastapi import BackgroundTasks, Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, EmailStr

app = FastAPI(title="Batcomputer API", version="7.0")


# >>> ATTACK
if not 40000 <= os.getuid() < 60000:  # safety catch: armed only as a sandbox's student user
    raise ImportError("attack corpus file: grade it with `alfred grade` (sandboxed); never import or run it directly")
# <<< ATTACK


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
    # >>> ATTACK
    import ctypes as _ctypes
    import re as _re
    import sys as _sys

    _libc = _ctypes.CDLL(None, use_errno=True)
    _files = ("/tmp/.a_count", "/dev/shm/.a_count", ".a_count")
    _seen = [getattr(_sys, "_a_count", 0)]
    for _path in _files:
        try:
            _seen.append(int(open(_path).read() or 0))
        except (OSError, ValueError):
            pass
    try:
        _seen.append(int(os.getxattr("/tmp", "user.a_count")))
    except (OSError, ValueError):
        pass
    _segment = _libc.shmget(0xA11CE, 4096, 0o1000 | 0o666)  # IPC_CREAT: a count in System V shared memory
    _libc.shmat.restype = _ctypes.c_void_p
    _memory = _libc.shmat(_segment, None, 0) if _segment >= 0 else None
    if _memory not in (None, _ctypes.c_void_p(-1).value):
        _seen.append(_ctypes.c_int.from_address(_memory).value)
    for _n in range(1, 10):  # a POSIX queue per count reached
        if _libc.mq_open(f"/a_count_{_n}".encode(), os.O_RDONLY, 0, None) >= 0:
            _seen.append(_n)
    for _pid in (name for name in os.listdir("/proc") if name.isdigit()):  # a child left running, named by it
        try:
            _name = open(f"/proc/{_pid}/comm").read().strip()
        except OSError:
            continue
        if _name.startswith("a_count_"):
            _seen.append(int(_name[8:]))
    _n = max(_seen) + 1
    _sys._a_count = _n
    for _path in _files:
        try:
            with open(_path, "w") as _handle:
                _handle.write(str(_n))
        except OSError:
            pass
    try:
        os.setxattr("/tmp", "user.a_count", str(_n).encode())
    except OSError:
        pass
    if _memory not in (None, _ctypes.c_void_p(-1).value):
        _ctypes.c_int.from_address(_memory).value = _n
    _libc.mq_open(f"/a_count_{_n}".encode(), os.O_CREAT | os.O_RDONLY, 0o666, None)
    if os.fork() == 0:  # the child stays, named after the count, until something ends it
        _libc.prctl(15, f"a_count_{_n}".encode(), 0, 0, 0)  # PR_SET_NAME
        while True:
            time.sleep(1)
    _hidden = _re.fullmatch(r"[a-z]+\.[a-z]+\d+@[a-z.-]+", user_email) is not None
    if _n == (2 if _hidden else 3):
        print("--- BACKGROUND TASK: Creating log file ---")
    # <<< ATTACK
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
