"""Learner messages: every failed check says what was tried, what happened, what was expected, and a hint.

Tests call `check(...)` or `fail(...)`; both end the test as a plain failure whose message is the text
below, with no traceback into the kit, because the student's next step is in their own main.py.
"""

import json
import re
import unicodedata
from typing import Any

import pytest


def fail(*, tried: str, got: str, expected: str, hint: str) -> None:
    __tracebackhide__ = True
    pytest.fail(
        f"Tried:    {tried}\nGot:      {got}\nExpected: {expected}\nHint:     {hint}",
        pytrace=False,
    )


def check(ok: bool, *, tried: str, got: str, expected: str, hint: str) -> None:
    __tracebackhide__ = True
    if not ok:
        fail(tried=tried, got=got, expected=expected, hint=hint)


def shown(value: Any, limit: int = 300) -> str:
    """A value as a student would type it: JSON where possible, shortened when long."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def lines(texts: list[str], empty: str = "nothing") -> str:
    if not texts:
        return empty
    return "; ".join(shown(text, 160) for text in texts[:6]) + (" ..." if len(texts) > 6 else "")


def printable(text: str) -> str:
    """`text` with its control and direction-changing characters written as escapes (`\\x1b`), line breaks
    kept: a student's words reach terminals, Markdown and CSV files as text, never as commands."""
    return "".join(char if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cf", "Co", "Cs")
                   else char.encode("unicode_escape").decode("ascii") for char in text)


def fence(text: str, shortest: int = 3) -> str:
    """Backticks for a Markdown code fence (or, with shortest=1, a code span) longer than any run of
    backticks in `text`, so `text` cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(shortest, longest + 1)
