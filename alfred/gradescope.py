"""Gradescope: `alfred bundle gradescope` builds `autograder.zip`, and its `run_autograder` grades one upload.

Gradescope unzips the bundle into /autograder/source, runs `setup.sh` once to build the image, then runs
`run_autograder` for each submission with the upload in /autograder/submission, and reads
/autograder/results/results.json. `run_autograder` calls `python -m alfred.gradescope`, which:

1. writes a valid results.json at once (score 0, "grading did not finish"), so a platform timeout never
   leaves nothing;
2. finds the student's file wherever the upload put it: main.py, lesson_07/main.py or the handout's
   exercises/lesson_07/main.py at the top or in one folder, or a single .py file under any name;
3. grades it as `alfred grade` does (in bubblewrap when the container allows it, else unsandboxed: the
   container holding this one student is then the sandbox, and the result is flagged `unsandboxed`);
4. replaces results.json with the student's Gradescope result.

ALFRED_AUTOGRADER_ROOT names another root than /autograder (the kit's tests use a temporary one).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

from alfred.discovery import read_submission
from alfred.targets import KIT_ROOT, MAIN_CANDIDATES

ROOT_VARIABLE = "ALFRED_AUTOGRADER_ROOT"
BUNDLED = ["pyproject.toml", "README.md", "conftest.py", "alfred", "tests/lesson_07", "exercises"]  # no solutions

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
set -euo pipefail
apt-get update -qq
apt-get install -y -qq bubblewrap python3 python3-venv python3-pip >/dev/null
PYTHON=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get install -y -qq python3.11 python3.11-venv >/dev/null
    PYTHON=python3.11
fi
"$PYTHON" -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet -e /autograder/source/kit
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission into /autograder/results.
ROOT="${ALFRED_AUTOGRADER_ROOT:-/autograder}"
exec "${ALFRED_PYTHON:-$ROOT/venv/bin/python}" -m alfred.gradescope
"""


def bundle(destination: Path) -> Path:
    """Writes autograder.zip: setup.sh and run_autograder at its top (executable), the kit under kit/."""
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16
            archive.writestr(info, text)
        for entry in BUNDLED:
            path = KIT_ROOT / entry
            for file in sorted([path] if path.is_file() else path.rglob("*")):
                if file.is_file() and "__pycache__" not in file.parts:
                    archive.write(file, f"kit/{file.relative_to(KIT_ROOT).as_posix()}")
    return destination


def run(root: Path) -> dict:
    """Grades the upload under `root` and writes `root`/results/results.json; returns the result."""
    from alfred.grade import grade_class
    from alfred.reports.gradescope import results as gradescope_results
    from alfred.sandbox import SandboxUnavailable, check_bwrap

    results_file = root / "results" / "results.json"
    _write(results_file, {"score": 0, "output": "Grading started but did not finish in time. Your code may wait or "
                          "loop forever; run `pytest exercises` on your machine to see where.", "tests": []})
    upload = find_upload(root / "submission")
    if upload is None:
        result = {"score": 0, "output": "No Python file was found in your upload. Upload your main.py (or the "
                  "folder that holds it, or the whole handout).", "tests": []}
        _write(results_file, result)
        return result
    try:
        check_bwrap()
        sandboxed = True
    except SandboxUnavailable:
        sandboxed = False
    entry = read_submission(upload, "submission", MAIN_CANDIDATES)
    with tempfile.TemporaryDirectory(prefix="alfred-gradescope-") as scratch:
        rows = grade_class([entry], Path(scratch) / "out", jobs=1, sandboxed=sandboxed, hidden=(root / "submission",))
    result = gradescope_results(rows[0])
    _write(results_file, result)
    return result


def find_upload(submission: Path) -> Path | None:
    """The student's file or project folder in an upload, wherever the upload put it."""
    if not submission.is_dir():
        return None
    places = [submission, *sorted(path for path in submission.iterdir() if path.is_dir() and not path.is_symlink()
                                  and not path.name.startswith((".", "__")))]
    for place in places:
        if any((place / candidate).is_file() for candidate in MAIN_CANDIDATES):
            return place
    python_files = sorted(path for path in submission.rglob("*.py") if "__pycache__" not in path.parts)
    return python_files[0] if len(python_files) == 1 else None


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(result, indent=2))
    os.replace(temporary, path)


if __name__ == "__main__":
    run(Path(os.environ.get(ROOT_VARIABLE, "/autograder")))
    sys.exit(0)
