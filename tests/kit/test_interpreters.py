"""`alfred grade` with the interpreters teachers and platforms have, and as a teacher who is not root.

Each test installs the kit into a fresh virtual environment made from a real interpreter of this machine (the
system's Python in /usr, as Debian and Ubuntu ship it and Gradescope's setup.sh uses; pyenv's; uv's when uv
is here) and grades with it in a real sandbox. The kit is copied to a world-readable folder first, so that a
plain user can use the same environment: `alfred grade` then runs in bubblewrap's unprivileged mode
(`shared uid`, see alfred.sandbox.fork_server). The plain user is `ALFRED_TEST_USER`, else `alfred-teacher`
(`.ci/run` creates it); under CI (`CI=true`) a missing system Python or user fails instead of skipping.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from alfred.course.targets import KIT_ROOT, SOLUTIONS_MAIN

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="grading sandboxes with bubblewrap")]

IN_CI = os.environ.get("CI") == "true"
SYSTEM_PYTHON = Path("/usr/bin/python3")
TEST_USER = os.environ.get("ALFRED_TEST_USER", "alfred-teacher")
SEED = "7"  # one seed for every run compared here


def _missing(reason: str) -> None:
    """Where CI must have what a test needs (it installs it), its absence is a failure, not a skip."""
    if IN_CI:
        pytest.fail(f"{reason} (.ci/run installs it)")
    pytest.skip(reason)


def _interpreters() -> dict[str, Path]:
    """Every interpreter of 3.11 or newer found here, by where it comes from."""
    found = {"system Python (/usr/bin/python3)": SYSTEM_PYTHON}
    for path in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3"))):
        version = Path(path).parents[1].name
        if version.split(".")[1].isdigit() and int(version.split(".")[1]) >= 11:  # the kit needs 3.11 or newer
            found[f"pyenv {version}"] = Path(path)
    uv = shutil.which("uv")
    if uv:
        listed = subprocess.run([uv, "python", "list", "--only-installed", "--output-format", "json"],
                                capture_output=True, text=True)
        for item in json.loads(listed.stdout or "[]") if listed.returncode == 0 else []:
            if item.get("path") and item.get("implementation") == "cpython":
                found[f"uv {item.get('version')}"] = Path(item["path"])
    return found


def _version(python: Path) -> tuple[int, int] | None:
    try:
        shown = subprocess.run([str(python), "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                               text=True, timeout=30)
    except OSError:
        return None
    return tuple(map(int, shown.stdout.split())) if shown.returncode == 0 else None


@pytest.fixture(scope="module")
def shared_folder():
    """A folder every user may read: the kit's copy, the environments, the classes (pytest's own is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="alfred-interpreters-"))
    folder.chmod(0o755)
    kit = folder / "kit"
    shutil.copytree(KIT_ROOT, kit, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", "__pycache__", "node_modules", "grades", "*.egg-info", ".pytest_cache", "mutants"))
    klass = folder / "class" / "reference"
    klass.mkdir(parents=True)
    shutil.copy(SOLUTIONS_MAIN, klass / "main.py")
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _environment(folder: Path, name: str, python: Path) -> Path:
    """A venv made from `python` with the kit's copy installed; its bin folder."""
    venv = folder / "venvs" / name.replace(" ", "-").replace("/", "").replace("(", "").replace(")", "")
    if not venv.exists():
        made = subprocess.run([str(python), "-m", "venv", str(venv)], capture_output=True, text=True)
        if made.returncode != 0:
            _missing(f"{python} cannot make a venv: {made.stderr.strip()[-300:]} (Debian: apt-get install python3-venv)")
        installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-e",
                                    str(folder / "kit")], capture_output=True, text=True, timeout=900)
        assert installed.returncode == 0, installed.stderr[-3000:]
        subprocess.run(["chmod", "-R", "a+rX", str(venv)], check=True)
    return venv / "bin"


def _grade(bin_folder: Path, klass: Path, out: Path, user: str | None = None) -> tuple[subprocess.CompletedProcess, list[dict]]:
    command = [str(bin_folder / "alfred"), "grade", str(klass), "--out", str(out), "--json", "--jobs", "2",
               "--hidden-seed", SEED]
    environment = {"PATH": f"{bin_folder}:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
    if user is not None:
        command = [shutil.which("runuser"), "-u", user, "--", "env", *(f"{key}={value}" for key, value in environment.items()),
                   *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=environment,
                          cwd=klass.parent)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done, rows


@pytest.mark.parametrize("name", list(_interpreters()))
def test_the_reference_grades_to_100_in_a_real_sandbox_with_each_interpreter(shared_folder, tmp_path, name):
    python = _interpreters()[name]
    version = _version(python)
    if version is None:
        _missing(f"{python} is not here")
    if version < (3, 11):
        pytest.skip(f"{name} is Python {version[0]}.{version[1]}: the kit needs 3.11 or newer")
    bin_folder = _environment(shared_folder, name, python)
    done, rows = _grade(bin_folder, shared_folder / "class", tmp_path / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    assert [(row["status"], row["score"]) for row in rows] == [("graded", 100)], done.stderr[-3000:]
    assert "unsandboxed" not in rows[0]["flags"]


@pytest.fixture(scope="module")
def plain_user() -> str:
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("switching to a plain user needs root and runuser")
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        _missing(f"no user {TEST_USER!r} to grade as (useradd {TEST_USER}, or set ALFRED_TEST_USER)")
    assert entry.pw_uid != 0
    return TEST_USER


def test_a_teacher_who_is_not_root_grades_the_demo_class_as_root_does(shared_folder, plain_user):
    """With a venv from the system's Python: the same rows as root's grading (one seed), every submission
    sandboxed, and the run says once what grading without root gives up."""
    bin_folder = _environment(shared_folder, "system Python (/usr/bin/python3)", SYSTEM_PYTHON)
    demo = shared_folder / "kit" / "demo_class"
    outs = Path(tempfile.mkdtemp(prefix="alfred-outs-", dir=shared_folder))
    outs.chmod(0o777)
    as_root, root_rows = _grade(bin_folder, demo, outs / "root")
    as_user, user_rows = _grade(bin_folder, demo, outs / "user", user=plain_user)
    assert as_root.returncode == 0 and as_user.returncode == 0, as_user.stderr[-3000:]
    assert len(user_rows) == len(list(demo.iterdir())) and any(row["status"] == "graded" for row in user_rows)

    def verdicts(rows):
        return sorted((row["student"], row["status"], row["score"], row["exercises"] and
                       {key: value["score"] for key, value in row["exercises"].items()}) for row in rows)

    assert verdicts(user_rows) == verdicts(root_rows)
    assert all("unsandboxed" not in row["flags"] and "grader failure" not in row["flags"] for row in user_rows)
    assert as_user.stderr.count("grading without root") == 1 and "grading without root" not in as_root.stderr


def test_the_sandbox_checks_pass_for_a_teacher_who_is_not_root(shared_folder, plain_user):
    """tests/kit/test_sandbox.py, run as the plain user: what a submission sees and that nothing it leaves
    reaches the next one hold in `shared uid` mode too (no capability, its own processes only)."""
    bin_folder = _environment(shared_folder, "system Python (/usr/bin/python3)", SYSTEM_PYTHON)
    kit = shared_folder / "kit"
    done = subprocess.run(
        [shutil.which("runuser"), "-u", plain_user, "--", "env", "HOME=/tmp", "LANG=C.UTF-8", f"PATH={bin_folder}:/usr/bin:/bin",
         str(bin_folder / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
         "--basetemp", f"/tmp/alfred-plain-user-{os.getpid()}", "tests/kit/test_sandbox.py",
         "-k", "sees_its_own_files or nothing_a_submission_leaves"],
        cwd=kit, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout, done.stdout[-3000:]
