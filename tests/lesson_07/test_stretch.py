"""Exercise 4 (stretch): log_batcomputer_activity announces the log file when, and only when, it creates it.

The announcement is recognised by behaviour, not by its words: it is a line the task prints when the log
file is missing and that has no counterpart when the file exists. The task is called with the same
arguments three times: with a log file, with one again whose surroundings differ (other earlier entries,
another file in the log folder), then with no log file (its folder removed): last, so that only looking for
the file tells that call apart. A line of the call without the file has a counterpart when the file exists
if the same line is printed in its place once digits are set aside (a time, a count), or if
the line printed in its place changes between the two calls with the file there (a listing of the folder,
an id): such lines are printed on every call, so they are not creation messages, however they change.
"""

import diagnosis_stretch as diagnosis
import pytest
from diagnosis_stretch import LOG_DIR, LOG_FILE, Calls

from alfred.judge.feedback import call_tried, check, shown

pytestmark = pytest.mark.stretch

TASK = "log_batcomputer_activity"
BESIDE = f"{LOG_DIR}/patrol_notes.txt"
EMAIL = "bruce@wayne.enterprises"
ACTIVITY = "Checked the Bat-Signal"
LINE = f"User {EMAIL} activity: {ACTIVITY}\n"
EARLIER = "User alfred@wayne.enterprises activity: Polished the Batmobile\n"
LATER = "User lucius@wayne.enterprises activity: Tuned the Tumbler\n"
MESSAGE = "--- BACKGROUND TASK: Creating log file ---"


def log(submission, **setup):
    """One call of the task. Into a log file that is already there, it must log the activity (its words are
    in the file afterwards, as the judge reads it): those calls are what a creation message is told apart from,
    so one that did not do its work (it raised, say) cannot stand for "the file was there". What the first
    call, with no log file, writes is what the tests check. The exception a call raised only explains."""
    seen = submission.call(TASK, EMAIL, ACTIVITY, watch=[LOG_FILE], **setup)
    if LOG_FILE not in setup.get("files", {}):
        return seen
    logged = seen.files.get(LOG_FILE)
    check(
        logged is not None and ACTIVITY in logged,
        tried=call_tried(TASK, EMAIL, ACTIVITY),
        got=(f"it raised {seen.error.sentence()}" if seen.error else f"{LOG_FILE} holds {shown(logged)}"
             if logged is not None else f"no {LOG_FILE}"),
        expected=f"it to log the activity: {ACTIVITY!r} written to {LOG_FILE}",
        hint="the lesson's version of this function works: compare your edits with it.",
    )
    return seen


def with_and_without_the_file(submission, **setup):
    """Logs into a log that already holds an entry, then once more into a log with other entries and another
    file beside it (the comparison call), then once with no log file (its folder removed, then `setup`). The
    call without the file comes last in its folder, so a task can tell it from the others only by looking for
    the file, not by being the first call there (a reviewer's attack remembered the folders it had seen)."""
    existing = log(submission, files={LOG_FILE: EARLIER})
    again = log(submission, files={LOG_FILE: EARLIER + LATER, BESIDE: "Bat-Signal bulb replaced\n"})
    missing = log(submission, absent=[LOG_DIR], **setup)
    return Calls(missing, existing, again)


def situation(setup):
    return f"an empty {LOG_DIR}/ folder" if setup else f"no {LOG_DIR}/ folder"


@pytest.mark.parametrize(
    "setup",
    [{}, {"dirs": [LOG_DIR]}],
    ids=["no-log-folder", "empty-log-folder"],
)
def test_creation_is_announced_when_the_log_file_is_missing(submission, setup):
    calls = with_and_without_the_file(submission, **setup)
    text = diagnosis.HINT + (" Check the file, not the folder." if setup else "")
    check(
        diagnosis.announcements(calls),
        tried=f"{TASK}(...) twice with {LOG_FILE} already there, then with {situation(setup)}",
        got=diagnosis.no_announcement(calls),
        expected=f"a message such as {MESSAGE} the first time only",
        hint=diagnosis.hint(calls, text, text),
    )


def test_creation_is_announced_before_the_file_is_opened(submission):
    calls = with_and_without_the_file(submission)
    messages = diagnosis.announcements(calls)
    check(
        messages and not messages[0].watched.get(LOG_FILE, True),
        tried=f"{TASK}(...) with no log file yet",
        got=(f"{messages[0].text!r} was printed after {LOG_FILE} was created" if messages
             else diagnosis.without_a_creation_message(calls)),
        expected=f"the creation message printed while {LOG_FILE} does not exist yet",
        hint=diagnosis.hint(calls, "print the message before the `with open(...)` line, not after it."),
    )


def test_an_announced_log_file_holds_the_logged_line(submission):
    calls = with_and_without_the_file(submission)
    written = calls.missing.files.get(LOG_FILE)
    messages = diagnosis.printed_when_missing(calls)
    check(
        messages and written == LINE,
        tried=f"{TASK}(...) with no log file yet",
        got=(diagnosis.without_a_creation_message(calls) if not messages
             else f"it printed {messages[0].text!r}, then wrote no {LOG_FILE}" if written is None
             else f"it printed {messages[0].text!r}, then the new log held {written!r}"),
        expected=f"the creation message, then {LINE!r} written to {LOG_FILE}",
        hint=diagnosis.hint(calls, "the log line is written on every call, whether the file was there or not: keep "
                            'the `with open(..., mode="a")` block outside the `if`, after it.' if written is None
                            else "write the log line into the new file as before, and nothing else.", any_message=True),
    )


def test_a_log_file_with_earlier_entries_keeps_them(submission):
    calls = with_and_without_the_file(submission, dirs=["elsewhere"])
    held = calls.existing.files.get(LOG_FILE)
    gone = [entry for entry in (EARLIER, LINE) if entry not in (held or "")]
    check(
        diagnosis.printed_when_missing(calls) and held == EARLIER + LINE,
        tried=f"{TASK}(...) when {LOG_FILE} already holds {EARLIER!r}",
        got=(diagnosis.without_a_creation_message(calls) if not diagnosis.printed_when_missing(calls)
             else f"the log holds {held!r}: " + (f"{' and '.join(repr(entry) for entry in gone)} missing" if gone
                                                  else "not the earlier entry followed by the new line")),
        expected=f"the log holding {EARLIER + LINE!r}: the earlier entry, then the new line",
        hint=diagnosis.hint(calls, 'open the log in append mode ("a"), which keeps what the file holds; "w" empties '
                            "it first.", any_message=True),
    )
