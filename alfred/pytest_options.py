"""The kit's command-line options, registered through the `pytest11` entry point.

They must be known before pytest picks its root directory: an option that only a conftest.py declares
is still unknown then, and pytest would take the PATH after `--submission` for a test path.
"""

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("alfred", "Alfred's kit (lesson 7)")
    group.addoption("--submission", metavar="PATH", help="test this main.py, or the folder holding it")
    group.addoption("--score-json", metavar="FILE", help="write the points of this run to FILE as JSON")
