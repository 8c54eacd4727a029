"""The teacher's `gradebook.csv`: one row per student, points per exercise, total, status and flags; every
cell that starts like a spreadsheet formula opens as text, and an ungradable submission's points are left blank."""

from __future__ import annotations

import csv
import io

from alfred.course.exercises import IDS
from alfred.judge.feedback import printable
from alfred.reports.rows import UNGRADABLE, ResultRow

NAME = "gradebook"


def for_student(row: ResultRow, name: str) -> dict[str, str]:
    return {}


def for_class(rows: list[ResultRow]) -> dict[str, str]:
    return {"gradebook.csv": csv_text(rows)}


def csv_text(rows: list[ResultRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", *IDS, "total", "max", "status", "flags"])
    for row in rows:
        scored = row["status"] != UNGRADABLE  # the grader failed: blank cells, never a 0 to import
        points = [f"{row['exercises'][i]['score']:g}" if scored else "" for i in IDS]
        writer.writerow([inert_cell(cell) for cell in (row["student"], *points, f"{row['score']:g}" if scored else "",
                                                       f"{row['max_score']:g}", row["status"], "; ".join(row["flags"]))])
    return buffer.getvalue()


def inert_cell(text: str) -> str:
    """A spreadsheet cell that opens as text: a student id such as `=HYPERLINK(...)` is not a formula."""
    text = printable(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
