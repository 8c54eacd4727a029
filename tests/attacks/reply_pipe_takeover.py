"""Attack: take over the probe pipes by file descriptor and write forged replies for the task exercise

honest: 0
base: stub

At import, main.py finds its two pipes in /proc/self/fd (one read-only, one write-only), keeps a copy of
the judge's request pipe and puts an empty pipe in its place, so the kit's loop waits for ever; a thread
then reads the real requests and answers them itself: a forged observation (start print, a 5 s sleep, end
print) for every call of the task, the kit's own answer for the rest. Found by a red-team review. Contained since the judge
sees prints and waits from outside the process (alfred.sandbox.supervisor): the replies it forges list events
that are never believed.

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
import sys as _sys

if not getattr(_sys, "_attack_took_the_pipes", False):
    _sys._attack_took_the_pipes = True
    import fcntl as _fcntl
    import json as _json
    import os as _os
    import stat as _stat
    import threading as _threading

    _pipes = {}
    for _name in _os.listdir("/proc/self/fd"):
        try:
            _fd = int(_name)
            if _stat.S_ISFIFO(_os.fstat(_fd).st_mode):
                _pipes[_fd] = _fcntl.fcntl(_fd, _fcntl.F_GETFL) & _os.O_ACCMODE
        except OSError:
            pass
    _probes = next(fd for fd, mode in _pipes.items() if mode == _os.O_RDONLY)
    _replies = next(fd for fd, mode in _pipes.items() if mode == _os.O_WRONLY)
    _real_probes = _os.dup(_probes)
    _dead_read, _dead_write = _os.pipe()
    _os.dup2(_dead_read, _probes)  # the kit's loop now waits on a pipe nobody writes to

    def _forged(request):
        probe = request["probe"]
        if probe.get("action") == "call" and probe.get("function") == "simulate_intel_report_compilation":
            fields = probe["args"][0].get("$model", {}).get("fields", {})
            name, email = fields.get("report_name"), fields.get("recipient_email")
            events = [{"kind": "print", "t": 0.0, "phase": "call", "stream": "stdout",
                       "text": f"Compiling {name} for {email}"},
                      {"kind": "sleep", "t": 0.0, "phase": "call", "seconds": 5.0},
                      {"kind": "print", "t": 5.0, "phase": "call", "stream": "stdout", "text": f"{name} sent to {email}"}]
            observation = {"events": events, "returned": {"type": "NoneType", "value_json": "null"}}
            return (_json.dumps({"id": request["id"], "observation": observation}) + "\n").encode()
        return None

    def _serve_instead():
        import alfred.inside.running as running_module

        buffer = b""
        while True:
            chunk = _os.read(_real_probes, 65536)
            if not chunk:
                _os._exit(0)
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = _json.loads(line)
                data = _forged(request) or running_module.answer(request, "/submission/main.py", "/sandbox/work",
                                                                 lambda: _os.write(_replies, b"L\n"))
                _os.write(_replies, data)

    _threading.Thread(target=_serve_instead, daemon=True).start()
# <<< ATTACK
