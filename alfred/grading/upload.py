"""One upload graded on a platform that runs the grader once per submission (Gradescope, PrairieLearn): the
kit that platform's bundle carries, the student's file found in whatever layout the upload has, and the upload
graded as `alfred grade` grades a student, in bubblewrap. alfred.grading.gradescope and
alfred.grading.prairielearn each turn what `grade_upload` returns into their platform's result file.

An upload the grader could not grade through no fault of its code raises `NotGraded`: where the container does
not let bubblewrap run (unless ALFRED_ALLOW_UNSANDBOXED=1: unsandboxed, the student's code would run as root
beside the result file and could rewrite it after the grader ends), or where the grader itself failed. Each
platform says so in its own way, never with a score of 0.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, MAIN_CANDIDATES, SUITE_DIR
from alfred.grading.discovery import read_submission
from alfred.reports.rows import UNGRADABLE, ResultRow

# The kit as the grader needs it: its settings, the plugin, the engine, the lesson's suite and data (hidden
# checks included), the stub's folder with the lesson's project files (no solutions).
def bundled() -> list[str]:
    """What of the kit's folder a bundle carries (the lesson's folders as they lie in the kit)."""
    return ["pyproject.toml", "README.md", "conftest.py", "alfred", suite_in_kit(),
            EXERCISES_MAIN.parent.relative_to(KIT_ROOT).as_posix()]


def suite_in_kit() -> str:
    """Where a bundle's kit holds the lesson it grades: the suite's folder, relative to the kit's."""
    return SUITE_DIR.relative_to(KIT_ROOT).as_posix()


def settings_for_the_lesson(pyproject: str) -> str:
    """The kit's pyproject.toml as a bundle carries it: its `lesson` in [tool.alfred] names the lesson this run
    is about (ALFRED_LESSON's, when it chose another), so the bundle grades the lesson it was made for."""
    return re.sub(r'(?m)^lesson = ".*"$', f'lesson = "{suite_in_kit()}"', pyproject, count=1)


UNSANDBOXED_VARIABLE = "ALFRED_ALLOW_UNSANDBOXED"  # "1": grade even where bubblewrap cannot run (see docs)


class NotGraded(Exception):
    """The upload could not be graded, through no fault of its code; the message says why, for both readers."""


def kit_files() -> list[tuple[str, bytes]]:
    """(its path relative to the kit's folder, its bytes) for every file of the kit a platform's bundle carries;
    pyproject.toml names the lesson of this run (settings_for_the_lesson)."""
    files = []
    for entry in bundled():
        path = KIT_ROOT / entry
        for file in sorted([path] if path.is_file() else path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                relative = file.relative_to(KIT_ROOT).as_posix()
                data = file.read_bytes()
                if relative == "pyproject.toml":
                    data = settings_for_the_lesson(data.decode("utf-8")).encode("utf-8")
                files.append((relative, data))
    return files


def grade_upload(submission: Path) -> ResultRow | str:
    """The upload's result row, or why there is nothing to grade (the student's to fix: nothing uploaded, or
    several Python files and no main.py). Raises NotGraded when it cannot be graded through no fault of its code."""
    from alfred.grading.classroom import grade_class
    from alfred.sandbox.fork_server import SandboxUnavailable, sandbox_mode

    found = find_upload(submission)
    if isinstance(found, str):
        return found
    try:
        sandbox_mode()
        sandboxed = True
    except SandboxUnavailable as exc:
        if os.environ.get(UNSANDBOXED_VARIABLE) != "1":  # student code would run as root beside the result file
            raise NotGraded(f"the autograder could not start its sandbox in this container ({exc}), and it does "
                            "not run student code without one") from None
        sandboxed = False
    folder, candidates = found
    entry = read_submission(folder, "submission", candidates)
    with tempfile.TemporaryDirectory(prefix="alfred-upload-") as scratch:
        rows = grade_class([entry], Path(scratch) / "out", jobs=1, sandboxed=sandboxed, hidden=(submission,))
    if rows[0]["status"] == UNGRADABLE:
        raise NotGraded(rows[0]["message"].removeprefix("not graded: ").split(". This is the grader's")[0])
    return rows[0]


def find_upload(submission: Path, depth: int = 3) -> tuple[Path, tuple[str, ...]] | str:
    """(the folder of the student's project, the names its main file may have), or why there is none. Looks
    at the upload's top, then one folder down, for main.py in any of its layouts; else takes the one .py
    file of the upload, whatever its name, with the folder holding it as its project."""
    if not submission.is_dir():
        return "Nothing was uploaded. Upload your main.py (or the folder that holds it, or the whole handout)."
    places = [submission, *sorted(path for path in submission.iterdir() if path.is_dir() and not path.is_symlink()
                                  and not path.name.startswith((".", "__")))]
    for place in places:
        if any((place / candidate).is_file() for candidate in MAIN_CANDIDATES):
            return place, MAIN_CANDIDATES
    python_files = []
    for folder, folders, files in os.walk(submission):
        if len(Path(folder).relative_to(submission).parts) >= depth:
            folders[:] = []
        folders[:] = [name for name in folders if not name.startswith((".", "__"))]
        python_files += [Path(folder) / name for name in files if name.endswith(".py")]
        if len(python_files) > 1:
            return ("Your upload holds several Python files and no main.py: name the file that creates `app` "
                    "main.py and upload again.")
    if not python_files:
        return "No Python file was found in your upload. Upload your main.py (or the folder that holds it)."
    return python_files[0].parent, (python_files[0].name,)


def write_json(path: Path, result: dict) -> None:
    """Writes a platform's result file whole or not at all: the platform may read it at any moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(result, indent=2))
    os.replace(temporary, path)
