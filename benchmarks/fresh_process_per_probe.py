"""What a probe costs now that each runs in a fresh sandboxed process (issue 22's design 1), against its
floor: the same probe run in this process, with nothing started.

    python benchmarks/fresh_process_per_probe.py [--probes 20]

One sandboxed fork server, the reference solution staged, the same probe (`GET /openapi.json`) answered
`--probes` times by `SubprocessDriver` (a new process each: spawn, listener handover, the probe, the end),
then `--probes` times in-process (`alfred.inside.running.run_probe`, main.py loaded afresh each time, as a
probe does). Prints the median milliseconds per probe of each, their ratio, and the parts of a sandboxed probe.
Needs bubblewrap, as grading does.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=20)
    probes = parser.parse_args().probes
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
