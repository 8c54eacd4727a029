"""What a probe saw, as the judge reads it: typed, validated views of the plain data `alfred.probe` sends.

A driver hands back a dict; `Observation.model_validate` checks its shape, so a malformed reply from a
student process is rejected here instead of confusing a test. The helpers answer the questions the tests
ask: what was printed and when, how long the simulated work took, what ran after the response.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from alfred.probe import MAX_ARGUMENTS, MAX_EVENTS, MAX_FILES, MAX_SCHEDULED


class _Plain(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ErrorInfo(_Plain):
    type: str
    message: str
    line: int | None = None

    def sentence(self) -> str:
        where = f" at line {self.line} of main.py" if self.line else ""
        return f"{self.type}{where}: {self.message}" if self.message else f"{self.type}{where}"


class Event(_Plain):
    kind: Literal["print", "sleep", "response-start", "response-complete", "task-start", "task-end"]
    t: float
    phase: str
    text: str | None = None
    stream: str | None = None
    seconds: float | None = None
    status: int | None = None
    function: str | None = None
    error: ErrorInfo | None = None
    watched: dict[str, bool] = {}


class Response(_Plain):
    status: int
    body: Any = Field(default=None, alias="json")  # the decoded JSON body, None when it was not JSON
    text: str = ""
    content_type: str = ""


class Described(_Plain):
    """A Python value as the probe described it: its type, the student's classes it belongs to, its data."""

    type: str
    instance_of: list[str] = []
    pydantic: bool = False
    value: Any = None


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
    loc: list[str]
    type: str
    msg: str


class ModelReport(_Plain):
    is_pydantic: bool
    fields: dict[str, FieldInfo] = {}
    accepted: bool = False
    values: dict[str, Any] | None = None
    errors: list[ValidationIssue] = []


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
    warnings: list[str] = []
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
