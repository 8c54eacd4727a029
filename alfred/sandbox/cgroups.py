"""A pids and memory cgroup around one sandbox, where the machine lets the grader make one (v2 or v1).

The cgroup is made inside the grader's own cgroup, so it only narrows the limits the grader already has.
The sandbox's first process joins it before it starts anything (`join_in_child`, used as Popen's
`preexec_fn`), so every process of the sandbox is counted. Where no writable cgroup exists, the kit falls
back on the rlimits of `alfred.sandbox.worker` alone, and `alfred grade` says so once.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


class Cgroup:
    def __init__(self, folders: dict[str, Path], version: int):
        self.folders = folders  # controller -> folder ("unified" for v2)
        self.version = version

    @classmethod
    def create(cls, name: str, memory_bytes: int, max_pids: int) -> Cgroup | None:
        """A new cgroup with these limits, or None when this machine offers none we may write."""
        try:
            if (ROOT / "cgroup.controllers").exists():
                return cls._create_v2(name, memory_bytes, max_pids)
            return cls._create_v1(name, memory_bytes, max_pids)
        except OSError:
            return None

    @classmethod
    def _create_v2(cls, name: str, memory_bytes: int, max_pids: int) -> Cgroup | None:
        current = _own_path("")
        parent = ROOT / current.lstrip("/")
        wanted = {"memory", "pids"}
        if not wanted <= set((parent / "cgroup.controllers").read_text().split()):
            return None
        _remove_stale(parent)
        folder = parent / name
        folder.mkdir()
        (folder / "memory.max").write_text(str(memory_bytes))
        (folder / "pids.max").write_text(str(max_pids))
        return cls({"unified": folder}, 2)

    @classmethod
    def _create_v1(cls, name: str, memory_bytes: int, max_pids: int) -> Cgroup | None:
        folders = {}
        for controller in ("memory", "pids"):
            base = ROOT / controller
            if not base.is_dir():
                return None
            _remove_stale(base / _own_path(controller).lstrip("/"))
            folder = base / _own_path(controller).lstrip("/") / name
            folder.mkdir()
            folders[controller] = folder
        (folders["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
        (folders["pids"] / "pids.max").write_text(str(max_pids))
        return cls(folders, 1)

    def join_in_child(self) -> None:
        """Moves the calling process into the cgroup (run between fork and exec)."""
        for folder in self.folders.values():
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def memory_events(self) -> int:
        """How many processes the kernel has killed for memory in this cgroup so far. Reaching the limit
        alone is no sign: page cache, which outlives processes, fills a cgroup up to it and is reclaimed."""
        try:
            if self.version == 1:
                text = (self.folders["memory"] / "memory.oom_control").read_text()
            else:
                text = (self.folders["unified"] / "memory.events").read_text()
            return int(dict(line.split() for line in text.splitlines()).get("oom_kill", 0))
        except (OSError, ValueError):
            return 0

    def remove(self) -> None:
        for folder in self.folders.values():
            try:
                folder.rmdir()
            except OSError:
                pass


def _remove_stale(parent: Path) -> None:
    """Removes the empty cgroups of grading processes that are gone (a run killed before its clean-up)."""
    for folder in parent.glob("alfred-*-*"):
        try:
            os.kill(int(folder.name.split("-")[1]), 0)
        except ProcessLookupError:
            try:
                folder.rmdir()
            except OSError:
                pass  # still holds processes, or another grader's: leave it
        except (ValueError, PermissionError):
            continue


def _own_path(controller: str) -> str:
    """This process's cgroup path for a v1 controller, or the v2 path when `controller` is ""."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (controller and controller in controllers.split(",")) or (not controller and controllers == ""):
            return path
    raise OSError(f"no cgroup for {controller or 'the unified hierarchy'}")
