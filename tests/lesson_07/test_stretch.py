"""Exercise 4 (stretch): log_batcomputer_activity announces the log file when, and only when, it creates it."""

import pytest

from alfred.feedback import check, lines

pytestmark = pytest.mark.stretch

TASK = "log_batcomputer_activity"
LOG_DIR = "batcomputer_logs"
LOG_FILE = f"{LOG_DIR}/activity_log.txt"
EMAIL = "bruce@wayne.enterprises"
LINE = f"User {EMAIL} activity: Checked the Bat-Signal\n"
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


def announcements(seen):
    """Printed lines announcing that the log file is being created, in the lesson's words or close to them."""
    return [e for e in seen.events if e.kind == "print" and _announces_creation(e.text or "")]


def _announces_creation(text):
    lowered = text.lower()
    return "creat" in lowered and ("file" in lowered or "activity_log" in lowered)


@pytest.mark.parametrize(
    "setup",
    [{}, {"dirs": [LOG_DIR]}],
    ids=["no-log-folder", "empty-log-folder"],
)
def test_creation_is_announced_when_the_log_file_is_missing(submission, setup):
    seen = log(submission, **setup)
    check(
        len(announcements(seen)) == 1,
        tried=f"{TASK}(...) with {'an empty ' + LOG_DIR + '/ folder' if setup else 'no ' + LOG_DIR + '/ folder'}",
        got=f"it printed {lines(seen.printed())}",
        expected="the message --- BACKGROUND TASK: Creating log file --- printed once",
        hint=HINT + " Check the file, not the folder.",
    )


def test_creation_is_announced_before_the_file_is_opened(submission):
    seen = log(submission)
    messages = announcements(seen)
    check(
        messages and not messages[0].watched.get(LOG_FILE, True),
        tried=f"{TASK}(...) with no log file yet",
        got="no creation message" if not messages else f"the message came after {LOG_FILE} was created",
        expected=f"the creation message printed while {LOG_FILE} does not exist yet",
        hint="print the message before the `with open(...)` line, not after it.",
    )


def test_an_existing_log_file_is_not_announced_and_gets_the_new_line(submission):
    first = log(submission)
    second = log(submission)
    expected = LINE + LINE
    check(
        len(announcements(first)) == 1 and not announcements(second) and second.files.get(LOG_FILE) == expected,
        tried=f"{TASK}(...) twice: once with no log file, then with the file it wrote",
        got=f"first call printed {lines(first.printed())}; second call printed {lines(second.printed())}; "
        f"the log holds {second.files.get(LOG_FILE)!r}",
        expected="the creation message on the first call only, and two lines in the log",
        hint=HINT,
    )


def test_an_announced_log_file_holds_the_logged_line(submission):
    seen = log(submission)
    check(
        len(announcements(seen)) == 1 and seen.files.get(LOG_FILE) == LINE,
        tried=f"{TASK}(...) with no log file yet",
        got=f"it printed {lines(seen.printed())}; the log holds {seen.files.get(LOG_FILE)!r}",
        expected=f"the creation message, then {LINE!r} written to {LOG_FILE}",
        hint='print the message, then open the file in append mode ("a") and write the line as before.',
    )


def test_a_log_file_with_earlier_entries_keeps_them(submission):
    earlier = "User alfred@wayne.enterprises activity: Polished the Batmobile\n"
    fresh = log(submission, dirs=["elsewhere"])  # proves the announcement exists at all
    seen = log(submission, files={LOG_FILE: earlier})
    check(
        announcements(fresh) and not announcements(seen) and seen.files.get(LOG_FILE) == earlier + LINE,
        tried=f"{TASK}(...) when {LOG_FILE} already holds {earlier!r}",
        got=f"it printed {lines(seen.printed())}; the log holds {seen.files.get(LOG_FILE)!r}",
        expected=f"no creation message, and the new line appended after the earlier one",
        hint=HINT,
    )
