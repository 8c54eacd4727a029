"""Starts the student side of grading (`alfred.worker`) in a bubblewrap sandbox, or plainly when told to.

The sandbox: new user-visible namespaces for mounts, PIDs, network, IPC and hostname; the interpreter,
its libraries and the kit's `alfred` package read-only; the submission as one read-only file; a small
size-capped tmpfs as the only writable place; a cleared environment; the process running as uid 65534
with no capabilities. The tests, the solutions and other students' files are simply not mounted.
bwrap reads its options from a pipe (`--args`), so they do not show in the sandbox's /proc/1/cmdline.

`Sandbox.start()` returns a `subprocess.Popen` whose stdin/stdout are the probe channel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from alfred.targets import KIT_ROOT

UNPRIVILEGED_ID = 65534  # "nobody"
WORK_BYTES = 32 * 1024 * 1024
SUBMISSION_IN_SANDBOX = "/submission/main.py"
WORK_IN_SANDBOX = "/sandbox"


class SandboxUnavailable(Exception):
    """bubblewrap is missing or does not work here; the message says how to fix it."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def check_bwrap() -> None:
    """Raises SandboxUnavailable unless a trivial sandbox starts."""
    if bwrap_path() is None:
        raise SandboxUnavailable(
            "bubblewrap is not installed, so student code cannot be sandboxed. Install it "
            "(Debian/Ubuntu: `sudo apt-get install bubblewrap`), or pass --no-sandbox for code you trust."
        )
    trial = Sandbox(staging=None).start_command([sys.executable, "-I", "-c", "pass"])
    trial.communicate(timeout=30)
    if trial.returncode != 0:
        raise SandboxUnavailable(
            "bubblewrap is installed but could not start a sandbox (it needs root, or user namespaces). "
            "Run `alfred grade` as root or enable unprivileged user namespaces, or pass --no-sandbox."
        )


@dataclass
class Sandbox:
    staging: Path | None  # a folder holding the submission's main.py, readable by the sandbox user

    def start(self) -> subprocess.Popen:
        command = [sys.executable, "-I", "-m", "alfred.worker", SUBMISSION_IN_SANDBOX, WORK_IN_SANDBOX]
        return self.start_command(command)

    def start_command(self, command: list[str]) -> subprocess.Popen:
        options = self._options()
        read_end, write_end = os.pipe()
        os.write(write_end, b"".join(option.encode() + b"\0" for option in options))
        os.close(write_end)
        drop_privileges = [
            "setpriv", f"--reuid={UNPRIVILEGED_ID}", f"--regid={UNPRIVILEGED_ID}", "--clear-groups",
            "--inh-caps=-all", "--",
        ]
        try:
            return subprocess.Popen(
                [bwrap_path() or "bwrap", "--args", str(read_end), *drop_privileges, *command],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                pass_fds=[read_end], start_new_session=True, env={},
            )
        finally:
            os.close(read_end)

    def _options(self) -> list[str]:
        options = [
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", WORK_IN_SANDBOX, "--setenv", "LANG", "C.UTF-8",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            # setpriv needs these two to become uid 65534; it drops every capability before Python starts.
            "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
            "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(WORK_BYTES), "--perms", "0777", "--tmpfs", WORK_IN_SANDBOX,
            "--size", str(WORK_BYTES), "--perms", "1777", "--tmpfs", "/tmp",
        ]
        for path in _trusted_paths():
            options += [*_parents(path), "--ro-bind", str(path), str(path)]
        if self.staging is not None:
            options += ["--perms", "0755", "--dir", "/submission",
                        "--ro-bind", str(self.staging / "main.py"), SUBMISSION_IN_SANDBOX]
        options += ["--chdir", WORK_IN_SANDBOX]
        return options


def _trusted_paths() -> list[Path]:
    """The interpreter, the kit's environment and the `alfred` package: nothing else of the host."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix), KIT_ROOT / "alfred"}
    return sorted(path for path in paths if not str(path).startswith("/usr/"))


def _parents(path: Path) -> list[str]:
    """Creates each parent folder in the sandbox as world-readable, so uid 65534 can walk to `path`."""
    options = []
    for parent in reversed(path.parents[:-1]):
        options += ["--perms", "0755", "--dir", str(parent)]
    return options


class PlainProcess:
    """`--no-sandbox`: the same worker in an ordinary child process, for code the instructor trusts."""

    def __init__(self, main_py: Path, workdir: Path):
        self.main_py = main_py
        self.workdir = workdir

    def start(self) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-I", "-m", "alfred.worker", str(self.main_py), str(self.workdir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True, cwd=self.workdir, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
