"""The name a student's report files are filed under (`feedback/<name>.md`, `results/<name>.json`...), from
the student id: made by discovery for each entry, and by the formats that link one report to another."""

from __future__ import annotations

import hashlib
import re

SLUG_CHARS = 60
_HASHED = re.compile(r".*-[0-9a-f]{10}")


def slug_of(student: str) -> str:
    """A file name for a student's reports: the id where it is plain and short, else its plain part
    shortened, with a hash of the whole id. Unique: a plain id that looks like a hashed name gets a hash too,
    so no id can take another's name."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", student).strip("._")[:SLUG_CHARS] or "student"
    if plain == student and not _HASHED.fullmatch(plain):
        return plain
    return f"{plain}-{hashlib.sha256(student.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"
