"""Finds the main.py a run is about: `exercises`, `solutions`, or a student's file or folder.

Used by the pytest plugin (conftest.py) and by `alfred grade`, so both accept the same PATH forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alfred.course.lesson import KIT_ROOT, current

LESSON = current()
SUITE_DIR = LESSON.suite
EXERCISES_MAIN = LESSON.root / LESSON.student_file
SOLUTIONS_MAIN = LESSON.root / LESSON.solutions_file
RUBRIC_FILE = LESSON.root / "pyproject.toml"  # its [tool.alfred.points] overrides the lesson's own points
UNDER_WATCH = "ALFRED_WATCH"  # set by `alfred watch` for the pytest runs it starts: their `next:` line says "save"


class TargetError(Exception):
    """A PATH that holds no main.py to test; the message is one line naming it."""


@dataclass(frozen=True)
class Target:
    main: Path  # absolute path of the main.py under test
    label: str  # how messages name it, as the user would type it
    project: Path | None = None  # the folder given, holding main.py and the app's other files; None for a file


# a file, a folder (main.py, <lesson folder>/main.py), a handed-out project (its path of the student's file)
MAIN_CANDIDATES = tuple(dict.fromkeys(("main.py", f"{LESSON.folder}/main.py", LESSON.student_file)))


def find_main(path: Path) -> Path:
    """`path` itself if it is a .py file, else the first of MAIN_CANDIDATES it holds."""
    if not path.exists():
        raise TargetError(f"{path} does not exist: give a .py file or a folder holding main.py.")
    if path.is_file():
        if path.suffix != ".py":
            raise TargetError(f"{path} is not a Python file: give a .py file or a folder holding main.py.")
        return path
    for candidate in MAIN_CANDIDATES:
        if (path / candidate).is_file():
            return path / candidate
    raise TargetError(f"{path} holds no {', '.join(MAIN_CANDIDATES[:-1])} or {MAIN_CANDIDATES[-1]}.")


def resolve(path: str | Path, invocation_dir: Path) -> Target:
    given = Path(path)
    absolute = given if given.is_absolute() else invocation_dir / given
    main = find_main(absolute)
    try:
        main.open("rb").close()
    except OSError as exc:
        raise TargetError(f"{main} cannot be read: {exc.strerror}.") from None
    return Target(main.resolve(), _label(main, invocation_dir), project_of(main.resolve(), absolute.is_dir()))


def project_of(main: Path, folder_given: bool) -> Path | None:
    """The folder whose other files are laid out beside main.py in every probe: the folder given, or, for a
    main.py given alone, its own folder when the lesson has project files (templates/, static/), which that
    folder must then hold; None for a file of a lesson that has none."""
    if not folder_given and not LESSON.files:
        return None
    missing = LESSON.files_missing(lambda name: (main.parent / name).exists(), f"{main.parent}")
    if missing:
        raise TargetError(f"{missing}.")
    return main.parent


def _label(main: Path, invocation_dir: Path) -> str:
    try:
        return main.resolve().relative_to(invocation_dir.resolve()).as_posix()
    except ValueError:
        return str(main)


def is_kit_folder_arg(arg: str, invocation_dir: Path) -> bool:
    """True for `exercises`, `solutions` (or a path inside them): arguments that name a target, not tests."""
    path = Path(arg.split("::")[0])
    path = (path if path.is_absolute() else invocation_dir / path).resolve()
    roots = (LESSON.root / Path(LESSON.student_file).parts[0], LESSON.root / Path(LESSON.solutions_file).parts[0])
    return any(path == root or root in path.parents for root in roots)
