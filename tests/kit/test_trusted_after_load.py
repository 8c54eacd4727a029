"""Trusted code in the student's process uses nothing the student can replace by name (the rule at the top of
alfred/inside/probe.py, for every module of alfred/inside/): a main.py that, once loaded, replaces json's functions and encoder, lies through builtins to
the kit's own code, and shadows or replaces names in the kit modules' globals gets, probe for probe, the very
reply bytes its honest code gets. Run through `alfred.sandbox.worker._serve`, in a process of its own, without a
sandbox (the attack corpus does the same in one: tests/attacks/patch_names_the_kit_looks_up.py)."""

from __future__ import annotations

import dis
import importlib
import pkgutil
import types

import pytest

import alfred.inside
from alfred.inside import world
from alfred.sandbox import worker
from alfred.judge.sandboxed import SubprocessDriver
from alfred.sandbox.fork_server import ForkServer
from alfred.course.targets import SOLUTIONS_MAIN

GLOBAL_LOOKUPS = {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS", "STORE_GLOBAL", "DELETE_GLOBAL"}
# Every module of the layer that runs in the student's process.
INSIDE = [importlib.import_module(f"alfred.inside.{info.name}") for info in pkgutil.iter_modules(alfred.inside.__path__)]
# What in alfred/inside/ runs only before any student code: the fork server's warm-up, and the libraries'
# import, whose later calls return at their first line, on a table bound at import.
BEFORE_ANY_STUDENT_CODE = {"alfred.inside.warm_up.warm_up", "alfred.inside.world._cache_email_validator_version_check",
                           "alfred.inside.world.import_dependencies"}


def _global_lookups(code: types.CodeType, name: str = "") -> dict[str, list]:
    """{function: [(offset, name looked up in globals or builtins)]} for `code` and every function in it."""
    name = f"{name}.{code.co_name}" if name else code.co_name
    found = {name: [(i.offset, i.argval) for i in dis.get_instructions(code) if i.opname in GLOBAL_LOOKUPS]}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found.update(_global_lookups(const, name))
    return {key: value for key, value in found.items() if value}


def test_no_code_of_the_probe_looks_a_name_up_in_globals_or_builtins_once_student_code_may_have_run():
    found, checked = {}, set()
    for module in INSIDE:
        for name, value in vars(module).items():
            function = getattr(value, "__wrapped__", value)  # @contextmanager keeps the function it wraps
            qualified = f"{module.__name__}.{name}"
            if isinstance(value, type) and value.__module__ == module.__name__:
                for method in vars(value).values():
                    if isinstance(method, types.FunctionType):
                        found.update(_global_lookups(method.__code__, qualified))
            elif isinstance(function, types.FunctionType) and function.__module__ == module.__name__:
                checked.add(qualified)
                if qualified not in BEFORE_ANY_STUDENT_CODE:
                    found.update(_global_lookups(function.__code__, module.__name__))
    assert found == {}
    assert {"alfred.inside.running.run_probe", "alfred.inside.running.answer", "alfred.inside.wire.encode_reply",
            "alfred.inside.recording._event", "alfred.inside.actions._request"} <= checked  # every module was read
    assert BEFORE_ANY_STUDENT_CODE <= checked
    first = next(i for i in dis.get_instructions(world.import_dependencies) if i.opname not in ("RESUME", "NOP"))
    assert (first.opname, first.argval) == ("LOAD_FAST", "_libraries")  # `if _libraries: return`, first


def test_the_worker_binds_what_it_uses_before_its_loop_over_probes():
    instructions = list(dis.get_instructions(worker._serve))
    loop = next(i.offset for i in instructions if i.opname == "FOR_ITER")
    assert [name for offset, name in _global_lookups(worker._serve.__code__).get("_serve", []) if offset > loop] == []
    assert "_serve.<lambda>" not in _global_lookups(worker._serve.__code__)

# Appended to the reference solution: its line numbers, classes and functions stay as they are.
PATCHES = '''

import builtins as _builtins
import json as _json
import sys as _sys


def _kit_calls():
    return _sys._getframe(2).f_globals.get("__name__", "").startswith("alfred.")


def _lying(real, lie):
    def patched(*args, **kwargs):
        return lie if _kit_calls() else real(*args, **kwargs)
    return patched


def _patch_everything():
    if getattr(_json, "_patched_by_the_test", False):  # main.py is loaded afresh for every probe
        return
    _json._patched_by_the_test = True
    # Lies told to the kit's code alone: FastAPI and Starlette use json and the builtins for the app.
    _json.dumps = _lying(_json.dumps, '{"forged": true}')
    _json.loads = _lying(_json.loads, {"forged": True})
    _json.detect_encoding = _lying(_json.detect_encoding, "forged")
    _json.JSONEncoder.encode = _lying(_json.JSONEncoder.encode, '{"forged": true}')
    _json.JSONEncoder.iterencode = _lying(_json.JSONEncoder.iterencode, iter(['{"forged": true}']))
    _json.JSONDecoder.decode = _lying(_json.JSONDecoder.decode, {"forged": True})
    _json.JSONDecoder.raw_decode = _lying(_json.JSONDecoder.raw_decode, ({"forged": True}, 0))
    lies = {"len": 0, "isinstance": True, "issubclass": True, "sorted": ["Forged"], "repr": "Forged",
            "round": -1.0, "getattr": "Forged", "hasattr": False, "vars": {}, "callable": False, "next": "Forged",
            "any": True, "all": False, "exec": None, "compile": None, "open": None, "min": 0, "max": 0,
            "print": None, "iter": iter([]), "setattr": None, "delattr": None, "id": 0, "hash": 0}
    for name, lie in lies.items():
        setattr(_builtins, name, _lying(getattr(_builtins, name), lie))
    junk = type("Junk", (), {"__getattr__": lambda self, name: "Forged", "__call__": lambda self, *a, **k: "Forged"})()
    kit = [module for name, module in list(_sys.modules.items())  # the worker runs as __main__ (python -m)
           if name.startswith("alfred.") or getattr(getattr(module, "__spec__", None), "name", "") == "alfred.sandbox.worker"]
    assert len(kit) >= 3, [module.__name__ for module in kit]
    for module in kit:
        # A global shadows a builtin for that module's code alone: the builtins that are types, too.
        for name in [*lies, "str", "type", "dict", "list", "tuple", "bytes", "int", "float", "bool", "object",
                     "ValueError", "TypeError", "Exception", "BaseException", "MemoryError", "StopIteration"]:
            setattr(module, name, junk)
        for name, value in list(vars(module).items()):
            if name.startswith("__"):
                continue
            try:  # every table of the kit's that any code can reach by name, changed in place
                for key in list(value) if name.startswith("_") and hasattr(value, "keys") else ():
                    value[key] = junk
            except TypeError:
                pass
            if name.startswith("_") or name.isupper() or callable(value):
                setattr(module, name, junk)  # kit functions, constants, tables, imported modules and classes


_patch_everything()
'''

PROBES = [
    {"action": "validate", "model": "IntelReportRequest",
     "data": {"recipient_email": "bruce@wayne.enterprises", "report_name": "Falcone"}},
    {"action": "call", "function": "simulate_intel_report_compilation",
     "args": [{"$model": {"name": "IntelReportRequest", "fields": {"recipient_email": "bruce@wayne.enterprises", "report_name": "Falcone"}}}]},
    {"action": "request", "method": "POST", "path": "/request-intel-report",
     "json": {"recipient_email": "bruce@wayne.enterprises", "report_name": "Falcone"}},
    {"action": "request", "method": "GET", "path": "/openapi.json"},
    {"action": "request", "method": "POST", "path": "/log-activity/bruce@wayne.enterprises",
     "watch": ["batcomputer_logs/activity_log.txt"]},
    {"action": "call", "function": "log_batcomputer_activity", "args": ["bruce@wayne.enterprises", "patrol"],
     "watch": ["batcomputer_logs/activity_log.txt"]},
    {"action": "validate", "model": "IntelReportRequest", "data": {"recipient_email": "nope", "report_name": 3}},
    {"action": "call", "function": "no_such_function"},
]

def served(server: ForkServer, main_py, work) -> list[dict]:
    """Every probe served to main.py by a real submission process of `server` (unsandboxed: this code is the
    kit's), as the judge reads each: what it replied, with what its supervisor saw."""
    server.stage(main_py.stem, {"main.py": main_py.read_bytes()})
    driver = SubprocessDriver(server, main_py.stem)
    observations = []
    for number, probe in enumerate(PROBES, 1):
        (work / f"test-{number}").mkdir(parents=True)
        observations.append(driver.run(probe, work / f"test-{number}"))
    driver.stop()
    return observations


@pytest.mark.slow
def test_a_main_py_that_patches_every_name_the_kit_could_look_up_gets_the_replies_of_its_honest_code(tmp_path):
    honest, patched = tmp_path / "honest.py", tmp_path / "patched.py"
    honest.write_text(SOLUTIONS_MAIN.read_text())
    patched.write_text(SOLUTIONS_MAIN.read_text() + PATCHES)
    server = ForkServer(sandboxed=False)  # one fork server for both, as the grader serves a class: one start
    try:
        expected, got = served(server, honest, tmp_path / "honest"), served(server, patched, tmp_path / "patched")
    finally:
        server.close()
    assert all("problem" not in observation for observation in expected), expected
    assert expected[1]["events"], "the task's prints and sleep, as the supervisor saw them"
    for number, (want, have) in enumerate(zip(expected, got)):
        assert have == want, f"probe {number + 1}:\n  honest:  {str(want)[:300]}\n  patched: {str(have)[:300]}"
