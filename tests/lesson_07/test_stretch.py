"""Exercise 4 (stretch): log_batcomputer_activity announces the log file when, and only when, it creates it.

The announcement is recognised by behaviour, not by its words: it is what the task prints when the log
file is missing and does not print when the file exists.
"""

import re
from collections import Counter

import pytest

from alfred.feedback import check, lines

pytestmark = pytest.mark.stretch

TASK = "log_batcomputer_activity"
LOG_DIR = "batcomputer_logs"
LOG_FILE = f"{LOG_DIR}/activity_log.txt"
EMAIL = "bruce@wayne.enterprises"
LINE = f"User {EMAIL} activity: Checked the Bat-Signal\n"
EARLIER = "User alfred@wayne.enterprises activity: Polished the Batmobile\n"
MESSAGE = "--- BACKGROUND TASK: Creating log file ---"
ABOUT_THE_FILE = re.compile(r"log|file|creat", re.IGNORECASE)
HINT = f'check os.path.exists("{LOG_FILE}") before opening the file, and print the message only when it is False.'


def log(submission, **setup):
    seen = submission.call(TASK, EMAIL, "Checked the Bat-Signal", watch=[LOG_FILE], **setup)
    check(
        seen.error is None,
        tried=f"{TASK}({EMAIL!r}, 'Checked the Bat-Signal')",
        got=f"it raised {seen.error.sentence() if seen.error else ''}",
        expected="it to log the activity",
        hint="the lesson's version of this function works: compare your edits with it.",
    )
    return seen


def with_and_without_the_file(submission, **setup):
    """Logs once with no log file (after `setup`), then once more into a log that already holds an entry."""
    missing = log(submission, **setup)
    existing = log(submission, files={LOG_FILE: EARLIER})
    return missing, existing


def printed_only_when_missing(missing, existing):
    """The print events of the run without a log file whose lines the run with one did not print."""
    unmatched = Counter(existing.printed())
    found = []
    for event in (e for e in missing.events if e.kind == "print"):
        if unmatched[event.text or ""]:
            unmatched[event.text or ""] -= 1
        else:
            found.append(event)
    return found


def announcements(missing, existing):
    """The creation message, recognised by behaviour rather than by its words (the lesson asks for "a message
    like" its own): a line printed when the log file was missing and not when it existed, that speaks of the
    log, a file or creating."""
    return [e for e in printed_only_when_missing(missing, existing) if ABOUT_THE_FILE.search(e.text or "")]


def no_announcement(missing, existing):
    """What `got` says when there is no creation message."""
    others = printed_only_when_missing(missing, existing)
    if others:
        return f"only {lines([e.text for e in others])} was printed just without the file, which does not speak of the log file"
    return f"the same lines with and without the log file: {lines(missing.printed())}"


def situation(setup):
    return f"an empty {LOG_DIR}/ folder" if setup else f"no {LOG_DIR}/ folder"


@pytest.mark.parametrize(
    "setup",
    [{}, {"dirs": [LOG_DIR]}],
    ids=["no-log-folder", "empty-log-folder"],
)
def test_creation_is_announced_when_the_log_file_is_missing(submission, setup):
    missing, existing = with_and_without_the_file(submission, **setup)
    check(
        announcements(missing, existing),
        tried=f"{TASK}(...) with {situation(setup)}, then again with {LOG_FILE} already there",
        got=no_announcement(missing, existing),
        expected=f"a message such as {MESSAGE} the first time only",
        hint=HINT + (" Check the file, not the folder." if setup else ""),
    )


def test_creation_is_announced_before_the_file_is_opened(submission):
    missing, existing = with_and_without_the_file(submission)
    messages = announcements(missing, existing)
    check(
        messages and not messages[0].watched.get(LOG_FILE, True),
        tried=f"{TASK}(...) with no log file yet",
        got=(f"{messages[0].text!r} was printed after {LOG_FILE} was created" if messages
             else no_announcement(missing, existing)),
        expected=f"the creation message printed while {LOG_FILE} does not exist yet",
        hint="print the message before the `with open(...)` line, not after it.",
    )


def test_an_existing_log_file_is_not_announced_and_gets_the_new_line(submission):
    first = log(submission)
    second = log(submission)
    check(
        announcements(first, second) and second.files.get(LOG_FILE) == LINE + LINE,
        tried=f"{TASK}(...) twice: once with no log file, then with the file it wrote",
        got=f"first call printed {lines(first.printed())}; second call printed {lines(second.printed())}; "
        f"the log holds {second.files.get(LOG_FILE)!r}",
        expected="the creation message on the first call only, and two lines in the log",
        hint=HINT + ' Keep opening the file in append mode ("a").',
    )


def test_an_announced_log_file_holds_the_logged_line(submission):
    missing, existing = with_and_without_the_file(submission)
    check(
        announcements(missing, existing) and missing.files.get(LOG_FILE) == LINE,
        tried=f"{TASK}(...) with no log file yet",
        got=f"it printed {lines(missing.printed())}; the log holds {missing.files.get(LOG_FILE)!r}",
        expected=f"the creation message, then {LINE!r} written to {LOG_FILE}",
        hint='print the message, then open the file in append mode ("a") and write the line as before.',
    )


def test_a_log_file_with_earlier_entries_keeps_them(submission):
    missing, existing = with_and_without_the_file(submission, dirs=["elsewhere"])
    check(
        announcements(missing, existing) and existing.files.get(LOG_FILE) == EARLIER + LINE,
        tried=f"{TASK}(...) when {LOG_FILE} already holds {EARLIER!r}",
        got=f"it printed {lines(existing.printed())}; the log holds {existing.files.get(LOG_FILE)!r}",
        expected="no creation message, and the new line appended after the earlier one",
        hint=HINT,
    )
