"""The floor of the student loop: a pytest session that imports what the suite needs and tests nothing real.

Run by benchmarks/run.py as `pytest benchmarks/floor_test.py`; not part of the self-check (it sits outside
`tests/`).
"""

from alfred.probe import import_dependencies

import_dependencies()  # exactly what the suite imports before its first probe (uvicorn, pydantic.v1 included)


def test_nothing():
    pass
