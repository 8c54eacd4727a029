"""`moodle.csv`: the class's grades as Moodle's gradebook imports them (Grades > Import > CSV file): one column
that identifies the student and one grade column, headed by the lesson's name and title. On Moodle's preview
page, map the identifier column ("Map from") to the user field of the same kind ("Map to": username, email
address or ID number) and the grade column to a grade item (or a new one).

The identifier is the roster's (alfred.reports.roster) first column among `Username`, `Email address` and `ID
number`, Moodle's own names for them; without a roster, or one that has none of them, the folder name under
`Username`. Every row written has its identifier: Moodle stops the whole import at a student it cannot find,
and reads a row whose identifier is blank as the row before's student, so a student the roster does not name,
or names without that identifier, is left out (`left_out`). Scores and blank cells as alfred.reports.lms writes
them; Moodle reads a blank grade as no grade.
"""

from __future__ import annotations

from alfred.reports import lms
from alfred.reports.roster import Roster, value
from alfred.reports.rows import ResultRow

NAME = "moodle"
IDENTIFIERS = ("Username", "Email address", "ID number")  # Moodle's names for the user fields it maps to


def for_student(row: ResultRow, name: str) -> dict[str, str]:
    return {}


def for_class(rows: list[ResultRow], roster: Roster | None = None) -> dict[str, str]:
    return {"moodle.csv": csv_text(rows, roster)}


def identifier(roster: Roster | None) -> str:
    """The column that identifies each student in moodle.csv."""
    return next((column for column in IDENTIFIERS if roster is not None and roster.has(column)), IDENTIFIERS[0])


def csv_text(rows: list[ResultRow], roster: Roster | None = None) -> str:
    column = identifier(roster)
    lines = [[column, lms.assignment()]]
    lines += [[_identity(row, roster, column), lms.grade(row)] for row in rows if _identity(row, roster, column)]
    return lms.csv_text(lines)


def left_out(rows: list[ResultRow], roster: Roster | None) -> list[str]:
    column = identifier(roster)
    return [row["student"] for row in rows if not _identity(row, roster, column)]


def _identity(row: ResultRow, roster: Roster | None, column: str) -> str:
    """The student's identifier in `column`: the roster's ("" when it does not name them), else the folder name."""
    if roster is None or not roster.has(column):
        return row["student"]
    return value(roster.account(row["student"]), column)
