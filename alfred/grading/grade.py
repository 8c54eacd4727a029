"""Grades one submission (`grade_one`) into its result row: status, score, points per exercise, flags, tests.

The judge is the kit's pytest suite, run in the grader's own process (alfred.judge.suite.run_suite); student
code only ever runs in a submission process behind `SubprocessDriver`, sandboxed by default, forked by the
fork server this grading process keeps for every student it grades. A whole class is graded by
`alfred.grading.classroom`, which runs this in a pool of such processes.
"""

from __future__ import annotations

import hashlib
import multiprocessing.util
import os
import signal
import time
from pathlib import Path

import pytest

from alfred.grading.discovery import Entry
from alfred.judge.driver import DRIVER_KEY, LABEL_KEY, missing_package
from alfred.judge.sandboxed import SubprocessDriver
from alfred.course.exercises import BY_ID, IDS
from alfred.judge.feedback import printable
from alfred.judge.hidden import public_lines, sentence_of, visible
from alfred.judge.observation import ErrorInfo
from alfred.reports.rows import UNGRADABLE, ResultRow
from alfred.reports.text import got, part
from alfred.sandbox.limits import LIMITS
from alfred.sandbox.fork_server import ForkServer, SandboxUnavailable, ServerError, die_with_parent
from alfred.judge.scoring import ScoreReport, load_rubric, score
from alfred.judge.suite import SuiteError, run_suite
from alfred.course.lesson import current
from alfred.course.targets import RUBRIC_FILE
from alfred.grading.review import review, review_costs_points


# --- grading one student ---


def content_hash(entry: Entry, kit: str) -> str:
    """Changes whenever what was read of the submission changes (its files, or why it could not be read)."""
    digest = hashlib.sha256(kit.encode() + b"\0" + entry.main.encode() + b"\0" + entry.problem.encode())
    for relative in sorted(entry.files):
        data = entry.files[relative]
        digest.update(b"\0" + os.fsencode(relative) + b"\0" + str(len(data)).encode() + b"\0" + data)
    return digest.hexdigest()


class _DriverPlugin:
    """Hands the suite a driver that runs probes in the student's worker process."""

    def __init__(self, driver: SubprocessDriver, label: str):
        self.driver, self.label = driver, label

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[DRIVER_KEY] = self.driver
        config.stash[LABEL_KEY] = self.label

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Before the test's fixtures probe anything: whether what the process says now may reach a student."""
        self.driver.hidden_check = sentence_of(item) is not None


_servers: dict[bool, ForkServer] = {}  # per grading process: one fork server, reused for every student
_hidden: tuple[Path, ...] = ()  # what no sandbox may show besides the kit: the class folders, the reports


def start_grading_process(grader: int, hidden: tuple[Path, ...]) -> None:
    """Pool initializer: the process dies with the grader, whatever ends it, and knows what to hide."""
    global _hidden
    die_with_parent(grader)
    _hidden = hidden


def _server(sandboxed: bool) -> ForkServer:
    server = _servers.get(sandboxed)
    if server is None or server.process.poll() is not None:
        server = _servers[sandboxed] = ForkServer(sandboxed, _hidden)
        # Pool workers leave through os._exit, which skips atexit; multiprocessing's finalizers still run.
        multiprocessing.util.Finalize(server, server.close, exitpriority=10)
    return server


def grade_one(entry: Entry, sandboxed: bool = True, hidden_seed: int | None = None) -> ResultRow:
    """Grades one submission from the files read at discovery, and returns its row: status, score,
    per-exercise points, flags, tests. `hidden_seed` draws the hidden checks' inputs (alfred.judge.hidden).
    What the grader cannot judge (its sandbox would not start; the machine was too busy to tell slow code
    from a slow machine) is tried once more, then the row is ungradable: never a score."""
    busy = ""
    for _ in range(2):
        row = _attempt(entry, sandboxed, hidden_seed)
        if not isinstance(row, str):
            return _reviewed(row, entry)
        busy = row
    return ungradable_row(entry.student, busy)


def _reviewed(row: ResultRow, entry: Entry) -> ResultRow:
    """The row with the flags of main.py's text (alfred.grading.review) for the teacher's review; with
    `review_costs_points` in [tool.alfred], each flagged exercise scores 0."""
    flags = review(entry.files.get(entry.main, b"").decode("utf-8", "replace"), current())
    if not flags:
        return row
    row = {**row, "flags": sorted({*row["flags"], *(flag.words for flag in flags)})}
    if review_costs_points(RUBRIC_FILE):
        exercises = {key: dict(value) for key, value in row["exercises"].items()}
        for flag in flags:
            if flag.exercise in exercises:
                exercises[flag.exercise]["score"] = 0.0
        row = {**row, "exercises": exercises, "score": round(sum(value["score"] for value in exercises.values()), 2)}
    return row


TOO_BUSY = (f"twice in a row, a test had not finished after {LIMITS.backstop_seconds:g} s, its code and the judge "
            "having spent most of that time waiting for a CPU: the grading machine was too busy; grade it again "
            "on a quieter machine")


def _attempt(entry: Entry, sandboxed: bool, hidden_seed: int | None) -> ResultRow | str:
    """One try at grading `entry`: its row, or why the grader could not tell (then it tries again)."""
    student = entry.student
    key = "s-" + hashlib.sha256(student.encode() + content_hash(entry, "").encode()).hexdigest()[:16]
    try:  # a sandbox that fails to start is replaced by the next try
        server = _server(sandboxed)
        server.stage(key, entry.files)
    except (ServerError, SandboxUnavailable, OSError) as exc:
        broken = _servers.pop(sandboxed, None)
        if broken is not None:
            broken.close()
        return f"the grader could not start its sandbox: {exc}"
    driver = SubprocessDriver(server, key, main=entry.main, budget_seconds=LIMITS.submission_seconds)
    memory_events = server.memory_events()
    deadline = _JudgeDeadline(LIMITS.judge_seconds)
    judge_started = time.process_time()
    try:
        # The judge reads the staged copy's path only to name it; probes run in the submission process.
        with deadline:
            seed = () if hidden_seed is None else ("--hidden-seed", str(hidden_seed))
            report = run_suite(server.staging / key / entry.main, *seed, plugins=(_DriverPlugin(driver, entry.label),))
    except SuiteError as exc:
        if not deadline.passed:
            return ungradable_row(student, f"the grader could not run the suite: {exc}")
        # Slow through its own doing (its code's CPU and blocked time, or output that kept the judge working)?
        if driver.own_seconds() + (time.process_time() - judge_started) < LIMITS.judge_seconds / 2:
            return TOO_BUSY
        return error_row(student, f"grading this submission took the judge more than {LIMITS.judge_seconds:g} s "
                          "and was stopped; review its code", status="timeout", flags=["judge time limit"])
    finally:
        try:
            driver.stop()
            if driver.server_broken:
                raise ServerError("the submission broke its sandbox's channel")
            if server.finish(key):
                driver.flags.add("wrote outside its folder")
        except ServerError:
            driver.flags.add("broke the sandbox")
            _servers.pop(sandboxed, None)
            server.close()
    if driver.busy:
        return TOO_BUSY
    if server.memory_events() > memory_events:
        driver.flags.add("killed for memory")
    flags = sorted(driver.flags | ({"unsandboxed"} if not sandboxed else set()))
    nothing_passed = not any(test["outcome"] == "passed" for test in report["tests"])
    if driver.import_hangs:
        return _row(student, "timeout", report, flags, f"importing {entry.label} never finished (an endless loop "
                    "at the top level of the file, or a wait that never ends?)")
    if driver.load_error and nothing_passed:
        error = driver.load_error
        where = f" at line {error['line']}" if error.get("line") else ""
        message = f"{entry.label} does not import: {error['type']}{where}: {error['message']}"
        if missing_package(ErrorInfo.model_validate(error)):  # named by the submission itself: never recommended
            flags = sorted({*flags, "imports a package the grader lacks"})
        return _row(student, "error", report, flags, message)
    status = "timeout" if "killed for time" in driver.flags and nothing_passed else "graded"
    return _row(student, status, report, flags, _headline(report))


def _headline(report: ScoreReport) -> str:
    """One line for the gradebook and Gradescope: how many tests failed, in which exercises, and the first
    failure's own words."""
    failed = [test for test in report["tests"] if test["outcome"] != "passed"]
    if not failed:
        return "Every test passed."
    where = ", ".join(BY_ID[i].label for i in IDS if any(test["exercise"] == i for test in failed))
    shown = visible(failed)  # students read this line: a hidden check is named by its public sentence only
    if not shown:
        exercise = failed[0]["exercise"]
        first = next(line for ok, line in public_lines([t for t in failed if t["exercise"] == exercise],
                                                        BY_ID[exercise].label) if not ok)
        return f"{len(failed)} of {len(report['tests'])} tests not passed ({where}). First: {first}"
    tried = part(shown[0], "tried")
    first = f"tried {tried[:150]}, got {got(shown[0])[:150]}" if tried else got(shown[0])[:300]
    return f"{len(failed)} of {len(report['tests'])} tests not passed ({where}). First: {first}"


def _row(student: str, status: str, report: ScoreReport, flags: list[str], message: str) -> ResultRow:
    return {
        "student": student, "status": status, "score": report["score"], "max_score": report["max_score"],
        "exercises": {key: {k: v for k, v in entry.items()} for key, entry in report["exercises"].items()},
        "flags": flags, "message": printable(message), "tests": report["tests"],
        **({"hidden_seed": report["hidden_seed"]} if "hidden_seed" in report else {}),
    }


def error_row(student: str, message: str, status: str = "error", flags: list[str] | None = None) -> ResultRow:
    report = score([], load_rubric(RUBRIC_FILE))
    return _row(student, status, report, flags or [], message)


def ungradable_row(student: str, why: str) -> ResultRow:
    """The row of a submission the grader failed on: no score, the reason for the teacher (alfred.reports.rows)."""
    return error_row(student, f"not graded: {why}. This is the grader's failure, not a verdict on the code; "
                     "the next run grades it again", status=UNGRADABLE, flags=["grader failure"])


class _JudgeDeadline:
    """Stops the suite on one submission after `seconds` of wall clock, whatever is slow (the submission, or
    the judge's own work on what it sent): pytest ends its session, and the class goes on."""

    def __init__(self, seconds: float):
        self.seconds, self.passed = seconds, False

    def __enter__(self):
        self._previous = signal.signal(signal.SIGALRM, self._ring)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc_info) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous)

    def _ring(self, signum, frame) -> None:
        if any(server.exchanging for server in _servers.values()):  # never between an order and its answer
            signal.setitimer(signal.ITIMER_REAL, 0.01)
            return
        self.passed = True
        pytest.exit("the judge's time for this submission is over", returncode=pytest.ExitCode.INTERRUPTED)


# --- grading a class ---
