"""Runs one probe (`run_probe`: the patched world opened, main.py loaded, the action run, the observation
made) and answers one request of the judge in a submission process (`answer`: the reply line). The
in-process driver calls `run_probe`; the sandbox's worker calls `answer` for every probe it is sent.
"""

# Trusted after load: every function here binds what it uses as keyword-only defaults (the rule is written at
# the top of alfred/inside/probe.py).

from __future__ import annotations

import os

from alfred.inside.actions import _ACTIONS
from alfred.inside.loading import _lay_out_project, _load_module, _prepare_workdir, _project_importable
from alfred.inside.recording import _STUDENT_ERRORS, _error_info, _new_observer, _report
from alfred.inside.wire import encode_reply
from alfred.inside.world import _close_session, _open_session


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


def answer(request: dict, main_path: str, work: str, on_loaded, witnessed: bool = False, *, _run_probe=run_probe,
           _encode_reply=encode_reply,
           _makedirs=os.makedirs, _MemoryError=MemoryError, _Exception=Exception, _type=type, _str=str,
           _dirname=os.path.dirname) -> bytes:
    """The reply line to one request of the judge ({"id", "workdir", "probe"}), made in a submission process.
    The staged folder holding main.py is exactly what the student submitted: it is the project. The test's
    work folder is made by the sandbox's server (alfred.sandbox.worker), the only one the process sees."""
    workdir = work + "/" + request["workdir"]
    _makedirs(workdir, exist_ok=True)
    try:
        observation = _run_probe(main_path, request["probe"], workdir, on_loaded, _dirname(main_path), witnessed)
        reply = {"id": request["id"], "observation": observation}
    except _MemoryError:
        reply = {"id": request["id"], "problem": "crashed", "detail": "MemoryError"}
    except _Exception as exc:  # noqa: BLE001 - report it; the judge decides
        reply = {"id": request["id"], "problem": "crashed", "detail": (_type(exc).__name__ + ": " + _str(exc))[:300]}
    return _encode_reply(reply)
