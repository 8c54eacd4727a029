"""The observer of one probe, a plain dict, and what records into it: the events (prints, sleeps, responses,
tasks) with the watched paths at each, told at once to the judge's supervisor when witnessed (the phase
markers); errors, values and functions described in the student's terms; the warnings; the files the app
wrote; and the observation it all makes (`_report`). Called by the patched world and the actions.
"""

# Trusted after load: every function here binds what it uses as keyword-only defaults (the rule is written at
# the top of alfred/inside/probe.py).

from __future__ import annotations

import ctypes
import os
import traceback
import types
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, to_jsonable_python

from alfred.inside.wire import (
    MARKER,
    MAX_EVENTS,
    MAX_FILE_CHARS,
    MAX_FILES,
    MAX_ITEMS,
    MAX_OUTPUT_CHARS,
    MAX_OUTPUT_EVENTS,
    MAX_TEXT_CHARS,
    MAX_VALUE_CHARS,
    WITNESS_CHANNEL,
    _to_json,
)


# --- the observer: a plain dict, and the functions that record into it ---

# What student code may raise and the probe reports: everything but Ctrl-C (the person at the keyboard).
_STUDENT_ERRORS = (Exception, SystemExit, GeneratorExit)


def _new_observer(main_path, workdir, watch, witnessed=False, *, _realpath=os.path.realpath, _list=list,
                  _max_items=MAX_ITEMS) -> dict:
    return {
        "main_path": _realpath(main_path),
        "workdir": _realpath(workdir),
        "watch": _list(watch)[:_max_items],
        "result": {
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
        },
        "module": None,
        "module_name": "",
        "output_chars": 0,
        "virtual_seconds": 0.0,
        "clock": None,  # freezegun's clock, when main.py reads a clock
        "project_files": {},  # relative path -> (size, mtime) of each project file laid out in the work folder
        "stack": None,
        "flushes": (),
        "phase": "import",
        # Witnessed (a supervised submission process): every print and sleep is also done for real, and every
        # other event is told on the channel as it happens, for the judge's supervisor to see from outside.
        "witnessed": witnessed,
        "witnessed_phase": None,
    }


# --- telling the supervisor (alfred.sandbox.supervisor) what only this process knows, as it happens ---

_STREAM_FD = types.MappingProxyType({"stdout": 1, "stderr": 2})


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


try:  # the C library's nanosleep, a wait the supervisor answers; Windows has no C library by that name (and no
    # supervisor: a witnessed process runs on Linux only), so a student's own run there does without it
    _KERNEL_NANOSLEEP = ctypes.CDLL(None, use_errno=True).nanosleep
except (OSError, TypeError, AttributeError):
    _KERNEL_NANOSLEEP = None


def _real_nanosleep(seconds: float, *, _nanosleep=_KERNEL_NANOSLEEP, _Timespec=_Timespec,
                    _int=int, _byref=ctypes.byref) -> None:
    """A relative wait, asked of the kernel: the supervisor answers it at once."""
    whole = _int(seconds)
    _nanosleep(_byref(_Timespec(whole, _int((seconds - whole) * 1e9))), None)


del _KERNEL_NANOSLEEP  # held by _real_nanosleep's default alone


def _witness(observer: dict, kind: str, entry: dict, *, _write=os.write, _channel=WITNESS_CHANNEL, _marker=MARKER,
             _to_json=_to_json, _stream_fd=_STREAM_FD, _nanosleep=_real_nanosleep, _OSError=OSError) -> None:
    """What the supervisor sees of one event: a phase that changed, then the print written, the sleep asked
    for, or any other event told, each at the moment it happens."""
    try:
        if entry["phase"] != observer["witnessed_phase"]:
            observer["witnessed_phase"] = entry["phase"]
            _write(_channel, _marker + _to_json({"phase": entry["phase"]}).encode() + b"\n")
        if kind == "print":
            _write(_stream_fd[entry["stream"]], entry["text"].encode("utf-8", "surrogatepass") + b"\n")
        elif kind == "sleep":
            _nanosleep(entry["seconds"])
        elif kind in ("response-start", "response-complete"):
            pass  # the judge reads the response itself, from the socket the app answered on
        else:
            _write(_channel, _marker + _to_json({"event": entry}).encode() + b"\n")
    except _OSError:
        pass


def _mark_phase(observer: dict, *, _write=os.write, _channel=WITNESS_CHANNEL, _marker=MARKER, _to_json=_to_json,
                _OSError=OSError) -> None:
    """Witnessed: tells the supervisor at once that the phase changed (a response it reads next belongs to it)."""
    if observer["witnessed"] and observer["phase"] != observer["witnessed_phase"]:
        observer["witnessed_phase"] = observer["phase"]
        try:
            _write(_channel, _marker + _to_json({"phase": observer["phase"]}).encode() + b"\n")
        except _OSError:
            pass


# --- recording events, errors, warnings, values, functions and files, and the report ---


def _event(observer: dict, kind: str, fields: dict, *, _witness=_witness, _len=len, _round=round, _exists=os.path.exists,
           _max_events=MAX_EVENTS, _max_output=MAX_OUTPUT_EVENTS) -> None:
    result = observer["result"]
    recorded = _len(result["events"])
    if recorded >= _max_events or (kind in ("print", "sleep") and recorded >= _max_output):
        result["output_truncated"] = True
        return
    entry = {"kind": kind, "t": _round(observer["virtual_seconds"], 6), "phase": observer["phase"], **fields}
    if observer["watch"]:
        workdir = observer["workdir"]
        entry["watched"] = {path: _exists(workdir + "/" + path) for path in observer["watch"]}
    result["events"].append(entry)
    if observer["witnessed"]:
        _witness(observer, kind, entry)


def _printed(observer: dict, stream: str, line: str, *, _len=len, _event=_event, _max_output=MAX_OUTPUT_CHARS,
             _max_text=MAX_TEXT_CHARS) -> None:
    if observer["output_chars"] >= _max_output:
        observer["result"]["output_truncated"] = True
        return
    observer["output_chars"] += _len(line)
    _event(observer, "print", {"stream": stream, "text": line[:_max_text]})


def _error_info(observer: dict, exc: BaseException, *, _isinstance=isinstance, _type=type, _str=str,
                _realpath=os.path.realpath, _walk_tb=traceback.walk_tb, _SyntaxError=SyntaxError,
                _max_text=MAX_TEXT_CHARS) -> dict:
    """Describes an exception in the student's terms: type, message and the line of main.py."""
    main_path, line = observer["main_path"], None
    if _isinstance(exc, _SyntaxError) and exc.filename and _realpath(exc.filename) == main_path:
        line = exc.lineno
    for frame, lineno in _walk_tb(exc.__traceback__):
        if _realpath(frame.f_code.co_filename) == main_path:
            line = lineno
    own_syntax_error = _isinstance(exc, _SyntaxError) and line is not None and exc.msg
    message = exc.msg if own_syntax_error else _str(exc)  # str() would repeat "(main.py, line N)"
    if observer["module_name"]:  # the kit's private name for main.py means nothing to a student
        message = message.replace(observer["module_name"], "main")
    return {"type": _type(exc).__name__[:_max_text], "message": message[:_max_text], "line": line}


def _note_warnings(observer: dict, caught: list, *, _str=str, _len=len, _max_text=MAX_TEXT_CHARS,
                   _max_items=MAX_ITEMS) -> None:
    noted = observer["result"]["warnings"]
    for warning in caught[:20]:
        if _len(noted) < _max_items:
            noted.append(f"{warning.category.__name__}: {_str(warning.message)}"[:_max_text])


def _describe_function(observer: dict, func, *, _callable=callable, _type=type, _getattr=getattr, _vars=vars,
                       _next=next, _str=str, _max_text=MAX_TEXT_CHARS) -> dict:
    """Names what add_task was given; something not callable (None, a coroutine object) by its type,
    as that is what a task called instead of passed leaves behind."""
    if not _callable(func):
        return {"name": _type(func).__name__[:_max_text], "module_attr": None, "callable": False}
    name = _getattr(func, "__name__", _type(func).__name__)
    module = observer["module"]
    module_name = _next((key for key, value in (_vars(module) if module is not None else {}).items()
                         if value is func), None)
    return {"name": _str(name)[:_max_text], "module_attr": module_name, "callable": True}


def _describe_value(observer: dict, value: Any, *, _type=type, _vars=vars, _isinstance=isinstance, _getattr=getattr,
                    _sorted=sorted, _repr=repr, _len=len, _to_jsonable=to_jsonable_python, _to_json=_to_json,
                    _BaseModel=BaseModel, _failures=(TypeError, ValueError, PydanticSerializationError),
                    _max_items=MAX_ITEMS, _max_chars=MAX_VALUE_CHARS, _max_text=MAX_TEXT_CHARS) -> dict:
    """A value as the judge sees it: its type, the student's classes it belongs to, and its data as JSON
    text (its repr, as a JSON string, when it is not JSON data or too long)."""
    module = observer["module"]
    own_module = _getattr(module, "__name__", None)
    own_classes = {
        key: cls for key, cls in (_vars(module) if module is not None else {}).items()
        if _isinstance(cls, _type) and cls.__module__ == own_module
    }
    try:
        text = _to_json(_to_jsonable(value))
    except _failures:
        text = None
    if text is None or _len(text) > _max_chars:
        text = _to_json(_repr(value)[:_max_text])
    return {
        "type": _type(value).__name__[:_max_text],
        "instance_of": _sorted(key for key, cls in own_classes.items() if _isinstance(value, cls))[:_max_items],
        "pydantic": _isinstance(value, _BaseModel),
        "value_json": text,
    }


def _collect_files(observer: dict, *, _scandir=os.scandir, _open=open, _len=len, _sorted=sorted, _join="/".join,
                   _OSError=OSError, _stat=os.stat, _max_files=MAX_FILES, _max_chars=MAX_FILE_CHARS) -> None:
    """The regular files under the work folder (symbolic links neither followed nor read), in path order,
    as `sorted(Path(workdir).rglob("*"))[:80]` lists them: the first 20, cut to MAX_FILE_CHARS each. A
    folder that cannot be listed is skipped."""
    root, found, folders = observer["workdir"], [], [()]
    while folders:
        parts = folders.pop()
        try:
            with _scandir(root + "".join(["/" + part for part in parts])) as entries:
                for entry in entries:
                    path = (*parts, entry.name)
                    try:
                        regular = entry.is_file() and not entry.is_symlink()
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(path)
                    except _OSError:
                        regular = False
                    found.append((path, regular))
        except _OSError:
            continue
    result, given = observer["result"], observer["project_files"]
    for parts, regular in _sorted(found)[: _max_files * 4]:
        if _len(result["files"]) >= _max_files:
            result["output_truncated"] = True
            break
        if regular and given and _join(parts) in given:
            try:
                info = _stat(root + "/" + _join(parts))
            except _OSError:
                continue
            if (info.st_size, info.st_mtime_ns) == given[_join(parts)]:
                continue  # a file of the project, as it was given: not something the app wrote
        if regular:
            try:
                with _open(root + "/" + _join(parts), errors="replace") as handle:
                    text = handle.read()
            except _OSError:
                continue
            result["files"][_join(parts)] = text[:_max_chars]


def _report(observer: dict) -> dict:
    """The reply's observation. Witnessed, without its events: the judge rebuilds them from what it saw."""
    if observer["witnessed"]:
        observer["result"]["events"] = []
    return observer["result"]
