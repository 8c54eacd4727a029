"""Learner messages: every failed check says what was tried, what happened, what was expected, and a hint.

Tests call `check(...)` or `fail(...)`; both end the test as a plain failure with no traceback into the kit,
because the student's next step is in their own main.py. The message stays a `LearnerMessage` (four fields)
on its way to every report: the failure carries it, alfred.judge.scoring records it as it is, and each report
shows the fields it needs; its text, below, is only how a terminal shows it. `request_tried` and
`call_tried` say what a test tried, the same way in every lesson's tests.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class LearnerMessage:
    tried: str
    got: str
    expected: str
    hint: str

    @property
    def text(self) -> str:
        return f"Tried:    {self.tried}\nGot:      {self.got}\nExpected: {self.expected}\nHint:     {self.hint}"


class LearnerFailure(pytest.fail.Exception):
    """A failed check: pytest's own failure without a traceback (pytrace=False), carrying its message's fields."""

    def __init__(self, message: LearnerMessage):
        super().__init__(message.text, pytrace=False)
        self.learner = message


# What the current test read only the start of (alfred.judge.driver notes each page cut short): every failure
# of that test says so, so a page longer than the grader reads never fails in silence. Cleared for each test
# by the `submission` fixture.
CUT_SHORT: list[str] = []


def fail(*, tried: str, got: str, expected: str, hint: str) -> None:
    __tracebackhide__ = True
    if CUT_SHORT:
        got = f"{got} (note: {'; '.join(CUT_SHORT)})"
    raise LearnerFailure(LearnerMessage(tried, got, expected, hint))


def check(ok: bool, *, tried: str, got: str, expected: str, hint: str) -> None:
    __tracebackhide__ = True
    if not ok:
        fail(tried=tried, got=got, expected=expected, hint=hint)


def request_tried(method: str, path: str, body: Any = None, *, params: dict | None = None) -> str:
    """What a test tried, for a request: `POST /path?name=value with {"a": 1}`."""
    query = "?" + "&".join(f"{name}={value}" for name, value in params.items()) if params else ""
    return f"{method} {path}{query}" + (f" with {shown(body)}" if body is not None else "")


def call_tried(function: str, *args: Any) -> str:
    """What a test tried, for a call, as the student would write it: `log('a', 'b')`. An argument that is
    `Source` is shown as written (a stand-in object the kit builds: `Model(field=...)`)."""
    return f"{function}({', '.join(str(arg) if isinstance(arg, Source) else repr(arg) for arg in args)})"


class Source(str):
    """Code shown as it is written, not as a string's repr."""


def source_call(name: str, **fields: Any) -> Source:
    """`Name(field='value', ...)`, the source of a call (a model built with these fields)."""
    return Source(f"{name}({', '.join(f'{key}={value!r}' for key, value in fields.items())})")


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
    kept: a student's words reach terminals, Markdown and CSV files as text, never as commands. Text that
    str.isprintable passes holds none of them and is returned at once: a flood of output costs milliseconds."""
    if text.replace("\n", "").replace("\t", "").isprintable():
        return text
    return "".join(char if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cf", "Co", "Cs")
                   else char.encode("unicode_escape").decode("ascii") for char in text)


def fence(text: str, shortest: int = 3) -> str:
    """Backticks for a Markdown code fence (or, with shortest=1, a code span) longer than any run of
    backticks in `text`, so `text` cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(shortest, longest + 1)
