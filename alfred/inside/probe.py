"""Runs one probe against a student's `main.py` and reports what happened, as plain JSON-ready data: the entry
to `alfred/inside/`, the only part of the kit that executes student code. The rest of the kit imports what it
uses of this layer from here; the work is done in the modules it names:

    wire.py       what passes between this process and the judge: the bounds (MAX_*), the channel's
                  descriptors and marker, JSON by the C code of `_json`, the reply and request lines
    recording.py  the observer and what records into it: events, told at once to the supervisor when witnessed;
                  errors, values and functions described; the files the app wrote; the observation
    world.py      the patched world main.py runs in: virtual sleeps and clock, printed lines, recorded
                  background tasks, uvicorn.run refused; the libraries imported before any student code
    loading.py    the project laid out in the work folder, and main.py loaded afresh
    actions.py    the actions: request, call, validate (and serving with uvicorn, the stand-in task)
    running.py    running one probe (`run_probe`) and answering one request of the judge (`answer`)
    warm_up.py    warming up the fork server

The in-process driver calls `run_probe` directly; the out-of-process drivers call it inside a separate
(sandboxed) process and send the same dict back, so the judge sees identical data either way. Nothing here
decides a grade: it only observes.

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
# of any module of this layer (`import alfred.inside.recording` is one line), a method of a class defined
# there. So the code that turns what was observed into the reply (recording events and printed lines,
# describing values, functions and errors, collecting files, building the report, encoding it to JSON,
# writing it) and the code that runs a probe around it look nothing up at call time in a module's globals,
# in `builtins` or in a kit class:
#   - every builtin, module function, constant and kit function it uses is bound when its module is
#     imported, before any student code, as a keyword-only default (`_len=len`), or in a closure made from
#     those; a function bound from another module of this layer is imported before the function that binds
#     it is defined. Libraries imported later (httpx, Starlette, uvicorn, freezegun) are bound once by
#     `import_dependencies`, which runs before any student code, into a table only those defaults hold;
#   - the observer's state is a plain dict; the tables it reads are immutable, or held by those defaults alone;
#   - JSON is written by the C encoder of `_json` made at import with its C string encoder, and read by its C
#     scanner, so no code of the `json` module runs after load (not even in httpx: a response's body is
#     decoded here).
# What stays open is reaching the kit's objects themselves (gc, frames, `__defaults__`, `sys.stdout` and the
# sleep functions the probe installs) and the libraries the probe drives: the known limit of observing from
# inside the student's process (SECURITY.md). `alfred.sandbox.worker._serve` follows the same rule.
# This module only names what the others define: nothing here runs after load.

from __future__ import annotations

from alfred.inside.actions import STAND_IN_SAYS, model_report
from alfred.inside.loading import MAX_PROJECT_BYTES, MAX_PROJECT_FILES, PROJECT_SKIPPED
from alfred.inside.running import answer, run_probe
from alfred.inside.warm_up import warm_up
from alfred.inside.wire import (
    MARKER,
    MAX_ARGUMENTS,
    MAX_BODY_CHARS,
    MAX_EVENTS,
    MAX_FILE_CHARS,
    MAX_FILES,
    MAX_ITEMS,
    MAX_OUTPUT_CHARS,
    MAX_OUTPUT_EVENTS,
    MAX_REPLY_BYTES,
    MAX_REPLY_DEPTH,
    MAX_REPLY_NODES,
    MAX_RESPONSE_CHARS,
    MAX_SCHEDULED,
    MAX_SENT_BODY_BYTES,
    MAX_TEXT_CHARS,
    MAX_VALUE_CHARS,
    MAX_VALUE_DEPTH,
    SERVING,
    WITNESS_CHANNEL,
    _from_json_bytes,
    _to_json,
    decode_request,
    encode_reply,
    json_shape,
    reply_problem,
)
from alfred.inside.world import import_dependencies

__all__ = [
    "MARKER", "MAX_ARGUMENTS", "MAX_BODY_CHARS", "MAX_EVENTS", "MAX_FILE_CHARS", "MAX_FILES", "MAX_ITEMS",
    "MAX_OUTPUT_CHARS", "MAX_OUTPUT_EVENTS", "MAX_PROJECT_BYTES", "MAX_PROJECT_FILES", "MAX_REPLY_BYTES",
    "MAX_REPLY_DEPTH", "MAX_REPLY_NODES", "MAX_RESPONSE_CHARS", "MAX_SCHEDULED", "MAX_SENT_BODY_BYTES", "MAX_TEXT_CHARS",
    "MAX_VALUE_CHARS", "MAX_VALUE_DEPTH", "PROJECT_SKIPPED", "SERVING", "STAND_IN_SAYS", "WITNESS_CHANNEL",
    "_from_json_bytes", "_to_json",  # the JSON the judge's supervisor reads a response's body with, as _request does
    "answer", "decode_request", "encode_reply", "import_dependencies", "json_shape", "model_report", "reply_problem",
    "run_probe", "warm_up",
]
