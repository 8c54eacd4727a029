"""The floor of the student loop: a pytest session with the same imports as `pytest exercises`, and one
empty test. What `pytest exercises` takes beyond it is the suite's own work: probes and reports.

Run by benchmarks/run.py as `pytest benchmarks/floor_test.py`, with ALFRED_FLOOR_MODULES naming a file that
lists the modules a `pytest exercises` session had imported when it ended; not part of the self-check (it
sits outside `tests/`).
"""

import contextlib
import importlib
import os
from pathlib import Path

from alfred.inside.probe import import_dependencies

import_dependencies()  # what the suite imports before its first probe, in the same order
for name in Path(os.environ.get("ALFRED_FLOOR_MODULES", os.devnull)).read_text().split():
    with contextlib.suppress(Exception):  # the student's file, loaded under private names, is the suite's work
        importlib.import_module(name)


def test_nothing():
    pass
