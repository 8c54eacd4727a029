"""Grades a whole class (`grade_class`): a pool of grading processes, each grading one student at a time
(alfred.grading.grade), the cache that lets a run resume, sharding and merging, and the reports it writes.

Every finished student's files (made by the formats of `alfred.reports`) are written atomically at once, so
an interrupted run keeps them and the next run resumes: a submission whose content hash and kit hash are
unchanged is not graded again unless forced. Each cached result is signed with the run's key, and `merge`
uses no shard row it has not checked (alfred.grading.shards).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from alfred.course.lesson import LESSON_FILE
from alfred.course.targets import KIT_ROOT, RUBRIC_FILE, SUITE_DIR
from alfred.grading.discovery import Entry, GradeError
from alfred.grading.grade import content_hash, error_row, grade_one, start_grading_process, ungradable_row
from alfred.grading.shards import (ShardError, SuiteTests, checked_row, keep_key, read_result, recorded_key, run_key,
                                   signature_matches, signed)
from alfred.judge.hidden import chosen_seed, parse_seed
from alfred.reports import DEFAULT_FORMATS, class_files, student_files
from alfred.reports.names import slug_of
from alfred.reports.roster import Roster
from alfred.reports.rows import UNGRADABLE, ResultRow


def kit_hash() -> str:
    """Changes whenever anything that decides a grade changes: the suite, the lesson, the kit's code, the rubric."""
    digest = hashlib.sha256()
    files = [KIT_ROOT / "conftest.py", KIT_ROOT / "pyproject.toml", *sorted((KIT_ROOT / "alfred").rglob("*.py")),
             *sorted(SUITE_DIR.rglob("*.py")), SUITE_DIR / LESSON_FILE,
             *([RUBRIC_FILE] if RUBRIC_FILE.is_file() and RUBRIC_FILE != KIT_ROOT / "pyproject.toml" else [])]
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def grade_class(entries: list[Entry], out: Path, jobs: int, sandboxed: bool, force: bool = False,
                on_result=None, only: str | None = None, hidden: tuple[Path, ...] = (),
                formats: tuple[str, ...] = DEFAULT_FORMATS, hidden_seed: int | None = None,
                roster: Roster | None = None) -> list[ResultRow]:
    """Grades every entry (reusing unchanged results), writes all reports under `out`, returns the rows of
    the students graded in this run. With `only` (an id or a report name), grades that student alone; the
    gradebook and summary still list every student of `entries` who has a result in `out`, from their
    last grading. No sandbox shows `hidden` (the class folders) or `out`. `formats` names the reports
    written (alfred.reports); `roster` matches students to an LMS's accounts in those that take one
    (alfred.reports.roster). `hidden_seed` draws the hidden checks' inputs for the whole class (see
    `class_seed`); it is part of each result's hash, so a result drawn with another seed is graded again.

    However the run ends (Ctrl-C, SIGTERM), the grading processes and their sandboxes end with it, every
    finished student keeps its files, and the gradebook lists the students finished so far."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    (out / "cache").mkdir(parents=True, exist_ok=True)
    hidden_seed = class_seed(out, hidden_seed)
    key = run_key(out)
    kit = f"{kit_hash()}\0hidden seed {hidden_seed}"
    rows: dict[str, ResultRow] = {}
    pending = []
    try:
        for entry in entries:
            try:
                if only is not None and only not in (entry.student, entry.slug):
                    last = _read_cache(out, entry.slug, None, key, formats)
                    if last:
                        rows[entry.student] = last
                    continue
                digest = content_hash(entry, kit)
                cached = _read_cache(out, entry.slug, digest, key, formats)
                if cached and not force:
                    rows[entry.student] = cached
                    _notify(on_result, cached, cached=True)
                elif entry.problem:
                    rows[entry.student] = _finish(out, entry.slug, error_row(entry.student, entry.problem), digest,
                                                  key, on_result, formats)
                else:
                    pending.append((entry, digest))
            except Exception as exc:  # one odd entry never stops the class: it gets its row, the rest go on
                row = ungradable_row(entry.student, f"the grader could not prepare this submission: {exc}")
                rows[entry.student] = _finish(out, entry.slug, row, "", key, on_result, formats)
        if pending:
            pool = ProcessPoolExecutor(max_workers=max(1, jobs), initializer=start_grading_process,
                                       initargs=(os.getpid(), (*hidden, out.resolve())))
            try:
                futures = {pool.submit(grade_one, entry, sandboxed, hidden_seed): (entry, digest)
                           for entry, digest in pending}
                for future in as_completed(futures):
                    entry, digest = futures[future]
                    try:
                        row = future.result()
                    except Exception as exc:  # a crash of the grader itself, never the student's fault
                        row = ungradable_row(entry.student, f"the grader failed on this submission: {exc}")
                    rows[entry.student] = _finish(out, entry.slug, row, digest, key, on_result, formats)
            except BaseException:
                _stop_now(pool)
                raise
            pool.shutdown()
    finally:
        ordered = _in_class_order(rows.values())
        for relative, text in class_files(ordered, formats, roster).items():
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


def _in_class_order(rows: Iterable[ResultRow]) -> list[ResultRow]:
    """Every class report lists students by id, so a class graded in shards reads as one graded at once."""
    return sorted(rows, key=lambda row: row["student"])


def shard_of(student: str, shards: int) -> int:
    """The shard (0 to shards-1) that grades this student: stable, whatever else the class holds."""
    return int(hashlib.sha256(student.encode()).hexdigest()[:12], 16) % shards


def merge(outs: list[Path], into: Path, formats: tuple[str, ...] = DEFAULT_FORMATS,
          roster: Roster | None = None) -> list[ResultRow]:
    """Builds the class's reports in `into` from the results of shards graded apart (each an --out folder):
    every student's files and cache, then the gradebook and summary of them all. Every shard is checked
    before anything is written (alfred.grading.shards): one run key for all, every row signed with it, of
    the schema and of this kit's suite, and no two shards disagreeing about a student. Else GradeError, one
    line, and `into` is left as it was."""
    empty = [str(out) for out in outs if not any((out / "cache").glob("*.json"))]
    if empty:  # a shard that failed or never ran would drop its students from the class without a word
        raise GradeError(f"No results in {', '.join(empty)}: grade {'that shard' if len(empty) == 1 else 'those shards'} "
                         "(or leave the folder out on purpose) and merge again.")
    rows: dict[str, tuple[ResultRow, str, Path]] = {}
    try:
        key = recorded_key(outs[0])
        for out in outs[1:]:
            if recorded_key(out) != key:
                raise ShardError(f"{outs[0]} and {out} were written by different grading runs (their run keys "
                                 "differ): grade every shard with one ALFRED_RUN_KEY (docs/kubernetes.md), then merge.")
        suite = SuiteTests()
        for out in outs:
            for path in sorted((out / "cache").glob("*.json")):
                row, digest = read_result(path, key)
                checked_row(row, suite, path)
                if path.stem != slug_of(row["student"]):
                    raise ShardError(f"{path} holds the result of another student than its name says; grade that "
                                     "shard again.")
                earlier = rows.get(row["student"])
                if earlier is not None and earlier[:2] != (row, digest):
                    raise ShardError(f"{earlier[2]} and {out} disagree about {row['student']!r}: grade the class "
                                     "again with the same --shard count, or leave the wrong shard out.")
                rows[row["student"]] = (row, digest, out)
    except ShardError as exc:
        raise GradeError(f"merge refused: {exc}") from None
    keep_key(into, key)
    (into / "cache").mkdir(parents=True, exist_ok=True)
    for row, digest, _ in rows.values():
        slug = slug_of(row["student"])
        for relative, text in student_files(row, slug, formats).items():
            _write_atomically(into / relative, text)
        _write_atomically(into / "cache" / f"{slug}.json", json.dumps(signed(row, digest, key)))
    ordered = _in_class_order(row for row, _, _ in rows.values())
    for relative, text in class_files(ordered, formats, roster).items():
        _write_atomically(into / relative, text)
    return ordered


def _stop_now(pool) -> None:
    """Ends the pool's processes at once (their sandboxes die with them), without waiting for their work."""
    for process in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(Exception):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def _notify(on_result, row: ResultRow, cached: bool = False) -> None:
    if on_result:
        on_result(row, cached)


def _finish(out: Path, slug: str, row: ResultRow, digest: str, key: str, on_result,
            formats: tuple[str, ...]) -> ResultRow:
    if row["status"] == UNGRADABLE:  # kept for the reports, never reused: the next run grades it again
        digest = ""
    for relative, text in student_files(row, slug, formats).items():
        _write_atomically(out / relative, text)
    _write_atomically(out / "cache" / f"{slug}.json", json.dumps(signed(row, digest, key)))
    _notify(on_result, row)
    return row


def _read_cache(out: Path, slug: str, digest: str | None, key: str,
                formats: tuple[str, ...] = DEFAULT_FORMATS) -> ResultRow | None:
    """The student's stored row if it was graded from this content and kit (any, with digest None) in this
    run (signed with its `key`: a row edited by hand, or from another run, is graded again), and all of its
    reports in `formats` are there."""
    try:
        cached = json.loads((out / "cache" / f"{slug}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(cached, dict) or not isinstance(cached.get("row"), dict) or not signature_matches(cached, key):
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
