"""The floor of the student loop: a pytest session that imports what the suite needs and tests nothing real.

Run by benchmarks/run.py as `pytest benchmarks/floor_test.py`; not part of the self-check (it sits outside
`tests/`).
"""

import email_validator  # noqa: F401
import fastapi  # noqa: F401
import freezegun  # noqa: F401
import httpx  # noqa: F401
import pydantic  # noqa: F401
import starlette.background  # noqa: F401

import alfred.probe  # noqa: F401


def test_nothing():
    pass
