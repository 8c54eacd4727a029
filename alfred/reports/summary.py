"""The class summary, `summary.md`: the score distribution, each test's pass rate, the most common failures
shown whole, and the files that could not be tested. Hidden checks are shown in full, marked `hidden`, and
the seed their inputs were drawn with is given, to reproduce the run (`alfred grade --hidden-seed N`)."""

from __future__ import annotations

import statistics
from collections import Counter

from alfred.course.exercises import BY_ID
from alfred.reports.text import code_block, code_cell, code_span
from alfred.reports.rows import UNGRADABLE, UNSCORED, ResultRow

NAME = "summary"
STUDENTS_NAMED = 12  # students named in one sentence before "and N more"


def for_student(row: ResultRow, name: str) -> dict[str, str]:
    return {}


def for_class(rows: list[ResultRow]) -> dict[str, str]:
    return {"summary.md": markdown(rows)}


def markdown(rows: list[ResultRow]) -> str:
    """The teacher's view of the class. Pass rates and common failures count only the students whose file
    could be tested (status graded): a file that never imported fails everything for one reason, listed
    apart. Numbers are rounded as the scores are."""
    tested = [row for row in rows if row["status"] == "graded"]
    scores = [row["score"] for row in rows if row["status"] not in UNSCORED]
    statuses = Counter(row["status"] for row in rows)
    lines = ["# Class summary", "", f"Submissions: {len(rows)}; " + "; ".join(
        f"{status}: {statuses[status]}" for status in ("graded", "timeout", "error", UNGRADABLE) if statuses[status]), ""]
    if scores:
        lines += [f"Scores: mean {round(statistics.mean(scores), 2):g}, median {round(statistics.median(scores), 2):g}, "
                  f"min {min(scores):g}, max {max(scores):g}", "", counted_sentence(rows, code_span), "",
                  "| score band | students |", "|---|---|"]
        bands = Counter(min(int(value // 20), 4) for value in scores)
        lines += [f"| {band * 20}-{band * 20 + 20 if band < 4 else 100} | {bands.get(band, 0)} |" for band in range(5)]
        lines.append("")
    lines += hidden_seed_lines(rows)
    outcomes: dict[str, list[bool]] = {}
    failures: Counter = Counter()  # (exercise, test) -> students who failed it, once per student
    example: dict[tuple[str, str], str] = {}  # the first learner message of each, shown whole
    for row in tested:
        for test in row["tests"]:
            hidden = ", hidden" if test.get("hidden") else ""
            outcomes.setdefault(f"{BY_ID[test['exercise']].label}{hidden}: {test['name']}", []).append(
                test["outcome"] == "passed")
        failed = {(test["exercise"], test["name"].split("[")[0]): test["message"] for test in row["tests"]
                  if test["outcome"] != "passed"}  # the cases of one parametrized test are one failure
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
            exercise, name = key
            lines += [f"### {rank}. {count} student{'s' * (count != 1)}: {BY_ID[exercise].label}, `{name}`", "",
                      *code_block(example[key], indent=""), ""]
    untested = [row for row in rows if row["status"] != "graded"]
    if untested:
        lines += ["## Not tested", "", "| student | status | why |", "|---|---|---|"]
        lines += [f"| {code_cell(row['student'])} | {row['status']} | {code_cell(row['message'][:200])} |" for row in untested]
    return "\n".join(lines) + "\n"


def counted_sentence(rows: list[ResultRow], shown) -> str:
    """Which students the mean (and the median, the range and the distribution) counts: graded, and stopped
    for time with what it scored; a file that does not load and one the grader could not grade are left out.
    Student ids are written by `shown` (a code span here, escaped text in report.html)."""
    by_status = {status: [row for row in rows if row["status"] == status] for status in ("graded", "timeout", *UNSCORED)}
    graded, timeout = by_status["graded"], by_status["timeout"]
    counted = f"{len(graded)} graded"
    if timeout:
        its = "its" if len(timeout) == 1 else "their"
        counted += (f" and {len(timeout)} stopped for time (timeout), counted with {its} score: "
                    + named(timeout, lambda row: f"{shown(row['student'])} {row['score']:g}"))
    left_out = [f"{len(found)} {why}: {named(found, lambda row: shown(row['student']))}"
                for found, why in ((by_status["error"], "whose file does not load (error)"),
                                   (by_status[UNGRADABLE], "the grader could not grade (ungradable)")) if found]
    total = len(graded) + len(timeout)
    return (f"The mean, median, range and score distribution count {total} submission{'s' * (total != 1)}: "
            f"{counted}." + (f" Left out: {'; '.join(left_out)}." if left_out else ""))


def named(items: list, name) -> str:
    """The first STUDENTS_NAMED of `items` (rows, student ids) as `name` writes each, and how many more."""
    more = f" and {len(items) - STUDENTS_NAMED} more" if len(items) > STUDENTS_NAMED else ""
    return ", ".join(name(item) for item in items[:STUDENTS_NAMED]) + more


def hidden_seed_lines(rows: list[ResultRow]) -> list[str]:
    """What the summary says of the hidden checks' seed: the class's one seed, or each seed with its students
    when a class was put together from runs drawn apart (shards, an explicit --hidden-seed for one student)."""
    seeds = Counter(row["hidden_seed"] for row in rows if "hidden_seed" in row)
    if not seeds:
        return []
    if len(seeds) == 1:
        (seed,) = seeds
        return [f"Hidden checks: inputs drawn with seed {seed} (`alfred grade --hidden-seed {seed}` draws them again).", ""]
    listed = ", ".join(f"{seed} ({count} student{'s' * (count != 1)})" for seed, count in seeds.most_common())
    return [f"Hidden checks: inputs drawn with several seeds, {listed}: not the same inputs for every student. "
            "Grade the class again with one `--hidden-seed N` to make them the same.", ""]
