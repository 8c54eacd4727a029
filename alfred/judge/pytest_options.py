"""The kit's command-line options, registered through the `pytest11` entry point, so `--submission` and
`--score-json` are known wherever pytest runs and never mistaken for test paths during collection.

(`--hidden-seed` is alfred.judge.hidden's.) It also reads the lesson first, so that a mistake in its lesson.toml is one line. The kit's conftest.py does
the rest (picking the target, the fixtures, the progress table), and pytest loads it only when it runs from
the kit's folder: elsewhere, `--submission` stops with a one-line error that says so, instead of collecting
whatever lies in the current folder.
"""

import pytest

from alfred.course.lesson import KIT_ROOT, LessonError, current


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("alfred", "Alfred's kit")
    group.addoption("--submission", metavar="PATH", help="test this main.py, or the folder holding it")
    group.addoption("--score-json", metavar="FILE", help="write the points of this run to FILE as JSON")
    group.addoption("--no-time-limit", action="store_true", help="let probes run as long as they take, as in a "
                    "debugger session (by default a probe stops after the grader's limit, so an endless loop fails "
                    "its test instead of freezing the run)")
    group.addoption("--hidden-seed", metavar="N", help="draw the hidden checks' inputs with seed N (default: "
                    "ALFRED_HIDDEN_SEED, else a fresh seed, shown in the report header)")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """A lesson file with a mistake stops the run before the plugin loads, in one line naming the file and the key."""
    try:
        current()
    except LessonError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    kit_plugin_loaded = any(str(getattr(plugin, "__file__", "")) == str(KIT_ROOT / "conftest.py")
                            for plugin in config.pluginmanager.get_plugins())
    if config.getoption("submission") and not kit_plugin_loaded:
        raise pytest.UsageError(f"run `pytest --submission ...` from the kit's folder: cd {KIT_ROOT} first.")
