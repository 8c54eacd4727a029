"""`canvas.csv`: the class's grades as Canvas's gradebook imports them (Grades > Import), one assignment column.

The columns are those Canvas's own gradebook export starts with and its importer reads: `Student`, `ID`,
`SIS User ID`, `SIS Login ID`, `Section`, then the assignment, headed by the lesson's name and title; a second
row, `Points Possible`, gives the assignment's points. Canvas finds each student by `ID` (its user id), else
`SIS User ID`, else `SIS Login ID`, else by name: those cells come from the roster (alfred.reports.roster), and
without one the folder name stands for the name and the SIS login. A student the roster does not name is
left out (`left_out`), so that Canvas is never asked to guess who a row is. Scores and blank cells as
alfred.reports.lms writes them.
"""

from __future__ import annotations

from alfred.reports import lms
from alfred.reports.roster import Roster, unlisted, value
from alfred.reports.rows import ResultRow

NAME = "canvas"
COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "Points Possible"


def for_student(row: ResultRow, name: str) -> dict[str, str]:
    return {}


def for_class(rows: list[ResultRow], roster: Roster | None = None) -> dict[str, str]:
    return {"canvas.csv": csv_text(rows, roster)}


def csv_text(rows: list[ResultRow], roster: Roster | None = None) -> str:
    most = max((row["max_score"] for row in rows), default=0.0)
    lines = [[*COLUMNS, lms.assignment()], [POINTS_POSSIBLE, "", "", "", "", lms.points(most)]]
    for row in rows:
        account = None if roster is None else roster.account(row["student"])
        if roster is not None and account is None:
            continue
        lines.append([value(account, "Student") or row["student"], value(account, "ID"),
                      value(account, "SIS User ID"), value(account, "SIS Login ID", default=row["student"]),
                      value(account, "Section"), lms.grade(row)])
    return lms.csv_text(lines)


def left_out(rows: list[ResultRow], roster: Roster | None) -> list[str]:
    return unlisted(rows, roster)
