"""What a probe saw, as the judge reads it: typed, validated views of the plain data `alfred.inside.probe` sends.

`parse_reply` reads one reply line from a student process: its size and shape are checked on the bytes
(`alfred.inside.probe.reply_problem`: at most MAX_REPLY_BYTES, MAX_REPLY_NODES JSON values, MAX_REPLY_DEPTH levels)
before anything is built, then it is parsed, and its observation validated against `Observation`, whose
every list and mapping is bounded. So whatever a reply holds, the judge's memory for it is bounded by
construction. What the student's code produced in free form (a JSON body, a value handed to a task, a model's
values) stays JSON text of bounded length, decoded only when a test reads it (`Response.body`,
`Described.value`, `ModelReport.values`), with a bound on its nesting. The helpers answer the questions the
tests ask: what was printed and when, how long the simulated work took, what ran after the response.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alfred.course.lesson import LESSON_FILE, Lesson, LessonError
from alfred.inside.probe import (
    MAX_ARGUMENTS,
    MAX_BODY_CHARS,
    MAX_EVENTS,
    MAX_FILES,
    MAX_ITEMS,
    MAX_RESPONSE_CHARS,
    MAX_SCHEDULED,
    MAX_VALUE_CHARS,
    MAX_VALUE_DEPTH,
    json_shape,
    reply_problem,
)


def decoded(text: str | None) -> Any:
    """A free-form JSON text of an observation, decoded; None when there is none, or it is not JSON, or it
    nests deeper than MAX_VALUE_DEPTH. Its length is bounded by the schema, so is what decoding it builds."""
    if text is None:
        return None
    _, deeper = json_shape(text.encode("utf-8", "surrogatepass"), MAX_VALUE_DEPTH)
    if deeper:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


class _Plain(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ErrorInfo(_Plain):
    type: str
    message: str
    line: int | None = None

    def sentence(self, file: str = "main.py") -> str:
        where = f" at line {self.line} of {file}" if self.line else ""
        return f"{self.type}{where}: {self.message}" if self.message else f"{self.type}{where}"


class Event(_Plain):
    kind: Literal["print", "sleep", "response-start", "response-complete", "task-start", "task-end", "stand-in"]
    t: float
    phase: str
    text: str | None = None
    stream: str | None = None
    seconds: float | None = None
    status: int | None = None
    function: str | None = None
    error: ErrorInfo | None = None
    watched: dict[str, bool] = Field(default={}, max_length=MAX_ITEMS)


class Response(_Plain):
    status: int
    body_json: str | None = Field(default=None, max_length=MAX_BODY_CHARS)  # the JSON body, as JSON text
    text: str = Field(default="", max_length=MAX_RESPONSE_CHARS)  # its text: the start the tests read (page_bound)
    text_chars: int = Field(default=0, ge=0)  # the length of its whole text, in characters
    content_type: str = ""

    @property
    def body(self) -> Any:
        """The decoded JSON body, None when it was not JSON."""
        return decoded(self.body_json)

    @property
    def cut_short(self) -> bool:
        """A page longer than the tests read: `text` holds only its start (a JSON body is read whole, as `body`)."""
        return self.body_json is None and self.text_chars > len(self.text)


def page_bound(lesson: Lesson) -> int:
    """How much of a response's text the tests read: the lesson's `[bounds] response_chars`, refused beyond
    the ceiling the judge reads (MAX_RESPONSE_CHARS)."""
    if lesson.response_chars > MAX_RESPONSE_CHARS:
        raise LessonError(f"{lesson.suite / LESSON_FILE}: bounds: 'response_chars' may be at most "
                          f"{MAX_RESPONSE_CHARS:,}, the most the judge reads, not {lesson.response_chars:,}.")
    return lesson.response_chars


class Described(_Plain):
    """A Python value as the probe described it: its type, the student's classes it belongs to, its data."""

    type: str
    instance_of: list[str] = Field(default=[], max_length=MAX_ITEMS)
    pydantic: bool = False
    value_json: str = Field(default="null", max_length=MAX_VALUE_CHARS)

    @property
    def value(self) -> Any:
        """Its data (its repr, as a string, when it was not JSON data)."""
        return decoded(self.value_json)


class FunctionRef(_Plain):
    name: str  # the function's name, or the type of what add_task got when it is not callable
    module_attr: str | None = None  # the name main.py gives this very function, if any
    callable: bool = True


class Scheduled(_Plain):
    function: FunctionRef
    args: list[Described] = Field(default=[], max_length=MAX_ARGUMENTS)
    kwargs: dict[str, Described] = Field(default={}, max_length=MAX_ARGUMENTS)

    def all_arguments(self) -> list[Described]:
        return [*self.args, *self.kwargs.values()]


class FieldInfo(_Plain):
    required: bool
    annotation: str


class ValidationIssue(_Plain):
    loc: list[str] = Field(max_length=MAX_ITEMS)
    type: str
    msg: str


class ModelReport(_Plain):
    is_pydantic: bool
    fields: dict[str, FieldInfo] = Field(default={}, max_length=MAX_ITEMS)
    accepted: bool = False
    values_json: str | None = Field(default=None, max_length=MAX_VALUE_CHARS)
    errors: list[ValidationIssue] = Field(default=[], max_length=MAX_ITEMS)

    @field_validator("values_json")
    @classmethod
    def _an_object(cls, text: str | None) -> str | None:
        """A model's values are a JSON object: a report whose instance was not JSON data is not a valid one."""
        if text is not None and not (text.startswith("{") and text.endswith("}")):
            raise ValueError("a model's values are a JSON object")
        return text

    @property
    def values(self) -> dict[str, Any] | None:
        """The validated instance's data, when the model accepted the data."""
        values = decoded(self.values_json)
        return values if isinstance(values, dict) else None


class Observation(_Plain):
    problem: str | None = None  # set by an out-of-process driver: timeout, oversized, malformed, crashed
    problem_detail: str = ""
    load_error: ErrorInfo | None = None
    missing_name: str | None = None
    error: ErrorInfo | None = None
    response: Response | None = None
    returned: Described | None = None
    model: ModelReport | None = None
    events: list[Event] = Field(default=[], max_length=MAX_EVENTS)
    scheduled: list[Scheduled] = Field(default=[], max_length=MAX_SCHEDULED)
    files: dict[str, str] = Field(default={}, max_length=MAX_FILES)
    warnings: list[str] = Field(default=[], max_length=MAX_ITEMS)
    output_truncated: bool = False

    # --- questions the tests ask ---

    def printed(self, phase: str | None = None) -> list[str]:
        return [e.text or "" for e in self.events if e.kind == "print" and (phase is None or e.phase == phase)]

    def sleeps(self, phase: str | None = None) -> list[float]:
        return [e.seconds or 0.0 for e in self.events if e.kind == "sleep" and (phase is None or e.phase == phase)]

    def index(self, kind: str) -> int | None:
        return next((i for i, e in enumerate(self.events) if e.kind == kind), None)

    def task_runs(self) -> list[tuple[int, int | None]]:
        """(start, end) event indexes of every background task that ran: each start is paired with the
        first task-end after it; end is None if no task ended after it."""
        runs, next_end = [], None
        for i in range(len(self.events) - 1, -1, -1):
            kind = self.events[i].kind
            if kind == "task-end":
                next_end = i
            elif kind == "task-start":
                runs.append((i, next_end))
        return runs[::-1]

    def task_error(self) -> ErrorInfo | None:
        return next((e.error for e in self.events if e.kind == "task-end" and e.error), None)


class Reply(_Plain):
    """One line from a student process: the observation of probe `id`, or the problem that stopped it. The
    observation is plain data here, validated as an `Observation` by the test that asked for it: one that is
    not valid fails that test, as a report the grader could not read, and says nothing of the channel."""

    id: int = Field(strict=True)
    observation: Any = None
    problem: str | None = None
    detail: str = ""


def parse_reply(data: bytes) -> Reply | str:
    """The reply in `data` (one line, its newline included), its envelope validated; or why it cannot be
    read: "oversized" (more bytes or JSON values than a reply may have) or "malformed"."""
    problem, _ = reply_problem(data)
    if problem:
        return problem
    # json.loads, not Reply.model_validate_json: pydantic-core's parser first builds a tree of its own, which
    # measured no smaller (30 to 145 bytes per value against json's 11 to 75), and it refuses the lone
    # surrogates that a student's printed text may hold and that json and the probe's encoder carry.
    try:
        return Reply.model_validate(json.loads(data.decode("utf-8")))
    except (ValueError, RecursionError, ValidationError):
        return "malformed"
