"""`alfred handout DIR`: the project a student receives, and nothing a student should not have.

It holds the exercises, the visible suite with the lesson's data (lesson.toml), the pytest plugin (conftest.py and the modules of `alfred` it
imports, found by reading their imports), a `pyproject.toml` with the student's dependencies only, a README
written for students, and a GitHub Classroom workflow that grades with the same suite. It holds no
solutions, no corpora, no attack files, no grader (`alfred grade`, the sandbox, the reports), no teacher
commands and no hidden checks (the suite's hidden/ folder, alfred.judge.hidden): its lesson.toml still lists their
public sentences, which is how a student's run knows how many wait for grading. Nothing in it is Linux only
(`GRADER_MODULES`, `GRADER_PACKAGES`): students run it on Windows and macOS too.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from alfred.course.exercises import EXERCISES, LESSON
from alfred.course.lesson import LESSON_FILE
from alfred.judge.scoring import load_rubric
from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, RUBRIC_FILE, SUITE_DIR
from alfred.judge.hidden import HIDDEN_FOLDER, MARKER as HIDDEN_MARKER

SUITE = f"tests/{LESSON.folder}"  # where the handout keeps the suite: its lesson.toml finds the course two folders up

PLUGIN_ENTRY = "alfred.judge.pytest_options"  # loaded through the pytest11 entry point, so it comes along too
STUDENT_COMMANDS = ("hint", "watch")  # run as `python -m alfred.<name>` in the handout, which has no `alfred` command
CLASSROOM_COMMAND = "autograding"  # the workflow's `python -m alfred.autograding EXERCISE`
CLASSROOM_WORKFLOW = ".github/workflows/classroom.yml"
# The grader's Linux-only modules (the seccomp supervisor and the sandbox, and the driver that uses them) and
# the packages only the grader installs (its progress bar; pyseccomp, Linux only): never in the handout.
GRADER_MODULES = frozenset({"sandbox/supervisor", "sandbox/fork_server", "sandbox/worker", "sandbox/cgroups",
                            "judge/sandboxed"})
GRADER_PACKAGES = frozenset({"tqdm", "pyseccomp", "junitparser"})


class HandoutError(Exception):
    """The handout cannot be written there; the message says why, in one line."""


def write_handout(destination: Path) -> list[Path]:
    """Writes the student's project into `destination` (new or empty) and returns the files written."""
    if destination.exists() and any(destination.iterdir()):
        raise HandoutError(f"{destination} is not empty; give a new folder for the handout.")
    modules = plugin_modules()
    grader = sorted(GRADER_MODULES.intersection(modules))
    if grader:
        raise HandoutError(f"the students' side imports the grader's alfred/{grader[0]}.py, which runs on Linux only: "
                           "import it in the grader (alfred/grading/), never from conftest.py, the suite or "
                           "alfred.judge.driver.")
    files = {
        LESSON.student_file: EXERCISES_MAIN.read_text(encoding="utf-8"),
        "conftest.py": (KIT_ROOT / "conftest.py").read_text(encoding="utf-8"),
        "pyproject.toml": pyproject(),
        "README.md": readme(),
        ".gitignore": "".join(f"{entry}\n" for entry in (".venv/", "__pycache__/", *LESSON.writes, ".alfred/",
                                                            "*.egg-info/")),
        CLASSROOM_WORKFLOW: classroom_workflow(),
        f"{SUITE}/{LESSON_FILE}": (SUITE_DIR / LESSON_FILE).read_text(encoding="utf-8"),
    }
    for test in sorted(SUITE_DIR.glob("*.py")):  # the visible suite: hidden/ stays behind
        if f"mark.{HIDDEN_MARKER}(" in test.read_text(encoding="utf-8"):
            raise HandoutError(f"{test} holds a hidden check: hidden checks belong in {SUITE_DIR / HIDDEN_FOLDER}/, "
                               "which the handout leaves out.")
        files[f"{SUITE}/{test.name}"] = test.read_text(encoding="utf-8")
    for module in modules:
        files[f"alfred/{module}.py"] = (KIT_ROOT / "alfred" / f"{module}.py").read_text(encoding="utf-8")
    written = []
    for relative, text in files.items():
        path = destination / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")  # the kit's own encoding, on a Windows teacher's machine too
        written.append(path)
    return written + _copy_project_files(destination / Path(LESSON.student_file).parent)


def _copy_project_files(folder: Path) -> list[Path]:
    """The lesson's project files (lesson.toml's `files`: templates/, static/...), copied byte for byte from
    beside the stub to beside the student's main.py, where the app finds them in every run."""
    missing = LESSON.files_missing(lambda name: (EXERCISES_MAIN.parent / name).exists(), f"{EXERCISES_MAIN.parent}")
    if missing:
        raise HandoutError(f"{missing}.")
    copied = []
    for entry in LESSON.files:
        source = EXERCISES_MAIN.parent / entry.rstrip("/")
        for file in sorted([source] if source.is_file() else source.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                target = folder / file.relative_to(EXERCISES_MAIN.parent)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(file.read_bytes())
                copied.append(target)
    return copied


def plugin_modules() -> list[str]:
    """The modules of `alfred` that conftest.py, the suite, the plugin's entry point, the students' commands
    and the Classroom command import, and theirs, with the `__init__` of every package holding them: paths
    under alfred/ without `.py` (`judge/feedback`)."""
    sources = [KIT_ROOT / "conftest.py", *sorted(SUITE_DIR.glob("*.py"))]
    wanted = {"__init__", _module_path(PLUGIN_ENTRY.split(".")[1:]), *STUDENT_COMMANDS, CLASSROOM_COMMAND}
    for source in sources:
        wanted |= _alfred_imports(source)
    todo = list(wanted)
    while todo:
        module = todo.pop()
        packages = {"/".join([*module.split("/")[:depth], "__init__"]) for depth in range(1, module.count("/") + 1)}
        for found in (_alfred_imports(KIT_ROOT / "alfred" / f"{module}.py") | packages) - wanted:
            wanted.add(found)
            todo.append(found)
    return sorted(wanted)


def _module_path(parts: list[str]) -> str:
    """`["judge", "feedback"]` (alfred.judge.feedback) as a path under alfred/: `judge/feedback`, or
    `reports/__init__` for a package."""
    path = "/".join(parts)
    return f"{path}/__init__" if (KIT_ROOT / "alfred" / path).is_dir() else path


def _alfred_imports(path: Path) -> set[str]:
    """The kit modules `path` imports when it loads (imports inside functions serve the grader only: they are
    not the student's)."""
    found = set()
    for node in _run_at_load(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "alfred":
            package = node.module.split(".")[1:]
            found.add(_module_path(package) if package else "__init__")
            folder = KIT_ROOT / "alfred" / "/".join(package)  # `from alfred.judge import suite` names a module
            found |= {_module_path([*package, alias.name]) for alias in node.names
                      if (folder / f"{alias.name}.py").is_file() or (folder / alias.name).is_dir()}
        elif isinstance(node, ast.Import):
            found |= {_module_path(alias.name.split(".")[1:]) for alias in node.names
                      if alias.name.startswith("alfred.")}
    return found


def _run_at_load(statements: list[ast.stmt]):
    """The statements of a module's top level, with those of its `with`, `if` and `try` blocks."""
    for node in statements:
        yield node
        if isinstance(node, (ast.With, ast.If, ast.Try)):
            yield from _run_at_load([*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])])


def pyproject() -> str:
    """The kit's own project settings, less the grader: the student's dependencies (with the lesson's own
    packages), the plugin's entry point, the rubric and pytest's settings."""
    kit = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dependencies = [dependency for dependency in (*kit["project"]["dependencies"], *LESSON.packages)
                    if package_name(dependency) not in GRADER_PACKAGES]
    rubric = load_rubric(RUBRIC_FILE)
    points = "\n".join(f"{exercise} = {value:g}" for exercise, value in rubric.items())
    listed = ",\n".join(f'    "{dependency}"' for dependency in dependencies)
    return f'''[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "alfred-{LESSON.slug}"
version = "{kit["project"]["version"]}"
description = "{_toml_text(LESSON.name + (", " + LESSON.title if LESSON.title else ""))}: your exercises and their tests"
requires-python = "{kit["project"]["requires-python"]}"
dependencies = [
{listed},
]

[project.entry-points.pytest11]
alfred = "{PLUGIN_ENTRY}"

[tool.setuptools]
package-dir = {{"" = "."}}

[tool.setuptools.packages.find]
include = ["alfred", "alfred.*"]

[tool.alfred]
lesson = "{SUITE}"

[tool.alfred.points]
{points}

[tool.pytest.ini_options]
minversion = "8.2"
testpaths = ["tests"]
addopts = ["--strict-markers", "--strict-config"]
filterwarnings = ["error"]
'''


def package_name(dependency: str) -> str:
    """The package a dependency names, as pip compares names (`PySeccomp>=0.1; sys_platform == 'linux'` ->
    `pyseccomp`)."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", dependency)
    return re.sub(r"[-_.]+", "-", name.group(1) if name else dependency).lower()


def classroom_workflow() -> str:
    """GitHub Classroom's autograding: one step per exercise, worth that exercise's points (the command
    grader gives a step's points when its command succeeds), and the reporter that sends them. Each command
    is alfred.autograding, which runs the exercise's tests as its child and succeeds only when the report
    they write says all passed: how the student's code ends that run never decides the points."""
    rubric = load_rubric(RUBRIC_FILE)
    homework = [exercise for exercise in EXERCISES if exercise.number and rubric[exercise.id] > 0]
    steps, runners, environment = [], [], []
    for exercise in homework:
        step = f"exercise-{exercise.number}-{exercise.id}"
        steps.append(f'''      - name: {exercise.label}
        id: {step}
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: "{exercise.label}: {exercise.title}"
          setup-command: "pip install -e ."
          command: "python -m alfred.{CLASSROOM_COMMAND} {exercise.id}"
          timeout: 10
          max-score: {rubric[exercise.id]:g}''')
        runners.append(step)
        environment.append(f'          {step.upper()}_RESULTS: "${{{{steps.{step}.outputs.result}}}}"')
    return f'''name: Autograding Tests
on:
  push:
  workflow_dispatch:
  repository_dispatch:
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    steps:
      - name: Checkout code
        uses: actions/checkout@v4
      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "3.11"
{chr(10).join(steps)}
      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
{chr(10).join(environment)}
        with:
          runners: {",".join(runners)}
'''


def _hidden_note() -> str:
    waiting = sum(len(exercise.hidden) for exercise in EXERCISES)
    if not waiting:
        return ""
    return (f" Grading also runs {waiting} hidden check{'s' * (waiting != 1)}, on inputs drawn afresh: what each "
            f"checks is listed under `hidden` in `{SUITE}/{LESSON_FILE}`, and your feedback says which failed. "
            "Code that works for any input passes them; code written for the visible tests' values does not.")


def _full_name() -> str:
    """The lesson's whole name, as the README's title: `Lesson N, "Its Title": its subject`."""
    title = f', "{LESSON.title}"' if LESSON.title else ""
    return f"{LESSON.name}{title}" + (f": {LESSON.subject}" if LESSON.subject else "")


def _what_to_hand_in() -> str:
    """What a student hands in where files are collected: main.py, with the lesson's project files beside it."""
    if not LESSON.files:
        return f"`{LESSON.student_file}`, or this whole folder if your app uses templates or static files"
    files = ", ".join(f"`{entry}`" for entry in LESSON.files)
    return (f"the folder `{Path(LESSON.student_file).parent.as_posix()}` whole (main.py with {files} beside it), "
            "or this whole folder: main.py alone cannot be graded")


def _toml_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


def readme() -> str:
    homework = [exercise for exercise in EXERCISES if exercise.number]
    folder = LESSON.student_file.split("/")[0]  # `pytest exercises`
    listing = "\n".join(f"- `{e.todo or e.label}`: {e.title} (`pytest {folder} -m {e.id}`)" for e in homework)
    others = ", ".join(f"`{e.id}`" for e in homework[1:])
    app_folder = Path(LESSON.student_file).parent.as_posix()  # run from there, the app finds its files as in the tests
    writes = ", ".join(f"`{entry}`" for entry in LESSON.writes)
    return f'''# {_full_name()}

Your file is `{LESSON.student_file}`. The lesson's worked example is already done in it; your
exercises are marked with TODO comments:

{listing}

## Set up once

Python 3.11 or newer:

```sh
python3 -m venv .venv && . .venv/bin/activate && pip install -e .
```

## The loop

1. Run `pytest {folder}`. Every failure says what was tried, what happened, what was expected, and a
   hint. The run ends with your progress per exercise and your score.
2. Fix `{LESSON.student_file}` and run the tests again, until every row says `yes`. One exercise
   at a time: `pytest {folder} -m {homework[0].id}`{f" (or {others})" if others else ""}.
3. Try it by hand from its folder: `cd {app_folder} && uvicorn main:app --reload`, open http://127.0.0.1:8000/docs and
   send a request.{(" " + LESSON.try_by_hand) if LESSON.try_by_hand else ""}

Stuck? `python -m alfred.hint` gives the next hint for your first unfinished exercise, one at a time.
`python -m alfred.watch` runs the tests again each time you save (`--poll` where saves go unnoticed).

The tests never wait for real: a five-second sleep returns at once in them, and each test runs in an
empty folder of its own{f", so your {writes} is left alone" if writes else ""}. A test whose code is still
running after 5 s (an endless loop) fails with a message saying so; add `--no-time-limit` when you pause in
a debugger.

## Submitting

Commit and push: if your class uses GitHub Classroom, the Actions tab grades every push with these same
tests, exercise by exercise. If your teacher collects files (Gradescope, a shared folder), hand in
{_what_to_hand_in()}.
Your teacher grades with the same tests, and may add checks of their own.{_hidden_note()}
'''
