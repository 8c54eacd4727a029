"""The class roster a teacher gives with `--roster FILE`: which account of the learning management system each
student of the class folder is, for the gradebooks an LMS imports (alfred.reports.canvas, alfred.reports.moodle).

`roster.csv` has a header row, a `folder` column naming each student as `alfred grade` names them (the folder's
name, or the file's name without `.py`), and the LMS's identifiers under the names the LMS's own gradebook
export gives them, so a roster is that export with one column added: Canvas's `Student`, `ID`, `SIS User ID`,
`SIS Login ID`, `Section`; Moodle's `Username`, `Email address`, `ID number`. Headers are read whatever their
case and spacing; other columns are ignored. `alfred grade` reads it once, before grading, and passes it to
the formats that take one (`for_class(rows, roster)`); without one, each student's folder name stands for
their login.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from alfred.reports.rows import ResultRow

FOLDER = "folder"
MAX_BYTES = 5_000_000


class RosterError(ValueError):
    """A roster file that cannot be used; the message names the file and what is wrong, in one line."""


@dataclass(frozen=True)
class Roster:
    columns: tuple[str, ...]  # the file's headers besides `folder`, as written
    accounts: dict[str, dict[str, str]] = field(default_factory=dict)  # folder -> {header: value}

    def has(self, column: str) -> bool:
        return _key(column) in map(_key, self.columns)

    def account(self, student: str) -> dict[str, str] | None:
        """The student's identifiers by header (any case), or None when the roster does not name them."""
        found = self.accounts.get(student.strip())
        return None if found is None else {_key(header): value for header, value in found.items()}


def value(account: dict[str, str] | None, column: str, default: str = "") -> str:
    """One identifier of a roster entry, by the LMS's header name; `default` without a roster."""
    return default if account is None else account.get(_key(column), "")


def read(path: Path) -> Roster:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise RosterError(f"{path}: a roster of more than {MAX_BYTES // 1_000_000} MB is not a class list.")
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark, as spreadsheets save CSV, is fine
    except OSError as exc:
        raise RosterError(f"{path}: cannot read the roster ({exc.strerror or exc}).") from None
    except UnicodeDecodeError:
        raise RosterError(f"{path}: the roster is not UTF-8 text; save it as CSV UTF-8.") from None
    lines = list(csv.reader(text.splitlines()))
    headers = [header.strip() for header in (lines[0] if lines else [])]
    if FOLDER not in map(_key, headers):
        raise RosterError(f"{path}: the roster's first row must name a `{FOLDER}` column (each student's folder in "
                          "the class folder) beside the LMS's identifiers, such as `SIS Login ID` or `Email address`.")
    where = list(map(_key, headers)).index(FOLDER)
    accounts: dict[str, dict[str, str]] = {}
    for number, line in enumerate(lines[1:], start=2):
        cells = [cell.strip() for cell in line] + [""] * (len(headers) - len(line))
        if not any(cells):
            continue
        folder = cells[where]
        if not folder:
            raise RosterError(f"{path}: line {number} names no folder.")
        if folder in accounts:
            raise RosterError(f"{path}: line {number} names the folder {folder!r} a second time.")
        accounts[folder] = {header: cells[index] for index, header in enumerate(headers) if index != where}
    return Roster(tuple(header for index, header in enumerate(headers) if index != where), accounts)


def unlisted(rows: list[ResultRow], roster: Roster | None) -> list[str]:
    """The students of `rows` the roster does not name (none without a roster)."""
    return [] if roster is None else [row["student"] for row in rows if roster.account(row["student"]) is None]


def _key(header: str) -> str:
    return " ".join(header.split()).lower()
