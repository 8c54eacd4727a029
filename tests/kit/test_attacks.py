"""The attack corpus: every tests/attacks/*.py graded the way a class is graded, next to honest students.

Each attack file is a whole main.py that gets the homework wrong on purpose and carries one attack; its
docstring says what the attack tries (`Attack:`), what its honest code scores (`honest:`), and whether it
must be graded in a sequence of its own (`sequence:`). The code between `# >>> ATTACK` and `# <<< ATTACK`
lines is the attack; the rest is the honest code, whose scores are measured here, per exercise.

One module-scoped fixture grades:
  - the main class: every attack without a `sequence:` line, two copies of the reference solution, Stephanie
    Brown from the demo class and a folder whose lesson_07/ is a symbolic link to the kit's solutions
    (`alfred grade CLASS --out OUT --json --jobs 2`);
  - for each `sequence: victims` attack, a class of three graded by one worker (`--jobs 1`): the attack, then
    two honest students who must score exactly what they score alone;
  - for each `sequence: twice` attack, the attack twice in a row then an honest student (`--jobs 1`);
  - for each `sequence: parallel` attack, the attack next to three honest students (`--jobs 2`).

Per attack it then checks: no exercise above what its honest code earns; no `LEAK:` in what the attack
reported; no test source in its feedback; reports of a sane size, free of control characters, with its
words kept inert (code, not rendered Markdown or HTML); nothing outside the sandbox changed (canary
files, /etc/hostname, site-packages, the kit, the student users' kernel keyrings are emptied by the sandbox itself); no process of its sandbox
survives the run; the honest students of its run score as when graded alone; a bounded run time.

An attack that wins is a hole: its test is marked xfail(strict=True) with the mechanism in the reason, so the
day the hole is fixed the test says so. See each attack's outcome with `pytest tests/kit/test_attacks.py -rA`
(or -s). The files are dangerous outside the sandbox: each refuses to import unless it runs as a sandbox's student uid (40000-59999).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from alfred.cli import DEMO_CLASS, main
from alfred.grading.discovery import discover
from alfred.reports.names import slug_of
from alfred.course.exercises import IDS
from alfred.judge.hidden import SEED_VARIABLE
from alfred.judge.suite import run_suites
from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, SOLUTIONS_MAIN

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None,
                       reason="the attack corpus needs root and bubblewrap, as real grading does"),
    # grading forks its pool while this module's watcher thread runs (Python 3.12+ warns about that)
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

ATTACKS_DIR = KIT_ROOT / "tests" / "attacks"
STEPHANIE = DEMO_CLASS / "stephanie_brown.py"
SYNC_CORRECT = KIT_ROOT / "tests" / "corpus" / "correct" / "sync_def_endpoints_with_lesson_prints.py"
START, END = "# >>> ATTACK", "# <<< ATTACK"
MARKER = "ALFRED-ATTACK-MARKER"
STUDENT_UIDS = range(40000, 60000)  # alfred.sandbox.fork_server gives each sandbox's students one uid from this range
# Time budgets, for this kit's 2-core machine when idle; they grow with the machine's pace, measured at the
# start of the campaign (seconds per submission of the honest files graded in-process), so a loaded machine
# gets more time instead of false alarms. An attack whose run was not reached is skipped as "not run".
# Each probe runs in a fresh process (about 45 ms a probe, against about 20 ms when one process answered all of
# a student's probes), so grading takes about twice as long as it did: on 2026-12-07, idle, the whole module
# took 451 s (251 s before) and the main class of 74 students 244 s.
CAMPAIGN_SECONDS = 660  # the whole module's grading
RUN_SECONDS = 480  # one `alfred grade` call, after which the grading counts as stalled
IDLE_PACE = 1.0  # seconds per honest file in the campaign's first step, on that machine
MAX_ARTIFACT_BYTES = 2_000_000  # results/, feedback/ or cache/ file of one student
CAMPAIGN_SEED = 20261202  # the hidden checks' seed for the whole campaign
SYMLINK_ENTRY = "class_folder_symlink"
# Attacks made of the class folder itself, built by the campaign: (name, what it tries). Each scores 0.
CLASS_FOLDER_ATTACKS = {
    SYMLINK_ENTRY: "a student folder whose lesson_07/ links to the solutions",
    "class_folder_link_to_neighbour": "main.py is a relative link to another student's file",
    "class_folder_link_chain_out": "main.py links to a link inside the folder that links out to the solutions",
    "class_folder_link_loop": "main.py is a loop of links",
    "class_folder_hard_link_out": "main.py is a hard link to a copy of the solution outside the folder",
    "class_folder_swapped_after_discovery": "the stub, swapped for a link to the solutions once grading has begun",
    "class_folder_student_named_main": "a student named main.py, so the class folder looks like one project",
    "class_folder_takes_a_neighbours_report_name": "a folder named like the report file of an odd-named student",
    "class_folder_non_utf8_file_name": "a file whose name is not UTF-8 beside the stub",
    "class_folder_id_suffix_collision": "entries named so that the ids made unique would meet an honest one",
}
NAMED_ATTACKS = {"class_folder_student_named_main": "main"}  # attacks whose student id is not 1_<name>
# Honest students with names that try to act in a terminal, a report or a path: each must score 100.
ODD_NAMES = [b"odd_new\nline", b"odd_esc\x1b[2J\x1b[31mred", b"odd_rtl\xe2\x80\xaeevil",
             b"odd_<img src=x onerror=alert(1)>", b"odd_[x](javascript:alert(1))", b"odd_=HYPERLINK(1)",
             b"odd_" + b"x" * 246, b"odd_latin1-\xe9t\xe9", b"odd_| --- | fake row"]
# Graded first in the main class (names sort first), so their wall-clock limits overlap the rest of the class.
SLOW_FIRST = ("stall_every_probe", "ignore_signals_and_hang", "countless_files_and_sparse", "output_flood",
              "probe_pipe_stall")


def read_meta(path: Path) -> dict:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    lines = doc.splitlines()
    meta = {"name": path.stem, "attack": lines[0].removeprefix("Attack: ") if lines else "", "sequence": ""}
    for line in lines:
        key, _, value = line.partition(": ")
        if key in ("honest", "base", "sequence"):
            meta[key] = value.strip()
    return meta


def honest_source(text: str) -> str:
    """The file without its attack: every block between the ATTACK marker lines removed."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        if line.strip() == START:
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            kept.append(line)
    return "".join(kept)


ATTACK_FILES = sorted(ATTACKS_DIR.glob("*.py"))


@functools.cache
def attack_meta() -> dict[str, dict]:
    """Each attack file's docstring, read (by attack name) when the campaign runs: not at collection, which
    every run of the quick tier pays."""
    return {path.stem: read_meta(path) for path in ATTACK_FILES}


# Attacks that win today. Each reason names the mechanism; the report of the campaign says how to fix it.
# Known and documented in SECURITY.md ("What is not defended"): each is a strict expected failure, so the day it
# is contained the campaign says so.
HOLES: dict[str, str] = {
    "model_answered_by_hand_on_the_socket": "the model exercise is judged by the answers of a route inside the "
    "student's process: a process that writes correct answers itself, before uvicorn reads the request, earns it "
    "with an empty model. No state is involved, so a fresh process per probe does not contain it; behaviour "
    "cannot tell it from a model, so the source review flags it for the teacher (alfred/grading/review.py)",
}


# --- what is outside the sandbox, before and after ---


def _sha(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError as exc:
        return f"<{exc.strerror}>"


def _names(folder: str | Path, depth: int = 1) -> set[str]:
    """Paths under `folder` (to `depth` levels) whose name carries the attacks' file marker."""
    found, base = set(), str(folder)
    for root, dirs, files in os.walk(base, onerror=lambda error: None):
        if root.count(os.sep) - base.count(os.sep) >= depth - 1:
            dirs[:] = []
        dirs[:] = [d for d in dirs if d not in ("attacks", ".git", "proc", "sys")]
        for name in dirs + files:
            if "alfred_attack" in name or "alfred-attack" in name:
                found.add(os.path.join(root, name))
    return found


def _site_folders() -> list[str]:
    folders = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    folders |= {p for p in sys.path if p.endswith("site-packages")}
    return sorted(folder for folder in folders if os.path.isdir(folder))


def _kit_files() -> dict[str, str]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "--", "alfred", "solutions", "exercises",
                             "tests/lesson_07", "tests/corpus", "demo_class", "conftest.py", "pyproject.toml"],
                            cwd=KIT_ROOT, capture_output=True, text=True, check=False).stdout.split()
    return {name: _sha(KIT_ROOT / name) for name in listed}


class Canaries:
    """Files planted for the attacks to find, and the places an escaped attack would leave a trace."""

    def __init__(self):
        self.folder = Path(f"/tmp/alfred-canary-{uuid.uuid4().hex[:8]}")
        self.folder.mkdir()
        (self.folder / "secret.txt").write_text("canary: a grader's secret\n")
        (self.folder / "world_writable.txt").write_text("canary\n")
        (self.folder / "world_writable.txt").chmod(0o666)
        (self.folder / "drop").mkdir(mode=0o777)
        (self.folder / "drop").chmod(0o777)

    def snapshot(self) -> dict:
        snap: dict = {}
        for path in sorted(self.folder.rglob("*")):
            info = path.lstat()
            snap[f"canary {path}"] = (_sha(path) if path.is_file() else "dir", info.st_mtime_ns, info.st_mode)
        for path in ("/etc/hostname", "/etc/passwd", "/etc/hosts"):
            info = os.stat(path)
            snap[path] = (_sha(Path(path)), info.st_mtime_ns)
        for folder in _site_folders():
            snap[f"listing {folder}"] = tuple(sorted(os.listdir(folder)))
        marked = set()
        for folder, depth in (("/tmp", 1), ("/root", 2), ("/etc", 1), ("/work", 3), ("/dev/shm", 1), ("/var/tmp", 1),
                              ("/home", 2), (str(self.folder), 3), *((f, 1) for f in _site_folders())):
            marked |= _names(folder, depth)
        snap["files named alfred_attack"] = tuple(sorted(marked))
        snap["kit"] = _kit_files()
        return snap

    @staticmethod
    def changes(before: dict, after: dict) -> tuple[list[str], list[str]]:
        """(changes an attack made, unrelated edits of the kit by someone else during the run)."""
        changed, unrelated = [], []
        for key in sorted(set(before) | set(after)):
            if key == "kit":
                old, new = before.get(key, {}), after.get(key, {})
                for name in sorted(set(old) | set(new)):
                    if old.get(name) != new.get(name):
                        text = (KIT_ROOT / name).read_text(errors="replace") if (KIT_ROOT / name).is_file() else ""
                        (changed if MARKER in text or "alfred_attack" in name else unrelated).append(f"kit file {name}")
            elif before.get(key) != after.get(key):
                changed.append(f"{key}: {before.get(key)!r} -> {after.get(key)!r}"[:300])
        return changed, unrelated

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


# --- the sandboxes' processes ---


def _stat(pid: str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


class NamespaceWatch:
    """Notes the PID namespace of every sandbox this process starts, so survivors can be found afterwards."""

    def __init__(self):
        self.own = os.readlink("/proc/self/ns/pid")
        self.label = ""
        self.namespaces: dict[str, str] = {}  # namespace -> run label
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        me = str(os.getpid())
        while not self._stop.wait(0.05):
            children: dict[str, list[str]] = {}
            for pid in os.listdir("/proc"):
                if pid.isdigit() and (fields := _stat(pid)):
                    children.setdefault(fields[1], []).append(pid)
            todo, seen = [me], set()
            while todo:
                pid = todo.pop()
                for child in children.get(pid, []):
                    if child not in seen:
                        seen.add(child)
                        todo.append(child)
            for pid in seen:
                try:
                    namespace = os.readlink(f"/proc/{pid}/ns/pid")
                except OSError:
                    continue
                if namespace != self.own and self.label:
                    self.namespaces.setdefault(namespace, self.label)

    def alive(self, label: str) -> list[str]:
        """Processes still running in the sandboxes of this run: uid, pid and command line."""
        mine = {ns for ns, owner in self.namespaces.items() if owner == label}
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{pid}/ns/pid") not in mine:
                    continue
                uid = os.stat(f"/proc/{pid}").st_uid
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    command = handle.read(120).replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            found.append(f"pid {pid} uid {uid}: {command}")
        return found

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def student_processes_started_after(moment: float) -> list[str]:
    """uid 65534 processes in this PID namespace (not in a sandbox) younger than `moment` (time.time())."""
    boot = time.time() - float(Path("/proc/uptime").read_text().split()[0])
    ticks = os.sysconf("SC_CLK_TCK")
    own, found = os.readlink("/proc/self/ns/pid"), []
    for pid in os.listdir("/proc"):
        try:
            if not pid.isdigit() or os.stat(f"/proc/{pid}").st_uid not in STUDENT_UIDS:
                continue
            if os.readlink(f"/proc/{pid}/ns/pid") != own:
                continue
        except OSError:
            continue
        fields = _stat(pid)
        if fields and boot + int(fields[19]) / ticks >= moment:
            found.append(pid)
    return found


def _kill_descendants() -> None:
    me, parents = str(os.getpid()), {}
    for pid in os.listdir("/proc"):
        if pid.isdigit() and (fields := _stat(pid)):
            parents[pid] = fields[1]
    for pid in parents:
        chain, current = set(), pid
        while current in parents and current not in chain:
            chain.add(current)
            current = parents[current]
            if current == me:
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
                break


class Stalled(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds: float):
    def ring(signum, frame):
        _kill_descendants()  # the pool's workers, their sandboxes: so the executor can give up
        raise Stalled(f"grading did not finish within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- the campaign ---


@dataclass
class Run:
    label: str
    jobs: int
    klass: Path
    out: Path
    attacks: dict[str, str] = field(default_factory=dict)  # student -> attack name
    honest: dict[str, str] = field(default_factory=dict)  # student -> solo-score key
    rows: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0
    stalled: str = ""
    exit_code: int | None = None
    changes: list[str] = field(default_factory=list)
    unrelated: list[str] = field(default_factory=list)
    survivors: list[str] = field(default_factory=list)
    racer: Path | None = None  # a student's file swapped while the class is graded
    budget: float = RUN_SECONDS  # seconds before the run counts as stalled, scaled to the machine's pace


@dataclass
class Campaign:
    runs: list[Run]
    solo: dict[str, dict]  # key -> score report of the file graded alone (in-process, trusted)
    honest: dict[str, dict]  # attack name -> score report of its code without the attack
    seconds: float
    escaped: list[str]
    pace: float  # seconds per honest file in the first step: how fast this machine is today
    budget: float  # seconds the whole campaign may take on it

    def run_of(self, attack: str) -> Run:
        return next(run for run in self.runs if attack in run.attacks.values())


def _add(run: Run, student: str, source: Path | None = None, text: str | None = None) -> None:
    target = run.klass / f"{student}.py"
    if text is not None:
        target.write_text(text)
    else:
        shutil.copy(source, target)


def _plant_class_folder_attacks(run: Run, root: Path) -> None:
    klass = run.klass
    for name in CLASS_FOLDER_ATTACKS:
        if name not in NAMED_ATTACKS:
            (klass / f"1_{name}").mkdir()
            run.attacks[f"1_{name}"] = name
    (klass / f"1_{SYMLINK_ENTRY}" / "lesson_07").symlink_to(SOLUTIONS_MAIN.parent, target_is_directory=True)
    (klass / "1_class_folder_link_to_neighbour" / "main.py").symlink_to("../1_honest_reference_1.py")
    chain = klass / "1_class_folder_link_chain_out"
    (chain / "inner.py").symlink_to(SOLUTIONS_MAIN)
    (chain / "main.py").symlink_to("inner.py")
    loop = klass / "1_class_folder_link_loop"
    (loop / "a").symlink_to("b")
    (loop / "b").symlink_to("a")
    (loop / "main.py").symlink_to("a")
    outside = root / "solution_outside_the_class.py"
    shutil.copy(SOLUTIONS_MAIN, outside)
    os.link(outside, klass / "1_class_folder_hard_link_out" / "main.py")
    shutil.copy(EXERCISES_MAIN, klass / "1_class_folder_swapped_after_discovery" / "main.py")
    run.racer = klass / "1_class_folder_swapped_after_discovery" / "main.py"
    # A student named main: the class folder now holds a main.py. Its code looks for other students' files.
    (klass / "main.py").write_text(EXERCISES_MAIN.read_text() + LOOK_FOR_NEIGHBOURS)
    run.attacks["main.py"] = "class_folder_student_named_main"
    # A plain name spelling the report name of an odd-named honest student (the id 1_odd_new\\nline).
    forged = slug_of("1_odd_new\\nline")
    (klass / "1_class_folder_takes_a_neighbours_report_name").rename(klass / forged)
    shutil.copy(EXERCISES_MAIN, klass / forged / "main.py")
    del run.attacks["1_class_folder_takes_a_neighbours_report_name"]
    run.attacks[forged] = "class_folder_takes_a_neighbours_report_name"
    odd_file = klass / "1_class_folder_non_utf8_file_name"
    shutil.copy(EXERCISES_MAIN, odd_file / "main.py")
    with open(os.path.join(os.fsencode(odd_file), b"notes-\xff.txt"), "wb") as handle:
        handle.write(b"not UTF-8, in name only")
    # Beside the honest 1_honest_reference_1.py: a folder with its stem, a file whose stem is its full name, and
    # a folder already named as a made-unique id would be. Every id must stay different.
    (klass / "1_class_folder_id_suffix_collision").rmdir()
    del run.attacks["1_class_folder_id_suffix_collision"]
    for name in ("1_honest_reference_1", "1_honest_reference_1.py~2", "1_honest_reference_1.py~3"):
        (klass / name).mkdir()
        shutil.copy(EXERCISES_MAIN, klass / name / "main.py")
        run.attacks[name] = "class_folder_id_suffix_collision"
    shutil.copy(EXERCISES_MAIN, klass / "1_honest_reference_1.py.py")
    run.attacks["1_honest_reference_1.py.py"] = "class_folder_id_suffix_collision"


def _ids_as_the_grader_gives_them(run: Run) -> None:
    """run.attacks and run.honest are keyed by entry names until here; the grader's ids are what discovery
    makes of those names (escaped, made unique), so the rows can be found."""
    by_name = {entry.path.name: entry.student for entry in discover([run.klass], (), ("main.py",)).entries}
    for table in (run.attacks, run.honest):
        named = dict(table)
        table.clear()
        for name, value in named.items():
            table[by_name[name]] = value


LOOK_FOR_NEIGHBOURS = """

import os as _os

_seen = [name for root, _, names in _os.walk("/submission") for name in names if name != "main.py"]
_seen += [name for name in ("/submissions", "/students") for _ in [0] if _os.listdir(name)]
if _seen:
    raise RuntimeError("LEAK: files of other students: " + ", ".join(sorted(_seen))[:300])
"""


def _swap_once_grading_began(run: Run, stop: threading.Event) -> None:
    """The race: as soon as the first result is written (discovery is long over), the racer's stub becomes a
    link to the solutions, then a copy of them."""
    while not stop.wait(0.01):
        if run.racer is not None and any((run.out / "results").glob("*.json")):
            run.racer.unlink()
            run.racer.symlink_to(SOLUTIONS_MAIN)
            time.sleep(0.2)
            run.racer.unlink()
            shutil.copy(SOLUTIONS_MAIN, run.racer)
            return


def _grade(run: Run, canaries: Canaries, watch: NamespaceWatch) -> None:
    before = canaries.snapshot()
    buffer = io.StringIO()
    watch.label = run.label
    started = time.monotonic()
    stop = threading.Event()
    racer = threading.Thread(target=_swap_once_grading_began, args=(run, stop), daemon=True)
    racer.start()
    try:
        with contextlib.redirect_stdout(buffer), deadline(run.budget):
            run.exit_code = main(["grade", str(run.klass), "--out", str(run.out), "--json", "--jobs", str(run.jobs)])
    except Stalled as exc:
        run.stalled = str(exc)
    finally:
        stop.set()
        racer.join()
    run.seconds = time.monotonic() - started
    for line in buffer.getvalue().splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            run.rows[row["student"]] = row
    for _ in range(100):  # the namespaces end with the pool's workers; give the kernel a moment
        run.survivors = watch.alive(run.label)
        if not run.survivors:
            break
        time.sleep(0.1)
    watch.label = ""
    run.changes, run.unrelated = Canaries.changes(before, canaries.snapshot())


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacks")
    # One hidden seed for the honest scores and every run: a verdict never rests on a draw. That an attack
    # fails hidden checks whatever the seed is the checks' design (test_hidden_stretch.py, say), not luck.
    seeded = pytest.MonkeyPatch()
    seeded.setenv(SEED_VARIABLE, str(CAMPAIGN_SEED))
    honest_dir = root / "honest"
    honest_dir.mkdir()
    # Honest scores: each attack's code without its attack, and the honest students, graded alone in-process.
    texts: dict[str, Path] = {}
    honest_of: dict[str, Path] = {}
    for path in ATTACK_FILES:
        text = honest_source(path.read_text())
        if text not in texts:
            texts[text] = honest_dir / f"honest_{len(texts)}.py"
            texts[text].write_text(text)
        honest_of[path.stem] = texts[text]
    solo_files = {"reference": SOLUTIONS_MAIN, "stephanie": STEPHANIE, "sync": SYNC_CORRECT}
    paced = time.monotonic()
    reports = run_suites([*solo_files.values(), *texts.values()], jobs=2)
    pace = (time.monotonic() - paced) / len(reports)
    slowdown = max(1.0, pace / IDLE_PACE)
    solo = {key: reports[path] for key, path in solo_files.items()}
    honest = {name: reports[path] for name, path in honest_of.items()}
    for name in CLASS_FOLDER_ATTACKS:
        honest[name] = {"score": 0.0, "exercises": {i: {"score": 0.0} for i in IDS}}

    canaries, watch = Canaries(), NamespaceWatch()
    runs: list[Run] = []
    began, started = time.time(), time.monotonic()
    try:
        main_run = Run("main class", 2, root / "class", root / "grades")
        main_run.klass.mkdir()
        for name, meta in attack_meta().items():
            if not meta["sequence"]:
                student = f"{0 if name in SLOW_FIRST else 1}_{name}"
                _add(main_run, student, ATTACKS_DIR / f"{name}.py")
                main_run.attacks[f"{student}.py"] = name  # keyed by entry name until the ids are known
        for student, key in (("1_honest_reference_1", "reference"), ("1_honest_reference_2", "reference"),
                             ("1_honest_stephanie_brown", "stephanie")):
            _add(main_run, student, solo_files[key])
            main_run.honest[f"{student}.py"] = key
        _plant_class_folder_attacks(main_run, root)
        for name in ODD_NAMES:  # honest copies under names no report or terminal may take as they are
            folder = os.path.join(os.fsencode(main_run.klass), b"1_" + name)
            os.mkdir(folder)
            shutil.copy(SOLUTIONS_MAIN, os.path.join(folder, b"main.py"))
            main_run.honest[os.fsdecode(b"1_" + name)] = "reference"
        _ids_as_the_grader_gives_them(main_run)
        runs.append(main_run)

        for name, meta in attack_meta().items():
            kind = meta["sequence"]
            if not kind:
                continue
            run = Run(f"{kind}: {name}", 2 if kind == "parallel" else 1, root / f"class_{name}", root / f"grades_{name}")
            run.klass.mkdir()
            source = ATTACKS_DIR / f"{name}.py"
            if kind == "twice":
                for student in ("a1_first_copy", "a2_second_copy"):
                    _add(run, student, source)
                    run.attacks[student] = name
                followers = [("b_honest_reference", "reference")]
            else:
                _add(run, "a_attack", source)
                run.attacks["a_attack"] = name
                followers = ([("b_honest_reference", "reference"), ("c_honest_sync", "sync"), ("d_honest_sync", "sync")]
                             if kind == "parallel" else [("b_honest_reference", "reference"), ("c_honest_stephanie", "stephanie")])
            for student, key in followers:
                _add(run, student, solo_files[key])
                run.honest[student] = key
            runs.append(run)

        for run in runs:
            run.budget = RUN_SECONDS * slowdown
            if time.monotonic() - started > CAMPAIGN_SECONDS * slowdown:
                run.stalled = "not run: the campaign was already over its time"
                continue
            _grade(run, canaries, watch)
    finally:
        watch.stop()
        canaries.remove()
    campaign = Campaign(runs, solo, honest, time.monotonic() - started, student_processes_started_after(began),
                        pace, CAMPAIGN_SECONDS * slowdown)
    _print_table(campaign)
    yield campaign
    seeded.undo()
    for path in root.rglob("*"):  # a bloating attack leaves ~120 MB of reports; pytest keeps old temp folders
        if path.is_file() and not path.is_symlink() and path.stat().st_size > MAX_ARTIFACT_BYTES:
            path.unlink()


# --- judging one attack ---


def _scores(report: dict) -> dict[str, float]:
    return {exercise: report["exercises"][exercise]["score"] for exercise in IDS}


def _artifacts(run: Run, student: str) -> dict[str, int]:
    slug = slug_of(student)
    paths = {"results": run.out / "results" / f"{slug}.json", "feedback": run.out / "feedback" / f"{slug}.md",
             "cache": run.out / "cache" / f"{slug}.json"}
    return {kind: path.stat().st_size for kind, path in paths.items() if path.exists()}


CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _unsafe_in_reports(run: Run, student: str) -> list[str]:
    """Student words in the reports that would act instead of being read: control characters (terminal
    escapes, direction overrides), or Markdown/HTML outside code that a viewer would render."""
    problems = []
    reports = {"feedback": run.out / "feedback" / f"{slug_of(student)}.md", "summary": run.out / "summary.md",
               "gradebook": run.out / "gradebook.csv"}
    for kind, path in reports.items():
        text = path.read_text(errors="replace") if path.exists() else ""
        if found := CONTROL_CHARACTERS.findall(text):
            problems.append(f"its {kind} holds control characters {sorted(set(found))!r}")
        if path.suffix == ".md":
            html = MarkdownIt("commonmark").enable("table").render(text)
            outside_code = re.sub(r"<code[^>]*>.*?</code>", "", html, flags=re.DOTALL)
            if MARKER in outside_code or "<script" in outside_code or "<img" in outside_code:
                problems.append(f"its words render as Markdown/HTML in {path.name}")
    return problems


def judge(campaign: Campaign, attack: str) -> tuple[str, list[str]]:
    """(a one-line outcome, what the attack achieved that it must not). An attack whose run was never
    started is skipped as not run: it has neither won nor been contained."""
    run = campaign.run_of(attack)
    if run.stalled.startswith("not run"):
        pytest.skip(f"{attack}: {run.stalled}")
    honest = _scores(campaign.honest[attack])
    problems: list[str] = []
    outcome = []
    for student in [s for s, a in run.attacks.items() if a == attack]:
        row = run.rows.get(student)
        if row is None:
            problems.append(f"{student}: no result row (the run {'stalled: ' + run.stalled if run.stalled else 'lost it'})")
            continue
        got = _scores(row)
        outcome.append(f"{student}: {row['status']} {row['score']:g}/100 {got} flags={row['flags']}")
        problems += [f"{student}: {exercise} scored {got[exercise]:g} > honest {honest[exercise]:g}"
                     for exercise in IDS if got[exercise] > honest[exercise] + 1e-9]
        problems += [f"{student}: reported {leak}" for leak in re.findall(r"LEAK:[^\"',\]}]*", row["message"])]
        feedback = run.out / "feedback" / f"{slug_of(student)}.md"
        text = feedback.read_text(errors="replace") if feedback.exists() else ""
        if "tests/lesson_07/" in text or re.search(r"^\s+def test_", text, re.MULTILINE):
            problems.append(f"{student}: its feedback shows the suite's source (tests/lesson_07)")
        problems += [f"{student}: {problem}" for problem in _unsafe_in_reports(run, student)]
        for kind, size in _artifacts(run, student).items():
            if size > MAX_ARTIFACT_BYTES:
                problems.append(f"{student}: its {kind} file is {size:,} bytes")
        message = row["message"]
        outcome.append(f"    message: {message[:400]}{'...' if len(message) > 400 else ''}")
    for student, key in run.honest.items():
        row = run.rows.get(student)
        expected = _scores(campaign.solo[key])
        if row is None or _scores(row) != expected:
            got = _scores(row) if row else "no row"
            problems.append(f"honest {student} in the same run scored {got} instead of {expected}"
                            + (f" ({row['message'][:300]})" if row else ""))
    problems += [f"outside the sandbox: {change}" for change in run.changes]
    problems += [f"survived the run: {process}" for process in run.survivors]
    if run.stalled:
        problems.append(f"run {run.label!r}: {run.stalled}")
    if run.seconds > run.budget:
        problems.append(f"run {run.label!r} took {run.seconds:.0f} s")
    return "\n".join(outcome), problems


def _print_table(campaign: Campaign) -> None:
    print("\n=== attack campaign ===")
    for run in campaign.runs:
        print(f"-- {run.label}: {len(run.rows)} rows, {run.seconds:.1f} s, exit {run.exit_code}"
              + (f", STALLED {run.stalled}" if run.stalled else "")
              + (f", unrelated kit edits during the run: {run.unrelated}" if run.unrelated else ""))
        for student, row in sorted(run.rows.items()):
            tag = "honest" if student in run.honest else "attack"
            print(f"   {tag:6} {student[:40]:40} {row['status']:8} {row['score']:6g} {','.join(row['flags'])[:45]:45} "
                  f"{row['message'][:110]}")
    anywhere = [pid for pid in os.listdir("/proc") if pid.isdigit() and _uid(pid) in STUDENT_UIDS]
    print(f"campaign: {campaign.seconds:.1f} s of a {campaign.budget:.0f} s budget (pace {campaign.pace:.2f} s per "
          f"honest file); student-uid processes on the machine afterwards: {len(anywhere)} "
          f"(none in this campaign's sandboxes: {not any(run.survivors for run in campaign.runs)}; "
          f"outside any sandbox and started during it: {campaign.escaped or 'none'})")


def _uid(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


NAMES = [*(path.stem for path in ATTACK_FILES), *CLASS_FOLDER_ATTACKS]


@pytest.mark.parametrize(
    "attack",
    [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=HOLES[name])) if name in HOLES else name
     for name in NAMES],
)
def test_attack_gains_nothing_and_harms_no_one(campaign, attack):
    outcome, problems = judge(campaign, attack)
    verdict = "STALLED" if campaign.run_of(attack).stalled else "WON"  # a stall is the grader's failure, not a win
    print(f"\n[{attack}] {attack_meta().get(attack, {}).get('attack') or CLASS_FOLDER_ATTACKS[attack]}"
          f"\n{outcome}\n" + ("\n".join(f"  {verdict}: {p}" for p in problems) if problems else "  contained"))
    assert not problems, f"{attack}:\n{outcome}\n" + "\n".join(problems)


# --- the class as a whole ---


def test_every_attack_file_says_what_it_tries_and_what_its_honest_code_scores(campaign):
    assert len(ATTACK_FILES) >= 43
    for name, meta in attack_meta().items():
        assert meta["attack"] and meta.get("honest") is not None, name
        assert float(meta["honest"]) == campaign.honest[name]["score"], (name, campaign.honest[name]["score"])
        assert START in (ATTACKS_DIR / f"{name}.py").read_text(), name


def test_honest_students_of_the_main_class_score_as_when_graded_alone(campaign):
    run = campaign.runs[0]
    for student, key in run.honest.items():
        assert student in run.rows, f"{student} has no row"
        assert _scores(run.rows[student]) == _scores(campaign.solo[key]), (student, run.rows[student]["message"])
    assert campaign.solo["reference"]["score"] == 100 and campaign.solo["stephanie"]["score"] == 45


def test_nothing_outside_the_sandbox_changed_during_the_main_class(campaign):
    run = campaign.runs[0]
    assert not run.changes, run.changes


def test_no_process_of_the_main_class_survives_and_none_escaped_its_sandbox(campaign):
    assert not campaign.runs[0].survivors, campaign.runs[0].survivors
    assert not campaign.escaped, f"student-uid processes outside any sandbox: {campaign.escaped}"


def test_the_campaign_ends_within_a_bounded_time(campaign):
    started = [run for run in campaign.runs if not run.stalled.startswith("not run")]
    assert all(run.exit_code == 0 and not run.stalled for run in started), \
        [(run.label, run.exit_code, run.stalled) for run in campaign.runs]
    assert campaign.seconds < campaign.budget, f"{campaign.seconds:.0f} s of {campaign.budget:.0f} s"


def test_students_with_odd_names_are_graded_and_get_their_reports_under_safe_names(campaign):
    import csv

    run = campaign.runs[0]
    odd = [student for student in run.honest if student.startswith("1_odd_")]
    assert len(odd) == len(ODD_NAMES)
    gradebook = list(csv.reader(io.StringIO((run.out / "gradebook.csv").read_text())))
    assert len(gradebook) == 1 + len(run.rows)  # one line per student, whatever their names hold
    for student in odd:
        assert run.rows[student]["score"] == 100, run.rows[student]
        assert student.isprintable() and len(slug_of(student)) <= 72
        assert set(_artifacts(run, student)) == {"results", "feedback", "cache"}, student
        results = json.loads((run.out / "results" / f"{slug_of(student)}.json").read_text())
        assert results["score"] == 100, student  # its own report: no other entry's name reaches its file
        assert not _unsafe_in_reports(run, student), (student, _unsafe_in_reports(run, student))
        assert student in {row[0].lstrip("'") for row in gradebook[1:]}
