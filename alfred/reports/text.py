"""Student words in a report, kept as words: what each medium needs (Markdown code, CSV cells), and the parts
of a learner message the class reports quote, read from its fields (never parsed back out of its text)."""

from __future__ import annotations

from alfred.judge.feedback import fence, printable
from alfred.judge.scoring import TestEntry

PARTS = ("tried", "got", "expected", "hint")


def part(test: TestEntry, name: str) -> str | None:
    """One field of a test's learner message (tried, got, expected, hint), or None when its message is not
    a check's (a skip, a grader error, a result cached before messages kept their fields)."""
    learner = test.get("learner")
    return learner.get(name) if isinstance(learner, dict) else None


def got(test: TestEntry) -> str:
    """What a failed test saw: its message's `got`, or the first line of a message that has no fields."""
    seen = part(test, "got")
    lines = test["message"].splitlines()
    return seen if seen is not None else (lines[0] if lines else "no message")


def labelled(test: TestEntry, label: str) -> str | None:
    """The field a terminal shows after `label` (Tried:, Got:, Expected:, Hint:)."""
    return part(test, label.rstrip(":").lower())


def cell(text: str) -> str:
    return printable(text).replace("|", "\\|").replace("\n", " ")


def code_span(text: str) -> str:
    """Student words inline, as a code span: Markdown and HTML in them stay text."""
    text = printable(text).replace("\n", " ").strip() or " "
    marks = fence(text, shortest=1)
    return f"{marks} {text} {marks}"


def code_cell(text: str) -> str:
    """Student words in a table cell, as a code span: Markdown in them (links, images, HTML) stays text."""
    text = cell(text).strip() or " "
    marks = fence(text, shortest=1)
    return f"{marks} {text} {marks}"


def code_block(text: str, indent: str) -> list[str]:
    """`text` as a fenced Markdown block that nothing in it can close: student words stay words."""
    marks = fence(text)
    return [f"{indent}{marks}text", *[f"{indent}{line}" for line in text.splitlines()], f"{indent}{marks}"]
