"""Grades submissions: one student at a time (`grade_one`) and a whole class with its reports (`grade_class`).

The judge is the kit's pytest suite, run in the grader's own processes (alfred.suite.run_suite); student
code only ever runs in a worker process behind `SubprocessDriver`, sandboxed by default. Every finished
student's files (made by the formats of `alfred.reports`) are written atomically at once, so an interrupted
run keeps them and the next run resumes: a submission whose content hash and kit hash are unchanged is not
graded again unless forced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing.util
import os
import signal
import tempfile
from pathlib import Path

import pytest

from alfred.discovery import Entry, GradeError, slug_of
from alfred.driver import DRIVER_KEY, LABEL_KEY, SubprocessDriver, missing_package
from alfred.exercises import BY_ID, IDS
from alfred.feedback import printable
from alfred.hidden import chosen_seed, parse_seed, public_lines, visible
from alfred.observation import ErrorInfo
from alfred.reports import DEFAULT_FORMATS, class_files, student_files
from alfred.reports.text import got, part
from alfred.sandbox import ForkServer, ServerError, die_with_parent
from alfred.scoring import load_rubric, score
from alfred.suite import SuiteError, run_suite
from alfred.lesson import LESSON_FILE
from alfred.targets import KIT_ROOT, RUBRIC_FILE, SUITE_DIR

SUBMISSION_SECONDS = 60.0  # the submission's own time: its probes, counted by the driver
JUDGE_SECONDS = 180.0  # everything for one submission, the judge's own work included (2-5 s when honest)


# --- grading one student ---


def kit_hash() -> str:
    """Changes whenever anything that decides a grade changes: the suite, the lesson, the kit's code, the rubric."""
    digest = hashlib.sha256()
    files = [KIT_ROOT / "conftest.py", KIT_ROOT / "pyproject.toml", *sorted((KIT_ROOT / "alfred").rglob("*.py")),
             *sorted(SUITE_DIR.rglob("*.py")), SUITE_DIR / LESSON_FILE,
             *([RUBRIC_FILE] if RUBRIC_FILE.is_file() and RUBRIC_FILE != KIT_ROOT / "pyproject.toml" else [])]
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


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


_servers: dict[bool, ForkServer] = {}  # per grading process: one fork server, reused for every student
_hidden: tuple[Path, ...] = ()  # what no sandbox may show besides the kit: the class folders, the reports


def _start_grading_process(grader: int, hidden: tuple[Path, ...]) -> None:
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


def grade_one(entry: Entry, sandboxed: bool = True, hidden_seed: int | None = None) -> dict:
    """Grades one submission from the files read at discovery, and returns its row: status, score,
    per-exercise points, flags, tests. `hidden_seed` draws the hidden checks' inputs (alfred.hidden)."""
    student = entry.student
    key = "s-" + hashlib.sha256(student.encode() + content_hash(entry, "").encode()).hexdigest()[:16]
    try:
        server = _server(sandboxed)
        server.stage(key, entry.files)
    except (ServerError, OSError) as exc:
        broken = _servers.pop(sandboxed, None)
        if broken is not None:
            broken.close()
        return _error_row(student, f"the grader could not start a sandbox: {exc}")
    driver = SubprocessDriver(server, key, main=entry.main, budget_seconds=SUBMISSION_SECONDS)
    memory_events = server.memory_events()
    deadline = _JudgeDeadline(JUDGE_SECONDS)
    try:
        # The judge reads the staged copy's path only to name it; probes run in the submission process.
        with deadline:
            seed = () if hidden_seed is None else ("--hidden-seed", str(hidden_seed))
            report = run_suite(server.staging / key / entry.main, *seed, plugins=(_DriverPlugin(driver, entry.label),))
    except SuiteError as exc:
        if deadline.passed:  # output built to be slow to check: this student stops here, the class goes on
            return _error_row(student, f"grading this submission took the judge more than {JUDGE_SECONDS:g} s "
                              "and was stopped; review its code", status="timeout", flags=["judge time limit"])
        return _error_row(student, f"the grader could not run the suite: {exc}")
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
    if server.memory_events() > memory_events:
        driver.flags.add("killed for memory")
    flags = sorted(driver.flags | ({"unsandboxed"} if not sandboxed else set()))
    nothing_passed = not any(test["outcome"] == "passed" for test in report["tests"])
    if driver.import_hangs:
        return _row(student, "timeout", report, flags, f"importing {entry.label} never finished (an endless loop "
                    "at the top level of the file?)")
    if driver.load_error and nothing_passed:
        error = driver.load_error
        where = f" at line {error['line']}" if error.get("line") else ""
        message = f"{entry.label} does not import: {error['type']}{where}: {error['message']}"
        if missing_package(ErrorInfo.model_validate(error)):  # named by the submission itself: never recommended
            flags = sorted({*flags, "imports a package the grader lacks"})
        return _row(student, "error", report, flags, message)
    status = "timeout" if "killed for time" in driver.flags and nothing_passed else "graded"
    return _row(student, status, report, flags, _headline(report))


def _headline(report: dict) -> str:
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


def _row(student: str, status: str, report: dict, flags: list[str], message: str) -> dict:
    return {
        "student": student, "status": status, "score": report["score"], "max_score": report["max_score"],
        "exercises": {key: {k: v for k, v in entry.items()} for key, entry in report["exercises"].items()},
        "flags": flags, "message": printable(message), "tests": report["tests"],
        **({"hidden_seed": report["hidden_seed"]} if "hidden_seed" in report else {}),
    }


def _error_row(student: str, message: str, status: str = "error", flags: list[str] | None = None) -> dict:
    report = score([], load_rubric(RUBRIC_FILE))
    return _row(student, status, report, flags or [], message)


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
        self.passed = True
        pytest.exit("the judge's time for this submission is over", returncode=pytest.ExitCode.INTERRUPTED)


# --- grading a class ---


def grade_class(entries: list[Entry], out: Path, jobs: int, sandboxed: bool, force: bool = False,
                on_result=None, only: str | None = None, hidden: tuple[Path, ...] = (),
                formats: tuple[str, ...] = DEFAULT_FORMATS, hidden_seed: int | None = None) -> list[dict]:
    """Grades every entry (reusing unchanged results), writes all reports under `out`, returns the rows of
    the students graded in this run. With `only` (an id or a report name), grades that student alone; the
    gradebook and summary still list every student of `entries` who has a result in `out`, from their
    last grading. No sandbox shows `hidden` (the class folders) or `out`. `formats` names the reports
    written (alfred.reports). `hidden_seed` draws the hidden checks' inputs for the whole class (see
    `class_seed`); it is part of each result's hash, so a result drawn with another seed is graded again.

    However the run ends (Ctrl-C, SIGTERM), the grading processes and their sandboxes end with it, every
    finished student keeps its files, and the gradebook lists the students finished so far."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    (out / "cache").mkdir(parents=True, exist_ok=True)
    hidden_seed = class_seed(out, hidden_seed)
    kit = f"{kit_hash()}\0hidden seed {hidden_seed}"
    rows: dict[str, dict] = {}
    pending = []
    try:
        for entry in entries:
            try:
                if only is not None and only not in (entry.student, entry.slug):
                    last = _read_cache(out, entry.slug, None, formats)
                    if last:
                        rows[entry.student] = last
                    continue
                digest = content_hash(entry, kit)
                cached = _read_cache(out, entry.slug, digest, formats)
                if cached and not force:
                    rows[entry.student] = cached
                    _notify(on_result, cached, cached=True)
                elif entry.problem:
                    rows[entry.student] = _finish(out, entry.slug, _error_row(entry.student, entry.problem), digest,
                                                  on_result, formats)
                else:
                    pending.append((entry, digest))
            except Exception as exc:  # one odd entry never stops the class: it gets its row, the rest go on
                row = _error_row(entry.student, f"the grader could not prepare this submission: {exc}")
                rows[entry.student] = _finish(out, entry.slug, row, "", on_result, formats)
        if pending:
            pool = ProcessPoolExecutor(max_workers=max(1, jobs), initializer=_start_grading_process,
                                       initargs=(os.getpid(), (*hidden, out.resolve())))
            try:
                futures = {pool.submit(grade_one, entry, sandboxed, hidden_seed): (entry, digest)
                           for entry, digest in pending}
                for future in as_completed(futures):
                    entry, digest = futures[future]
                    try:
                        row = future.result()
                    except Exception as exc:  # a crash of the grader itself, never the student's fault
                        row = _error_row(entry.student, f"the grader failed on this submission: {exc}")
                    rows[entry.student] = _finish(out, entry.slug, row, digest, on_result, formats)
            except BaseException:
                _stop_now(pool)
                raise
            pool.shutdown()
    finally:
        ordered = _in_class_order(rows.values())
        for relative, text in class_files(ordered, formats).items():
            _write_atomically(out / relative, text)
    return [row for row in ordered if only is None or only in (row["student"], slug_of(row["student"]))]


SEED_FILE = "hidden-seed"  # in --out: the seed the class's hidden checks were drawn with


def class_seed(out: Path, given: int | None = None) -> int:
    """The seed of a class's hidden checks, one for every student of `out`, recorded in `out`/hidden-seed:
    `given` (--hidden-seed), else the one recorded by an earlier run into `out` (a resumed or partial rerun,
    --student, --force: everyone keeps the same inputs, and unchanged results stay valid), else a fresh one
    (ALFRED_HIDDEN_SEED, else os.urandom): a new --out is a new grading run."""
    record = out / SEED_FILE
    if given is None:
        try:
            given = parse_seed(record.read_text(), str(record))
        except (OSError, ValueError):
            given = None
    seed = chosen_seed(None) if given is None else given
    _write_atomically(record, f"{seed}\n")
    return seed


def _in_class_order(rows) -> list[dict]:
    """Every class report lists students by id, so a class graded in shards reads as one graded at once."""
    return sorted(rows, key=lambda row: row["student"])


def shard_of(student: str, shards: int) -> int:
    """The shard (0 to shards-1) that grades this student: stable, whatever else the class holds."""
    return int(hashlib.sha256(student.encode()).hexdigest()[:12], 16) % shards


def merge(outs: list[Path], into: Path, formats: tuple[str, ...] = DEFAULT_FORMATS) -> list[dict]:
    """Builds the class's reports in `into` from the results of shards graded apart (each an --out folder):
    every student's files and cache, then the gradebook and summary of them all."""
    rows: dict[str, tuple[dict, str]] = {}
    empty = [str(out) for out in outs if not any((out / "cache").glob("*.json"))]
    if empty:  # a shard that failed or never ran would drop its students from the class without a word
        raise GradeError(f"No results in {', '.join(empty)}: grade {'that shard' if len(empty) == 1 else 'those shards'} "
                         "(or leave the folder out on purpose) and merge again.")
    for out in outs:
        for path in sorted((out / "cache").glob("*.json")):
            try:
                cached = json.loads(path.read_text())
                row, digest = cached["row"], cached["hash"]
            except (OSError, ValueError, KeyError, TypeError):
                raise GradeError(f"{path} is not a result the grader wrote; grade that shard again.") from None
            if row["student"] in rows and rows[row["student"]][1] != digest:
                raise GradeError(f"{row['student']!r} was graded in two shards with different files; grade the "
                                 "class again with the same --shard count.")
            rows[row["student"]] = (row, digest)
    (into / "cache").mkdir(parents=True, exist_ok=True)
    for row, digest in rows.values():
        slug = slug_of(row["student"])
        for relative, text in student_files(row, slug, formats).items():
            _write_atomically(into / relative, text)
        _write_atomically(into / "cache" / f"{slug}.json", json.dumps({"hash": digest, "row": row}))
    ordered = _in_class_order(row for row, _ in rows.values())
    for relative, text in class_files(ordered, formats).items():
        _write_atomically(into / relative, text)
    return ordered


def _stop_now(pool) -> None:
    """Ends the pool's processes at once (their sandboxes die with them), without waiting for their work."""
    for process in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(Exception):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def _notify(on_result, row: dict, cached: bool = False) -> None:
    if on_result:
        on_result(row, cached)


def _finish(out: Path, slug: str, row: dict, digest: str, on_result, formats: tuple[str, ...]) -> dict:
    for relative, text in student_files(row, slug, formats).items():
        _write_atomically(out / relative, text)
    _write_atomically(out / "cache" / f"{slug}.json", json.dumps({"hash": digest, "row": row}))
    _notify(on_result, row)
    return row


def _read_cache(out: Path, slug: str, digest: str | None, formats: tuple[str, ...] = DEFAULT_FORMATS) -> dict | None:
    """The student's stored row if it was graded from this content and kit (any, with digest None), and
    all of its reports in `formats` are there."""
    try:
        cached = json.loads((out / "cache" / f"{slug}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(cached, dict) or not isinstance(cached.get("row"), dict):
        return None
    results_present = all((out / relative).exists() for relative in student_files(cached["row"], slug, formats))
    fresh = digest is None or cached.get("hash") == digest
    return cached.get("row") if fresh and results_present else None


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)
