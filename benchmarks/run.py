"""The kit's benchmarks, side by side with their baselines, as medians of several runs.

    python benchmarks/run.py [--students 200] [--repeat 3] [--baseline-students 200] [--judge-memory-only]

1. The student loop: `pytest exercises` against its floor, a pytest session with the same imports, both
   with bytecode caches written and warm, as on a student's machine.
2. Class grading: `alfred grade --jobs 2` (sandboxed) against the naive loop a teacher would script,
   `pytest --submission` once per student, unsandboxed; and against itself with --no-sandbox, which gives
   the sandbox's added cost per submission.
3. A rerun of the unchanged class, and a rerun after one submission changed.
4. Peak memory: the grader (largest process) and one sandboxed submission process.
5. The judge's peak memory per worker with a hostile student in the class, whose every reply is a 2 MB line of
   empty JSON values (tests/attacks/reply_full_of_empty_values.py), against the same class without it
   (`--judge-memory-only` runs this part alone, in about half a minute).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from make_class import make_class

from alfred.sandbox.fork_server import STUDENT_UID_BASE, STUDENT_UID_SLOTS

KIT = Path(__file__).resolve().parent.parent
# Runs `pytest exercises` in-process, then lists every module it imported (the floor imports the same).
RECORD_IMPORTS = """import sys, pytest
pytest.main(["-q", "-p", "no:cacheprovider", "exercises"])
open(sys.argv[1], "w").write("\\n".join(sorted(sys.modules)))"""
PYTHON = sys.executable
ALFRED = [PYTHON, "-m", "alfred"]
HOSTILE_REPLIES = KIT / "tests" / "attacks" / "reply_full_of_empty_values.py"


def timed(command: list[str], cwd: Path = KIT, env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def median_of(repeat: int, command: list[str], env: dict | None = None) -> float:
    return statistics.median(timed(command, env=env) for _ in range(repeat))


def server_start_seconds(repeat: int, sandboxed: bool) -> float:
    """Starting one fork server (bubblewrap or not, interpreter, warmed-up imports): paid once per worker."""
    from alfred.sandbox.fork_server import ForkServer

    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        ForkServer(sandboxed).close()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def _student_uid(status: str) -> bool:
    uid = int(status.split("\nUid:\t", 1)[1].split()[0])
    return STUDENT_UID_BASE <= uid < STUDENT_UID_BASE + STUDENT_UID_SLOTS


def student_peak_kib(stop: threading.Event, peaks: list[int]) -> None:
    """Samples every process of the sandboxes' student users for its peak resident memory."""
    while not stop.is_set():
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            if _student_uid(text) and "VmHWM:" in text:
                peaks.append(int(text.split("VmHWM:")[1].split()[0]))
        time.sleep(0.02)


def _judge_processes(root: int) -> list[int]:
    """`root` and its descendants in this PID namespace: the grader and its workers, not the sandboxes."""
    own, children = os.readlink("/proc/self/ns/pid"), {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            if os.readlink(status.parent / "ns" / "pid") == own:
                children.setdefault(int(fields[1]), []).append(int(status.parent.name))
        except (OSError, IndexError):
            continue
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def judge_peak_mib(klass: Path, out: Path) -> float:
    """The largest peak resident memory among the judge's processes while `alfred grade --jobs 1` grades `klass`:
    with one job, that is the memory of one worker (or of the grader above it, if larger)."""
    grading = subprocess.Popen([*ALFRED, "grade", str(klass), "--out", str(out), "--jobs", "1", "--force"], cwd=KIT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peaks: dict[int, int] = {}
    while grading.poll() is None:
        for pid in _judge_processes(grading.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            if "VmHWM:" in status:
                peaks[pid] = max(peaks.get(pid, 0), int(status.split("VmHWM:")[1].split()[0]))
        time.sleep(0.02)
    return max(peaks.values(), default=0) / 1024


def judge_memory(scratch: Path, students: int = 6) -> tuple[float, float]:
    """(the judge's peak MiB grading `students` honest students, the same with the hostile student added)."""
    honest, hostile = scratch / "judge-honest", scratch / "judge-hostile"
    make_class(honest, students)
    make_class(hostile, students)
    shutil.copy(HOSTILE_REPLIES, hostile / "student_hostile.py")
    return (judge_peak_mib(honest, scratch / "judge-honest-grades"),
            judge_peak_mib(hostile, scratch / "judge-hostile-grades"))


def print_judge_memory(honest_mib: float, hostile_mib: float) -> None:
    print(f"judge's peak memory per worker: {hostile_mib:.0f} MiB with a student whose every reply is 2 MB of empty "
          f"JSON values, {honest_mib:.0f} MiB without: {hostile_mib / honest_mib:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--baseline-students", type=int, default=None,
                        help="time the naive loop on this many students and scale (default: all)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--judge-memory-only", action="store_true", help="measure only the judge's memory (item 5)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="alfred-bench-"))
    if args.judge_memory_only:
        print_judge_memory(*judge_memory(scratch))
        shutil.rmtree(scratch, ignore_errors=True)
        return
    rows = []

    pytest = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    klass = scratch / "class"
    students = make_class(klass, args.students)
    out = scratch / "grades"
    grade = [*ALFRED, "grade", str(klass), "--out", str(out), "--jobs", "2"]
    runs, peaks = [], []
    for _ in range(args.repeat):
        shutil.rmtree(out, ignore_errors=True)
        stop = threading.Event()
        sampler = threading.Thread(target=student_peak_kib, args=(stop, peaks))
        sampler.start()
        runs.append(timed(grade))
        stop.set()
        sampler.join()
    graded = statistics.median(runs)
    grader_peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # before any other run
    plain_out = scratch / "grades-unsandboxed"
    plain_runs = []
    for _ in range(args.repeat):
        shutil.rmtree(plain_out, ignore_errors=True)
        plain_runs.append(timed([*ALFRED, "grade", str(klass), "--out", str(plain_out), "--jobs", "2", "--no-sandbox"]))
    unsandboxed = statistics.median(plain_runs)
    sample = students[: args.baseline_students or len(students)]
    started = time.perf_counter()
    for path in sample:
        subprocess.run([*pytest, "--submission", str(path)], cwd=KIT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    naive = (time.perf_counter() - started) * len(students) / len(sample)
    label = f"naive loop, pytest --submission x{len(students)}" + (
        f" (timed on {len(sample)}, scaled)" if len(sample) < len(students) else "")
    rows.append((f"alfred grade --jobs 2, {len(students)} students, sandboxed", graded, label, naive))
    rows.append(("the same, sandboxed", graded, "the same, --no-sandbox", unsandboxed))

    unchanged = median_of(args.repeat, grade)
    rows.append(("rerun, class unchanged", unchanged, "first grading", graded))
    changed_runs = []
    for round_number in range(args.repeat):
        with students[0].open("a") as handle:
            handle.write(f"\n# edited {round_number}\n")
        changed_runs.append(timed(grade))
    rows.append(("rerun, one submission changed", statistics.median(changed_runs), "first grading", graded))

    # A student's Python writes bytecode caches (this machine's environment may turn that off): warm them once.
    student_env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    student_env["ALFRED_FLOOR_MODULES"] = str(scratch / "exercise_modules.txt")
    subprocess.run([PYTHON, "-c", RECORD_IMPORTS, student_env["ALFRED_FLOOR_MODULES"]], cwd=KIT, env=student_env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    for command in ([*pytest, "benchmarks/floor_test.py"], [*pytest, "exercises"]):
        subprocess.run(command, cwd=KIT, env=student_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    floor = median_of(args.repeat, [*pytest, "benchmarks/floor_test.py"], env=student_env)
    loop = median_of(args.repeat, [*pytest, "exercises"], env=student_env)
    rows.insert(0, ("student loop: pytest exercises", loop, "floor: same imports, one empty test", floor))
    student_peak_mib = max(peaks) / 1024 if peaks else float("nan")

    print(f"\nAlfred's kit benchmarks on {os.cpu_count()} cores, medians of {args.repeat} runs\n")
    print(f"{'measurement':<48} {'seconds':>8}   {'baseline':<52} {'seconds':>8}   ratio")
    for name, value, baseline_name, baseline in rows:
        print(f"{name:<48} {value:>8.2f}   {baseline_name:<52} {baseline:>8.2f}   {value / baseline:.2f}x")
    added_ms = (graded - unsandboxed) / len(students) * 2 * 1000  # two jobs: each student's share of a worker
    start_sandboxed, start_plain = server_start_seconds(args.repeat, True), server_start_seconds(args.repeat, False)
    print(f"\nthe sandbox's added cost: {added_ms:.0f} ms per submission, per worker; starting a fork server "
          f"takes {start_sandboxed:.2f} s in bubblewrap, {start_plain:.2f} s without (once per worker)")
    print(f"peak memory: grader's largest process {grader_peak_mib:.0f} MiB; "
          f"one sandboxed submission process {student_peak_mib:.0f} MiB")
    print_judge_memory(*judge_memory(scratch))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
