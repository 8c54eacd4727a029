"""The sandbox, checked directly from inside: what a submission can see, and that nothing it leaves outlives
its turn. Each test stages small submissions on a real sandboxed fork server and asks them, through the
judge's own channel, what they find (a `report()` function whose return value the probe describes).
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from alfred.judge.sandboxed import SubprocessDriver
from alfred.judge.observation import Observation
from alfred.sandbox.fork_server import OWN_UID, RUNTIME_MODULES, SHARED, ForkServer, SandboxMode, SandboxView
from alfred.course.targets import KIT_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="the sandbox needs bubblewrap, as real grading does"),
]


@pytest.fixture
def mode() -> SandboxMode:
    """The way this user sandboxes: a uid per sandbox's students (root), or one uid in a user namespace (a
    teacher without root: tests/kit/test_interpreters.py runs this file as a plain user)."""
    return OWN_UID if os.geteuid() == 0 else SHARED


def ask(server: ForkServer, key: str, source: str, tmp_path: Path, files: dict[str, bytes] | None = None) -> dict:
    """Stages `source` as a submission, calls its report() once, ends its turn; (what it returned, strays)."""
    server.stage(key, {"main.py": textwrap.dedent(source).encode(), **(files or {})})
    driver = SubprocessDriver(server, key)
    try:
        observation = driver.run({"action": "call", "function": "report", "args": []}, tmp_path)
    finally:
        driver.stop()
    strays = server.finish(key)
    if isinstance(observation, dict):  # the raw observation, as the judge's Submission then validates it
        observation = Observation.model_validate(observation)
    returned = observation.returned
    assert returned is not None and isinstance(returned.value, dict), observation
    return {**returned.value, "strays": strays}


LOOK_AROUND = """
    import os
    from pathlib import Path

    def report():
        def exists(path):
            try:
                os.stat(path)
                return True
            except OSError:
                return False
        status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        return {
            "visible": {path: exists(path) for path in PATHS},
            "submissions": sorted(os.listdir("/submissions")),
            "students": sorted(os.listdir("/students")),
            "own files": sorted(os.listdir("/submission")),
            "runtime": sorted(os.path.relpath(os.path.join(folder, name), "/run/alfred-runtime/alfred")
                            for folder, _, names in os.walk("/run/alfred-runtime/alfred") for name in names
                            if name.endswith(".py")),
            "capabilities": status["CapEff"].strip(),
            "processes": sorted(name for name in os.listdir("/proc") if name.isdigit()),
        }
"""


def test_a_submission_sees_its_own_files_and_nothing_of_the_kit_the_class_or_the_reports(tmp_path, mode):
    klass, out = tmp_path / "class", tmp_path / "grades"
    for folder in (klass / "bob", out):
        folder.mkdir(parents=True)
    (klass / "bob" / "main.py").write_text("print('bob')\n")
    paths = [str(KIT_ROOT), str(KIT_ROOT / "solutions" / "lesson_07" / "main.py"), str(KIT_ROOT / "tests"),
             str(KIT_ROOT / "alfred" / "grading" / "grade.py"), str(klass / "bob" / "main.py"), str(out), str(tmp_path)]
    server = ForkServer(sandboxed=True, hidden=(klass, out), mode=mode)
    try:
        seen = ask(server, "s-alice", f"PATHS = {paths!r}\n" + textwrap.dedent(LOOK_AROUND), tmp_path,
                   files={"templates/page.html": b"<p>hi</p>"})
    finally:
        server.close()
    assert seen["visible"] == {path: False for path in paths}
    assert seen["submissions"] == [] and seen["students"] == []  # other students' folders are covered
    assert seen["own files"] == ["main.py", "templates"]
    assert seen["runtime"] == sorted(RUNTIME_MODULES)  # the student-side modules, and no other kit code
    assert int(seen["capabilities"], 16) == 0
    assert len(seen["processes"]) <= 3  # its own PID namespace: its init, itself, and what it started


LEAVE_EVERYTHING = """
    import ctypes, os, subprocess, time

    def report():
        os.makedirs("/sandbox/work/planted", exist_ok=True)
        for place in ("/sandbox", "/sandbox/work", "/tmp", "/dev/shm"):
            with open(f"{place}/left-{os.getpid()}.txt", "w") as handle:
                handle.write("left behind")
            try:
                os.setxattr(place, "user.planted", b"yes")
            except OSError:
                pass
        for number in range(8):  # 32 MB of its tmpfs, in files below the size limit
            with open(f"/dev/shm/fill-{number}", "wb") as handle:
                handle.write(b"x" * 4_000_000)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmget(0x5EED, 4096, 0o1000 | 0o666)  # System V shared memory, a key the next one can find
        libc.mq_open(b"/planted", os.O_CREAT | os.O_RDWR, 0o666, None)
        daemon = subprocess.Popen(["/bin/sh", "-c", "while true; do touch /tmp/daemon-$$; sleep 0.05; done"],
                                  start_new_session=True)
        return {"pid": daemon.pid}
"""

FIND_LEFTOVERS = """
    import ctypes, os
    from pathlib import Path

    def report():
        libc = ctypes.CDLL(None, use_errno=True)
        found = {place: sorted(os.listdir(place)) for place in ("/sandbox", "/sandbox/work", "/tmp", "/dev/shm")}
        attributes = {}
        for place in found:
            try:
                attributes[place] = os.listxattr(place)
            except OSError:
                attributes[place] = []
        return {
            "entries": found,
            "attributes": attributes,
            "shared memory": libc.shmget(0x5EED, 4096, 0o666) >= 0,
            "queue": libc.mq_open(b"/planted", os.O_RDWR, 0, None) >= 0,
            "System V": Path("/proc/sysvipc/shm").read_text().splitlines()[1:],
            "processes": sorted(name for name in os.listdir("/proc") if name.isdigit()),
            "free /dev/shm": os.statvfs("/dev/shm").f_bavail * os.statvfs("/dev/shm").f_frsize,
        }
"""


@pytest.mark.parametrize("sandboxes", [1, 2], ids=["one sandbox", "two sandboxes side by side"])
def test_nothing_a_submission_leaves_reaches_the_next_one(tmp_path, sandboxes, mode):
    servers = [ForkServer(sandboxed=True, mode=mode) for _ in range(sandboxes)]
    try:
        fresh = ask(servers[0], "s-first", FIND_LEFTOVERS, tmp_path)
        planted = ask(servers[0], "s-planter", LEAVE_EVERYTHING, tmp_path)
        after = ask(servers[-1], "s-follower", FIND_LEFTOVERS, tmp_path)
    finally:
        for server in servers:
            server.close()
    assert planted["strays"] >= 4  # the planter's files outside its work folder are counted for the teacher
    # only its work folder, holding the folder of the one probe that ran
    assert fresh["entries"] == {"/sandbox": ["work"], "/sandbox/work": ["probe"], "/tmp": [], "/dev/shm": []}
    for key in ("entries", "attributes", "shared memory", "queue", "System V", "free /dev/shm"):
        assert after[key] == fresh[key], key
    assert len(after["processes"]) == len(fresh["processes"])


PLANT_AND_LOOK = textwrap.dedent(LEAVE_EVERYTHING).replace("def report():", "def plant():") + """
import sys

def plant_everywhere():
    sys.modules["sys"].planted = "a counter kept in sys"
    with open("counter.txt", "w") as handle:  # in the probe's own work folder
        handle.write("1")
    os.setxattr(".", "user.counter", b"1")
    return plant()
""" + textwrap.dedent(FIND_LEFTOVERS).replace("    return {", '''    return {
        "kept in sys": getattr(sys, "planted", None),
        "work folder": sorted(os.listdir(".")),
        "work folder's attributes": os.listxattr("."),''', 1)


def test_nothing_a_probe_leaves_reaches_the_next_probe_of_the_same_student(mode):
    """Each probe is a new process in new namespaces with a new work folder: a counter kept in sys, in the work
    folder or its xattrs, in /tmp, /dev/shm, System V or POSIX IPC, or in a child left running, is gone."""
    server = ForkServer(sandboxed=True, mode=mode)
    try:
        server.stage("s-counter", {"main.py": PLANT_AND_LOOK.encode()})
        driver = SubprocessDriver(server, "s-counter")
        looked = [driver.run({"action": "call", "function": "report", "args": []}, Path("/first"))]
        planted = driver.run({"action": "call", "function": "plant_everywhere", "args": []}, Path("/planting"))
        looked.append(driver.run({"action": "call", "function": "report", "args": []}, Path("/planting")))
        driver.stop()
        strays = server.finish("s-counter")
    finally:
        server.close()
    fresh, after = (Observation.model_validate(seen).returned.value for seen in looked)
    assert Observation.model_validate(planted).returned.value["pid"] > 0  # the planter ran, and left a child
    assert strays >= 4  # its files outside the work folder were counted for the teacher before they went
    assert fresh["kept in sys"] is None and fresh["work folder"] == []
    assert after == fresh


def test_a_hidden_kit_under_usr_stays_hidden_in_a_real_sandbox(tmp_path):
    """A system-wide layout: a kit installed under /usr/src (as in many containers) is covered."""
    kit = Path("/usr/src") / f"alfred-layout-{uuid.uuid4().hex[:8]}"
    try:
        (kit / "solutions").mkdir(parents=True)
        (kit / "solutions" / "main.py").write_text("SOLUTION = 1\n")
    except OSError as exc:
        pytest.skip(f"cannot write under /usr/src here: {exc}")
    try:
        server = ForkServer(sandboxed=True, hidden=(kit,))
        try:
            seen = ask(server, "s-looker", f"PATHS = {[str(kit / 'solutions' / 'main.py'), '/usr/bin/env']!r}\n"
                       + textwrap.dedent(LOOK_AROUND), tmp_path)
        finally:
            server.close()
    finally:
        shutil.rmtree(kit)
    assert seen["visible"] == {str(kit / "solutions" / "main.py"): False, "/usr/bin/env": True}


LAYOUTS = {
    # name: (interpreter, environment, kit, class, reports)
    "venv under /tmp": ("/root/.pyenv/versions/3.11.7", "/tmp/ci/kit/.venv", "/tmp/ci/kit", "/tmp/class", "/tmp/grades"),
    "system Python, kit in /usr/src/app": ("/usr/local", None, "/usr/src/app", "/usr/src/app/class", "/usr/src/app/grades"),
    "container under /opt": ("/opt/python", "/opt/app/.venv", "/opt/app", "/opt/python/class", "/opt/python/out"),
    "a teacher's home, venv from the system Python": ("/usr", "/home/teacher/kit/.venv", "/home/teacher/kit",
                                                     "/home/teacher/class", "/home/teacher/kit/.venv/grades"),
    "official python image, venv": ("/usr/local", "/app/.venv", "/app", "/app/class", "/app/grades"),
    "uv's managed Python": ("/home/teacher/.local/share/uv/python/cpython-3.12.8-linux-x86_64-gnu",
                            "/home/teacher/kit/.venv", "/home/teacher/kit", "/home/teacher/class", "/tmp/grades"),
    "kit installed into the system Python": ("/usr/local", None, "/usr/local/lib/python3.11/site-packages/alfred",
                                             "/srv/class", "/srv/grades"),
    "kit installed into a venv": ("/usr", "/opt/venv", "/opt/venv/lib/python3.11/site-packages/alfred", "/srv/class",
                                  "/opt/venv/grades"),
}


@pytest.mark.parametrize("layout", LAYOUTS, ids=list(LAYOUTS))
def test_every_layout_covers_the_kit_the_class_and_the_reports(layout):
    interpreter, environment, kit, klass, reports = (Path(p) if p else None for p in LAYOUTS[layout])
    view = SandboxView(Path("/run/x"), Path("/run/y"), interpreter, environment, (kit, klass, reports))
    shown = [(place, str(place)) for place in view.bound()]
    if environment is not None:
        shown.append((environment, "/run/alfred-environment"))
    covered = {hidden for hidden, _ in view.covered()}
    for hidden in (kit, klass, reports):
        for place, _ in shown:
            assert not hidden.is_relative_to(place) or hidden in covered, (hidden, place)
    assert Path("/usr") in view.bound()  # the system's libraries, and a system Python's interpreter
    assert any(interpreter.is_relative_to(place) for place in view.bound())  # the interpreter the venv leads to
    options = view.options(OWN_UID)
    for _, inside in view.covered():
        assert ["--tmpfs", inside] == options[options.index(inside) - 1:options.index(inside) + 1]


def test_no_kit_module_beyond_the_runtime_runs_inside_the_sandbox():
    """The runtime copy is all the kit the sandbox holds: its modules import no other module of the kit."""
    runtime = {"alfred." + name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in RUNTIME_MODULES}
    for name in RUNTIME_MODULES:
        source = (KIT_ROOT / "alfred" / name).read_text()
        imported = {line.split()[1] for line in source.splitlines()
                    if line.strip().startswith(("from alfred.", "import alfred."))}
        assert imported <= runtime, (name, imported)


def test_the_sandbox_runs_this_interpreter_from_its_environment():
    view = SandboxView.of_this_kit(Path("/run/x"), Path("/run/y"))
    assert (view.environment is None) == (sys.prefix == sys.base_prefix)


def test_a_package_installed_with_the_kit_imports_inside_the_sandbox(tmp_path):
    """What a teacher adds to the course's packages is usable by student code (pyyaml stands for it here:
    installed with the kit's development tools, not a dependency of the lesson)."""
    pytest.importorskip("yaml")
    server = ForkServer(sandboxed=True)
    try:
        seen = ask(server, "s-yaml", "import yaml\n\ndef report():\n    return {'yaml': yaml.safe_load('a: 1')}\n",
                   tmp_path)
    finally:
        server.close()
    assert seen["yaml"] == {"a": 1}
