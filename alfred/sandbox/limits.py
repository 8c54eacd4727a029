"""Every limit the sandbox puts on a submission, in one typed value: `LIMITS`, a frozen `Limits`.

Who reads what: the fork server's client (`alfred.sandbox.fork_server`: the sandbox's cgroup, how long the
server may take to start, the system calls of kernel keyrings its seccomp filter denies); the worker
(`alfred.sandbox.worker`: each submission process's rlimits and the size of its tmpfs); the supervisor
(`alfred.sandbox.supervisor`: how much of a process's writes and waits it keeps); the subprocess driver and
the grader (the submission's time, `alfred.sandbox.usage`, and the judge's wall clock). This module runs inside the sandbox too (it
is part of the runtime copy), so it imports nothing of the kit.

The probe's own bounds (`MAX_*` in `alfred.inside.probe`: how many events, files, characters a reply and a
record may hold) are not here: they are the probe's protocol, shared by the code in the student's process
and the judge's schema of a reply (`alfred.judge.observation`), and they live below the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

_MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    # The whole sandbox, in its cgroup: the fork server and the submission process it serves.
    memory_bytes: int = 1024 * _MiB
    pids: int = 128
    start_seconds: float = 60  # for the fork server to start and warm up (interpreter, FastAPI's imports)

    # One submission process, as rlimits set once it runs as the student uid.
    address_space_bytes: int = 1_500_000_000  # a CPython with FastAPI maps about 0.4 GB of it
    cpu_seconds: int = 20  # CPU for all the probes of one submission
    file_size_bytes: int = 5_000_000
    open_files: int = 256
    processes: int = 64  # per user: a fork bomb stops here (root, outside the sandbox, is exempt)
    core_bytes: int = 0

    # Each of a submission's tmpfs: /sandbox (its work folder), /tmp, /dev/shm.
    fs_bytes: int = 64 * _MiB
    fs_inodes: int = 100_000

    # Time for one submission, in what its code did rather than in how busy the machine was (alfred.sandbox.usage;
    # a student's own run keeps the same limits: alfred.judge.driver). Simulated sleeps take none.
    probe_seconds: float = 5.0  # one probe's CPU (the import and one request or call), or its wall clock while the machine is calm
    backstop_seconds: float = 15.0  # one probe's wall clock on a machine short of CPU: beyond it, nothing is concluded
    submission_seconds: float = 60.0  # the submission's own seconds over its probes: running or asleep, not starved
    judge_seconds: float = 180.0  # wall clock for everything of one submission, the judge's own work included
    # (2-5 s when honest): beyond it the submission is ungradable, unless its own time ran out first

    # What the supervisor keeps of a submission process, per probe: beyond these, writes and waits are
    # answered and not kept, so what the judge holds is bounded whatever the process does.
    captured_bytes: int = 4 * _MiB  # per descriptor
    write_read_bytes: int = 64 * 1024  # taken from one write; the writer is told the rest was not written yet
    records: int = 10_000  # writes per descriptor, and waits (a probe reports 2,000 prints and sleeps at most)

    # Kernel keyrings belong to a uid, not to a sandbox: they outlive processes and namespaces. The sandbox's
    # seccomp filter denies add_key, request_key and keyctl: per machine, (its AUDIT_ARCH, their numbers).
    keyring_syscalls: Mapping[str, tuple[int, tuple[int, ...]]] = field(default_factory=lambda: MappingProxyType({
        "x86_64": (0xC000003E, (248, 249, 250)), "aarch64": (0xC00000B7, (217, 218, 219))}))

    def rlimits(self) -> dict[int, int]:
        """A submission process's rlimits: resource.RLIMIT_* -> the value set as both soft and hard limit."""
        import resource

        return {
            resource.RLIMIT_AS: self.address_space_bytes,
            resource.RLIMIT_CPU: self.cpu_seconds,
            resource.RLIMIT_FSIZE: self.file_size_bytes,
            resource.RLIMIT_NOFILE: self.open_files,
            resource.RLIMIT_NPROC: self.processes,
            resource.RLIMIT_CORE: self.core_bytes,
        }


LIMITS = Limits()
