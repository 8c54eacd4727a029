"""Student words in a report, kept as words: what each medium needs (Markdown code, CSV cells), and the parts
of a learner message the class reports quote."""

from __future__ import annotations

from alfred.feedback import fence, printable


def got(test: dict) -> str:
    """What a failed test saw, from the `Got:` line of its learner message (its first line otherwise)."""
    lines = test["message"].splitlines()
    seen = labelled(test, "Got:")
    return seen if seen is not None else (lines[0] if lines else "no message")


def labelled(test: dict, label: str) -> str | None:
    """The text after `label` (Tried:, Got:...) in a test's learner message."""
    lines = test["message"].splitlines()
    return next((line.removeprefix(label).strip() for line in lines if line.startswith(label)), None)


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
