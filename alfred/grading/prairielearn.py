"""PrairieLearn: `alfred bundle prairielearn` writes a question folder for a course's repository, and its
grading entrypoint grades one submission.

The folder holds `info.json` (external grading: the image, the entrypoint, the timeout), `question.html` and
`clientFilesQuestion/main.py` (what students see: the task, the exercise file, an upload of one `.py` file, the
results), `tests/` (the entrypoint `run_autograder` and the kit under `kit/`: PrairieLearn copies a question's
tests/ folder to /grade/tests for each grading job and never shows it to students, so the hidden checks stay
there), and `image/` (the Containerfile of the grading image: Python, the packages the kit and students'
code import, bubblewrap; no part of the kit, so the image may be public on Docker Hub, as PrairieLearn wants).

For each submission PrairieLearn runs `/grade/tests/run_autograder` in that image, with the student's files in
/grade/student, and reads /grade/results/results.json: `python -m alfred.grading.prairielearn` finds the file
and grades it as Gradescope's runner does (alfred.grading.upload), and writes the result of
alfred.reports.prairielearn, the same `alfred grade --format prairielearn` writes. A submission that cannot be
graded is `gradable: false`, never a 0: nothing to grade, a file that does not import, or the grader's own
failure (no sandbox in this container unless ALFRED_ALLOW_UNSANDBOXED=1 is in info.json's `environment`, a
crash). A job PrairieLearn stops at its timeout is its own "not gradable" failure: it reads no results.json
then, so no partial result is written first.

ALFRED_PRAIRIELEARN_ROOT names another root than /grade (the kit's tests use a temporary one).
"""

from __future__ import annotations

import html
import json
import os
import sys
import tomllib
import uuid
from pathlib import Path

from alfred.course.exercises import EXERCISES, LESSON
from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT
from alfred.grading.discovery import GradeError
from alfred.grading.upload import NotGraded, grade_upload, kit_files, write_json
from alfred.reports.prairielearn import not_gradable, results

ROOT_VARIABLE = "ALFRED_PRAIRIELEARN_ROOT"
ENTRYPOINT = "/grade/tests/run_autograder"
TIMEOUT = 300  # seconds for one job (PrairieLearn allows 600); the judge stops a submission's code well before
DEFAULT_IMAGE = "your-docker-hub-account/alfred-grader"  # replaced by `--image`, the name the image is pushed as

RUN = """#!/usr/bin/env bash
# PrairieLearn runs this in the grading container for every submission (info.json's entrypoint): grade
# /grade/student into /grade/results/results.json with the kit that the question's tests/ folder brought.
ROOT="${ALFRED_PRAIRIELEARN_ROOT:-/grade}"
export PYTHONPATH="$ROOT/tests/kit"
exec "${ALFRED_PYTHON:-python3}" -m alfred.grading.prairielearn
"""

CONTAINERFILE = """# The grading image of the PrairieLearn question (docs/prairielearn.md): Python, the packages
# the kit and the students' code import (requirements.txt), and bubblewrap. It holds no part of the kit: the
# question's tests/ folder brings the kit, its suite and its hidden checks to each job, so it may be public.
# Build it from this folder and push it to Docker Hub under the name info.json gives as "image":
#   docker build --platform linux/amd64 -f Containerfile -t NAME . && docker push NAME
FROM python:3.11-slim
RUN apt-get update \\
    && apt-get install -y --no-install-recommends bubblewrap \\
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt
ENV PYTHONDONTWRITEBYTECODE=1
"""


def bundle(destination: Path, image: str = DEFAULT_IMAGE) -> Path:
    """Writes the question folder into `destination` (new or empty) and returns it."""
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise GradeError(f"{destination} is not an empty folder; give a new folder for the question (remove this "
                         "one to bundle it again: the question keeps its uuid).")
    files = {
        "info.json": json.dumps(info(image), indent=2) + "\n",
        "question.html": question_html(),
        "clientFilesQuestion/main.py": EXERCISES_MAIN.read_text(encoding="utf-8"),
        "tests/run_autograder": RUN,
        "image/Containerfile": CONTAINERFILE,
        "image/requirements.txt": "".join(f"{requirement}\n" for requirement in requirements()),
    }
    for relative, text in files.items():
        path = destination / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (destination / "tests" / "run_autograder").chmod(0o755)
    for relative, data in kit_files():
        target = destination / "tests" / "kit" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return destination


def info(image: str) -> dict:
    """The question's info.json. Its uuid is drawn from the lesson's name, so a question bundled again keeps
    its identity (and its students' history) in the course."""
    title = f"{LESSON.name}: {LESSON.title}" if LESSON.title else LESSON.name
    return {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"alfred-kit:{LESSON.folder}:{LESSON.name}")),
        "type": "v3",
        "title": title,
        "topic": LESSON.subject or LESSON.name,
        "singleVariant": True,
        "gradingMethod": "External",
        "externalGradingOptions": {
            "enabled": True,  # read by PrairieLearn servers older than `gradingMethod`; newer ones ignore it
            "image": image,
            "entrypoint": ENTRYPOINT,
            "timeout": TIMEOUT,
        },
    }


def question_html() -> str:
    hidden = sum(len(exercise.hidden) for exercise in EXERCISES)
    said = (f" Grading also runs {hidden} hidden check{'s' * (hidden != 1)} on inputs of their own: code that "
            "works for any input passes them.") if hidden else ""
    title = html.escape(f"{LESSON.name}: {LESSON.title}" if LESSON.title else LESSON.name)
    return f"""<pl-question-panel>
  <p><strong>{title}</strong></p>
  <p>Do the exercises of <code>{html.escape(LESSON.student_file)}</code> (the handout's file, or
    <a href="{{{{options.client_files_question_url}}}}/main.py" download>this copy of it</a>) and check your
    work with <code>pytest exercises</code>. Then upload your file here: <code>main.py</code>, or any name
    ending in <code>.py</code>.{html.escape(said)}</p>
</pl-question-panel>

<pl-file-upload file-patterns="*.py"></pl-file-upload>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
"""


def requirements() -> list[str]:
    """What the grading image installs: the kit's dependencies, the packages a course's submissions may
    import (its `course` extra, docs/grading.md, "Packages beyond the lesson's") and those the lesson names
    (lesson.toml's `packages`)."""
    project = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [*project["dependencies"], *project.get("optional-dependencies", {}).get("course", []), *LESSON.packages]


def run(root: Path) -> dict:
    """Grades the submission in `root`/student and writes `root`/results/results.json; returns the result."""
    try:
        graded = grade_upload(root / "student")
    except Exception as exc:  # noqa: BLE001 - never a score for the grader's own failure
        reason = str(exc) if isinstance(exc, NotGraded) else (
            f"the autograder failed on this submission ({type(exc).__name__}: {str(exc)[:300]})")
        result = not_gradable(f"This submission was not graded: {reason}. This is not a verdict on your code, and "
                              "no attempt was used; submit it again once your instructor has fixed the cause.")
    else:
        result = not_gradable(graded) if isinstance(graded, str) else results(graded)
    write_json(root / "results" / "results.json", result)
    print(result["message"])  # the job's log, for the instructor
    return result


if __name__ == "__main__":
    run(Path(os.environ.get(ROOT_VARIABLE, "/grade")))
    sys.exit(0)  # a result is written whatever happened: a non-zero exit would make PrairieLearn discard it
