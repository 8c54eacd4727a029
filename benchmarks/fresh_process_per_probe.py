"""What a fresh submission process per probe would cost: the measurement behind SECURITY.md's "state kept across
probes" (issue 22's design 1, not built yet).

    python benchmarks/fresh_process_per_probe.py [--probes 20]

One sandboxed fork server, the reference solution staged, the same probe (`GET /openapi.json`) answered
`--probes` times by one submission process (today's design: one process answers all of a student's probes),
then `--probes` times by a new process each (spawn, listener handover, the probe, the end). Prints the median
milliseconds per probe of each and their ratio, and the parts of a fresh probe. Needs root and bubblewrap, as
grading does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alfred.course.targets import SOLUTIONS_MAIN  # noqa: E402
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
        same = []
        for number in range(probes):
            started = time.perf_counter()
            driver.run(PROBE, Path(f"/same-{number}"))
            same.append(time.perf_counter() - started)
        driver.stop()
        fresh, parts = [], []
        for number in range(probes):
            driver = SubprocessDriver(server, "bench")
            started = time.perf_counter()
            driver._child = driver._start_child()
            spawned = time.perf_counter()
            driver.run(PROBE, Path(f"/fresh-{number}"))
            answered = time.perf_counter()
            driver.stop()
            ended = time.perf_counter()
            fresh.append(ended - started)
            parts.append((spawned - started, answered - spawned, ended - answered))
    finally:
        server.finish("bench")
        server.close()
    one, new = statistics.median(same) * 1000, statistics.median(fresh) * 1000
    print(f"one process for every probe: {one:.1f} ms a probe (median of {probes})")
    print(f"a new process for each probe: {new:.1f} ms a probe ({new / one:.1f}x)")
    for name, index in (("spawn and listener handover", 0), ("the probe", 1), ("the end", 2)):
        print(f"  {name}: {statistics.median(part[index] for part in parts) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
