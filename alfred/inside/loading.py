"""main.py and its project, made ready for a probe: the project's other files laid out in the work folder
(templates, static files, data) and its own modules importable, the test's files and folders created, and
main.py compiled once per version and loaded afresh under a name of its own, its clock frozen first when it
reads one. Called by `alfred.inside.running.run_probe`.
"""

# Trusted after load: every function here binds what it uses as keyword-only defaults (the rule is written at
# the top of alfred/inside/probe.py).

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import sys
from contextlib import ExitStack

from alfred.inside.recording import _error_info
from alfred.inside.world import _freeze_clock

# A student's project: the files beside main.py (templates, static files, data) are laid out in the work
# folder, as when the student runs `uvicorn main:app` in that folder. Not these: caches, environments, and
# what the app itself writes there when run by hand.
PROJECT_SKIPPED = frozenset({"__pycache__", "venv", "node_modules"})  # and the folders a lesson's app writes
MAX_PROJECT_FILES = 300
MAX_PROJECT_BYTES = 5_000_000


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
                        _str=str, _ValueError=ValueError, _sep=os.sep) -> None:
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
                if _isinstance(where, _str) and _realpath(where).startswith(folder + _sep):  # a backslash on Windows
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
                     _open=open, _rmtree=shutil.rmtree, _remove=os.remove, _isdir=os.path.isdir,
                     _islink=os.path.islink, _OSError=OSError) -> None:
    """Sets the test's scene in its work folder before main.py is loaded: removes what must be absent (a file,
    or a folder and all it holds; a link is removed, never followed), then makes the folders and files given."""
    for relative in probe.get("absent", []):
        target = workdir + "/" + relative
        try:
            if _isdir(target) and not _islink(target):
                _rmtree(target)
            else:
                _remove(target)
        except _OSError:
            pass  # already absent
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


# Only the function that uses it holds the table of compiled files from here on: no name leads to it.
del _compiled_files
