"""What went wrong in the worked example (lesson), for test_lesson.py: the `got` sentences and the hints of its
failures, by what the endpoint answered and what its logging task printed, slept, wrote and raised.

It imports nothing from the test module, which imports it: the lesson's names its sentences use are defined
here, and the tests take them from here.
"""

from alfred.judge.feedback import shown

LOG_FILE = "batcomputer_logs/activity_log.txt"
TASK = "log_batcomputer_activity"


NO_SLEEP_HINT = "keep the lesson's time.sleep(2) between the START message and writing the log line."


def slept(sleeps):
    return f"slept {' + '.join(f'{seconds:g}' for seconds in sleeps)} simulated seconds" if sleeps else "never slept"


def task_trouble(seen):
    error = seen.task_error()
    return f" (the task raised {error.sentence()})" if error else ""


def raised(seen):
    return f"; then it raised {seen.error.sentence()}" if seen.error else ""


def answered(seen):
    """What a test about the background task says when the endpoint did not answer 200, or ""."""
    response = seen.response
    if response.status == 200:
        return ""
    return f"the endpoint answered status {response.status} with {response.text[:200] or 'an empty body'}"


def log_holds(seen):
    """What the log holds after the probe, or that there is none."""
    return f"{LOG_FILE} holds {shown(seen.files.get(LOG_FILE))}" if LOG_FILE in seen.files else f"no {LOG_FILE}"


def work_hint(seen, sleeps):
    """The hint for a logging task that did not work the lesson's 2 simulated seconds, by what it slept."""
    return (f"the task raised before its work was done: fix that error first ({TASK} works as the lesson "
            "wrote it)." if seen.error and not sleeps else NO_SLEEP_HINT if not sleeps
            else "keep the lesson's single time.sleep(2): no other sleeps, no other length.")
