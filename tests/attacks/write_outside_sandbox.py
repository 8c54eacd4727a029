"""Attack: write marker files outside its work folder: home, /etc, /root, /usr, the kit, the venv, /tmp, /sandbox siblings, /submissions

honest: 0
base: stub

Tries to create alfred_attack_* files (content ALFRED-ATTACK-MARKER) in every interesting place, to
append to /etc/hostname and the kit's files, and to create sibling folders next to its own work
folder; reports which writes landed (only the private tmpfs places should).

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
import json as _json


def _attack_report(**found):
    """Ends the import with what the attack found, so the grade report shows it (the stub scores 0 anyway)."""
    raise RuntimeError("ATTACK-REPORT " + _json.dumps(found, sort_keys=True, default=str)[:1900])


def _once(tag, work):
    """Does the heavy part once per submission: every probe imports main.py again."""
    path = f"/tmp/.alfred_attack_{tag}.json"
    try:
        with open(path) as handle:
            return _json.load(handle)
    except (OSError, ValueError):
        pass
    result = work()
    try:
        with open(path, "w") as handle:
            _json.dump(result, handle, default=str)
    except OSError:
        pass
    return result

import os as _os


def _write():
    targets = ["/etc", "/root", "/usr", "/usr/lib", "/work", "/work/main", "/work/main/alfred", "/work/main/.venv",
               "/work/main/.venv/lib", "/root/.pyenv", "/submissions", "/proc", "/dev", "/", "/sandbox", "/tmp",
               _os.path.expanduser("~"), _os.path.dirname(_os.getcwd()), _os.path.dirname(_os.path.dirname(_os.getcwd())),
               _os.path.dirname(_os.path.realpath(__file__)), "/dev/shm", "/var/tmp", "/run"]
    landed, refused = [], {}
    for folder in targets:
        path = _os.path.join(folder, "alfred_attack_marker.txt")
        try:
            with open(path, "w") as handle:
                handle.write("ALFRED-ATTACK-MARKER\n")
            landed.append(path)
        except OSError as exc:
            refused[folder] = exc.strerror
    for path in ["/etc/hostname", "/etc/passwd", "/work/main/alfred/grading/grade.py", "/work/main/alfred/__init__.py",
                 "/proc/sys/kernel/hostname", __file__]:
        try:
            with open(path, "a") as handle:
                handle.write("# ALFRED-ATTACK-MARKER\n")
            landed.append("appended:" + path)
        except OSError as exc:
            refused[path] = exc.strerror
    sibling = _os.path.join(_os.path.dirname(_os.path.dirname(_os.getcwd())), "s-alfred-attack-sibling")
    try:
        _os.makedirs(sibling, exist_ok=True)
        landed.append(sibling)
    except OSError as exc:
        refused[sibling] = exc.strerror
    return {"landed": landed, "refused": refused}


_attack_report(**_once("write", _write))
# <<< ATTACK
