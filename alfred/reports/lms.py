"""What the gradebooks a learning management system imports share (alfred.reports.canvas, alfred.reports.moodle):
the grade column's title, a score as both LMSs read it, and CSV in which no cell is a spreadsheet formula.

A score is the student's points out of the lesson's (100 by default), rounded to two decimals with a point as
decimal separator: Canvas keeps two decimals (its gradebook importer compares scores at that precision) and
Moodle shows two by default. An ungradable submission (the grader failed: alfred.reports.rows.UNGRADABLE) is a
blank cell, never a 0: both LMSs read a blank cell as no grade. A file that does not import is a 0, as in
gradebook.csv: that is the grade of the work handed in.
"""

from __future__ import annotations

import csv
import io

from alfred.course.exercises import LESSON
from alfred.reports.gradebook import inert_cell
from alfred.reports.rows import UNGRADABLE, ResultRow


def assignment() -> str:
    """The grade column's header: the lesson's name and title, as the LMS names the new assignment it makes."""
    return f"{LESSON.name}: {LESSON.title}" if LESSON.title else LESSON.name


def points(value: float) -> str:
    return f"{round(value, 2):.2f}".rstrip("0").rstrip(".")


def grade(row: ResultRow) -> str:
    return "" if row["status"] == UNGRADABLE else points(row["score"])


def csv_text(lines: list[list[str]]) -> str:
    """CSV with every cell inert (alfred.reports.gradebook.inert_cell): a student id such as `=HYPERLINK(...)`
    opens as text in a spreadsheet, control characters are escaped."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for line in lines:
        writer.writerow([inert_cell(cell) for cell in line])
    return buffer.getvalue()
