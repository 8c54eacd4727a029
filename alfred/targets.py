"""Finds the main.py a run is about: `exercises`, `solutions`, or a student's file or folder.

Used by the pytest plugin (conftest.py) and by `alfred grade`, so both accept the same PATH forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alfred.exercises import LESSON_FOLDER

KIT_ROOT = Path(__file__).resolve().parent.parent
SUITE_DIR = KIT_ROOT / "tests" / LESSON_FOLDER
EXERCISES_MAIN = KIT_ROOT / "exercises" / LESSON_FOLDER / "main.py"
SOLUTIONS_MAIN = KIT_ROOT / "solutions" / LESSON_FOLDER / "main.py"


class TargetError(Exception):
    """A PATH that holds no main.py to test; the message is one line naming it."""


@dataclass(frozen=True)
class Target:
    main: Path  # absolute path of the main.py under test
    label: str  # how messages name it, as the user would type it
    project: Path | None = None  # the folder given, holding main.py and the app's other files; None for a file


MAIN_CANDIDATES = ("main.py", f"{LESSON_FOLDER}/main.py", f"exercises/{LESSON_FOLDER}/main.py")  # a file, a folder, a handout


def find_main(path: Path) -> Path:
    """`path` itself if it is a .py file, else its main.py, lesson_07/main.py or (a handed-out project)
    exercises/lesson_07/main.py."""
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
    return Target(main.resolve(), _label(main, invocation_dir), main.resolve().parent if absolute.is_dir() else None)


def _label(main: Path, invocation_dir: Path) -> str:
    try:
        return main.resolve().relative_to(invocation_dir.resolve()).as_posix()
    except ValueError:
        return str(main)


def is_kit_folder_arg(arg: str, invocation_dir: Path) -> bool:
    """True for `exercises`, `solutions` (or a path inside them): arguments that name a target, not tests."""
    path = Path(arg.split("::")[0])
    path = (path if path.is_absolute() else invocation_dir / path).resolve()
    return any(path == root or root in path.parents for root in (EXERCISES_MAIN.parents[1], SOLUTIONS_MAIN.parents[1]))
