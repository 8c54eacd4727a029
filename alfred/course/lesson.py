"""A lesson as data: the `lesson.toml` beside a lesson's tests, read into frozen values the engine uses.

The engine knows no lesson of its own. Everything lesson-specific it needs (the exercises with their ids,
numbers, titles, points, TODO markers, the names in main.py they ask for, their hints; the student's file, the
solutions, the display name; the project files beside main.py and the packages the lesson needs; how much of a
page the tests read) comes from one file per lesson, `tests/<folder>/lesson.toml`, as rustlings'
info.toml does for a course. `current()` is the lesson a run is about: the ALFRED_LESSON environment variable
(a lesson's folder or its lesson.toml) when set, else `lesson` in `[tool.alfred]` of the kit's
pyproject.toml, else the kit's only `tests/*/lesson.toml`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

KIT_ROOT = Path(__file__).resolve().parents[2]
LESSON_FILE = "lesson.toml"
LESSON_VARIABLE = "ALFRED_LESSON"
DEFAULT_RESPONSE_CHARS = 2_000  # a page's first 2,000 characters: a lesson's JSON answers need no more


class LessonError(Exception):
    """A lesson file that cannot be used; the message names the file and what is wrong in it."""


@contextlib.contextmanager
def told_in_one_line(command: bool = True):
    """Around the imports of a command (`alfred`, `python -m alfred.hint`...), which read the lesson: a
    LessonError becomes the command line's one-line error, `alfred: <file>: <mistake>` on stderr and exit code
    2. With `command` false (the module is imported, not run) the error goes on to whoever imports it."""
    try:
        yield
    except LessonError as exc:
        if not command:
            raise
        print(f"alfred: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


@dataclass(frozen=True)
class Exercise:
    id: str  # the test marker, the `-m` of pytest, the gradebook's column: model, task...
    number: int | None  # None for the lesson's worked example, which is not homework
    title: str
    points: float  # the default; a course's pyproject.toml [tool.alfred.points] may change it
    todo: str = ""  # the marker in the student's file, "TODO Exercise 1 (model)"; "" for the worked example
    names: tuple[str, ...] = ()  # names in main.py this exercise asks for
    hints: tuple[str, ...] = ()  # shown one at a time by `alfred hint`, gentlest first
    hidden: tuple[str, ...] = ()  # the public sentence of each hidden check (alfred.judge.hidden), one per check

    @property
    def label(self) -> str:
        return f"Exercise {self.number} ({self.id})" if self.number else "The lesson's worked example"


@dataclass(frozen=True)
class ReviewedRoute:
    """A route the lesson asks for in a way behaviour cannot show, read from main.py's text by the grader
    (alfred.grading.review): declared with a route decorator, and what its function must say."""

    method: str  # "POST"
    path: str  # "/reports/{report_id}"
    exercise: str  # the exercise a missing declaration belongs to
    background_task: bool = False  # takes a BackgroundTasks parameter and calls add_task on it
    model: str = ""  # the class of its body, when the lesson names one (a renamed class is followed)
    model_exercise: str = ""  # the exercise the model belongs to
    email_field: bool = False  # the model has a field typed EmailStr


@dataclass(frozen=True)
class Lesson:
    name: str  # "Lesson 99": how every report and command names the lesson
    title: str  # "Hello, seam": the lesson's own title, if it has one
    subject: str  # "a greeting route and a shouting function": what it teaches, in a few words
    folder: str  # "lesson_99": the folder name shared by the suite, the exercises and the solutions
    root: Path  # the course's folder: the student's file, the solutions and pyproject.toml are found from it
    suite: Path  # the folder of lesson.toml and the graded tests
    student_file: str  # the student's file, relative to root: exercises/lesson_99/main.py
    solutions_file: str  # the reference, relative to root: solutions/lesson_99/main.py
    exercises: tuple[Exercise, ...]
    writes: tuple[str, ...] = ()  # folders the app writes when run by hand ("logs/"): kept out of git
    try_by_hand: str = ""  # what a student sees when running the app by hand, for the handout's README
    app: str = "app"  # the name main.py binds its FastAPI() app to
    review: tuple[ReviewedRoute, ...] = ()  # `[[review]]`: what the grader reads in main.py's text
    # `files`: what beside main.py belongs to the lesson's project ("templates/", "static/", "data.csv"), relative
    # to main.py's folder, a folder ending with "/": handed out from the student file's folder, laid out beside
    # main.py in every run, and asked of every submission (one that lacks them is told which).
    files: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()  # requirements beyond the kit's own ("jinja2>=3.1,<4"): the handout installs them
    response_chars: int = DEFAULT_RESPONSE_CHARS  # `[bounds]`: how much of a response's text the tests read

    def files_missing(self, has: Callable[[str], bool], where: str) -> str:
        """"" when a submission holds the lesson's project files, else the sentence that says which it lacks, for
        the student and the teacher; `has(name)` says whether the folder of main.py holds `name` (a file, or a
        folder without its "/"), `where` is how to name that folder."""
        missing = [entry for entry in self.files if not has(entry.rstrip("/"))]
        if not missing:
            return ""
        return (f"{where} has no {' and no '.join(f'`{entry}`' for entry in missing)}: {self.name} keeps "
                f"{', '.join(f'`{entry}`' for entry in self.files)} beside main.py, so hand in the whole folder "
                "that holds main.py, not main.py alone")

    @property
    def by_id(self) -> dict[str, Exercise]:
        return {exercise.id: exercise for exercise in self.exercises}

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(exercise.id for exercise in self.exercises)

    @property
    def homework(self) -> tuple[Exercise, ...]:
        return tuple(exercise for exercise in self.exercises if exercise.number)

    @property
    def slug(self) -> str:
        """The lesson's name for a package or a file: lesson-7."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    def exercise_asking_for(self, name: str) -> Exercise | None:
        return next((exercise for exercise in self.exercises if name in exercise.names), None)


def load(path: Path) -> Lesson:
    """The lesson described by `path` (a lesson.toml, or the folder holding one)."""
    path = Path(path)
    file = path / LESSON_FILE if path.is_dir() else path
    try:
        with file.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise LessonError(f"{file} does not exist: a lesson is a folder holding {LESSON_FILE}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise LessonError(f"{file} is not valid TOML: {exc}") from None
    read = _Reader(file, data)
    suite = file.resolve().parent
    exercises = tuple(_exercise(read, index, entry) for index, entry in enumerate(read.list("exercises", dict)))
    if not exercises:
        raise LessonError(f"{file}: no [[exercises]]; a lesson names at least one.")
    ids = [exercise.id for exercise in exercises]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise LessonError(f"{file}: the exercise id {repeated[0]!r} is used twice; each id names one exercise.")
    return Lesson(
        name=read.text("name"), title=read.text("title", ""), subject=read.text("subject", ""),
        folder=suite.name, root=(suite / read.text("root", "../..")).resolve(), suite=suite,
        student_file=read.text("student_file"), solutions_file=read.text("solutions_file"),
        exercises=exercises, writes=tuple(read.list("writes", str)), try_by_hand=read.text("try_by_hand", ""),
        app=read.text("app", "app") or "app",
        review=tuple(_reviewed(read, index, entry, set(ids)) for index, entry in enumerate(read.list("review", dict))),
        files=tuple(_project_file(read, entry) for entry in read.list("files", str)),
        packages=tuple(read.list("packages", str)), response_chars=_bound(read, "response_chars", DEFAULT_RESPONSE_CHARS),
    )


def _project_file(read: _Reader, entry: str) -> str:
    """One of `files`: a path inside main.py's folder, never main.py itself nor a way out of the folder."""
    parts = entry.rstrip("/").split("/")
    if not entry.strip() or entry.startswith("/") or "\\" in entry or any(part in ("", ".", "..") for part in parts) \
            or parts == ["main.py"]:
        raise LessonError(f"{read.file}: 'files' must name paths inside main.py's folder, like \"templates/\", "
                          f"not {entry!r}.")
    return entry


def _bound(read: _Reader, key: str, default: int) -> int:
    """A `[bounds]` value: a whole number of characters, at least the engine's default (the judge checks the
    ceiling: alfred.judge.observation.page_bound)."""
    bounds = read.table.get("bounds", {})
    if not isinstance(bounds, dict):
        raise LessonError(f"{read.file}: 'bounds' must be a table, [bounds], not {bounds!r}.")
    value = bounds.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < default:
        raise LessonError(f"{read.file}: bounds: '{key}' must be a whole number from {default:,}, not {value!r}.")
    return value


def _reviewed(read: _Reader, index: int, entry: dict, ids: set[str]) -> ReviewedRoute:
    where = _Reader(read.file, entry, f"review {index + 1}: ")
    method, _, path = where.text("route").partition(" ")
    if not path.startswith("/"):
        raise LessonError(f"{read.file}: review {index + 1}: 'route' must be a method and a path, like "
                          f"\"POST /reports\", not {entry.get('route')!r}.")
    flags = {key: entry.get(key, False) for key in ("background_task", "email_field")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise LessonError(f"{read.file}: review {index + 1}: '{key}' must be true or false, not {value!r}.")
    rule = ReviewedRoute(method=method.upper(), path=path, exercise=where.text("exercise"), model=where.text("model", ""),
                         model_exercise=where.text("model_exercise", ""), **flags)
    for key in ("exercise", "model_exercise"):
        if getattr(rule, key) and getattr(rule, key) not in ids:
            raise LessonError(f"{read.file}: review {index + 1}: '{key}' names no exercise: {getattr(rule, key)!r}.")
    return rule


def _exercise(read: _Reader, index: int, entry: dict) -> Exercise:
    where = _Reader(read.file, entry, f"exercise {index + 1}: ")
    number = entry.get("number")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 1):
        raise LessonError(f"{read.file}: exercise {index + 1}: 'number' must be a whole number from 1, not {number!r}.")
    points = entry.get("points")
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        raise LessonError(f"{read.file}: exercise {index + 1}: 'points' must be a number, 0 or more, not {points!r}.")
    return Exercise(id=where.text("id"), number=number, title=where.text("title"), points=float(points),
                    todo=where.text("todo", ""), names=tuple(where.list("names", str)),
                    hints=tuple(where.list("hints", str)), hidden=tuple(where.list("hidden", str)))


class _Reader:
    """Reads typed values out of a TOML table, every mistake named with its file and key."""

    def __init__(self, file: Path, table: dict, prefix: str = ""):
        self.file, self.table, self.prefix = file, table, prefix

    def text(self, key: str, default: str | None = None) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str) or (default is None and not value.strip()):
            raise LessonError(f"{self.file}: {self.prefix}'{key}' must be a text, not {value!r}.")
        return value

    def list(self, key: str, kind: type) -> list[Any]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, kind) for item in value):
            raise LessonError(f"{self.file}: {self.prefix}'{key}' must be a list of {kind.__name__}, not {value!r}.")
        return value


def chosen_path(environ: dict | None = None) -> Path:
    """Where the lesson of this run is: ALFRED_LESSON, else pyproject.toml's [tool.alfred] lesson, else the
    kit's only tests/*/lesson.toml."""
    environ = os.environ if environ is None else environ
    if environ.get(LESSON_VARIABLE):
        return Path(environ[LESSON_VARIABLE]).absolute()
    try:
        with (KIT_ROOT / "pyproject.toml").open("rb") as handle:
            setting = tomllib.load(handle).get("tool", {}).get("alfred", {}).get("lesson")
    except (OSError, tomllib.TOMLDecodeError):
        setting = None
    if isinstance(setting, str):
        return KIT_ROOT / setting
    found = sorted((KIT_ROOT / "tests").glob(f"*/{LESSON_FILE}"))
    if len(found) != 1:
        raise LessonError(f"{len(found)} lessons under {KIT_ROOT / 'tests'}: name the one to use with "
                          f"`lesson = \"tests/<folder>\"` in [tool.alfred] of pyproject.toml, or {LESSON_VARIABLE}.")
    return found[0]


@functools.cache
def current() -> Lesson:
    """The lesson this process works on (read once)."""
    return load(chosen_path())


def written_folders() -> tuple[str, ...]:
    """The folders the current lesson's app writes when run by hand (`writes`): never taken for part of a
    student's project, nor laid out in a test's work folder as if the student had been given them."""
    return tuple(folder.strip("/") for folder in current().writes)
