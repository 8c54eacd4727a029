"""Grades submissions: one student at a time (`grade_one`) and a whole class with its reports (`grade_class`).

The judge is the kit's pytest suite, run in the grader's own processes (alfred.suite.run_suite); student
code only ever runs in a worker process behind `SubprocessDriver`, sandboxed by default. Every finished
student's files are written atomically at once, so an interrupted run keeps them and the next run resumes:
a submission whose content hash and kit hash are unchanged is not graded again unless forced.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import multiprocessing.util
import os
import statistics
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from alfred.discovery import Entry, slug_of
from alfred.driver import DRIVER_KEY, LABEL_KEY, SubprocessDriver
from alfred.exercises import BY_ID, IDS
from alfred.feedback import fence, printable
from alfred.sandbox import ForkServer, ServerError, die_with_parent
from alfred.scoring import load_rubric, score
from alfred.suite import SuiteError, run_suite
from alfred.targets import KIT_ROOT, SUITE_DIR

SUBMISSION_SECONDS = 60.0


# --- grading one student ---


def kit_hash() -> str:
    """Changes whenever anything that decides a grade changes: the suite, the kit's code, the rubric."""
    digest = hashlib.sha256()
    files = [KIT_ROOT / "conftest.py", KIT_ROOT / "pyproject.toml", *sorted((KIT_ROOT / "alfred").glob("*.py")),
             *sorted(SUITE_DIR.glob("*.py"))]
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def content_hash(entry: Entry, kit: str) -> str:
    """Changes whenever what was read of the submission changes (its files, or why it could not be read)."""
    digest = hashlib.sha256(kit.encode() + b"\0" + entry.main.encode() + b"\0" + entry.problem.encode())
    for relative in sorted(entry.files):
        data = entry.files[relative]
        digest.update(b"\0" + relative.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
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


def grade_one(entry: Entry, sandboxed: bool = True) -> dict:
    """Grades one submission from the files read at discovery, and returns its row: status, score,
    per-exercise points, flags, tests."""
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
    try:
        # The judge reads the staged copy's path only to name it; probes run in the submission process.
        report = run_suite(server.staging / key / entry.main, plugins=(_DriverPlugin(driver, entry.label),))
    except SuiteError as exc:
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
        return _row(student, "timeout", report, flags, "importing main.py never finished (an endless loop at "
                    "the top level of the file?)")
    if driver.load_error and nothing_passed:
        error = driver.load_error
        where = f" at line {error['line']}" if error.get("line") else ""
        message = f"main.py does not import: {error['type']}{where}: {error['message']}"
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
    tried = _line(failed[0], "Tried:")
    first = f"tried {tried[:150]}, got {_got(failed[0])[:150]}" if tried else _got(failed[0])[:300]
    return f"{len(failed)} of {len(report['tests'])} tests not passed ({where}). First: {first}"


def _got(test: dict) -> str:
    """What a failed test saw, from the `Got:` line of its learner message (its first line otherwise)."""
    lines = test["message"].splitlines()
    got = _line(test, "Got:")
    return got if got is not None else (lines[0] if lines else "no message")


def _line(test: dict, label: str) -> str | None:
    lines = test["message"].splitlines()
    return next((line.removeprefix(label).strip() for line in lines if line.startswith(label)), None)


def _row(student: str, status: str, report: dict, flags: list[str], message: str) -> dict:
    return {
        "student": student, "status": status, "score": report["score"], "max_score": report["max_score"],
        "exercises": {key: {k: v for k, v in entry.items()} for key, entry in report["exercises"].items()},
        "flags": flags, "message": printable(message), "tests": report["tests"],
    }


def _error_row(student: str, message: str) -> dict:
    report = score([], load_rubric(KIT_ROOT / "pyproject.toml"))
    return _row(student, "error", report, [], message)


# --- grading a class ---


def grade_class(entries: list[Entry], out: Path, jobs: int, sandboxed: bool, force: bool = False,
                on_result=None, only: str | None = None, hidden: tuple[Path, ...] = ()) -> list[dict]:
    """Grades every entry (reusing unchanged results), writes all reports under `out`, returns the rows of
    the students graded in this run. With `only` (an id or a report name), grades that student alone; the
    gradebook and summary still list every student of `entries` who has a result in `out`, from their
    last grading. No sandbox shows `hidden` (the class folders) or `out`.

    However the run ends (Ctrl-C, SIGTERM), the grading processes and their sandboxes end with it, every
    finished student keeps its files, and the gradebook lists the students finished so far."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    kit = kit_hash()
    for folder in ("results", "feedback", "cache"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}
    pending = []
    for entry in entries:
        if only is not None and only not in (entry.student, entry.slug):
            last = _read_cache(out, entry.slug, digest=None)
            if last:
                rows[entry.student] = last
            continue
        digest = content_hash(entry, kit)
        cached = _read_cache(out, entry.slug, digest)
        if cached and not force:
            rows[entry.student] = cached
            _notify(on_result, cached, cached=True)
        elif entry.problem:
            rows[entry.student] = _finish(out, entry.slug, _error_row(entry.student, entry.problem), digest, on_result)
        else:
            pending.append((entry, digest))
    try:
        if pending:
            pool = ProcessPoolExecutor(max_workers=max(1, jobs), initializer=_start_grading_process,
                                       initargs=(os.getpid(), (*hidden, out.resolve())))
            try:
                futures = {pool.submit(grade_one, entry, sandboxed): (entry, digest) for entry, digest in pending}
                for future in as_completed(futures):
                    entry, digest = futures[future]
                    try:
                        row = future.result()
                    except Exception as exc:  # a crash of the grader itself, never the student's fault
                        row = _error_row(entry.student, f"the grader failed on this submission: {exc}")
                    rows[entry.student] = _finish(out, entry.slug, row, digest, on_result)
            except BaseException:
                _stop_now(pool)
                raise
            pool.shutdown()
    finally:
        ordered = [rows[entry.student] for entry in entries if entry.student in rows]
        _write_atomically(out / "gradebook.csv", _gradebook(ordered))
        _write_atomically(out / "summary.md", _summary(ordered))
    return [row for row in ordered if only is None or only in (row["student"], slug_of(row["student"]))]


def _stop_now(pool) -> None:
    """Ends the pool's processes at once (their sandboxes die with them), without waiting for their work."""
    for process in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(Exception):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def _notify(on_result, row: dict, cached: bool = False) -> None:
    if on_result:
        on_result(row, cached)


def _finish(out: Path, slug: str, row: dict, digest: str, on_result) -> dict:
    _write_atomically(out / "results" / f"{slug}.json", json.dumps(gradescope_results(row), indent=2))
    _write_atomically(out / "feedback" / f"{slug}.md", feedback_markdown(row))
    _write_atomically(out / "cache" / f"{slug}.json", json.dumps({"hash": digest, "row": row}))
    _notify(on_result, row)
    return row


def _read_cache(out: Path, slug: str, digest: str | None) -> dict | None:
    """The student's stored row if it was graded from this content and kit (any, with digest None)."""
    try:
        cached = json.loads((out / "cache" / f"{slug}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(cached, dict) or not isinstance(cached.get("row"), dict):
        return None
    results_present = (out / "results" / f"{slug}.json").exists()
    fresh = digest is None or cached.get("hash") == digest
    return cached.get("row") if fresh and results_present else None


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)


# --- reports ---


def gradescope_results(row: dict) -> dict:
    tests = []
    for number, test in enumerate(row["tests"], start=1):
        exercise = row["exercises"][test["exercise"]]
        share = exercise["max_score"] / exercise["total"] if exercise["total"] else 0.0
        tests.append({
            "name": f"{BY_ID[test['exercise']].label}: {test['name']}",
            "number": str(number),
            "score": round(share if test["outcome"] == "passed" else 0.0, 4),
            "max_score": round(share, 4),
            "status": "passed" if test["outcome"] == "passed" else "failed",
            "output": test["message"],
            "tags": [test["exercise"]],
            "visibility": "visible",
        })
    return {
        "score": row["score"],
        "output": row["message"],
        "output_format": "text",  # shown as typed: a student's words never render as HTML or Markdown
        "test_output_format": "text",
        "tests": tests,
        "extra_data": {"status": row["status"], "flags": row["flags"], "exercises": row["exercises"]},
    }


def feedback_markdown(row: dict) -> str:
    lines = [f"# Lesson 7 feedback for {_code_span(row['student'])}", "",
             f"Score: **{row['score']:g} / {row['max_score']:g}** ({row['status']})", ""]
    if row["status"] in ("error", "timeout"):
        lines += ["Your submission could not be tested:", "", *_code_block(row["message"], indent=""), "",
                  "Fix that first; every test below failed because of it.", ""]
    for exercise_id in IDS:
        entry = row["exercises"][exercise_id]
        mine = [test for test in row["tests"] if test["exercise"] == exercise_id]
        if not mine:
            continue
        lines += [f"## {BY_ID[exercise_id].label}: {entry['passed']}/{entry['total']} tests, "
                  f"{entry['score']:g}/{entry['max_score']:g} points", ""]
        for test in mine:
            mark = "passed" if test["outcome"] == "passed" else "**not yet**"
            lines.append(f"- {mark}: {test['name']}")
            if test["outcome"] != "passed":
                lines += ["", *_code_block(test["message"], indent="  "), ""]
        lines.append("")
    if row["flags"]:
        lines += ["Notes for your instructor: " + ", ".join(row["flags"]), ""]
    lines.append("Run `pytest exercises` to see the same tests on your machine.")
    return "\n".join(lines) + "\n"


def _code_block(text: str, indent: str) -> list[str]:
    """`text` as a fenced Markdown block that nothing in it can close: student words stay words."""
    marks = fence(text)
    return [f"{indent}{marks}text", *[f"{indent}{line}" for line in text.splitlines()], f"{indent}{marks}"]


def _gradebook(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", *IDS, "total", "max", "status", "flags"])
    for row in rows:
        writer.writerow([_inert_cell(row["student"]), *(f"{row['exercises'][i]['score']:g}" for i in IDS),
                         f"{row['score']:g}", f"{row['max_score']:g}", row["status"], "; ".join(row["flags"])])
    return buffer.getvalue()


def _inert_cell(text: str) -> str:
    """A spreadsheet cell that opens as text: a student id such as `=HYPERLINK(...)` is not a formula."""
    text = printable(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _summary(rows: list[dict]) -> str:
    """The teacher's view of the class. Pass rates and common failures count only the students whose file
    could be tested (status graded): a file that never imported fails everything for one reason, listed
    apart. Numbers are rounded as the scores are."""
    tested = [row for row in rows if row["status"] == "graded"]
    scores = [row["score"] for row in rows if row["status"] != "error"]
    statuses = Counter(row["status"] for row in rows)
    lines = ["# Class summary", "", f"Submissions: {len(rows)}; " + "; ".join(
        f"{status}: {statuses[status]}" for status in ("graded", "timeout", "error") if statuses[status]), ""]
    if scores:
        lines += [f"Scores: mean {round(statistics.mean(scores), 2):g}, median {round(statistics.median(scores), 2):g}, "
                  f"min {min(scores):g}, max {max(scores):g}", "", "| score band | students |", "|---|---|"]
        bands = Counter(min(int(value // 20), 4) for value in scores)
        lines += [f"| {band * 20}-{band * 20 + 20 if band < 4 else 100} | {bands.get(band, 0)} |" for band in range(5)]
        lines.append("")
    outcomes: dict[str, list[bool]] = {}
    failures: Counter = Counter()  # (test, what it saw) -> students, once per student
    example: dict[tuple[str, str, str], str] = {}  # the first full learner message of each failure
    for row in tested:
        for test in row["tests"]:
            outcomes.setdefault(f"{BY_ID[test['exercise']].label}: {test['name']}", []).append(test["outcome"] == "passed")
        failed = {(test["exercise"], test["name"], _got(test)): test["message"] for test in row["tests"]
                  if test["outcome"] != "passed"}
        failures.update(failed.keys())
        for key, message in failed.items():
            example.setdefault(key, message)
    if outcomes:
        lines += [f"## Pass rate per test ({len(tested)} students whose file could be tested)", "",
                  "| test | passed |", "|---|---|"]
        lines += [f"| {name} | {sum(done)}/{len(done)} |" for name, done in outcomes.items()]
        lines.append("")
    if failures:
        lines += ["## Most common failures", ""]
        for rank, (key, count) in enumerate(failures.most_common(10), start=1):
            exercise, name, _ = key
            lines += [f"### {rank}. {count} student{'s' * (count != 1)}: {BY_ID[exercise].label}, `{name}`", "",
                      *_code_block(example[key], indent=""), ""]
    untested = [row for row in rows if row["status"] != "graded"]
    if untested:
        lines += ["## Not tested", "", "| student | status | why |", "|---|---|---|"]
        lines += [f"| {_code_cell(row['student'])} | {row['status']} | {_code_cell(row['message'][:200])} |" for row in untested]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return printable(text).replace("|", "\\|").replace("\n", " ")


def _code_span(text: str) -> str:
    """Student words inline, as a code span: Markdown and HTML in them stay text."""
    text = printable(text).replace("\n", " ").strip() or " "
    marks = fence(text, shortest=1)
    return f"{marks} {text} {marks}"


def _code_cell(text: str) -> str:
    """Student words in a table cell, as a code span: Markdown in them (links, images, HTML) stays text."""
    text = _cell(text).strip() or " "
    marks = fence(text, shortest=1)
    return f"{marks} {text} {marks}"
