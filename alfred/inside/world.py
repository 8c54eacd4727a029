"""The world main.py runs in during a probe, and undone after it: virtual sleeps (`time`, `asyncio`, `anyio`)
that move a clock on, freezegun's clock when main.py reads one, printed lines routed to the observer,
background tasks recorded as they are scheduled and run, `uvicorn.run` refused, warnings caught, and the
work folder as current directory (`_open_session`, `_close_session`). Also the libraries a probe drives,
imported once before any student code (`import_dependencies`).
"""

# Trusted after load: every function here binds what it uses as keyword-only defaults (the rule is written at
# the top of alfred/inside/probe.py).

from __future__ import annotations

import asyncio
import gc
import io
import operator
import os
import sys
import time
import warnings
from contextlib import ExitStack, contextmanager
from typing import Any

import anyio

from alfred.inside.recording import (
    _STUDENT_ERRORS,
    _class_name,
    _collect_files,
    _describe_function,
    _describe_value,
    _error_info,
    _event,
    _held,
    _note_warnings,
    _one_of,
    _printed,
    _text,
)
from alfred.inside.wire import MAX_ARGUMENTS, MAX_ITEMS, MAX_OUTPUT_CHARS, MAX_SCHEDULED


# --- what a probe needs from libraries imported later (filled before any student code runs) ---

_LIBRARIES: dict[str, Any] = {}


def import_dependencies(*, _libraries=_LIBRARIES) -> None:
    """Imports what probes use, FastAPI's lazy imports included, before any clock is frozen.

    freezegun swaps `datetime.date` for its own class while frozen, and a module that subclasses `date` at
    import time (pydantic.v1, imported lazily by FastAPI) would then fail to import. The probe's own
    references to these libraries are taken here, once, before any student code has run.
    """
    if _libraries:
        return
    import email_validator  # noqa: F401
    import fastapi  # noqa: F401
    import freezegun
    import httpx
    import pydantic  # noqa: F401
    import starlette.background
    import uvicorn

    try:
        import pydantic.v1  # noqa: F401
    except ImportError:
        pass
    _cache_email_validator_version_check()
    _libraries.update(ASGITransport=httpx.ASGITransport, AsyncClient=httpx.AsyncClient, uvicorn=uvicorn,
                      FastAPI=fastapi.FastAPI,
                      BackgroundTask=starlette.background.BackgroundTask, freeze_time=freezegun.freeze_time,
                      # a task's own attributes, whatever its class says (a subclass of main.py's may lie)
                      task_dict=starlette.background.BackgroundTask.__dict__["__dict__"].__get__)
    # The libraries' objects live as long as the process: keep them out of every later garbage collection
    # (pytest collects at the end of a session; a fork server's children then share these pages untouched).
    gc.freeze()


def _cache_email_validator_version_check() -> None:
    """pydantic reads email-validator's installed version each time it builds an EmailStr field, a
    metadata lookup that costs about 1 ms per model; the answer cannot change while this process runs."""
    import functools

    import pydantic.networks

    if hasattr(pydantic.networks, "version"):
        pydantic.networks.version = functools.lru_cache(pydantic.networks.version)


# --- the patched world ---


def _seconds_as_c_reads_them(value: Any, *, _type=type, _issubclass=issubclass, _float=float, _int=int,
                             _index=operator.index) -> float:
    """The length `time.sleep(value)` waits, read as CPython's C code reads it, calling nothing of a float's or
    an int's (a subclass's stored value, never its __float__ or __index__); any other object is asked its
    __index__, as time.sleep asks it, in the process whose object it is, and the int it gives is read so too."""
    kind = _type(value)
    if _issubclass(kind, _float):
        return _float.__float__(value)
    if _issubclass(kind, _int):
        return _float(_int.__index__(value))
    return _float(_int.__index__(_index(value)))


def _is_plain_number(value: Any, *, _type=type, _one_of=_one_of, _kinds=(float, int, bool)) -> bool:
    """Whether `value` is a float, an int or a bool itself, whose comparisons and sums are C's: asyncio's and
    anyio's sleeps, Python code, read their length by comparing it (`delay <= 0`) and adding it to the clock."""
    return _one_of(_type(value), _kinds)


def _fake_sleep(observer: dict, seconds: Any, *, _seconds=_seconds_as_c_reads_them, _ValueError=ValueError,
                _OverflowError=OverflowError, _event=_event) -> None:
    seconds = _seconds(seconds)
    if seconds != seconds:
        raise _ValueError("Invalid value NaN (not a number)")
    if seconds < 0:
        raise _ValueError("sleep length must be non-negative")
    if seconds * 1e9 >= 2.0 ** 63:  # CPython counts a wait in nanoseconds, in 64 bits
        raise _OverflowError("timestamp out of range for platform time_t")
    if seconds == 0:  # anyio and Starlette yield to the event loop with sleep(0): not the student's work
        return
    _event(observer, "sleep", {"seconds": seconds})
    if observer["clock"] is not None:
        observer["clock"].tick(seconds)
    observer["virtual_seconds"] += seconds


@contextmanager
def _swapped(owner: Any, name: str, replacement: Any, *, _getattr=getattr, _setattr=setattr):
    original = _getattr(owner, name)
    _setattr(owner, name, replacement)
    try:
        yield replacement
    finally:
        _setattr(owner, name, original)


class _LineRecorder(io.TextIOBase):
    """A stand-in for sys.stdout/sys.stderr that turns each printed line into an event. Its `write` and
    `flush` are closures over plain data, set on the instance itself (print looks them up there)."""

    def writable(self) -> bool:
        return True


def _line_recorder(observer: dict, stream: str, *, _LineRecorder=_LineRecorder, _printed=_printed,
                   _text=_text, _class_name=_class_name, _type=type, _len=len, _TypeError=TypeError,
                   _max_output=MAX_OUTPUT_CHARS) -> tuple[_LineRecorder, Any]:
    """(a recorder for `stream`, its flush: the session flushes its own recorders, whatever sys.stdout is by then)."""
    pending = [""]

    def write(given: str) -> int:
        text = _text(given)  # what a str subclass holds, as a real stream writes it
        if text is None:
            raise _TypeError(f"write() argument must be str, not {_class_name(_type(given))}")
        pending[0] += text
        if _len(pending[0]) > _max_output:  # a flood without newlines
            pending[0] = pending[0][-_max_output:]
            observer["result"]["output_truncated"] = True
        while "\n" in pending[0]:
            line, pending[0] = pending[0].split("\n", 1)
            _printed(observer, stream, line)
        return _len(text)

    def flush() -> None:
        if pending[0]:
            line, pending[0] = pending[0], ""
            _printed(observer, stream, line)

    recorder = _LineRecorder()
    recorder.write, recorder.flush = write, flush
    return recorder, flush


_REAL_ASYNC_SLEEP = asyncio.sleep
_REAL_ANYIO_SLEEP = anyio.sleep


def _patch_background_tasks(observer: dict, stack: ExitStack, *, _libraries=_LIBRARIES, _swapped=_swapped, _len=len,
                            _describe_function=_describe_function, _describe_value=_describe_value,
                            _event=_event, _error_info=_error_info, _errors=_STUDENT_ERRORS, _list=list, _text=_text,
                            _held=_held,
                            _max_scheduled=MAX_SCHEDULED, _max_arguments=MAX_ARGUMENTS) -> None:
    BackgroundTask, task_dict = _libraries["BackgroundTask"], _libraries["task_dict"]
    original_init, original_call = BackgroundTask.__init__, BackgroundTask.__call__
    result = observer["result"]

    def recording_init(task, func, *args, **kwargs):
        original_init(task, func, *args, **kwargs)
        if _len(result["scheduled"]) >= _max_scheduled:
            result["output_truncated"] = True
            return
        result["scheduled"].append(
            {
                "function": _describe_function(observer, func),
                "args": [_describe_value(observer, value) for value in args[:_max_arguments]],
                "kwargs": {_text(name): _describe_value(observer, value)  # keyword names are str, or a subclass
                           for name, value in _list(kwargs.items())[:_max_arguments]},
            }
        )

    async def recording_call(task):
        name = _describe_function(observer, _held(task_dict(task), "func"))["name"]  # the function it runs
        previous_phase, observer["phase"] = observer["phase"], "task"
        _event(observer, "task-start", {"function": name})
        try:
            await original_call(task)
        except _errors as exc:
            _event(observer, "task-end", {"function": name, "error": _error_info(observer, exc)})
        else:
            _event(observer, "task-end", {"function": name, "error": None})
        finally:
            observer["phase"] = previous_phase

    stack.enter_context(_swapped(BackgroundTask, "__init__", recording_init))
    stack.enter_context(_swapped(BackgroundTask, "__call__", recording_call))


def _keep_servers_from_starting(observer: dict, stack: ExitStack, *, _libraries=_LIBRARIES, _swapped=_swapped,
                                _len=len, _max_items=MAX_ITEMS) -> None:
    """`uvicorn.run(app)` at the top level of main.py would serve forever: note it, serve nothing."""
    noted = observer["result"]["warnings"]

    def refuse_to_serve(*args, **kwargs):
        if _len(noted) < _max_items:
            noted.append("uvicorn.run() was called while main.py was being tested: "
                         "put it under if __name__ == '__main__':")

    stack.enter_context(_swapped(_libraries["uvicorn"], "run", refuse_to_serve))


def _forget_module(observer: dict, *, _modules=sys.modules) -> None:
    if observer["module"] is not None:
        _modules.pop(observer["module_name"], None)


def _open_session(observer: dict, *, _import_dependencies=import_dependencies, _ExitStack=ExitStack,
                  _catch_warnings=warnings.catch_warnings, _simplefilter=warnings.simplefilter, _getcwd=os.getcwd,
                  _chdir=os.chdir, _time=time, _asyncio=asyncio, _anyio=anyio, _sys=sys, _swapped=_swapped,
                  _line_recorder=_line_recorder, _fake_sleep=_fake_sleep, _real_async_sleep=_REAL_ASYNC_SLEEP,
                  _real_anyio_sleep=_REAL_ANYIO_SLEEP, _is_plain_number=_is_plain_number, _ValueError=ValueError,
                  _TypeError=TypeError, _len=len,
                  _note_warnings=_note_warnings, _patch_background_tasks=_patch_background_tasks,
                  _keep_servers_from_starting=_keep_servers_from_starting, _forget_module=_forget_module,
                  _BaseException=BaseException) -> ExitStack:
    """Sets up the world main.py runs in (virtual sleeps, captured output, instrumented background tasks,
    the work folder as current directory); closing the returned stack undoes it all."""
    _import_dependencies()
    previous_cwd = _getcwd()
    stack = observer["stack"] = _ExitStack()
    try:
        # Warnings from student code (a coroutine never awaited...) are observations, never judge errors.
        caught = stack.enter_context(_catch_warnings(record=True))
        _simplefilter("always")
        stack.callback(_note_warnings, observer, caught)

        # Each takes the arguments the real one takes. A length that is not a plain number is read by the
        # real asyncio.sleep and anyio.sleep themselves, which compare it (it may wait in earnest, unrecorded).
        def sleep(*seconds: float, **keywords: Any) -> None:
            if keywords:
                raise _TypeError("time.sleep() takes no keyword arguments")
            if _len(seconds) != 1:
                raise _TypeError(f"time.sleep() takes exactly one argument ({_len(seconds)} given)")
            _fake_sleep(observer, seconds[0])

        async def async_sleep(delay: float, result: Any = None) -> Any:
            if not _is_plain_number(delay):
                return await _real_async_sleep(delay, result)
            if delay > 0:  # asyncio waits nothing for a length <= 0, or NaN
                _fake_sleep(observer, delay)
            await _real_async_sleep(0)
            return result

        async def anyio_sleep(delay: float) -> None:
            if not _is_plain_number(delay):
                return await _real_anyio_sleep(delay)
            if not delay >= 0:
                raise _ValueError("delay must be a non-negative number")
            await async_sleep(delay)

        stack.enter_context(_swapped(_time, "sleep", sleep))
        stack.enter_context(_swapped(_asyncio, "sleep", async_sleep))
        stack.enter_context(_swapped(_anyio, "sleep", anyio_sleep))
        stdout, flush_stdout = _line_recorder(observer, "stdout")
        stderr, flush_stderr = _line_recorder(observer, "stderr")
        observer["flushes"] = (flush_stdout, flush_stderr)
        stack.enter_context(_swapped(_sys, "stdout", stdout))
        stack.enter_context(_swapped(_sys, "stderr", stderr))
        _patch_background_tasks(observer, stack)
        _keep_servers_from_starting(observer, stack)
        _chdir(observer["workdir"])
        stack.callback(_chdir, previous_cwd)
        stack.callback(_forget_module, observer)
    except _BaseException:
        stack.close()
        raise
    return stack


def _close_session(observer: dict, stack: ExitStack, *, _collect_files=_collect_files) -> None:
    """Ends the session: what is still pending in the captured output, then the files, then the patched
    world undone."""
    try:
        for flush in observer["flushes"]:
            flush()
        _collect_files(observer)
    finally:
        stack.close()


def _freeze_clock(observer: dict, *, _libraries=_LIBRARIES) -> None:
    if observer["clock"] is None:
        observer["clock"] = observer["stack"].enter_context(_libraries["freeze_time"](tick=False, real_asyncio=True))


# Only the functions that use it hold the table of libraries from here on: no name leads to it.
del _LIBRARIES
