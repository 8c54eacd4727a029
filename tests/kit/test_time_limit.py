"""A student's own run keeps the grader's time limits: an endless loop fails its tests with the message grading
gives (alfred.judge.driver.InProcessDriver), instead of freezing `pytest exercises` with no word. The checks
read what the run said, never how long it took."""

import subprocess
import sys

import pytest

from alfred.course.targets import KIT_ROOT, SOLUTIONS_MAIN

pytestmark = pytest.mark.slow

TIME_LIMIT = "your code was still running after the time limit and was stopped"


def own_run(tmp_path, source: str, *options: str) -> subprocess.CompletedProcess:
    main = tmp_path / "main.py"
    main.write_text(source)
    return subprocess.run([sys.executable, "-m", "pytest", "tests/lesson_07", "--submission", str(main), "-m", "lesson",
                           "-p", "no:cacheprovider", *options], cwd=KIT_ROOT, capture_output=True, text=True,
                          timeout=600)


def test_an_endless_loop_at_import_fails_the_run_with_the_graders_message_and_waits_once(tmp_path):
    run = own_run(tmp_path, SOLUTIONS_MAIN.read_text() + "\nwhile True:\n    pass\n")
    assert run.returncode == 1, run.stdout[-2000:]
    told = "was still running after 5 s of CPU, and was stopped: code at the top level of main.py never finishes"
    assert told in run.stdout, run.stdout[-2000:]
    assert "1 failed, 10 skipped" in run.stdout, run.stdout[-2000:]  # told once: the later tests are not run
    assert "0 / 11" in run.stdout and "Traceback" not in run.stdout


def test_a_sync_task_looping_forever_in_a_thread_fails_its_tests_and_the_run_still_ends(tmp_path):
    looping = SOLUTIONS_MAIN.read_text().replace('    print(f"--- BACKGROUND TASK START', '    while True:\n'
                                                   '        time.sleep(5)\n    print(f"--- BACKGROUND TASK START', 1)
    run = own_run(tmp_path, looping, "-k", "two_seconds")
    assert run.returncode == 1 and TIME_LIMIT in run.stdout, run.stdout[-2000:]


def test_no_time_limit_is_an_option_for_a_debugger_session():
    help_text = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=KIT_ROOT, capture_output=True,
                               text=True, timeout=120).stdout
    assert "--no-time-limit" in help_text


def test_a_wait_that_never_ends_at_import_is_stopped_as_the_codes_doing_and_told_once(tmp_path):
    """Code that sleeps on something that never comes uses no CPU, yet its processes neither run nor wait for a
    CPU: after 5 s it is stopped (a busy machine makes code wait *for a CPU*, which never looks like this)."""
    run = own_run(tmp_path, SOLUTIONS_MAIN.read_text() + "\nimport threading\nthreading.Event().wait()\n")
    assert run.returncode == 1, run.stdout[-2000:]
    told = ("it had not finished after 5 s, waiting with little CPU used, and was stopped: code at the top level of "
            "main.py never finishes")
    assert told in run.stdout and "1 failed, 10 skipped" in run.stdout, run.stdout[-2000:]
