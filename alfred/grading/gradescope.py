"""Gradescope: `alfred bundle gradescope` builds `autograder.zip`, and its `run_autograder` grades one upload.

Gradescope unzips the bundle into /autograder/source, runs `setup.sh` once to build the image, then runs
`run_autograder` for each submission with the upload in /autograder/submission, and reads
/autograder/results/results.json. `run_autograder` calls `python -m alfred.grading.gradescope`, which:

1. writes a valid results.json at once (score 0, "grading did not finish"), so a platform timeout never
   leaves nothing;
2. finds the student's file wherever the upload put it: main.py, <lesson folder>/main.py or the handout's
   path of it (alfred.course.targets.MAIN_CANDIDATES) at the top or in one folder, or a single .py file under any name;
3. grades it as `alfred grade` does, in bubblewrap (both steps shared with PrairieLearn: alfred.grading.upload);
4. replaces results.json with the student's Gradescope result.

An upload the grader could not grade is never scored: where the container does not let bubblewrap run
(unless ALFRED_ALLOW_UNSANDBOXED=1: unsandboxed, the student's code would run as root beside results.json and
could rewrite it after the grader ends), or where the grader itself failed, `run` removes results.json, prints
why, and exits 1. Gradescope shows that as its own "autograder failed" state, with no score, to the student
and to the instructor, who can rerun it once the cause is fixed: a grade of 0 would look like a verdict.

ALFRED_AUTOGRADER_ROOT names another root than /autograder (the kit's tests use a temporary one).
"""

from __future__ import annotations

import os
import shlex
import sys
import zipfile
from pathlib import Path

from alfred.course.targets import LESSON
from alfred.grading.upload import NotGraded, grade_upload, kit_files, write_json

ROOT_VARIABLE = "ALFRED_AUTOGRADER_ROOT"

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: bubblewrap, the system's own
# Python from the distribution's packages (3.11 or newer: python3.11 where python3 is older, as on Ubuntu
# 22.04), and the kit in a venv made from it. Packages already there are not installed again.
set -euo pipefail
ROOT="${ALFRED_AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive
install() {
    local missing=()
    for package in "$@"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
    if [ "${#missing[@]}" -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; fi
}
install bubblewrap python3 python3-venv
PYTHON=/usr/bin/python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    install python3.11 python3.11-venv
    PYTHON=/usr/bin/python3.11
fi
"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet -e "$ROOT/source/kit\"""" + "".join(
    f" {shlex.quote(package)}" for package in LESSON.packages) + "\n"  # and the packages the lesson needs

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission into /autograder/results.
ROOT="${ALFRED_AUTOGRADER_ROOT:-/autograder}"
exec "${ALFRED_PYTHON:-$ROOT/venv/bin/python}" -m alfred.grading.gradescope
"""


def bundle(destination: Path) -> Path:
    """Writes autograder.zip: setup.sh and run_autograder at its top (executable), the kit under kit/."""
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16
            archive.writestr(info, text)
        for relative, data in kit_files():
            archive.writestr(f"kit/{relative}", data)
    return destination


def run(root: Path) -> dict | None:
    """Grades the upload under `root` and writes `root`/results/results.json; returns the result, or None
    when the upload could not be graded (then there is no results.json, and the reason is printed). While
    grading runs, results.json holds a valid partial result, for a platform timeout."""
    results_file = root / "results" / "results.json"
    write_json(results_file, _result(0, "Grading started but did not finish in time. Your code may wait or "
                                     "loop forever; run `pytest exercises` on your machine to see where."))
    try:
        result = _grade_upload(root)
    except Exception as exc:  # noqa: BLE001 - never a score for the grader's own failure
        reason = str(exc) if isinstance(exc, NotGraded) else (
            f"the autograder failed on this submission ({type(exc).__name__}: {str(exc)[:300]})")
        results_file.unlink(missing_ok=True)
        print(f"This submission was not graded: {reason}. This is not a verdict on your code, and no score was "
              "given; your instructor sees this submission marked as failed by the autograder and can run it again.")
        return None
    write_json(results_file, result)
    return result


def _grade_upload(root: Path) -> dict:
    from alfred.reports.gradescope import results as gradescope_results

    graded = grade_upload(root / "submission")
    if isinstance(graded, str):  # nothing to grade: the student's to fix, so a result that says what to upload
        return _result(0, graded, status="nothing to grade")
    return gradescope_results(graded)


def _result(score: float, output: str, status: str = "running") -> dict:
    return {"score": score, "output": output, "tests": [], "extra_data": {"status": status}}


if __name__ == "__main__":
    sys.exit(0 if run(Path(os.environ.get(ROOT_VARIABLE, "/autograder"))) is not None else 1)
