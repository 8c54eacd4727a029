"""`python -m alfred.autograding EXERCISE`: one exercise's points for GitHub Classroom's command grader, from the
score report a test run writes when it ends, never from an exit status the student's code can set.

The handout's workflow (alfred.handout.classroom_workflow) runs this once per exercise. It starts
`pytest exercises -m EXERCISE --score-json FILE` as its child process, where the student's code runs, ignores
how that child ended, and exits 0 (the step's points) only when FILE was written and says every test of the
exercise passed. A main.py that ends the run early (`os._exit(0)` or `sys.exit(0)` at import) leaves no report
or a failing one, and one that kills its parent kills this command: either way, no points.

The student controls the repository (this file, the tests and the workflow too), so Classroom's points are
feedback; a teacher grades with `alfred grade` on cloned repositories (docs/github-classroom.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from alfred.course.lesson import KIT_ROOT, told_in_one_line

with told_in_one_line(__name__ == "__main__"):  # a bad lesson file in one line
    from alfred.course.exercises import BY_ID, LESSON


def passed(report_file: Path, exercise: str) -> tuple[int, int] | None:
    """(tests passed, tests run) of `exercise` in a score report, or None when there is no readable report."""
    try:
        entry = json.loads(report_file.read_text(encoding="utf-8"))["exercises"][exercise]
        return int(entry["passed"]), int(entry["total"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alfred.autograding",
                                     description="Run one exercise's tests in a child process; exit 0 only when "
                                                 "the report it writes says every one passed.")
    parser.add_argument("exercise", choices=[exercise.id for exercise in LESSON.homework])
    exercise = parser.parse_args(argv).exercise
    folder = LESSON.student_file.split("/")[0]
    with tempfile.TemporaryDirectory(prefix="alfred-autograding-") as scratch:
        report_file = Path(scratch) / "score.json"
        subprocess.run([sys.executable, "-m", "pytest", folder, "-m", exercise, "-p", "no:cacheprovider",
                        "--score-json", str(report_file)], cwd=KIT_ROOT, check=False)
        counts = passed(report_file, exercise)
    label = BY_ID[exercise].label
    if counts is None:
        print(f"alfred: {label}: no points, the test run ended before it wrote its report (does "
              f"{LESSON.student_file} exit, or stop the run, when it is imported?)", file=sys.stderr)
        return 1
    done, total = counts
    if total == 0 or done < total:
        print(f"alfred: {label}: no points, {done} of {total} tests passed", file=sys.stderr)
        return 1
    print(f"alfred: {label}: every test passed ({done} of {total})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
