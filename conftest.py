"""The kit's pytest plugin: picks the main.py under test and gives each test a `submission` to probe.

    pytest exercises             the suite against the lesson's student file (exercises/<lesson folder>/main.py)
    pytest solutions             the suite against the lesson's reference (solutions/<lesson folder>/main.py)
    pytest --submission PATH     the suite against PATH: a .py file, or a folder with main.py or <lesson folder>/main.py
    pytest                       the kit's self-check: the suite against the reference, plus tests/kit

The lesson is data: its lesson.toml (alfred/course/lesson.py reads it) names the exercises, the files and the suite.

Add `-m <exercise id>` for one exercise, `--score-json FILE` for the points (the options themselves live in
alfred/judge/pytest_options.py, loaded early through an entry point). Each test gets a fresh
`tmp_path` working directory, and the run ends with a progress table per exercise.
"""

from __future__ import annotations

import functools
import json
import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import Iterator

import pytest

from alfred.judge.driver import DRIVER_KEY, LABEL_KEY, InProcessDriver, Submission, warnings_of
from alfred.judge.feedback import CUT_SHORT
from alfred.judge.screen import failure_lines
from alfred.course.exercises import BY_ID, EXERCISES, LESSON
from alfred.course.lesson import LESSON_FILE
from alfred.judge.scoring import ResultCollector, RubricError, load_rubric, score
from alfred.course.targets import (EXERCISES_MAIN, RUBRIC_FILE, SOLUTIONS_MAIN, SUITE_DIR, UNDER_WATCH, Target,
                                   TargetError, is_kit_folder_arg, resolve)
from alfred.sandbox.limits import LIMITS
from alfred.judge.hidden import SEED_KEY, HiddenChecks, SeedError, chosen_seed, declare_marker, sentence_of

TARGET = pytest.StashKey[Target]()
COLLECTOR = pytest.StashKey[ResultCollector]()
RUBRIC = pytest.StashKey[dict]()
ANSWERS = pytest.StashKey[dict]()
TABLE_LAST = pytest.StashKey[bool]()  # a student's run: the progress table comes after pytest's own summary
FAILURES_HERE = pytest.StashKey[bool]()  # the run's failures are told above the table, not by pytest


def pytest_configure(config: pytest.Config) -> None:
    _declare_exercise_markers(config)
    invocation_dir = config.invocation_params.dir
    folder_args = [arg for arg in config.args if is_kit_folder_arg(arg, invocation_dir)]
    submission = config.getoption("submission")
    if submission and folder_args:
        raise pytest.UsageError(f"Give either --submission or {folder_args[0]}, not both.")
    if len(folder_args) > 1:
        raise pytest.UsageError(f"Test one target at a time, not {' and '.join(folder_args)}.")
    try:
        if submission or folder_args:
            target = resolve(submission or folder_args[0], invocation_dir)
        elif SOLUTIONS_MAIN.exists():
            target = Target(SOLUTIONS_MAIN, LESSON.solutions_file, SOLUTIONS_MAIN.parent)
        else:  # a handed-out project holds no solutions: a bare `pytest` tests the student's file
            target = Target(EXERCISES_MAIN, LESSON.student_file, EXERCISES_MAIN.parent)
        rubric = load_rubric(RUBRIC_FILE)
        seed = chosen_seed(config.getoption("hidden_seed"))
    except (TargetError, RubricError, SeedError) as exc:
        raise pytest.UsageError(str(exc)) from None
    if submission and config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(SUITE_DIR)]  # not the default test paths: those hold the kit's self-check
    elif folder_args:
        config.args[:] = [arg for arg in config.args if arg not in folder_args] or [str(SUITE_DIR)]
    config.stash[TARGET] = target
    config.stash[TABLE_LAST] = bool(submission or folder_args) or target.main == EXERCISES_MAIN
    config.stash[COLLECTOR] = collector = ResultCollector(SUITE_DIR)
    config.pluginmanager.register(collector, "alfred-results")
    config.stash[RUBRIC] = rubric
    config.stash[ANSWERS] = {}
    config.stash[SEED_KEY] = seed
    # A student's own run (`pytest exercises`, the handout's bare `pytest`) leaves the hidden checks for grading.
    student_run = not submission and target.main == EXERCISES_MAIN
    config.pluginmanager.register(HiddenChecks(student_run, seed), "alfred-hidden")


def _declare_exercise_markers(config: pytest.Config) -> None:
    """Registers one marker per exercise id (and `slow` for the kit's long checks), strictly, warnings as errors.

    Done here rather than only in pyproject.toml: `pytest --submission /elsewhere/main.py` makes pytest pick
    /elsewhere as its root before any plugin runs, and then pyproject.toml is not read at all.
    """
    for exercise in EXERCISES:
        config.addinivalue_line("markers", f"{exercise.id}: {exercise.label}, {exercise.title}")
    config.addinivalue_line("markers", "slow: a self-check of the kit that grades many files (skip: -m 'not slow')")
    declare_marker(config)
    config.option.strict_markers = True
    if config.inipath is None:
        config.addinivalue_line("filterwarnings", "error")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Runs the suite in the lesson's order (worked example, then exercises 1 to 4), so a student reads the
    failures of the exercise they are on first; anything without an exercise marker keeps its place after.
    Hidden checks come after every visible test: one submission process answers all of a student's probes,
    so what it saw of a hidden check's inputs can never come back in a visible test's message."""
    order = {exercise.id: position for position, exercise in enumerate(EXERCISES)}

    def position(item: pytest.Item) -> tuple[bool, int]:
        exercise = min((order[mark.name] for mark in item.iter_markers() if mark.name in order), default=len(order))
        return sentence_of(item) is not None, exercise

    items.sort(key=position)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Another lesson's suite (a folder holding its own lesson.toml, such as the kit's fixture lessons) is
    not collected: its markers and names belong to that lesson, run with ALFRED_LESSON."""
    if collection_path != SUITE_DIR and (collection_path / LESSON_FILE).is_file():
        return True
    return None


def pytest_report_header(config: pytest.Config) -> str:
    label = config.stash.get(LABEL_KEY, config.stash[TARGET].label)
    return f"alfred: testing {label} with the {LESSON.name} suite"


@pytest.fixture
def submission(request: pytest.FixtureRequest) -> Iterator[Submission]:
    """The main.py under test, run in a working directory of its own: this test's `tmp_path`, or, when the
    probes run in a sandbox, a folder there named after the test (no empty folder is made here for it). The
    pages it read cut short are this test's only (alfred.judge.feedback.CUT_SHORT)."""
    config = request.config
    target = config.stash[TARGET]
    driver = config.stash.get(DRIVER_KEY, None)
    if driver is None:  # one for the run: its time limits count the whole run, as grading counts them
        probe_seconds = 0 if config.getoption("no_time_limit") else LIMITS.probe_seconds
        driver = config.stash[DRIVER_KEY] = InProcessDriver(target.main, target.project, probe_seconds)
    workdir = request.getfixturevalue("tmp_path") if driver.local_work_folders else Path(request.node.nodeid)
    CUT_SHORT.clear()
    yield Submission(driver, workdir, config.stash.get(LABEL_KEY, target.label), config.stash[ANSWERS])
    CUT_SHORT.clear()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, config: pytest.Config):
    """A student's run (pytest's --tb left as it is) tells its failures itself, above the table
    (alfred.judge.screen): pytest's own account of every failure, and its list of them, are left out."""
    if config.stash.get(TABLE_LAST, False) and config.option.tbstyle == "auto":
        config.option.tbstyle = "no"
        terminalreporter.reportchars = terminalreporter.reportchars.replace("f", "")
        config.stash[FAILURES_HERE] = True
    result = yield
    if not config.stash.get(TABLE_LAST, False):  # the kit's self-check: pytest's own line stays the last
        _write_progress(terminalreporter, config)
    return result


def pytest_unconfigure(config: pytest.Config) -> None:
    """A student's run ends with the progress table, after pytest's failures and counts: what to do next is
    the last thing they read."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if config.stash.get(TABLE_LAST, False) and reporter is not None:
        _write_progress(reporter, config)


def _write_progress(terminalreporter, config: pytest.Config) -> None:
    report = _score(config)
    if report is None:
        return
    write = terminalreporter.write_line
    if config.stash.get(FAILURES_HERE, False):
        first = next(iter(_unfinished(report)), None)
        width = terminalreporter._tw.fullwidth
        for line in failure_lines(report, first, _command(config), _watching(config), width):
            write(line)
    terminalreporter.section(f"{LESSON.name} progress")
    write(f"{'exercise':<28} {'tests passed':>12}   done")
    for exercise_id, entry in report["exercises"].items():
        if entry["total"] == 0:
            continue
        waiting = _hidden_waiting(config, report, exercise_id)
        done = "not yet" if entry["passed"] < entry["total"] else f"visible: yes (+{waiting} hidden)" if waiting else "yes"
        write(f"{BY_ID[exercise_id].label:<28} {entry['passed']:>5} / {entry['total']:<4}   {done}")
    visible = " on the visible checks" if _hidden_waiting(config, report) else ""
    write(f"score: {report['score']:g} / {report['max_score']:g}{visible}")
    for warning in warnings_of(config.stash[ANSWERS]):  # what the tests let pass but the student should see
        write(f"warning: {warning}", yellow=True)
    write("next: " + _next_step(config, report))


def _hidden_waiting(config: pytest.Config, report: dict, exercise_id: str | None = None) -> int:
    """How many hidden checks this run left for grading, of one exercise or of every exercise it tested: those
    the lesson's data lists (its `hidden` sentences) less those that ran. A student's run deselects them and
    the handout has none to run, so only the lesson's data can count them (alfred.judge.hidden)."""
    tested = [i for i, entry in report["exercises"].items() if entry["total"] and exercise_id in (None, i)]
    ran = sum(1 for test in report["tests"] if test.get("hidden") and test["exercise"] in tested)
    return max(0, sum(len(BY_ID[i].hidden) for i in tested) - ran)


def _next_step(config: pytest.Config, report: dict) -> str:
    """What to do after this run: fix an import error first, else the first unfinished exercise, else run
    the exercises this run left out, else try the app by hand. A student's run also names `alfred watch`
    (the tests rerun at every save) and `alfred hint`, as this project starts them; a run that `alfred watch`
    started says to save instead."""
    target = config.stash[TARGET].label
    command = _command(config)
    students = not config.getoption("submission") and config.stash[TARGET].main == EXERCISES_MAIN
    watching = _watching(config)
    watch, hint = (_student_command("watch"), _student_command("hint")) if students else (None, None)
    a_hint = f"; a hint: `{hint}`" if hint else ""
    if any(test["outcome"] == "skipped" and test["message"].startswith("not run:") for test in report["tests"]):
        if watching:
            return f"fix the error the first failure names in {target}; save it and the tests run again"
        return f"fix the error the first failure names in {target}, then run `{command}` again"
    unfinished = _unfinished(report)
    if unfinished:
        first = unfinished[0]
        if watching:
            return f"{BY_ID[first].label} in {target}; save it and the tests run again{a_hint}"
        rerun = f", or `{watch} -m {first}` to run its tests at every save" if watch else ""
        return f"{BY_ID[first].label} in {target}; then run `{command} -m {first}`{rerun}{a_hint}"
    waiting = _hidden_waiting(config, report)
    later = f" ({waiting} hidden check{'s' * (waiting != 1)} run when your work is graded)" if waiting else ""
    if any(entry["total"] == 0 for exercise_id, entry in report["exercises"].items() if BY_ID[exercise_id].number):
        done = "all visible checks of the exercises tested here pass" if waiting else "the exercises tested here are done"
        if watching:
            return f"{done}{later}; stop (Ctrl-C) and run `{watch}` for all of them"
        return f"{done}{later}; run `{command}` for all of them"
    if waiting:  # never "done" while checks the student cannot run remain
        return (f"all visible checks pass; {waiting} hidden check{'s' * (waiting != 1)} run when your work is "
                "graded; try the app by hand with uvicorn and /docs")
    return "every exercise is done; try the app by hand with uvicorn and /docs"


def _unfinished(report: dict) -> list[str]:
    """The exercises this run tested that do not pass yet, in the lesson's order."""
    return [exercise_id for exercise_id, entry in report["exercises"].items()
            if entry["total"] and entry["passed"] < entry["total"]]


def _command(config: pytest.Config) -> str:
    """The command that runs this run's tests again: `pytest exercises`, `pytest --submission=PATH`."""
    submission = config.getoption("submission")
    return f"pytest --submission={submission}" if submission else f"pytest {config.stash[TARGET].label.split('/')[0]}"


def _watching(config: pytest.Config) -> bool:
    """Whether this is a student's run that `alfred watch` started."""
    students = not config.getoption("submission") and config.stash[TARGET].main == EXERCISES_MAIN
    return students and bool(os.environ.get(UNDER_WATCH))


@functools.cache
def _student_command(name: str) -> str | None:
    """How a student starts `alfred NAME` in this project: `alfred NAME` where the kit's `alfred` command is
    installed and has NAME, else `python -m alfred.NAME` where the project holds that module as a script (the
    handout holds no `alfred` command), else None: the table names no command that is not there."""
    package = Path(__file__).parent / "alfred"  # the engine beside this plugin, in the kit and in the handout
    cli = package / "cli.py"
    installed = entry_points(group="console_scripts", name="alfred")
    if cli.is_file() and f'add_parser("{name}"' in cli.read_text(encoding="utf-8") and any(
            script.value.split(":")[0] in ("alfred.cli", "alfred.__main__") for script in installed):
        return f"alfred {name}"
    module = package / f"{name}.py"
    if module.is_file() and 'if __name__ == "__main__":' in module.read_text(encoding="utf-8"):
        return f"python -m alfred.{name}"
    return None


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("score_json")
    report = _score(session.config)
    if path and report is not None:
        Path(path).write_text(json.dumps(report, indent=2) + "\n")


def _score(config: pytest.Config) -> dict | None:
    collector = config.stash.get(COLLECTOR, None)
    if collector is None or not collector.results:
        return None
    report = score(list(collector.results.values()), config.stash[RUBRIC])
    if any(result.hidden for result in collector.results.values()):
        report["hidden_seed"] = config.stash[SEED_KEY]  # what reproduces this run's hidden inputs
    return report
