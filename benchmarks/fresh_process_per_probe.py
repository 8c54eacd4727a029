"""What a probe costs now that each runs in a fresh sandboxed process (issue 22's design 1), against its
floor: the same probe run in this process, with nothing started.

    python benchmarks/fresh_process_per_probe.py [--probes 20]
    python benchmarks/fresh_process_per_probe.py --bound [--probes 15]


One sandboxed fork server, the reference solution staged, the same probe (`GET /openapi.json`) answered
`--probes` times by `SubprocessDriver` (a new process each: spawn, listener handover, the probe, the end),
then `--probes` times in-process (`alfred.inside.running.run_probe`, main.py loaded afresh each time, as a
probe does). Prints the median milliseconds per probe of each, their ratio, and the parts of a sandboxed probe.
Needs bubblewrap, as grading does.

`--bound` measures what bounds a fresh process without any sandbox: each of four probes of the reference
(a request, a POST that schedules the task, a call of the task, a validation) run in a child forked from this
warm process (its heap frozen, as the fork server's is) against the same probe run here. It prints their CPU
time, the child's page faults, and the memory the child wrote to (private dirty kB, by kind of mapping): every
page of the parent that the child's code writes, if only a reference count, is copied first.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alfred.course.targets import SOLUTIONS_MAIN  # noqa: E402
from alfred.inside.running import run_probe  # noqa: E402
from alfred.inside.warm_up import warm_up  # noqa: E402
from alfred.judge.sandboxed import SubprocessDriver  # noqa: E402
from alfred.sandbox.fork_server import ForkServer  # noqa: E402

PROBE = {"action": "request", "method": "GET", "path": "/openapi.json"}
BOUND_PROBES = {
    "GET /openapi.json": PROBE,
    "POST a report": {"action": "request", "method": "POST", "path": "/request-intel-report",
                      "json": {"recipient_email": "bruce@wayne.enterprises", "report_name": "x"}},
    "call the task": {"action": "call", "function": "simulate_intel_report_compilation", "args": [
        {"$model": {"name": "IntelReportRequest", "fields": {"recipient_email": "a@b.io", "report_name": "x"}}}]},
    "validate": {"action": "validate", "model": "IntelReportRequest",
                 "data": {"recipient_email": "nope", "report_name": "x"}},
}


def _private_dirty_kb() -> dict[str, int]:
    """Private dirty kB of this process, by mapping: the heap, a file (libpython, an extension) or anonymous."""
    found, mapping = collections.Counter(), None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and not fields[0].endswith(":"):
                mapping = (fields[0], fields[5] if len(fields) > 5 else "")
            elif fields[0] == "Private_Dirty:":
                found[mapping] += int(fields[1])
    return found


def _kind(mapping: tuple[str, str]) -> str:
    name = mapping[1]
    return ("the C heap (malloc)" if name == "[heap]" else "anonymous (Python's arenas, the stacks)" if not name
            or name.startswith("[") else "libpython's data" if "libpython" in name else "other files' data")


def bound(probes: int) -> None:
    warm_up()
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory() as scratch:
        here_ms = {}  # measured before any fork: a forked parent pays a fault on its own first writes after
        for index, (label, probe) in enumerate(BOUND_PROBES.items()):
            here_ms[label] = []
            for number in range(probes):
                here = Path(scratch) / f"here-{index}-{number}"
                here.mkdir()
                cpu = time.process_time()
                run_probe(SOLUTIONS_MAIN, probe, here)
                here_ms[label].append((time.process_time() - cpu) * 1000)
        for index, (label, probe) in enumerate(BOUND_PROBES.items()):
            child_ms, faults, dirty = [], [], collections.Counter()
            for number in range(probes):
                workdir = Path(scratch) / f"child-{index}-{number}"
                workdir.mkdir()
                reading, writing = os.pipe()
                pid = os.fork()
                if pid == 0:  # the child: one probe, measured from inside
                    os.close(reading)
                    before, usage, cpu = _private_dirty_kb(), resource.getrusage(resource.RUSAGE_SELF), time.process_time()
                    run_probe(SOLUTIONS_MAIN, probe, workdir)
                    spent, after = time.process_time() - cpu, resource.getrusage(resource.RUSAGE_SELF)
                    grown = collections.Counter()
                    for mapping, kb in _private_dirty_kb().items():
                        grown[_kind(mapping)] += kb - before.get(mapping, 0)
                    os.write(writing, json.dumps([spent, after.ru_minflt - usage.ru_minflt, grown]).encode())
                    os._exit(0)
                os.close(writing)
                with os.fdopen(reading, "rb") as told:
                    spent, faulted, grown = json.loads(told.read())
                os.waitpid(pid, 0)
                child_ms.append(spent * 1000)
                faults.append(faulted)
                dirty.update({kind: kb / probes for kind, kb in grown.items()})
            child, floor = statistics.median(child_ms), statistics.median(here_ms[label])
            print(f"{label}: {child:.1f} ms of CPU in a fresh child against {floor:.1f} ms here ({child / floor:.1f}x); "
                  f"{statistics.median(faults):.0f} page faults; {sum(dirty.values()):.0f} kB written: "
                  + ", ".join(f"{kb:.0f} {kind}" for kind, kb in dirty.most_common() if kb >= 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--bound", action="store_true", help="what bounds a fresh process, without a sandbox")
    arguments = parser.parse_args()
    probes = arguments.probes
    if arguments.bound:
        bound(probes)
        return
    server = ForkServer(sandboxed=True)
    server.stage("bench", {"main.py": SOLUTIONS_MAIN.read_bytes()})
    try:
        driver = SubprocessDriver(server, "bench")
        driver.run(PROBE, Path("/warm-up"))
        sandboxed, parts = [], []
        for number in range(probes):
            started = time.perf_counter()
            driver._child = driver._start_child()
            spawned = time.perf_counter()
            driver._probe(PROBE)
            answered = time.perf_counter()
            driver._end_child_quietly()
            ended = time.perf_counter()
            sandboxed.append(ended - started)
            parts.append((spawned - started, answered - spawned, ended - answered))
    finally:
        server.finish("bench")
        server.close()
    warm_up()
    in_process = []
    with tempfile.TemporaryDirectory() as scratch:
        for number in range(probes):
            workdir = Path(scratch) / f"test-{number}"
            workdir.mkdir()
            started = time.perf_counter()
            run_probe(SOLUTIONS_MAIN, PROBE, workdir)
            in_process.append(time.perf_counter() - started)
    floor, fresh = statistics.median(in_process) * 1000, statistics.median(sandboxed) * 1000
    print(f"floor, the probe in this process: {floor:.1f} ms a probe (median of {probes})")
    print(f"a new sandboxed process for each probe: {fresh:.1f} ms a probe ({fresh / floor:.1f}x)")
    for name, index in (("spawn and listener handover", 0), ("the probe", 1), ("the end", 2)):
        print(f"  {name}: {statistics.median(part[index] for part in parts) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
