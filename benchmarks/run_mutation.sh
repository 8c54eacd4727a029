#!/usr/bin/env bash
# Mutation testing of solutions/lesson_07/main.py with the lesson 7 suite (tests/lesson_07), using mutmut 3.
#
#   benchmarks/run_mutation.sh              same as `benchmarks/run_mutation.sh run`
#   benchmarks/run_mutation.sh run          generate the mutants under ./mutants/ (git-ignored) and test them
#   benchmarks/run_mutation.sh results      or `show NAME`, `browse`, ...: any other mutmut command
#
# Reads the [tool.mutmut] table in pyproject.toml. PYTHON picks the
# interpreter (default .venv/bin/python). Start again from scratch with `rm -rf mutants`.
#
# Why a wrapper and not plain `mutmut run`: two things in the kit defeat mutmut 3's bookkeeping, and the
# Python below patches both inside the mutmut process before its CLI starts. mutmut's default process
# isolation (fork) runs the stats, the clean run and every mutant in forks of this process, so the patches
# hold wherever tests run.
#
# 1. Module names. alfred.inside.loading loads main.py afresh for every probe under a private name,
#    alfred_submission_<n>, so its functions get __module__ == "alfred_submission_<n>". mutmut's trampolines
#    record which tests reach a function under "<__module__>.<name>", and pick the active mutant by comparing
#    the module part of MUTANT_UNDER_TEST ("solutions.lesson_07.main.x_f__mutmut_3", from the file path) with
#    __module__. Plain `mutmut run` therefore stops with "tests recorded trampoline hits but none match any
#    mutant key". The patched trampoline decorator gives functions that live in a file under ./mutants/, but
#    run under the kit's private name, mutmut's path-derived module name. The module object keeps its private
#    name and classes keep their __module__, so what the probe observes is unchanged.
# 2. Shared answers. conftest.py memoises, per pytest run, the first probe of each test: a later test whose
#    first probe is the same gets the earlier answer without running main.py. mutmut maps each function to
#    the tests that reached it during its stats run, and runs only those tests against that function's
#    mutants, so a test answered from the memo is never run against them (time.sleep(2) -> time.sleep(3)
#    survived that way). A pytest plugin, added to every pytest run mutmut starts, swaps the memo for one
#    that remembers nothing, so every test really runs main.py. Probes are deterministic, so verdicts of
#    a normal `pytest` run are unaffected; only mutmut's test-to-function map becomes complete.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! grep -q '^\[tool\.mutmut\]' pyproject.toml; then
    echo "run_mutation.sh: add the [tool.mutmut] table from benchmarks/mutation.md to pyproject.toml first" >&2
    exit 2
fi
[ $# -gt 0 ] || set -- run
exec "${PYTHON:-.venv/bin/python}" - "$@" <<'PY'
import sys
from pathlib import Path

import mutmut.mutation.trampoline as trampoline
import pytest
from mutmut.runners.harness import PytestRunner
from mutmut.utils.format_utils import get_mutant_name

# --- 1. module names -------------------------------------------------------------------------------------

MUTANTS_DIR = Path("mutants").resolve()
PRIVATE_PREFIX = "alfred_submission_"  # alfred.inside.loading's name for each fresh load of main.py
_wrap_in_trampoline = trampoline.wrap_in_trampoline


def _module_name_for(filename: str) -> str | None:
    """mutmut's dotted name for a file under ./mutants/ ("solutions.lesson_07.main"), else None."""
    try:
        relative = Path(filename).resolve().relative_to(MUTANTS_DIR)
    except ValueError:
        return None
    return get_mutant_name(relative, "f").rpartition(".")[0]


class _Renaming(dict):
    """A live view of a trampoline's mutants dict (the module fills that dict only after the decorator has
    run) that hands its functions out under the path-derived module name."""

    def __init__(self, mutants: dict, name: str):
        super().__init__()
        self._mutants, self._name = mutants, name

    def _renamed(self, func):
        if func is not None:
            func.__module__ = self._name
        return func

    def __getitem__(self, key):
        return self._renamed(self._mutants[key])

    def get(self, key, default=None):
        return self._renamed(self._mutants.get(key, default))


def wrap_in_trampoline(mutants_dict, is_classmethod=False):
    def decorate(func):
        private = func.__module__.startswith(PRIVATE_PREFIX)
        name = _module_name_for(func.__code__.co_filename) if private else None
        if name is None:
            return _wrap_in_trampoline(mutants_dict, is_classmethod)(func)
        func.__module__ = name
        return _wrap_in_trampoline(_Renaming(mutants_dict, name), is_classmethod)(func)

    return decorate


trampoline.wrap_in_trampoline = wrap_in_trampoline  # mutated main.py imports it by name at each load

# --- 2. shared answers -----------------------------------------------------------------------------------


class _Forgetful(dict):
    """Stands in for conftest.py's ANSWERS memo: stores answers but never reports one as known."""

    def __contains__(self, key):
        return False


class _NoSharedAnswers:
    @pytest.hookimpl(trylast=True)  # after conftest.py's pytest_configure has made the memo
    def pytest_configure(self, config):
        for plugin in config.pluginmanager.get_plugins():
            key = getattr(plugin, "ANSWERS", None)
            if isinstance(key, pytest.StashKey) and key in config.stash:
                config.stash[key] = _Forgetful()
                return
        raise RuntimeError("run_mutation.sh: conftest.py's ANSWERS memo was not found; update the wrapper")


_execute_pytest = PytestRunner.execute_pytest


def execute_pytest(self, params, **kwargs):
    kwargs["plugins"] = [*kwargs.get("plugins", []), _NoSharedAnswers()]
    return _execute_pytest(self, params, **kwargs)


PytestRunner.execute_pytest = execute_pytest

# --- mutmut itself ---------------------------------------------------------------------------------------

from mutmut.__main__ import cli  # noqa: E402  (imported once, here, after the patches)

sys.argv[0] = "mutmut"
cli(args=sys.argv[1:], prog_name="mutmut")
PY
