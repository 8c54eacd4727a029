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

What the student's code produced in free form (a response's JSON body, a value handed to a task, a model's
values) travels as JSON text of bounded length, which the judge decodes only when a test asks: a reply's
count of JSON values is bounded by its schema. `encode_reply` writes the reply line; one that would not fit
what the judge reads (`reply_problem`) becomes an "oversized" problem here, in or out of process alike.
"""

# --- Trusted after load ---
#
# Student code runs in this very process, and in a submission process every probe after the first runs
# after it too; it may have replaced anything it can reach by name: `json.dumps`, `builtins.len`, a global
# of this module (`import alfred.inside.probe` is one line), a method of a class defined here. So the code that
# turns what was observed into the reply (recording events and printed lines, describing values, functions
# and errors, collecting files, building the report, encoding it to JSON, writing it) and the code that runs
# a probe around it look nothing up at call time in a module's globals, in `builtins` or in a kit class:
#   - every builtin, module function, constant and kit function it uses is bound when this module is
#     imported, before any student code, as a keyword-only default (`_len=len`), or in a closure made from
#     those; libraries imported later (httpx, Starlette, uvicorn, freezegun) are bound once by
#     `import_dependencies`, which runs before any student code, into a table only those defaults hold;
#   - the observer's state is a plain dict; the tables it reads are immutable, or held by those defaults alone;
#   - JSON is written by the C encoder of `_json` made at import with its C string encoder, and read by its C
#     scanner, so no code of the `json` module runs after load (not even in httpx: a response's body is
#     decoded here).
# What stays open is reaching the kit's objects themselves (gc, frames, `__defaults__`, `sys.stdout` and the
# sleep functions the probe installs) and the libraries the probe drives: the known limit of observing from
# inside the student's process (SECURITY.md). `alfred.sandbox.worker._serve` follows the same rule.

from __future__ import annotations

import asyncio
import codecs
import ctypes
import gc
import importlib.util
import io
import itertools
import json
import operator
import os
import re
import shutil
import socket
import sys
import threading
import time
import traceback
import types
import warnings
from _json import encode_basestring_ascii as _c_encode_string
from _json import make_encoder as _c_make_encoder
from _json import make_scanner as _c_make_scanner
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError, to_jsonable_python

# What one observation may hold, so that an honest reply stays far below the driver's size cap and the
# judge's work on it stays small. `alfred.judge.observation` rejects a (forged) reply beyond these.
MAX_OUTPUT_CHARS = 64_000
MAX_FILE_CHARS = 16_000
MAX_FILES = 20
MAX_TEXT_CHARS = 2_000
MAX_OUTPUT_EVENTS = 2_000  # prints and sleeps
MAX_EVENTS = 2 * MAX_OUTPUT_EVENTS  # and the requests' and tasks' own events
MAX_SCHEDULED = 100  # background tasks described
MAX_ARGUMENTS = 20  # arguments described, per task
MAX_ITEMS = 100  # any other list or mapping: a model's fields and errors, a location's parts, watched paths...
MAX_BODY_CHARS = 64_000  # a response's JSON body, as JSON text (the largest honest one, /openapi.json: 3.6 kB)
MAX_SENT_BODY_BYTES = 96_000  # an answer of the kit's route for a model, as told to the supervisor when sent
MAX_VALUE_CHARS = 16_000  # a described value or a model's values, as JSON text (the largest honest one: 126)
MAX_VALUE_DEPTH = 64  # nesting of a free-form JSON text the judge agrees to decode
# One reply line, as the judge reads it. The largest honest reply, measured on every probe of the suite
# against the reference, the stubs, the demo class, every corpus and the attacks' honest code (8,570 replies),
# is 6.7 kB with 115 JSON values, 7 levels deep (/openapi.json, its body as text). A flood of prints that
# fills MAX_OUTPUT_EVENTS while a file is watched takes 245 kB and 16,000 values (515 kB if every character
# printed is a control character, which JSON writes in 6 bytes); beyond the caps a reply becomes an
# "oversized" problem, in or out of process alike. The caps are 78 times the largest honest reply's bytes,
# 4 times the flood's values, and the schema's depth plus room.
# A student's project: the files beside main.py (templates, static files, data) are laid out in the work
# folder, as when the student runs `uvicorn main:app` in that folder. Not these: caches, environments, and
# what the app itself writes there when run by hand.
PROJECT_SKIPPED = frozenset({"__pycache__", "venv", "node_modules"})  # and the folders a lesson's app writes
MAX_PROJECT_FILES = 300
MAX_PROJECT_BYTES = 5_000_000
MAX_REPLY_BYTES = 512 * 1024
MAX_REPLY_NODES = 64_000  # JSON values: what a parser allocates one object for
MAX_REPLY_DEPTH = 10


# --- JSON, by the C code of `_json` only ---


def _unencodable(value, *, _TypeError=TypeError, _type=type):
    raise _TypeError(f"{_type(value).__name__} is not JSON data")


# Compact, ASCII (every other character escaped, lone surrogates included), NaN written as json.dumps does.
_C_ENCODE = _c_make_encoder(None, _unencodable, _c_encode_string, None, ":", ",", False, False, True)
_C_SCAN = _c_make_scanner(json.JSONDecoder())  # what json.loads uses, with the same settings
_WHITESPACE = re.compile(r"[ \t\n\r]*").match  # what json.loads skips around a document
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'"[]{},')  # what json_shape drops
_IS_QUOTE = tuple(1 if byte == ord('"') else 0 for byte in range(256))
_SQUARE = bytes.maketrans(b"{}", b"[]")  # nesting is nesting, whichever the brackets


def _to_json(value, *, _encode=_C_ENCODE, _join="".join) -> str:
    """The JSON text of plain data."""
    return _join(_encode(value, 0))


def _from_json(text: str, *, _scan=_C_SCAN, _skip=_WHITESPACE, _len=len, _ValueError=ValueError,
               _StopIteration=StopIteration) -> Any:
    """The value of one JSON document, as json.loads reads it; ValueError when `text` is not one."""
    try:
        value, end = _scan(text, _skip(text, 0).end())
    except _StopIteration:
        raise _ValueError("not a JSON document") from None
    if _skip(text, end).end() != _len(text):
        raise _ValueError("more than one JSON document")
    return value


def _detect_encoding(data: bytes, *, _len=len, _utf32=(codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE),
                     _utf16=(codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE), _utf8=codecs.BOM_UTF8) -> str:
    """The encoding json.loads reads bytes in: json.detect_encoding, with its constants bound."""
    if data.startswith(_utf32):
        return "utf-32"
    if data.startswith(_utf16):
        return "utf-16"
    if data.startswith(_utf8):
        return "utf-8-sig"
    if _len(data) >= 4:
        if not data[0]:
            return "utf-16-be" if data[1] else "utf-32-be"
        if not data[1]:
            return "utf-16-le" if data[2] or data[3] else "utf-32-le"
    elif _len(data) == 2:
        if not data[0]:
            return "utf-16-be"
        if not data[1]:
            return "utf-16-le"
    return "utf-8"


def _from_json_bytes(data: bytes, *, _detect=_detect_encoding, _from_json=_from_json) -> Any:
    """json.loads of bytes (what httpx's Response.json() does), without looking up json.loads."""
    return _from_json(data.decode(_detect(data), "surrogatepass"))


def json_shape(data: bytes, depth_limit: int, *, _bytes=bytes, _compress=itertools.compress, _map=map,
               _accumulate=itertools.accumulate, _not=operator.not_, _xor=operator.xor, _range=range,
               _bool=bool, _is_quote=_IS_QUOTE.__getitem__, _not_structure=_NOT_STRUCTURE,
               _square=_SQUARE) -> tuple[int, bool]:
    """(an upper bound on the JSON values in `data`, whether it nests deeper than `depth_limit` or its brackets
    do not pair up), counted on the bytes without parsing them: escaped backslashes and quotes go, then every
    byte but quotes, brackets and commas, then what lies inside strings (a quote opens what the next one
    closes); each round then removes the innermost pairs of brackets, and valid JSON is left with none after
    as many rounds as it is deep. Linear time (times the depth limit), and no more memory than a few copies
    of `data`, whatever the bytes. For bytes that are not valid JSON, the bound on values holds for the part
    a parser reads before it stops."""
    structure = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _not_structure)
    if b'"' in structure:
        inside = _accumulate(_map(_is_quote, structure), _xor)  # 1 from an opening quote to its closing one
        structure = _bytes(_compress(structure, _map(_not, inside)))
    nodes = structure.count(b",") + structure.count(b"[") + structure.count(b"{") + 1
    nesting = structure.translate(_square, b'",')
    for _ in _range(depth_limit):
        if not nesting:
            break
        nesting = nesting.replace(b"[]", b"")
    return nodes, _bool(nesting)


def reply_problem(data: bytes, *, _len=len, _shape=json_shape, _max_bytes=MAX_REPLY_BYTES,
                  _max_nodes=MAX_REPLY_NODES, _max_depth=MAX_REPLY_DEPTH) -> tuple[str, str]:
    """("oversized" or "malformed", why, in a student's words) for a reply line beyond what the judge reads
    (too many bytes or values; nested deeper than any reply's schema); ("", "") for one it reads."""
    if _len(data) > _max_bytes:
        return "oversized", f"a report of {_len(data):,} bytes, where the grader reads {_max_bytes:,}"
    nodes, deeper = _shape(data, _max_depth)
    if nodes > _max_nodes:
        return "oversized", f"a report of {nodes:,} values, where the grader reads {_max_nodes:,}"
    if deeper:
        return "malformed", f"a report nested more than {_max_depth} deep, or not JSON"
    return "", ""


def encode_reply(reply: dict, *, _to_json=_to_json, _problem=reply_problem) -> bytes:
    """The reply line for `reply` ({"id", "observation"} or {"id", "problem", "detail"}); a reply beyond what
    the judge reads becomes a problem ("oversized") here, so an honest reply is never cut on the way."""
    data = (_to_json(reply) + "\n").encode("ascii")
    problem, detail = _problem(data)
    if problem:
        data = (_to_json({"id": reply.get("id"), "problem": problem, "detail": detail}) + "\n").encode("ascii")
    return data


def decode_request(line: bytes, *, _from_json=_from_json, _type=type, _dict=dict, _ValueError=ValueError) -> dict:
    """One line from the judge: {"id", "workdir", "probe"}."""
    request = _from_json(line.decode("utf-8"))
    if _type(request) is not _dict:
        raise _ValueError("a request is a JSON object")
    return request


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
                      BackgroundTask=starlette.background.BackgroundTask, freeze_time=freezegun.freeze_time)
    # The libraries' objects live as long as the process: keep them out of every later garbage collection
    # (pytest collects at the end of a session; a fork server's children then share these pages untouched).
    gc.freeze()


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

WITNESS_CHANNEL = 3  # the descriptor the judge's supervisor reads (alfred.sandbox.supervisor.CHANNEL)
SERVING = 4  # witnessed: a socket on which the judge hands a listening socket for each request, served by uvicorn
MARKER = b"\x1f"  # starts a line on the channel that is not the reply: {"phase": ...} or {"event": ...}
_STREAM_FD = types.MappingProxyType({"stdout": 1, "stderr": 2})


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _real_nanosleep(seconds: float, *, _nanosleep=ctypes.CDLL(None, use_errno=True).nanosleep, _Timespec=_Timespec,
                    _int=int, _byref=ctypes.byref) -> None:
    """A relative wait, asked of the kernel: the supervisor answers it at once."""
    whole = _int(seconds)
    _nanosleep(_byref(_Timespec(whole, _int((seconds - whole) * 1e9))), None)




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


def _fake_sleep(observer: dict, seconds: float, *, _float=float, _ValueError=ValueError, _event=_event) -> None:
    seconds = _float(seconds)
    if seconds < 0:
        raise _ValueError("sleep length must be non-negative")
    if seconds == 0:  # anyio and Starlette yield to the event loop with sleep(0): not the student's work
        return
    _event(observer, "sleep", {"seconds": seconds})
    if observer["clock"] is not None:
        observer["clock"].tick(seconds)
    observer["virtual_seconds"] += seconds


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


def _lookup(observer: dict, module, name: str, *, _hasattr=hasattr, _getattr=getattr):
    if not _hasattr(module, name):
        observer["result"]["missing_name"] = name
        return None
    return _getattr(module, name)


# --- the patched world ---


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
                   _isinstance=isinstance, _str=str, _type=type, _len=len, _TypeError=TypeError,
                   _max_output=MAX_OUTPUT_CHARS) -> tuple[_LineRecorder, Any]:
    """(a recorder for `stream`, its flush: the session flushes its own recorders, whatever sys.stdout is by then)."""
    pending = [""]

    def write(text: str) -> int:
        if not _isinstance(text, _str):
            raise _TypeError(f"write() argument must be str, not {_type(text).__name__}")
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


def _patch_background_tasks(observer: dict, stack: ExitStack, *, _libraries=_LIBRARIES, _swapped=_swapped, _len=len,
                            _describe_function=_describe_function, _describe_value=_describe_value,
                            _event=_event, _error_info=_error_info, _errors=_STUDENT_ERRORS, _list=list,
                            _max_scheduled=MAX_SCHEDULED, _max_arguments=MAX_ARGUMENTS) -> None:
    BackgroundTask = _libraries["BackgroundTask"]
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
                "kwargs": {name: _describe_value(observer, value)
                           for name, value in _list(kwargs.items())[:_max_arguments]},
            }
        )

    async def recording_call(task):
        name = _describe_function(observer, task.func)["name"]
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

        def sleep(seconds: float) -> None:
            _fake_sleep(observer, seconds)

        async def async_sleep(seconds: float, result: Any = None) -> Any:
            _fake_sleep(observer, seconds)
            await _real_async_sleep(0)
            return result

        async def anyio_sleep(delay: float) -> None:
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


# --- the student's module ---

_compiled_files: dict[tuple, tuple] = {}
_CLOCK_WORDS = ("time()", "perf_counter", "monotonic", "datetime", "process_time", "time_ns", "strftime",
                "localtime", "gmtime", "ctime", "date.today")


def _compiled(main_path: str, *, _stat=os.stat, _open=open, _compile=compile, _any=any, _files=_compiled_files,
              _words=_CLOCK_WORDS):
    """main.py's code object and whether it reads a clock, compiled once per version of the file."""
    stat = _stat(main_path)
    key = (main_path, stat.st_mtime_ns, stat.st_size)
    if key not in _files:
        with _open(main_path, "rb") as handle:
            source = handle.read()
        text = source.decode("utf-8", errors="replace")
        # dont_inherit: the kit's own `from __future__ import annotations` must not change the student's code.
        code = _compile(source, main_path, "exec", dont_inherit=True)
        _files[key] = (code, _any(word in text for word in _words))
    return _files[key]


_module_counter = itertools.count()


def _project_importable(stack: ExitStack, project: str | None, *, _path=sys.path, _modules=sys.modules,
                        _realpath=os.path.realpath, _set=set, _list=list, _getattr=getattr, _isinstance=isinstance,
                        _str=str, _ValueError=ValueError) -> None:
    """The project's own modules (a helpers.py beside main.py) import, as when uvicorn runs in its folder;
    what they were loaded as is forgotten when the probe ends, so no probe sees another's."""
    if project is None:
        return
    folder = _realpath(project)
    _path.insert(0, folder)
    before = _set(_modules)

    def forget() -> None:
        try:
            _path.remove(folder)
        except _ValueError:
            pass
        for name in _list(_modules):
            if name not in before:
                where = _getattr(_modules.get(name), "__file__", None)
                if _isinstance(where, _str) and _realpath(where).startswith(folder + "/"):
                    _modules.pop(name, None)

    stack.callback(forget)


def _load_module(observer: dict, *, _counter=_module_counter, _next=next, _compiled=_compiled,
                 _freeze_clock=_freeze_clock,
                 _spec=importlib.util.spec_from_file_location, _from_spec=importlib.util.module_from_spec,
                 _modules=sys.modules, _exec=exec, _BaseException=BaseException,
                 _KeyboardInterrupt=KeyboardInterrupt, _isinstance=isinstance, _error_info=_error_info):
    """Imports main.py under a fresh name, so `from time import sleep` picks up the virtual sleep."""
    name = observer["module_name"] = f"alfred_submission_{_next(_counter)}"
    try:
        code, reads_a_clock = _compiled(observer["main_path"])
        if reads_a_clock:
            _freeze_clock(observer)
        spec = _spec(name, observer["main_path"])
        module = _from_spec(spec)
        _modules[name] = module
        _exec(code, module.__dict__)
    except _BaseException as exc:  # noqa: BLE001 - SystemExit at import is a student's bug too
        if _isinstance(exc, _KeyboardInterrupt):
            raise
        observer["result"]["load_error"] = _error_info(observer, exc)
        return None
    observer["module"] = module
    observer["phase"] = "probe"
    return module


def _prepare_workdir(workdir: str, probe: dict, *, _makedirs=os.makedirs, _dirname=os.path.dirname,
                     _open=open) -> None:
    for folder in probe.get("dirs", []):
        _makedirs(workdir + "/" + folder, exist_ok=True)
    for relative, text in probe.get("files", {}).items():
        target = workdir + "/" + relative
        _makedirs(_dirname(target), exist_ok=True)
        with _open(target, "w") as handle:
            handle.write(text)


def _lay_out_project(observer: dict, project: str | None, also_skipped: tuple = (), *, _scandir=os.scandir,
                     _makedirs=os.makedirs,
                     _exists=os.path.lexists, _stat=os.stat, _open=open, _skipped=PROJECT_SKIPPED,
                     _basename=os.path.basename, _max_files=MAX_PROJECT_FILES, _max_bytes=MAX_PROJECT_BYTES,
                     _len=len, _OSError=OSError) -> None:
    """Copies the project's other files (not main.py) into the work folder where they are missing, and notes
    them, so the files the app writes are told apart from those it was given."""
    if project is None:
        return
    main_name, workdir, noted = _basename(observer["main_path"]), observer["workdir"], observer["project_files"]
    folders, budget = [""], [_max_files, _max_bytes]
    while folders:
        relative = folders.pop()
        try:
            with _scandir(project + relative) as entries:
                listing = [(entry.name, entry.is_dir(follow_symlinks=False), entry.is_file(follow_symlinks=False))
                           for entry in entries]
        except _OSError:
            continue
        for name, is_dir, is_file in listing:
            path = relative + "/" + name
            if name.startswith(".") or name in _skipped or name in also_skipped or (not relative and name == main_name):
                continue
            if is_dir and not _exists(project + path + "/pyvenv.cfg"):
                folders.append(path)
            elif is_file and budget[0] > 0 and budget[1] > 0:
                target = workdir + path
                try:
                    if not _exists(target):
                        _makedirs(workdir + relative, exist_ok=True)
                        with _open(project + path, "rb") as source, _open(target, "wb") as copy:
                            data = source.read(budget[1] + 1)
                            copy.write(data)
                        budget[0], budget[1] = budget[0] - 1, budget[1] - _len(data)
                    info = _stat(target)
                    noted[path[1:]] = (info.st_size, info.st_mtime_ns)
                except _OSError:
                    continue


# --- actions ---


def _lifespan_of(module, *, _getattr=getattr, _callable=callable, _type=type):
    """The lifespan of main.py's `app` when it does something (a lifespan function, startup or shutdown
    handlers), as uvicorn would run it around every request; None otherwise."""
    router = _getattr(_getattr(module, "app", None), "router", None)
    lifespan = _getattr(router, "lifespan_context", None)
    if not _callable(lifespan):
        return None
    # FastAPI's and Starlette's default lifespan only runs the startup and shutdown handlers.
    if _type(lifespan).__name__ == "_DefaultLifespan" and not (router.on_startup or router.on_shutdown):
        return None
    return lifespan


@asynccontextmanager
async def _app_running(observer: dict, module, phase: str, *, _lifespan_of=_lifespan_of):
    """Runs the app's lifespan around a probe, as a server would: startup first, shutdown last."""
    lifespan = _lifespan_of(module)
    if lifespan is None:
        observer["phase"] = phase
        yield
        return
    observer["phase"] = "startup"
    async with lifespan(module.app):
        observer["phase"] = phase
        yield
        observer["phase"] = "shutdown"


def _listening_socket(*, _socket=socket.socket, _recv_fds=socket.recv_fds, _fd=SERVING, _close=os.close,
                      _dup=os.dup, _OSError=OSError, _len=len):
    """The listening socket the judge handed over for the request being served: the last one sent (those of
    earlier probes that never served, main.py having failed to import, are closed unused)."""
    channel = _socket(fileno=_dup(_fd))
    try:
        channel.settimeout(5)
        _, fds, _, _ = _recv_fds(channel, 1, 1)
        channel.setblocking(False)
        while True:
            try:
                _, more, _, _ = _recv_fds(channel, 1, 1)
            except _OSError:
                break
            if not more:
                break
            for fd in fds:
                _close(fd)
            fds = more
    finally:
        channel.close()
    if _len(fds) != 1:
        raise _OSError("the judge handed no socket to serve on")
    return _socket(fileno=fds[0])


def _serve_one_request(observer: dict, module, app, requests: int = 1, *, _libraries=_LIBRARIES,
                       _lifespan_of=_lifespan_of, _run=asyncio.run, _listening_socket=_listening_socket,
                       _Event=asyncio.Event, _list=list, _mark_phase=_mark_phase) -> None:
    """Serves the judge's request (its `requests` requests, sent one after the other on its connection) with
    uvicorn on the listening socket the judge handed over for it, the lifespan of main.py's app (`module`;
    None: no lifespan) around it as uvicorn runs it, until they and the tasks they started are done."""
    uvicorn = _libraries["uvicorn"]
    done, served = _Event(), [0]

    async def app_until_done(scope, receive, send):
        try:
            await app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                served[0] += 1
                if served[0] >= requests:
                    done.set()

    lifespan = _lifespan_of(module) is not None
    config = uvicorn.Config(app_until_done, lifespan="on" if lifespan else "off", log_config=None,
                            log_level="critical", access_log=False, proxy_headers=False, ws="none",
                            http="h11", timeout_graceful_shutdown=1)
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)

    async def serve():
        observer["phase"] = "startup" if lifespan else "request"
        _mark_phase(observer)
        await server.startup(sockets=[_listening_socket()])
        observer["phase"] = "request"
        _mark_phase(observer)
        try:
            await done.wait()
        finally:
            for listening in server.servers:  # what uvicorn's own shutdown does, without its waits
                listening.close()
            for connection in _list(server.server_state.connections):
                connection.shutdown()
            if lifespan:
                observer["phase"] = "shutdown"
                await server.lifespan.shutdown()

    _run(serve())


STAND_IN_SAYS = " got "  # the stand-in's line: "<function> got <JSON object of the fields it read>"


def _put_stand_in(observer: dict, module, stand_in: dict, *, _vars=vars, _list=list, _setattr=setattr,
                  _getattr=getattr, _len=len, _TypeError=TypeError, _time=time, _print=print, _to_json=_to_json,
                  _str=str, _isinstance=isinstance, _dict=dict, _says=STAND_IN_SAYS, _Thread=threading.Thread,
                  _Event=threading.Event, _swapped=_swapped) -> None:
    """Replaces main.py's function `stand_in["function"]` (under every name main.py gives it) with one of the
    kit's that does what the lesson's does, visibly: given one object, it reads that object's fields (those
    of its model, else its attributes), prints them as JSON, and works 5 s. What the endpoint hands its task,
    and when, is then seen from outside the process (a print, a sleep), whatever the student's own task does:
    that is the task exercise's.

    A thread the request starts to run it begins once the request is handled (`_threads_after_request`), as
    on a real server, where the response leaves while the thread is at work: so the order the judge sees
    does not depend on how the machine schedules threads."""
    name = stand_in["function"]
    original = _getattr(module, name, None)
    if original is None:
        return
    handled, started, original_start = _Event(), [], _Thread.start

    def stand_in_task(*args, **kwargs):
        given = [*args, *kwargs.values()]
        if _len(given) != 1:
            raise _TypeError(f"{name}() takes 1 argument, the report request object, but got {_len(given)}")
        fields = _getattr(_getattr(given[0], "__class__", None), "model_fields", None)
        names = _list(fields) if _isinstance(fields, _dict) else _list(_vars(given[0]))  # a dict has no vars()
        read = {field: _str(_getattr(given[0], field)) for field in names}
        _print(name + _says + _to_json(read))
        _time.sleep(5)

    stand_in_task.__name__ = stand_in_task.__qualname__ = name

    def start(thread):
        if _getattr(thread, "_target", None) is stand_in_task:
            def after_the_request(*args, **kwargs):
                handled.wait(10)
                return stand_in_task(*args, **kwargs)

            thread._target = after_the_request
            started.append(thread)
        return original_start(thread)

    observer["stack"].enter_context(_swapped(_Thread, "start", start))
    observer["stand_in_threads"] = (handled, started)
    for attribute, value in _list(_vars(module).items()):
        if value is original:
            _setattr(module, attribute, stand_in_task)


def _threads_after_request(observer: dict) -> None:
    """The request is handled: threads started to run the stand-in may begin, and are waited for."""
    if observer.get("stand_in_threads"):
        handled, started = observer["stand_in_threads"]
        handled.set()
        for thread in started:
            thread.join(10)


def _request(observer: dict, module, probe: dict, *, _libraries=_LIBRARIES, _lookup=_lookup, _event=_event,
             _error_info=_error_info, _app_running=_app_running, _run=asyncio.run, _isinstance=isinstance,
             _Exception=Exception, _RuntimeError=RuntimeError, _type=type, _errors=_STUDENT_ERRORS,
             _from_json_bytes=_from_json_bytes, _to_json=_to_json, _len=len, _ValueError=ValueError,
             _put_stand_in=_put_stand_in, _serve_one_request=_serve_one_request,
             _threads_after_request=_threads_after_request,
             _max_text=MAX_TEXT_CHARS, _max_body=MAX_BODY_CHARS) -> None:
    ASGITransport, AsyncClient = _libraries["ASGITransport"], _libraries["AsyncClient"]
    app = _lookup(observer, module, "app")
    if app is None:
        return
    if probe.get("stand_in"):
        _put_stand_in(observer, module, probe["stand_in"])

    async def recorded_app(scope, receive, send):
        async def recording_send(message):
            if message["type"] == "http.response.start":
                _event(observer, "response-start", {"status": message["status"]})
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                _event(observer, "response-complete", {})
                observer["phase"] = "after-response"

        try:
            await app(scope, receive, recording_send)
        except _errors as exc:
            observer["result"]["error"] = _error_info(observer, exc)
            if not _isinstance(exc, _Exception):  # SystemExit: answer 500 like an ordinary crash would
                raise _RuntimeError(f"{_type(exc).__name__} raised by the app") from None
            raise

    if observer["witnessed"]:  # a real server, on the judge's socket: the judge reads what comes back
        _serve_one_request(observer, module, recorded_app)
        _threads_after_request(observer)
        return

    async def send_request():
        transport = ASGITransport(app=recorded_app, raise_app_exceptions=False)
        async with _app_running(observer, module, "request"), \
                AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(
                probe.get("method", "GET"),
                probe["path"],
                params=probe.get("params"),
                json=probe.get("json"),
                content=probe.get("content"),
                headers=probe.get("headers"),
            )

    response = _run(send_request())
    _threads_after_request(observer)
    try:
        body_json = _to_json(_from_json_bytes(response.content))  # the body, as Response.json() decodes it
    except _ValueError:
        body_json = None
    observer["result"]["response"] = {
        "status": response.status_code,
        "body_json": body_json if body_json is not None and _len(body_json) <= _max_body else None,
        "text": response.text[:_max_text],
        "content_type": response.headers.get("content-type", ""),
    }
    if response.status_code == 500 and not response.content and not response.headers:
        # The app raised before answering: uvicorn, which serves it when grading, answers so.
        observer["result"]["response"].update(text="Internal Server Error", content_type="text/plain; charset=utf-8")


def _kit_model(name: str, fields: dict, *, _BaseModel=BaseModel, _type=type, _str=str, _dict=dict):
    """A fresh stand-in model per call, made as `class <name>(BaseModel)` with a `str` field per given field
    would make it (a class statement would read this module's `__name__` from its globals)."""
    namespace = {"__module__": "alfred.inside.probe", "__qualname__": name,
                 "__annotations__": _dict((field, _str) for field in fields)}
    return _type(_BaseModel)(name, (_BaseModel,), namespace)(**fields)


def _materialize(value: Any, module, *, _isinstance=isinstance, _dict=dict, _set=set, _getattr=getattr, _all=all,
                 _str=str, _Exception=Exception, _kit_model=_kit_model) -> Any:
    """Turns a `{"$model": {"name": ..., "fields": {...}}}` placeholder into an object of that model.

    The student's own model of that name when it holds these fields faithfully (so a function may read the
    model's further fields), else a stand-in the kit owns: an unfinished model never fails the tests of a
    function that only receives one.
    """
    if not (_isinstance(value, _dict) and _set(value) == {"$model"} and _isinstance(value["$model"], _dict)):
        return value
    name, fields = _str(value["$model"].get("name", "")), value["$model"].get("fields", {})
    own = _getattr(module, name, None)
    try:
        candidate = own.model_validate(fields)
        if _all(_getattr(candidate, field, None) == given for field, given in fields.items()):
            return candidate
    except _Exception:  # noqa: BLE001 - missing, unfinished or broken: the stand-in takes its place
        pass
    return _kit_model(name, fields)


def _call(observer: dict, module, probe: dict, *, _lookup=_lookup, _materialize=_materialize, _lifespan_of=_lifespan_of,
          _app_running=_app_running, _run=asyncio.run, _iscoroutine=asyncio.iscoroutine, _errors=_STUDENT_ERRORS,
          _error_info=_error_info, _describe_value=_describe_value) -> None:
    func = _lookup(observer, module, probe["function"])
    if func is None:
        return
    args = [_materialize(value, module) for value in probe.get("args", [])]
    kwargs = {name: _materialize(value, module) for name, value in probe.get("kwargs", {}).items()}

    async def call_in_the_running_app():
        async with _app_running(observer, module, "call"):
            returned = func(*args, **kwargs)
            return await returned if _iscoroutine(returned) else returned

    try:
        if _lifespan_of(module) is None:  # nothing starts with the app: call it plainly, without an event loop
            observer["phase"] = "call"
            returned = func(*args, **kwargs)
            if _iscoroutine(returned):
                returned = _run(returned)
        else:
            returned = _run(call_in_the_running_app())
    except _errors as exc:
        observer["result"]["error"] = _error_info(observer, exc)
        return
    observer["result"]["returned"] = _describe_value(observer, returned)


def model_report(exchanges: list, *, _from_json_bytes=_from_json_bytes, _to_json=_to_json, _isinstance=isinstance,
                 _dict=dict, _list=list, _str=str, _len=len, _ValueError=ValueError, _RecursionError=RecursionError,
                 _lookup_errors=(KeyError, TypeError, AttributeError), _max_items=MAX_ITEMS,
                 _max_text=MAX_TEXT_CHARS) -> dict:
    """A model's report from what a FastAPI route taking it as its body answered (`_validate`): `exchanges` is
    [(status, body bytes) of POST /, (status, body bytes) of GET /openapi.json], or [] when no route could take
    it. The same function reads the exchanges the probe saw in process and those the judge's supervisor saw
    told on the channel, so both reach the same report."""
    report = {"is_pydantic": False, "fields": {}, "accepted": False, "values_json": None, "errors": []}
    if _len(exchanges) != 2:
        return report
    (status, body), (_, schema_body) = exchanges
    try:
        answer, schema = _from_json_bytes(body), _from_json_bytes(schema_body)
    except (_ValueError, _RecursionError):
        return report
    if not _isinstance(schema, _dict):
        return report
    report["is_pydantic"] = True
    try:
        reference = schema["paths"]["/"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        model_schema = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]
        properties, required = model_schema.get("properties", {}), model_schema.get("required", [])
    except _lookup_errors:
        properties, required = {}, []
    if _isinstance(properties, _dict) and _isinstance(required, _list):
        for name in _list(properties)[:_max_items]:
            described = properties[name] if _isinstance(properties[name], _dict) else {}
            kind = described.get("type") or " | ".join(_str(option.get("type", option.get("$ref", "?")))
                                                     for option in described.get("anyOf", []) if _isinstance(option, _dict))
            shown = f"{kind} ({described['format']})" if described.get("format") else _str(kind or "any")
            report["fields"][_str(name)[:_max_text]] = {"required": name in required, "annotation": shown[:_max_text]}
    if status == 200 and _isinstance(answer, _dict):
        report["accepted"] = True
        report["values_json"] = _to_json(answer)
    elif status == 422 and _isinstance(answer, _dict) and _isinstance(answer.get("detail"), _list):
        for error in answer["detail"][:_max_items]:
            if not _isinstance(error, _dict) or not _isinstance(error.get("loc"), _list):
                continue
            loc = error["loc"][1:] if error["loc"][:1] == ["body"] else error["loc"]
            report["errors"].append({"loc": [_str(part)[:_max_text] for part in loc[:_max_items]],
                                     "type": _str(error.get("type", ""))[:_max_text],
                                     "msg": _str(error.get("msg", ""))[:_max_text]})
    return report


def _validate(observer: dict, module, probe: dict, *, _libraries=_LIBRARIES, _lookup=_lookup, _run=asyncio.run,
              _Exception=Exception, _len=len, _list=list, _model_report=model_report,
              _serve_one_request=_serve_one_request, _max_sent=MAX_SENT_BODY_BYTES) -> None:
    """The model as FastAPI uses it: a route of the kit's takes it as its JSON body and answers with what it
    holds; the report is read from the route's answers (and its OpenAPI schema), as a client sees them.
    Witnessed, the route is served by uvicorn on the judge's socket, and the judge reads its answers itself."""
    model = _lookup(observer, module, probe["model"])
    if model is None:
        return
    FastAPI, ASGITransport, AsyncClient = _libraries["FastAPI"], _libraries["ASGITransport"], _libraries["AsyncClient"]

    async def echo(body):
        return body

    echo.__annotations__ = {"body": model}
    try:
        harness = FastAPI()
        harness.post("/")(echo)
    except _Exception:  # noqa: BLE001 - not something a route can take as its body
        observer["result"]["model"] = _model_report([])
        return
    exchanges = []

    async def told(scope, receive, send):
        sent = {"status": 0, "body": b""}

        async def recording_send(message):
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
            elif message["type"] == "http.response.body" and _len(sent["body"]) <= _max_sent:
                sent["body"] += message.get("body", b"")[:_max_sent + 1]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                exchanges.append((sent["status"], sent["body"]))

        await harness(scope, receive, recording_send)

    if observer["witnessed"]:
        _serve_one_request(observer, None, told, requests=2)
        observer["result"]["model"] = _model_report(exchanges)
        return

    async def ask():
        transport = ASGITransport(app=told, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://harness") as client:
            await client.post("/", json=probe["data"])
            await client.get("/openapi.json")

    _run(ask())
    observer["result"]["model"] = _model_report(exchanges)


# The actions, by name: a table nothing can change (student code could reach a dict by name and edit it).
_ACTIONS = types.MappingProxyType({"request": _request, "call": _call, "validate": _validate})


# --- running one probe ---


def run_probe(main_path: str | os.PathLike, probe: dict, workdir: str | os.PathLike, on_loaded=None,
              project: str | os.PathLike | None = None, witnessed: bool = False, also_skipped: tuple = (), *,
              _new_observer=_new_observer, _open_session=_open_session, _close_session=_close_session,
              _prepare_workdir=_prepare_workdir, _lay_out_project=_lay_out_project,
              _project_importable=_project_importable, _load_module=_load_module,
              _actions=_ACTIONS, _report=_report, _error_info=_error_info, _errors=_STUDENT_ERRORS,
              _ValueError=ValueError, _fspath=os.fspath) -> dict:
    """Loads `main_path` afresh inside `workdir`, runs `probe`, and returns the observation.

    `on_loaded` is called once the module has been imported (the worker tells its parent, so a hang at
    import time is told apart from a hang in a request). `project`, the folder of a submission given as a
    folder, has its other files laid out in `workdir` first (templates, static files, data), but not the
    folders named in `also_skipped` (what the lesson's app writes when the student runs it by hand).
    """
    observer = _new_observer(_fspath(main_path), _fspath(workdir), probe.get("watch", []), witnessed)
    stack = _open_session(observer)
    try:
        _lay_out_project(observer, None if project is None else _fspath(project), also_skipped)
        _project_importable(stack, None if project is None else _fspath(project))
        _prepare_workdir(observer["workdir"], probe)
        module = _load_module(observer)
        if on_loaded is not None:
            on_loaded()
        if module is not None:
            action = _actions.get(probe.get("action"))
            if action is None:
                raise _ValueError(f"unknown probe action {probe.get('action')!r}")
            action(observer, module, probe)
    except _errors as exc:  # a bug in student code that escaped an action
        observer["result"]["error"] = _error_info(observer, exc)
    finally:
        _close_session(observer, stack)
    return _report(observer)


def _clear_other_workdirs(work: str, keep: str, *, _scandir=os.scandir, _rmtree=shutil.rmtree,
                          _OSError=OSError) -> None:
    """Removes the work folders of earlier tests (each test's folder holds a copy of the project and what the
    app wrote: kept, they would fill the submission's small filesystem for the tests after them)."""
    try:
        with _scandir(work) as entries:
            earlier = [entry.path for entry in entries if entry.name != keep and entry.is_dir(follow_symlinks=False)]
    except _OSError:
        return
    for path in earlier:
        _rmtree(path, ignore_errors=True)


def answer(request: dict, main_path: str, work: str, on_loaded, witnessed: bool = False, *, _run_probe=run_probe,
           _encode_reply=encode_reply,
           _makedirs=os.makedirs, _MemoryError=MemoryError, _Exception=Exception, _type=type, _str=str,
           _dirname=os.path.dirname, _exists=os.path.lexists, _clear_other_workdirs=_clear_other_workdirs) -> bytes:
    """The reply line to one request of the judge ({"id", "workdir", "probe"}), made in a submission process.
    The staged folder holding main.py is exactly what the student submitted: it is the project."""
    workdir = work + "/" + request["workdir"]
    if not _exists(workdir):  # a new test: the folders of earlier tests are never used again, free their room
        _clear_other_workdirs(work, request["workdir"])
    _makedirs(workdir, exist_ok=True)
    try:
        observation = _run_probe(main_path, request["probe"], workdir, on_loaded, _dirname(main_path), witnessed)
        reply = {"id": request["id"], "observation": observation}
    except _MemoryError:
        reply = {"id": request["id"], "problem": "crashed", "detail": "MemoryError"}
    except _Exception as exc:  # noqa: BLE001 - report it; the judge decides
        reply = {"id": request["id"], "problem": "crashed", "detail": (_type(exc).__name__ + ": " + _str(exc))[:300]}
    return _encode_reply(reply)


# --- warming up a fork server ---


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
            encode_reply({"id": 0, "observation": run_probe(sample, probe, scratch)})
    _warm_up_serving()


def _warm_up_serving() -> None:
    """What serving a request with uvicorn imports on first use (its h11 protocol, its lifespan), loaded
    once here rather than by every submission process."""
    import uvicorn

    async def app(scope, receive, send):
        pass

    config = uvicorn.Config(app, lifespan="on", log_config=None, log_level="critical", access_log=False,
                            proxy_headers=False, ws="none", http="h11")
    config.load()
    config.lifespan_class(config)


def _cache_email_validator_version_check() -> None:
    """pydantic reads email-validator's installed version each time it builds an EmailStr field, a
    metadata lookup that costs about 1 ms per model; the answer cannot change while this process runs."""
    import functools

    import pydantic.networks

    if hasattr(pydantic.networks, "version"):
        pydantic.networks.version = functools.lru_cache(pydantic.networks.version)


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

# Only the functions that use them hold the mutable tables from here on: no name leads to them.
del _LIBRARIES, _compiled_files
