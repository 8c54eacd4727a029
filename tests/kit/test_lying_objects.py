"""The kit's code in the student's process calls nothing of a student's object (issue 22): a main.py hands
objects whose every special method lies, and whose class lies about its name, module and instances, to every
entry point that code exposes: the virtual sleeps (`time`, `asyncio`, `anyio`), the captured `sys.stdout` and
`sys.stderr`, `add_task` and the background tasks it records, `uvicorn.run`, and what comes back from student
code (a value returned, an error raised, a warning). Each lying method writes down the code that called it
and the frames above; none may be called from a frame of `alfred/`, nor by a library the kit itself called
(asyncio.iscoroutine asks an object's `__class__`), and what the kit records must be what CPython's own code
would read: a float's, int's or str's stored value, a class's own name, asyncio's comparison of a length.

Left out on purpose: the kit's stand-in for the task reads the object it is given as the lesson's task reads it
(its attributes), since it plays the student's task; a plain object handed to `time.sleep` is asked its
`__index__`, as `time.sleep` asks it; what a library asks of main.py's objects when the kit hands it a call
main.py made (`HANDING_ON`)."""

import sysconfig
import textwrap
from pathlib import Path

import alfred
from alfred.course.targets import SOLUTIONS_MAIN
from alfred.inside.probe import encode_reply, run_probe
from kits_lesson import the_kits_lesson_only

KIT = str(Path(alfred.__file__).parent)
LIBRARIES = tuple({sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"), sysconfig.get_path("purelib"),
                   sysconfig.get_path("platlib")})
# The kit's wrappers that hand on to a library a call main.py made, as the library's own code would receive it
# without the kit: what that library then asks of main.py's objects is the library's doing, in any server.
HANDING_ON = {
    "recorded_app": "main.py's app, which the kit serves the request with as a server does",
    "recording_init": "Starlette's BackgroundTask.__init__, which add_task called",
    "recording_call": "Starlette's BackgroundTask.__call__, which the response called",
    "async_sleep": "asyncio.sleep, for a length that is not a plain number: asyncio reads it (`delay <= 0`)",
    "anyio_sleep": "anyio.sleep, for a length that is not a plain number: anyio reads it (`delay >= 0`)",
}

LIARS = '''

# --- objects whose every special method lies; each call is written down with the code that made it ---
import anyio as _anyio
import asyncio as _asyncio
import os as _os
import sys as _sys
import warnings as _warnings

import uvicorn as _uvicorn
from starlette.background import BackgroundTask as _BackgroundTask


def _told(owner, method):
    frame, chain = _sys._getframe(2), []
    while frame is not None and frame.f_code.co_filename != __file__:  # up to main.py's own code
        chain += [frame.f_code.co_filename, frame.f_code.co_name]
        frame = frame.f_back
    line = "\\t".join([f"{owner}.{method}", *chain]) + "\\n"
    handle = _os.open(CALLS, _os.O_WRONLY | _os.O_CREAT | _os.O_APPEND, 0o600)
    _os.write(handle, line.encode())
    _os.close(handle)


LIES = {
    "__float__": 5.0, "__int__": 5, "__index__": 5, "__len__": 5, "__hash__": 5, "__sizeof__": 5,
    "__round__": 5, "__abs__": 5, "__neg__": 5,
    "__str__": "simulate_intel_report_compilation", "__repr__": "simulate_intel_report_compilation",
    "__format__": "lie", "__bytes__": b"lie", "__add__": "lie", "__radd__": "lie", "__mul__": "lie",
    "__rmul__": "lie", "__mod__": "lie", "__rmod__": "lie", "__getitem__": "lie", "__getattr__": "lie",
    "__eq__": True, "__ne__": True, "__lt__": True, "__le__": True, "__gt__": True, "__ge__": True,
    "__bool__": True, "__contains__": True, "__instancecheck__": True, "__subclasscheck__": True,
    "__iter__": None, "__dir__": None, "__reduce__": None, "__reduce_ex__": None, "__copy__": None,
    "__deepcopy__": None, "__getstate__": None,
}


def _lying(owner, method, lie):
    def lying(*args, **kwargs):
        _told(owner, method)
        if method in ("__iter__",):
            return iter(["lie"])
        if method in ("__dir__",):
            return ["lie"]
        if method in ("__reduce__", "__reduce_ex__"):
            return (str, ("lie",))
        if method in ("__copy__", "__deepcopy__", "__getstate__"):
            return "lie"
        return lie
    return lying


def _getattribute(owner, base):
    def getattribute(self, name):
        _told(owner, "__getattribute__")
        return base.__getattribute__(self, name)
    return getattribute


def _lying_property(owner, name, lie):
    def read(self):
        _told(owner, name)
        return lie
    return property(read)


def _namespace(owner, base, **extra):
    namespace = {method: _lying(owner, method, lie) for method, lie in LIES.items()}
    namespace["__getattribute__"] = _getattribute(owner, base)
    return {**namespace, **extra}


# A metaclass that lies about its classes (their name, module, instances, equality), and a base whose instances
# lie through every special method, their __class__ and their __dict__ included.
Lying = type("Lying", (type,), _namespace(
    "Lying", type, __name__=_lying_property("Lying", "__name__", "simulate_intel_report_compilation"),
    __module__=_lying_property("Lying", "__module__", "pydantic.main")))
Lies = Lying("Lies", (), _namespace(
    "Lies", object, __class__=_lying_property("Lies", "__class__", BaseModel),
    __dict__=_lying_property("Lies", "__dict__", {"report_name": "lie"})))


class LyingFloat(Lies, float):
    pass


class LyingInt(Lies, int):
    pass


class LyingStr(Lies, str):
    pass


class LyingObject(Lies):
    pass


class LyingTask(Lies):
    def __call__(self, *args, **kwargs):
        print("the lying task ran")


class LyingWarning(Lies, UserWarning):
    pass


class LyingError(Lies, Exception):
    pass


class LyingBackgroundTask(Lies, _BackgroundTask):
    pass


def lie_to_the_kit():
    time.sleep(LyingFloat(0.0))
    time.sleep(LyingFloat(1.5))
    time.sleep(LyingInt(2))
    _asyncio.run(_asyncio.sleep(LyingFloat(0.25)))
    _anyio.run(_anyio.sleep, LyingFloat(0.5))
    _sys.stdout.write(LyingStr("written to stdout\\n"))
    _sys.stderr.write(LyingStr("written to stderr\\n"))
    _warnings.warn(LyingWarning("warned"))
    _uvicorn.run(LyingObject(), host=LyingStr("127.0.0.1"))
    return LyingObject()


def raise_a_lying_error():
    raise LyingError("raised")


class ClaimsToBeBuiltin(Exception):
    """An error class that says it is Python's own, with a __str__ that lies."""
    __module__ = "builtins"

    def __str__(self):
        _told("ClaimsToBeBuiltin", "__str__")
        return "simulate_intel_report_compilation"


def raise_an_error_that_claims_to_be_builtin():
    raise ClaimsToBeBuiltin("raised")


@app.post("/lie")
def lie_to_the_recorded_tasks(background_tasks: BackgroundTasks):
    background_tasks.add_task(LyingTask(), LyingFloat(1.0), LyingStr("given"), note=LyingInt(3))
    background_tasks.tasks.append(LyingBackgroundTask(LyingTask()))
    return {"message": "scheduled"}
'''


def lying_main(tmp_path: Path) -> tuple[Path, Path]:
    calls = tmp_path / "calls.txt"
    main = tmp_path / "project" / "main.py"
    main.parent.mkdir()
    main.write_text(SOLUTIONS_MAIN.read_text() + f"\nCALLS = {str(calls)!r}\n" + textwrap.dedent(LIARS))
    return main, calls


def probed(main: Path, calls: Path, tmp_path: Path, name: str, probe: dict) -> tuple[dict, list[tuple[str, str]]]:
    """The probe's observation (its reply encoded by the kit too), and the lying methods called by the kit's
    code meanwhile, as (class.method, the kit's function that called it)."""
    calls.unlink(missing_ok=True)
    (tmp_path / name).mkdir()
    observation = run_probe(main, probe, tmp_path / name)
    encode_reply({"observation": observation})
    lines = [line.split("\t") for line in calls.read_text().splitlines()] if calls.exists() else []
    return observation, [(method, function) for method, *chain in lines
                         if (function := made_by_the_kit(list(zip(chain[::2], chain[1::2]))))]


def made_by_the_kit(chain: list[tuple[str, str]]) -> str | None:
    """The kit's function that made a call, from the frames above the called method up to main.py's code
    [(file, function), nearest first]: the caller, when it is the kit's; when a library's code made the call,
    the nearest frame above it that is not a library's, when that is the kit's own and does not merely hand on
    to that library a call main.py made (`HANDING_ON`). None: main.py's own call, or a library's on its behalf."""
    for depth, (filename, function) in enumerate(chain):
        if filename.startswith(KIT):
            return None if depth and function in HANDING_ON else function
        if not is_a_library(filename):
            return None
    return None


def is_a_library(filename: str) -> bool:
    """Code of Python's standard library or of an installed package (FastAPI, Starlette, anyio, pydantic...)."""
    return filename.startswith(LIBRARIES) or filename.startswith("<frozen ")


@the_kits_lesson_only
def test_the_kit_reads_what_lying_objects_hold_and_calls_none_of_their_methods(tmp_path):
    main, calls = lying_main(tmp_path)
    assert "BackgroundTasks" in main.read_text() and "from pydantic import BaseModel" in main.read_text()

    lied_to, by_the_kit = probed(main, calls, tmp_path, "call", {"action": "call", "function": "lie_to_the_kit"})
    assert calls.exists(), "the lying objects' own calls (print's, time.sleep's) are written down: the check can see"
    assert by_the_kit == []
    assert lied_to["error"] is None, lied_to["error"]
    # time.sleep reads a float's or an int's stored value; asyncio.sleep and anyio.sleep ask `delay <= 0` and
    # `delay >= 0`, which these lengths answer True: asyncio's own sleep waits nothing.
    assert [e["seconds"] for e in lied_to["events"] if e["kind"] == "sleep"] == [1.5, 2.0]
    assert [(e["stream"], e["text"]) for e in lied_to["events"] if e["kind"] == "print"] == [
        ("stdout", "written to stdout"), ("stderr", "written to stderr")]
    assert [w.split(" ")[0] for w in lied_to["warnings"]] == ["uvicorn.run()", "LyingWarning:"]
    assert lied_to["warnings"][1] == "LyingWarning: warned"
    assert lied_to["returned"] == {"type": "LyingObject", "instance_of": ["Lies", "LyingObject"], "pydantic": False,
                                   "value_json": '"<LyingObject object>"'}

    raised, by_the_kit = probed(main, calls, tmp_path, "raise", {"action": "call", "function": "raise_a_lying_error"})
    # The one call allowed: catching the error, the interpreter itself asks the class's metaclass whether the
    # error is of its class (PyErr_NormalizeException), as it does in any server that catches it.
    assert by_the_kit == [("Lying.__subclasscheck__", "_call")]
    assert (raised["error"]["type"], raised["error"]["message"]) == ("LyingError", "raised")
    claimed, by_the_kit = probed(main, calls, tmp_path, "claim",
                                 {"action": "call", "function": "raise_an_error_that_claims_to_be_builtin"})
    assert by_the_kit == []  # only a __str__ in C, over plain arguments, makes the message
    assert (claimed["error"]["type"], claimed["error"]["message"]) == ("ClaimsToBeBuiltin", "raised")

    scheduled, by_the_kit = probed(main, calls, tmp_path, "request", {"action": "request", "method": "POST", "path": "/lie"})
    assert by_the_kit == []
    assert scheduled["response"]["status"] == 200, scheduled["response"]
    [task, appended] = scheduled["scheduled"]
    assert task["function"] == appended["function"] == {"name": "LyingTask", "module_attr": None, "callable": True}
    assert [(a["type"], a["value_json"]) for a in task["args"]] == [("LyingFloat", "1.0"), ("LyingStr", '"given"')]
    assert {name: value["type"] for name, value in task["kwargs"].items()} == {"note": "LyingInt"}
    assert [e["function"] for e in scheduled["events"] if e["kind"] == "task-start"] == ["LyingTask", "LyingTask"]


SLEEPS = '''

def sleep_as_the_real_sleeps_are_called():
    try:
        time.sleep(seconds=5)
    except TypeError as refused:
        print(refused)
    asyncio.run(asyncio.sleep(delay=0.75, result=None))
    asyncio.run(asyncio.sleep(-1))
    try:
        anyio.run(anyio.sleep, -1)
    except ValueError as refused:
        print(refused)
    for endless in (float("inf"), 1e10):  # past what CPython counts in 64 bits of nanoseconds
        try:
            time.sleep(endless)
        except OverflowError as refused:
            print(type(refused).__name__)
'''


@the_kits_lesson_only
def test_the_virtual_sleeps_take_the_arguments_the_real_ones_take(tmp_path):
    """`time.sleep` takes no keyword; `asyncio.sleep` names its length `delay` and returns at once for a
    negative one; `anyio.sleep` refuses it; `time.sleep` refuses a length past 2**63 ns. A virtual sleep that took `seconds=5` would count 5 s of work for a
    task that fails at once on a real server."""
    main, calls = lying_main(tmp_path)
    main.write_text(main.read_text() + "\nimport asyncio\nimport anyio\n" + textwrap.dedent(SLEEPS))
    slept, _ = probed(main, calls, tmp_path, "sleeps", {"action": "call", "function": "sleep_as_the_real_sleeps_are_called"})
    assert slept["error"] is None, slept["error"]
    assert [e["seconds"] for e in slept["events"] if e["kind"] == "sleep"] == [0.75]
    assert [e["text"] for e in slept["events"] if e["kind"] == "print"] == [
        "time.sleep() takes no keyword arguments", "delay must be a non-negative number", "OverflowError",
        "OverflowError"]

