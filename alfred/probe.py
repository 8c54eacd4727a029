"""Runs one probe against a student's `main.py` and reports what happened, as plain JSON-ready data.

This is the only kit module that executes student code. The in-process driver calls `run_probe` directly;
the out-of-process drivers call it inside a separate (sandboxed) process and send the same dict back, so
the judge sees identical data either way. Nothing here decides a grade: it only observes.

A probe is a dict:
    {"action": "request", "method": "POST", "path": "/x", "params": {...}, "json": ..., "content": "..."}
    {"action": "call", "function": "name", "args": [...], "kwargs": {...}}   # {"$report": {...}} in args
                                                                             # stands for a report request
    {"action": "validate", "model": "Name", "data": {...}}
plus optional set-up: "files" {relative path: text} and "dirs" [relative paths] created first, and "watch"
[relative paths] whose existence is noted at every event.

Time is virtual: `time.sleep`, `asyncio.sleep` and `anyio.sleep` return at once and move a clock on. When main.py reads
a clock (`time.time()`, `perf_counter`, `datetime`...), that clock is frozen with freezegun before the
module loads, and every simulated sleep ticks it, so the code sees the seconds it asked for. A main.py that
never reads a clock cannot tell, and is spared freezegun's few milliseconds of start-up per probe.

The app's lifespan (a `lifespan` function, startup and shutdown handlers), when main.py gives it one,
runs around each request and call, as a server runs it around the app's life.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import io
import itertools
import json
import os
import sys
import time
import traceback
import warnings
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio

# What one observation may hold, so that an honest reply stays far below the driver's size cap and the
# judge's work on it stays small. `alfred.observation` rejects a (forged) reply beyond these.
MAX_OUTPUT_CHARS = 64_000
MAX_FILE_CHARS = 16_000
MAX_FILES = 20
MAX_TEXT_CHARS = 2_000
MAX_OUTPUT_EVENTS = 2_000  # prints and sleeps
MAX_EVENTS = 2 * MAX_OUTPUT_EVENTS  # and the requests' and tasks' own events
MAX_SCHEDULED = 100  # background tasks described
MAX_ARGUMENTS = 20  # arguments described, per task
_module_counter = itertools.count()


def run_probe(main_path: str | os.PathLike, probe: dict, workdir: str | os.PathLike, on_loaded=None) -> dict:
    """Loads `main_path` afresh inside `workdir`, runs `probe`, and returns the observation.

    `on_loaded` is called once the module has been imported (the worker tells its parent, so a hang at
    import time is told apart from a hang in a request).
    """
    observer = _Observer(Path(main_path).resolve(), Path(workdir).resolve(), probe.get("watch", []))
    with observer.session():
        _prepare_workdir(observer.workdir, probe)
        module = observer.load_module()
        if on_loaded is not None:
            on_loaded()
        if module is not None:
            action = _ACTIONS.get(probe.get("action"))
            if action is None:
                raise ValueError(f"unknown probe action {probe.get('action')!r}")
            action(observer, module, probe)
    return observer.report()


def _prepare_workdir(workdir: Path, probe: dict) -> None:
    for folder in probe.get("dirs", []):
        (workdir / folder).mkdir(parents=True, exist_ok=True)
    for relative, text in probe.get("files", {}).items():
        target = workdir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


class _Observer:
    """Collects events on a virtual clock while student code runs."""

    def __init__(self, main_path: Path, workdir: Path, watch: list[str]):
        self.main_path = main_path
        self.workdir = workdir
        self.watch = watch
        self.result: dict[str, Any] = {
            "load_error": None,
            "missing_name": None,
            "error": None,
            "response": None,
            "returned": None,
            "model": None,
            "events": [],
            "scheduled": [],
            "files": {},
            "warnings": [],
            "output_truncated": False,
        }
        self.module = None
        self.module_name = ""
        self._output_chars = 0
        self._virtual_seconds = 0.0
        self._clock = None  # freezegun's clock, when main.py reads a clock
        self._phase = "import"

    # --- recording ---

    def now(self) -> float:
        return round(self._virtual_seconds, 6)

    def event(self, kind: str, **fields: Any) -> None:
        recorded = len(self.result["events"])
        if recorded >= MAX_EVENTS or (kind in ("print", "sleep") and recorded >= MAX_OUTPUT_EVENTS):
            self.result["output_truncated"] = True
            return
        entry = {"kind": kind, "t": self.now(), "phase": self._phase, **fields}
        if self.watch:
            entry["watched"] = {path: (self.workdir / path).exists() for path in self.watch}
        self.result["events"].append(entry)

    def printed(self, stream: str, line: str) -> None:
        if self._output_chars >= MAX_OUTPUT_CHARS:
            self.result["output_truncated"] = True
            return
        self._output_chars += len(line)
        self.event("print", stream=stream, text=line[:MAX_TEXT_CHARS])

    def error_info(self, exc: BaseException) -> dict:
        """Describes an exception in the student's terms: type, message and the line of main.py."""
        line = None
        if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == self.main_path:
            line = exc.lineno
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            if Path(frame.f_code.co_filename).resolve() == self.main_path:
                line = lineno
        own_syntax_error = isinstance(exc, SyntaxError) and line is not None and exc.msg
        message = exc.msg if own_syntax_error else str(exc)  # str() would repeat "(main.py, line N)"
        if self.module_name:  # the kit's private name for main.py means nothing to a student
            message = message.replace(self.module_name, "main")
        return {"type": type(exc).__name__, "message": message[:MAX_TEXT_CHARS], "line": line}

    # --- the patched world ---

    @contextmanager
    def session(self):
        import_dependencies()
        previous_cwd = os.getcwd()
        with ExitStack() as stack:
            self._stack = stack
            # Warnings from student code (a coroutine never awaited...) are observations, never judge errors.
            caught = stack.enter_context(warnings.catch_warnings(record=True))
            warnings.simplefilter("always")
            stack.callback(self._note_warnings, caught)
            stack.enter_context(_swapped(time, "sleep", self._fake_sleep))
            stack.enter_context(_swapped(asyncio, "sleep", self._fake_async_sleep))
            stack.enter_context(_swapped(anyio, "sleep", self._fake_anyio_sleep))
            stack.enter_context(_swapped(sys, "stdout", _LineRecorder(self, "stdout")))
            stack.enter_context(_swapped(sys, "stderr", _LineRecorder(self, "stderr")))
            self._patch_background_tasks(stack)
            self._keep_servers_from_starting(stack)
            os.chdir(self.workdir)
            stack.callback(os.chdir, previous_cwd)
            stack.callback(self._forget_module)
            try:
                yield
            except _STUDENT_ERRORS as exc:  # a bug in student code that escaped an action
                self.result["error"] = self.error_info(exc)
            finally:
                for stream in (sys.stdout, sys.stderr):
                    stream.flush()
                self._collect_files()

    def freeze_clock(self) -> None:
        if self._clock is None:
            from freezegun import freeze_time

            self._clock = self._stack.enter_context(freeze_time(tick=False, real_asyncio=True))

    def _note_warnings(self, caught: list) -> None:
        for warning in caught[:20]:
            self.result["warnings"].append(f"{warning.category.__name__}: {warning.message}"[:MAX_TEXT_CHARS])

    def _fake_sleep(self, seconds: float) -> None:
        seconds = float(seconds)
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        if seconds == 0:  # anyio and Starlette yield to the event loop with sleep(0): not the student's work
            return
        self.event("sleep", seconds=seconds)
        if self._clock is not None:
            self._clock.tick(seconds)
        self._virtual_seconds += seconds

    async def _fake_async_sleep(self, seconds: float, result: Any = None) -> Any:
        self._fake_sleep(seconds)
        await _REAL_ASYNC_SLEEP(0)
        return result

    async def _fake_anyio_sleep(self, delay: float) -> None:
        await self._fake_async_sleep(delay)

    def _patch_background_tasks(self, stack: ExitStack) -> None:
        from starlette.background import BackgroundTask

        observer = self
        original_init, original_call = BackgroundTask.__init__, BackgroundTask.__call__

        def recording_init(task, func, *args, **kwargs):
            original_init(task, func, *args, **kwargs)
            if len(observer.result["scheduled"]) >= MAX_SCHEDULED:
                observer.result["output_truncated"] = True
                return
            observer.result["scheduled"].append(
                {
                    "function": observer.describe_function(func),
                    "args": [observer.describe_value(value) for value in args[:MAX_ARGUMENTS]],
                    "kwargs": {name: observer.describe_value(value)
                               for name, value in list(kwargs.items())[:MAX_ARGUMENTS]},
                }
            )

        async def recording_call(task):
            name = observer.describe_function(task.func)["name"]
            previous_phase, observer._phase = observer._phase, "task"
            observer.event("task-start", function=name)
            try:
                await original_call(task)
            except _STUDENT_ERRORS as exc:
                observer.event("task-end", function=name, error=observer.error_info(exc))
            else:
                observer.event("task-end", function=name, error=None)
            finally:
                observer._phase = previous_phase

        stack.enter_context(_swapped(BackgroundTask, "__init__", recording_init))
        stack.enter_context(_swapped(BackgroundTask, "__call__", recording_call))

    def _keep_servers_from_starting(self, stack: ExitStack) -> None:
        """`uvicorn.run(app)` at the top level of main.py would serve forever: note it, serve nothing."""
        import uvicorn

        def refuse_to_serve(*args, **kwargs):
            warning = "uvicorn.run() was called while main.py was being tested: put it under if __name__ == '__main__':"
            self.result["warnings"].append(warning)

        stack.enter_context(_swapped(uvicorn, "run", refuse_to_serve))

    # --- the student's module ---

    def load_module(self):
        """Imports main.py under a fresh name, so `from time import sleep` picks up the virtual sleep."""
        name = self.module_name = f"alfred_submission_{next(_module_counter)}"
        try:
            code, reads_a_clock = _compiled(self.main_path)
            if reads_a_clock:
                self.freeze_clock()
            spec = importlib.util.spec_from_file_location(name, self.main_path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            exec(code, module.__dict__)
        except BaseException as exc:  # noqa: BLE001 - SystemExit at import is a student's bug too
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.result["load_error"] = self.error_info(exc)
            return None
        self.module = module
        self._phase = "probe"
        return module

    def _forget_module(self) -> None:
        if self.module is not None:
            sys.modules.pop(self.module.__name__, None)

    def lookup(self, module, name: str):
        if not hasattr(module, name):
            self.result["missing_name"] = name
            return None
        return getattr(module, name)

    def describe_function(self, func) -> dict:
        """Names what add_task was given; something not callable (None, a coroutine object) by its type,
        as that is what a task called instead of passed leaves behind."""
        if not callable(func):
            return {"name": type(func).__name__, "module_attr": None, "callable": False}
        name = getattr(func, "__name__", type(func).__name__)
        module_name = next((key for key, value in vars(self.module or object()).items() if value is func), None)
        return {"name": name, "module_attr": module_name, "callable": True}

    def describe_value(self, value: Any) -> dict:
        from pydantic import BaseModel
        from pydantic_core import PydanticSerializationError, to_jsonable_python

        own_classes = {
            key: cls for key, cls in vars(self.module or object()).items()
            if isinstance(cls, type) and cls.__module__ == getattr(self.module, "__name__", None)
        }
        described = {
            "type": type(value).__name__,
            "instance_of": sorted(key for key, cls in own_classes.items() if isinstance(value, cls)),
            "pydantic": isinstance(value, BaseModel),
            "value": None,
        }
        try:
            described["value"] = json.loads(json.dumps(to_jsonable_python(value)))
        except (TypeError, ValueError, PydanticSerializationError):
            described["value"] = repr(value)[:MAX_TEXT_CHARS]
        return described

    # --- the report ---

    def _collect_files(self) -> None:
        for path in sorted(self.workdir.rglob("*"))[: MAX_FILES * 4]:
            if len(self.result["files"]) >= MAX_FILES:
                self.result["output_truncated"] = True
                break
            if path.is_file() and not path.is_symlink():
                try:
                    text = path.read_text(errors="replace")
                except OSError:
                    continue
                self.result["files"][path.relative_to(self.workdir).as_posix()] = text[:MAX_FILE_CHARS]

    def report(self) -> dict:
        return self.result


# --- actions ---


def _request(observer: _Observer, module, probe: dict) -> None:
    import httpx

    app = observer.lookup(module, "app")
    if app is None:
        return

    async def recorded_app(scope, receive, send):
        async def recording_send(message):
            if message["type"] == "http.response.start":
                observer.event("response-start", status=message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                observer.event("response-complete")
                observer._phase = "after-response"

        try:
            await app(scope, receive, recording_send)
        except _STUDENT_ERRORS as exc:
            observer.result["error"] = observer.error_info(exc)
            if not isinstance(exc, Exception):  # SystemExit: answer 500 like an ordinary crash would
                raise RuntimeError(f"{type(exc).__name__} raised by the app") from None
            raise

    async def send_request():
        transport = httpx.ASGITransport(app=recorded_app, raise_app_exceptions=False)
        async with _app_running(observer, module, "request"), \
                httpx.AsyncClient(transport=transport, base_url="http://batcomputer") as client:
            return await client.request(
                probe.get("method", "GET"),
                probe["path"],
                params=probe.get("params"),
                json=probe.get("json"),
                content=probe.get("content"),
                headers=probe.get("headers"),
            )

    response = asyncio.run(send_request())
    try:
        body = response.json()
    except ValueError:
        body = None
    observer.result["response"] = {
        "status": response.status_code,
        "json": body,
        "text": response.text[:MAX_TEXT_CHARS],
        "content_type": response.headers.get("content-type", ""),
    }


def _call(observer: _Observer, module, probe: dict) -> None:
    func = observer.lookup(module, probe["function"])
    if func is None:
        return
    args = [_materialize(value, module) for value in probe.get("args", [])]
    kwargs = {name: _materialize(value, module) for name, value in probe.get("kwargs", {}).items()}
    async def call_in_the_running_app():
        async with _app_running(observer, module, "call"):
            returned = func(*args, **kwargs)
            return await returned if asyncio.iscoroutine(returned) else returned

    try:
        if _lifespan_of(module) is None:  # nothing starts with the app: call it plainly, without an event loop
            observer._phase = "call"
            returned = func(*args, **kwargs)
            if asyncio.iscoroutine(returned):
                returned = asyncio.run(returned)
        else:
            returned = asyncio.run(call_in_the_running_app())
    except _STUDENT_ERRORS as exc:
        observer.result["error"] = observer.error_info(exc)
        return
    observer.result["returned"] = observer.describe_value(returned)


def _lifespan_of(module):
    """The lifespan of main.py's `app` when it does something (a lifespan function, startup or shutdown
    handlers), as uvicorn would run it around every request; None otherwise."""
    router = getattr(getattr(module, "app", None), "router", None)
    lifespan = getattr(router, "lifespan_context", None)
    if not callable(lifespan):
        return None
    # FastAPI's and Starlette's default lifespan only runs the startup and shutdown handlers.
    if type(lifespan).__name__ == "_DefaultLifespan" and not (router.on_startup or router.on_shutdown):
        return None
    return lifespan


@asynccontextmanager
async def _app_running(observer: _Observer, module, phase: str):
    """Runs the app's lifespan around a probe, as a server would: startup first, shutdown last."""
    lifespan = _lifespan_of(module)
    if lifespan is None:
        observer._phase = phase
        yield
        return
    observer._phase = "startup"
    async with lifespan(module.app):
        observer._phase = phase
        yield
        observer._phase = "shutdown"


def _validate(observer: _Observer, module, probe: dict) -> None:
    from pydantic import BaseModel, ValidationError

    model = observer.lookup(module, probe["model"])
    if model is None:
        return
    is_pydantic = isinstance(model, type) and issubclass(model, BaseModel)
    report = {"is_pydantic": is_pydantic, "fields": {}, "accepted": False, "values": None, "errors": []}
    observer.result["model"] = report
    if not is_pydantic:
        return
    report["fields"] = {
        name: {"required": field.is_required(), "annotation": repr(field.annotation)}
        for name, field in model.model_fields.items()
    }
    try:
        instance = model.model_validate(probe["data"])
    except ValidationError as exc:
        report["errors"] = [
            {"loc": [str(part) for part in error["loc"]], "type": error["type"], "msg": error["msg"]}
            for error in exc.errors()
        ]
        return
    except Exception as exc:
        observer.result["error"] = observer.error_info(exc)
        return
    report["accepted"] = True
    report["values"] = observer.describe_value(instance)["value"]


_ACTIONS = {"request": _request, "call": _call, "validate": _validate}


def _materialize(value: Any, module) -> Any:
    """Turns a `{"$report": {...}}` placeholder into a report request object.

    The student's own IntelReportRequest when it holds these fields faithfully (so a task may read the
    model's extra fields), else a stand-in the kit owns: an unfinished model never fails the task's tests.
    """
    if not (isinstance(value, dict) and set(value) == {"$report"}):
        return value
    fields = value["$report"]
    own = getattr(module, "IntelReportRequest", None)
    try:
        candidate = own.model_validate(fields)
        if all(getattr(candidate, name, None) == given for name, given in fields.items()):
            return candidate
    except Exception:  # noqa: BLE001 - missing, unfinished or broken: the stand-in takes its place
        pass
    return _kit_report_request(**fields)


def _kit_report_request(**fields):
    from pydantic import BaseModel

    class IntelReportRequest(BaseModel):
        recipient_email: str
        report_name: str

    return IntelReportRequest(**fields)


# --- plumbing ---

# What student code may raise and the probe reports: everything but Ctrl-C (the person at the keyboard).
_STUDENT_ERRORS = (Exception, SystemExit, GeneratorExit)

_compiled_files: dict[tuple, tuple] = {}


def _compiled(main_path: Path):
    """main.py's code object and whether it reads a clock, compiled once per version of the file."""
    stat = main_path.stat()
    key = (str(main_path), stat.st_mtime_ns, stat.st_size)
    if key not in _compiled_files:
        source = main_path.read_bytes()
        text = source.decode("utf-8", errors="replace")
        # dont_inherit: the kit's own `from __future__ import annotations` must not change the student's code.
        code = compile(source, str(main_path), "exec", dont_inherit=True)
        _compiled_files[key] = (code, any(word in text for word in _CLOCK_WORDS))
    return _compiled_files[key]


_CLOCK_WORDS = ("time()", "perf_counter", "monotonic", "datetime", "process_time", "time_ns", "strftime",
                "localtime", "gmtime", "ctime", "date.today")



_REAL_ASYNC_SLEEP = asyncio.sleep


def import_dependencies() -> None:
    """Imports what probes use, FastAPI's lazy imports included, before any clock is frozen.

    freezegun swaps `datetime.date` for its own class while frozen, and a module that subclasses `date` at
    import time (pydantic.v1, imported lazily by FastAPI) would then fail to import.
    """
    global _imported
    if _imported:
        return
    _imported = True
    import email_validator  # noqa: F401
    import fastapi  # noqa: F401
    import freezegun  # noqa: F401
    import httpx  # noqa: F401
    import pydantic  # noqa: F401
    import starlette.background  # noqa: F401
    import uvicorn  # noqa: F401

    try:
        import pydantic.v1  # noqa: F401
    except ImportError:
        pass
    _cache_email_validator_version_check()
    # The libraries' objects live as long as the process: keep them out of every later garbage collection
    # (pytest collects at the end of a session; a fork server's children then share these pages untouched).
    gc.freeze()


def warm_up() -> None:
    """Imports and exercises everything a probe uses, so that processes forked afterwards start warm.

    The fork server calls this once: first-use costs (pydantic schema caches, anyio's thread pool, httpx's
    transport) are then paid before the fork instead of in every submission process.
    """
    import tempfile

    import_dependencies()
    with tempfile.TemporaryDirectory(prefix="alfred-warm-up-") as scratch:
        sample = Path(scratch) / "warm_up_app.py"
        sample.write_text(_WARM_UP_APP)
        for probe in (
            {"action": "request", "method": "POST", "path": "/ping", "json": {"email": "a@b.io", "note": "x"}},
            {"action": "request", "method": "GET", "path": "/openapi.json"},
            {"action": "validate", "model": "Ping", "data": {"email": "nope"}},
        ):
            run_probe(sample, probe, scratch)


def _cache_email_validator_version_check() -> None:
    """pydantic reads email-validator's installed version each time it builds an EmailStr field, a
    metadata lookup that costs about 1 ms per model; the answer cannot change while this process runs."""
    import functools

    import pydantic.networks

    if hasattr(pydantic.networks, "version"):
        pydantic.networks.version = functools.lru_cache(pydantic.networks.version)


_imported = False
_WARM_UP_APP = """
import asyncio, time
from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel, EmailStr

app = FastAPI()

class Ping(BaseModel):
    email: EmailStr
    note: str

def pause(ping: Ping):
    print(ping.email)
    time.sleep(1)

async def wait(ping: Ping):
    await asyncio.sleep(1)

@app.post("/ping", status_code=202)
async def ping(body: Ping, background_tasks: BackgroundTasks):
    background_tasks.add_task(pause, body)
    background_tasks.add_task(wait, ping=body)
    return {"ok": True}
"""


@contextmanager
def _swapped(owner: Any, name: str, replacement: Any):
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield replacement
    finally:
        setattr(owner, name, original)


class _LineRecorder(io.TextIOBase):
    """A stand-in for sys.stdout/sys.stderr that turns each printed line into an event."""

    def __init__(self, observer: _Observer, stream: str):
        self._observer = observer
        self._stream = stream
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._pending += text
        if len(self._pending) > MAX_OUTPUT_CHARS:  # a flood without newlines
            self._pending = self._pending[-MAX_OUTPUT_CHARS:]
            self._observer.result["output_truncated"] = True
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self._observer.printed(self._stream, line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            line, self._pending = self._pending, ""
            self._observer.printed(self._stream, line)

