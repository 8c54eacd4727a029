"""`alfred hint [EXERCISE]`: for students, the next hint of an exercise, one at a time, from what failed and the lesson.

It runs the lesson's suite on the student's file first, quietly (what `pytest exercises` runs; only the named
exercise's tests when EXERCISE is given), and without EXERCISE takes the first exercise not done yet. When a
test of the exercise fails, its first hint is the one that failure's learner message gives (its Hint: field),
then the lesson's hints from its lesson.toml, gentlest first; with nothing failing, the lesson's hints alone.
A failure whose hint changes (the student fixed one thing and met the next) is shown first again. The last hint
is shown again once they are all seen. Which hints were shown is kept in `.alfred/hints.json` of the student's
project: the nearest folder, from the one the command runs in upwards, that holds the lesson's student file
(exercises/<lesson folder>/main.py). The handout carries this module (it has no `alfred` command): there it
runs as `python -m alfred.hint`.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from alfred.course.lesson import Exercise, told_in_one_line

with told_in_one_line(__name__ == "__main__"):  # run as `python -m alfred.hint`: a bad lesson file in one line
    from alfred.course.exercises import LESSON
    from alfred.course.targets import TargetError, project_of
    from alfred.judge.scoring import ScoreReport
    from alfred.judge.screen import NOT_RUN, test_name
    from alfred.judge.suite import run_suite
from alfred.judge.hidden import MARKER as HIDDEN_MARKER

STATE_FILE = Path(".alfred") / "hints.json"
COMMAND = "alfred hint"  # how the student starts this command: `python -m alfred.hint` in the handout


class HintError(Exception):
    """`alfred hint` cannot answer; the message is one sentence with what to do."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercise", nargs="?", metavar="EXERCISE",
                        help=f"an exercise's id or number ({', '.join(e.id for e in LESSON.homework)}); "
                        "default: the first one not done yet")


def run(args: argparse.Namespace) -> int:
    command = getattr(args, "command_name", COMMAND)
    try:
        project = find_project(Path.cwd(), command)
        main = project / LESSON.student_file
        if args.exercise:
            exercise = named(args.exercise)
            report = student_run(main, exercise.id)
        else:
            report = student_run(main)
            exercise = first_unfinished(report, command)
            if exercise is None:
                return 0
        print(next_hint(project, exercise, diagnosis(report, exercise), command))
    except HintError as exc:
        print(f"alfred: {exc}", file=sys.stderr)
        return 2
    return 0


def find_project(start: Path, command: str = COMMAND) -> Path:
    for folder in (start, *start.parents):
        if (folder / LESSON.student_file).is_file():
            return folder
    raise HintError(f"no {LESSON.student_file} here or above; run `{command}` in your project's folder.")


def named(text: str) -> Exercise:
    found = next((e for e in LESSON.exercises if text in (e.id, str(e.number))), None)
    if found is None:
        raise HintError(f"no exercise {text!r} in {LESSON.name}; its exercises are "
                        f"{', '.join(f'{e.id} ({e.number})' if e.number else e.id for e in LESSON.exercises)}.")
    return found


def student_run(main: Path, exercise_id: str | None = None) -> ScoreReport:
    """The student's own run of `main` (hidden checks wait for grading), of one exercise's tests when named."""
    try:  # a lesson with project files (templates/, static/) needs them beside main.py
        project_of(main, folder_given=False)
    except TargetError as exc:
        raise HintError(str(exc)) from None
    chosen = f"not {HIDDEN_MARKER}" if exercise_id is None else f"{exercise_id} and not {HIDDEN_MARKER}"
    return run_suite(main, "-m", chosen)


def first_unfinished(report: ScoreReport, command_name: str = COMMAND) -> Exercise | None:
    """The first exercise, in the lesson's order, with a test not passed in `report`; None (said on stdout)
    when there is none, or when the file does not import (that comes first)."""
    command = f"pytest {LESSON.student_file.split('/')[0]}"
    if any(test["outcome"] == "skipped" and test["message"].startswith(NOT_RUN) for test in report["tests"]):
        print(f"{LESSON.student_file} does not import: run `{command}` and fix the error its first failure names.")
        return None
    for exercise in LESSON.exercises:
        entry = report["exercises"][exercise.id]
        if entry["total"] and entry["passed"] < entry["total"]:
            return exercise
    waiting = sum(len(exercise.hidden) for exercise in LESSON.exercises)
    passes = (f"All visible checks of {LESSON.name} pass; {waiting} hidden check{'s' * (waiting != 1)} run when "
              "your work is graded" if waiting else f"Every exercise of {LESSON.name} passes")
    print(f"{passes}: no hint needed. To read an exercise's hints anyway: "
          f"`{command_name} {LESSON.homework[0].id if LESSON.homework else LESSON.exercises[0].id}`.")
    return None


@dataclass(frozen=True)
class Diagnosis:
    """What the exercise's first failing test says to do: the Hint field of its learner message."""

    test: str
    hint: str


def diagnosis(report: ScoreReport, exercise: Exercise) -> Diagnosis | None:
    """The hint of the exercise's first failed test that carries a learner message (a failure inside the kit
    has none); None when none of its tests fails."""
    for test in report["tests"]:
        learner = test.get("learner")
        if test["exercise"] == exercise.id and test["outcome"] == "failed" and learner and learner["hint"]:
            return Diagnosis(test_name(test), learner["hint"])
    return None


def next_hint(project: Path, exercise: Exercise, failing: Diagnosis | None, command_name: str = COMMAND) -> str:
    """The exercise's next hint as the student reads it, remembered as shown. The hints are the failure's, when
    a test fails, then the lesson's; a failure's hint not shown yet comes first, else the next of the lesson's."""
    command = f"pytest {LESSON.student_file.split('/')[0]} -m {exercise.id}"
    hints = ([failing.hint] if failing else []) + list(exercise.hints)
    if not hints:
        return (f"{exercise.label} has no hints in this lesson; each failure of `{command}` ends with a Hint: line "
                "saying what to do.")
    state = _read_state(project)
    remembered = state.setdefault(LESSON.folder, {}).get(exercise.id)
    remembered = remembered if isinstance(remembered, dict) else {}
    seen = remembered.get("lesson_hints_shown", 0)  # how many of the lesson's hints were shown
    seen = min(seen if isinstance(seen, int) and seen > 0 else 0, len(exercise.hints))
    before = len(hints) - len(exercise.hints)  # the failure's hint, before the lesson's
    if failing and remembered.get("failure_hint_shown") != failing.hint:
        index = 0
    else:
        index = min(before + seen, len(hints) - 1)
    again = before + seen == len(hints)
    state[LESSON.folder][exercise.id] = {
        "lesson_hints_shown": max(seen, index - before + 1),
        **({"failure_hint_shown": failing.hint} if failing else {}),
    }
    _write_state(project, state)
    heading = f"{exercise.label}, {exercise.title}: hint {index + 1} of {len(hints)}"
    if index < before:
        heading += f", from the failing test {failing.test}"
    elif again:
        heading += " (the last one, again)"
    body = textwrap.fill(hints[index], width=100, initial_indent="  ", subsequent_indent="  ")
    after = (f"next: `{command_name} {exercise.id}` for hint {index + 2}, or `{command}` to check your work"
             if index + 1 < len(hints) else f"next: `{command}` to check your work; that was the last hint")
    return f"{heading}\n{body}\n{after}"


def _read_state(project: Path) -> dict:
    try:
        state = json.loads((project / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict):
        return {}
    return {lesson: shown for lesson, shown in state.items() if isinstance(shown, dict)}


def _write_state(project: Path, state: dict) -> None:
    path = project / STATE_FILE
    try:
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(state, indent=2) + "\n")
    except OSError as exc:
        raise HintError(f"cannot remember the hints shown in {path} ({exc.strerror}); check that folder.") from None


if __name__ == "__main__":  # the handout's way to run it: `python -m alfred.hint [EXERCISE]`
    parser = argparse.ArgumentParser(prog="python -m alfred.hint", description="The next hint of an exercise.")
    add_arguments(parser)
    parser.set_defaults(command_name="python -m alfred.hint")
    sys.exit(run(parser.parse_args()))
