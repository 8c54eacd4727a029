"""The reports layer: reports of a graded class, one module per format, each turning result rows into the
text of its files. It reads rows, the course and the judge's messages, and imports nothing of grading.

A format is a module with `NAME` and two functions; `alfred grade` writes what they return under `--out`:

    for_student(row, name) -> {relative path: text}   as soon as that student is graded (name: safe file stem)
    for_class(rows)        -> {relative path: text}   once the class is graded (or stopped)

Every format reads the same result rows, typed once as `alfred.reports.rows.ResultRow` (`alfred.grading.grade`
makes them: student, status, score, max_score, exercises, flags, message, tests, each test a
`alfred.judge.scoring.TestEntry` whose learner message keeps its fields), and escapes student words for its own
medium (`alfred.reports.text`).
Add a format by adding a module here and naming it in `FORMATS`.

A format that matches students to a learning management system's accounts (`ROSTERED`: canvas, moodle) takes
the class's roster too, `for_class(rows, roster)`: the `--roster FILE` a teacher gives (alfred.reports.roster),
or None. `alfred grade` and `alfred merge` pass it to `class_files`.
"""

from __future__ import annotations

from types import ModuleType

from alfred.reports import (canvas, exercism, feedback, gradebook, gradescope, html, junit, moodle, prairielearn,
                            summary)
from alfred.reports.roster import Roster
from alfred.reports.rows import ResultRow

FORMATS: dict[str, ModuleType] = {module.NAME: module for module in (
    gradebook, summary, feedback, gradescope, exercism, html, prairielearn, canvas, moodle, junit)}
DEFAULT_FORMATS = ("gradebook", "summary", "feedback", "gradescope", "html")
ROSTERED = frozenset({canvas.NAME, moodle.NAME})


def student_files(row: ResultRow, name: str, formats: tuple[str, ...] = DEFAULT_FORMATS) -> dict[str, str]:
    files: dict[str, str] = {}
    for format_name in formats:
        files.update(FORMATS[format_name].for_student(row, name))
    return files


def class_files(rows: list[ResultRow], formats: tuple[str, ...] = DEFAULT_FORMATS,
                roster: Roster | None = None) -> dict[str, str]:
    files: dict[str, str] = {}
    for format_name in formats:
        module = FORMATS[format_name]
        files.update(module.for_class(rows, roster) if format_name in ROSTERED else module.for_class(rows))
    return files
