"""Exercise 4 (stretch): log_batcomputer_activity announces the log file when, and only when, it creates it.

The announcement is recognised by behaviour, not by its words: it is a line the task prints when the log
file is missing and that has no counterpart when the file exists. The task is called with the same
arguments three times: with a log file, with one again whose surroundings differ (other earlier entries,
another file in the log folder), then with no log file (its folder removed): last, so that only looking for
the file tells that call apart. A line of the call without the file has a counterpart when the file exists if the same line is printed in its place once digits are set aside (a time, a count), or if
the line printed in its place changes between the two calls with the file there (a listing of the folder,
an id): such lines are printed on every call, so they are not creation messages, however they change.
"""

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

import pytest

from alfred.judge.feedback import call_tried, check, lines, shown
from alfred.judge.observation import Event, Observation

pytestmark = pytest.mark.stretch

TASK = "log_batcomputer_activity"
LOG_DIR = "batcomputer_logs"
LOG_FILE = f"{LOG_DIR}/activity_log.txt"
BESIDE = f"{LOG_DIR}/patrol_notes.txt"
EMAIL = "bruce@wayne.enterprises"
ACTIVITY = "Checked the Bat-Signal"
LINE = f"User {EMAIL} activity: {ACTIVITY}\n"
EARLIER = "User alfred@wayne.enterprises activity: Polished the Batmobile\n"
LATER = "User lucius@wayne.enterprises activity: Tuned the Tumbler\n"
MESSAGE = "--- BACKGROUND TASK: Creating log file ---"
ABOUT_THE_FILE = re.compile(r"log|file|creat", re.IGNORECASE)
CREATING = re.compile(r"creat|initiali[sz]", re.IGNORECASE)  # a creation message in the lesson's sense
NUMBER = re.compile(r"\d+(?:\.\d+)?")  # a whole number or a decimal one: 12, 44.069120
HINT = f'check os.path.exists("{LOG_FILE}") before opening the file, and print the message only when it is False.'
ALWAYS_HINT = (f"The message is printed even when the log file exists: print it only when "
               f"os.path.exists(\"{LOG_FILE}\") is False, testing the very path you open. A check of another "
               "path (the file name without its folder, a misspelt name) is False every time, and so is no check.")
EVERY_CALL_HINT = (" A line printed on every call does not count, even when what it shows changes (a time, a count, "
                   "the folder's contents): print a message of its own, only when the file is missing (and if you "
                   "keep an `else` message, let it show nothing that changes from call to call).")


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


@dataclass(frozen=True)
class Calls:
    """The same call three times: `missing` with no log file, `existing` with one, `again` with one whose
    surroundings differ (two earlier entries, another file beside it), to see what changes from call to call."""

    missing: Observation
    existing: Observation
    again: Observation


def with_and_without_the_file(submission, **setup):
    """Logs into a log that already holds an entry, then once more into a log with other entries and another
    file beside it (the comparison call), then once with no log file (its folder removed, then `setup`). The
    call without the file comes last in its folder, so a task can tell it from the others only by looking for
    the file, not by being the first call there (a reviewer's attack remembered the folders it had seen)."""
    existing = log(submission, files={LOG_FILE: EARLIER})
    again = log(submission, files={LOG_FILE: EARLIER + LATER, BESIDE: "Bat-Signal bulb replaced\n"})
    missing = log(submission, absent=[LOG_DIR], **setup)
    return Calls(missing, existing, again)


def shape(text: str | None) -> str:
    """A printed line with its numbers set aside: times, counts and sizes change between calls."""
    return NUMBER.sub("#", text or "")


@dataclass(frozen=True)
class Line:
    """A line printed without the log file, and what stands in its place when the file exists."""

    event: Event
    kind: str  # "only": no counterpart; "same": printed with the file too; "every call": a changing line instead
    there: str | None = None  # the line printed in its place with the file there
    again: str | None = None  # and in the comparison call, for "every call"


COMPARED_LINES, COMPARED_CHARS = 100, 200  # a task prints a handful of lines: the judge's work stays small


def paired_lines(calls: Calls) -> list[Line]:
    """Each line printed without the log file, with its counterpart when the file exists. The two runs are
    lined up by position (difflib), comparing lines with their digits set aside. A line printed in place of a
    line of the run with the file is its counterpart when that line changes in the comparison call. Only the
    first COMPARED_LINES lines of each call are compared, each by its first COMPARED_CHARS characters, so a
    flood of output costs the judge no more than an honest task's few lines."""
    missing = [e for e in calls.missing.events if e.kind == "print"][:COMPARED_LINES]
    there, again = calls.existing.printed()[:COMPARED_LINES], calls.again.printed()[:COMPARED_LINES]
    there_shapes, again_shapes = [shape(t)[:COMPARED_CHARS] for t in there], [shape(t)[:COMPARED_CHARS] for t in again]
    changing: dict[int, str | None] = {}  # index in `there` -> what the comparison call printed instead
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, there_shapes, again_shapes, autojunk=False).get_opcodes():
        if tag != "equal":
            for offset in range(i2 - i1):
                changing[i1 + offset] = again[j1 + offset] if j1 + offset < j2 else None
    missing_shapes = [shape(e.text)[:COMPARED_CHARS] for e in missing]
    found = [Line(e, "only") for e in missing]
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, missing_shapes, there_shapes, autojunk=False).get_opcodes():
        if tag == "equal":
            for offset in range(i2 - i1):
                found[i1 + offset] = Line(missing[i1 + offset], "same", there[j1 + offset])
        elif tag == "replace":
            unpaired = list(range(i1, i2))
            for j in (j for j in range(j1, j2) if j in changing):
                if not unpaired:
                    break
                # the changing line stands in place of the line most like it
                i = max(unpaired, key=lambda i: (SequenceMatcher(None, missing_shapes[i], there_shapes[j]).quick_ratio(), -i))
                unpaired.remove(i)
                found[i] = Line(missing[i], "every call", there[j], changing[j])
    return found


def announcements(calls: Calls) -> list[Event]:
    """The creation message, recognised by behaviour rather than by its words (the lesson asks for "a message
    like" its own): a line printed when the log file was missing, with no counterpart when it existed, that
    speaks of the log, a file or creating."""
    return [line.event for line in paired_lines(calls)
            if line.kind == "only" and ABOUT_THE_FILE.search(line.event.text or "")]


def printed_on_every_call(calls: Calls) -> Line | None:
    """The first line about the file that looks like a creation message but is printed on every call, with
    other details (a time, a count, a listing)."""
    return next((line for line in paired_lines(calls) if ABOUT_THE_FILE.search(line.event.text or "")
                 and (line.kind == "every call" or (line.kind == "same" and line.there != line.event.text))),
                None)


def every_call(line: Line) -> str:
    """What `got` says about a line printed on every call."""
    if line.kind == "same":
        return (f"{line.event.text!r} was printed without the file and {line.there!r} with it: the same line with "
                "other numbers, printed on every call")
    after = f", and {line.again!r} on a third call, with other entries in the log" if line.again is not None else ""
    return (f"{line.event.text!r} was printed without the file, but with the file there {line.there!r} was "
            f"printed in its place{after}: so it is taken for one line printed on every call, whose details change")


def always_printed(calls: Calls) -> Line | None:
    """A creation message printed, word for word, on every call: with the log file there as without it."""
    return next((line for line in paired_lines(calls) if line.kind == "same" and line.there == line.event.text
                 and CREATING.search(line.event.text or "")), None)


def no_announcement(calls: Calls) -> str:
    """What `got` says when there is no creation message."""
    always = always_printed(calls)
    if always:
        return f"{always.event.text!r} is printed even when {LOG_FILE} already exists: on every call, not only for a new file"
    changing = printed_on_every_call(calls)
    if changing:
        return every_call(changing)
    others = [line.event.text for line in paired_lines(calls) if line.kind == "only"]
    if others:
        return (f"the only line printed just without the file, {lines(others)}, does not speak of the log file"
                if len(others) == 1 else
                f"the lines printed just without the file, {lines(others)}, do not speak of the log file")
    return f"the same lines were printed with and without the log file ({lines(calls.missing.printed())})"


def printed_when_missing(calls: Calls) -> list[Event]:
    """What the tests of the log's content take for the creation message: the creation message, or one printed
    word for word on every call. The lesson's stretch asks for two things, the message when the file is missing
    and none when it exists, while the log goes on being written in append mode: a message printed on every call
    misses the second (the announcement tests), not the log's content. Without any message, the log's content
    is the worked example's, work the stretch did not do, and those tests fail."""
    always = always_printed(calls)
    return announcements(calls) or ([always.event] if always else [])


def hint(calls: Calls, text: str, when_missing: str = HINT, any_message: bool = False) -> str:
    """`text` when there is a creation message (`any_message`: or one printed on every call). Without one, the
    tests that need it say how to add it (`when_missing`), not how to fix what they go on to check, plus a word
    on lines printed on every call when that is why there is none."""
    if (printed_when_missing if any_message else announcements)(calls):
        return text
    if always_printed(calls):
        return ALWAYS_HINT
    return when_missing + (EVERY_CALL_HINT if printed_on_every_call(calls) else "")


def without_a_creation_message(calls: Calls) -> str:
    """`got` for a test that checks what comes with the creation message, when there is no creation message:
    that is what differs from what it expects, whatever the log holds."""
    if always_printed(calls):
        return f"{no_announcement(calls)}, so it does not announce a new log file"
    return f"there is no creation message (a line printed only when the log file is missing); {no_announcement(calls)}"


def situation(setup):
    return f"an empty {LOG_DIR}/ folder" if setup else f"no {LOG_DIR}/ folder"


@pytest.mark.parametrize(
    "setup",
    [{}, {"dirs": [LOG_DIR]}],
    ids=["no-log-folder", "empty-log-folder"],
)
def test_creation_is_announced_when_the_log_file_is_missing(submission, setup):
    calls = with_and_without_the_file(submission, **setup)
    text = HINT + (" Check the file, not the folder." if setup else "")
    check(
        announcements(calls),
        tried=f"{TASK}(...) twice with {LOG_FILE} already there, then with {situation(setup)}",
        got=no_announcement(calls),
        expected=f"a message such as {MESSAGE} the first time only",
        hint=hint(calls, text, text),
    )


def test_creation_is_announced_before_the_file_is_opened(submission):
    calls = with_and_without_the_file(submission)
    messages = announcements(calls)
    check(
        messages and not messages[0].watched.get(LOG_FILE, True),
        tried=f"{TASK}(...) with no log file yet",
        got=(f"{messages[0].text!r} was printed after {LOG_FILE} was created" if messages
             else without_a_creation_message(calls)),
        expected=f"the creation message printed while {LOG_FILE} does not exist yet",
        hint=hint(calls, "print the message before the `with open(...)` line, not after it."),
    )


def test_an_announced_log_file_holds_the_logged_line(submission):
    calls = with_and_without_the_file(submission)
    written = calls.missing.files.get(LOG_FILE)
    messages = printed_when_missing(calls)
    check(
        messages and written == LINE,
        tried=f"{TASK}(...) with no log file yet",
        got=(without_a_creation_message(calls) if not messages
             else f"it printed {messages[0].text!r}, then wrote no {LOG_FILE}" if written is None
             else f"it printed {messages[0].text!r}, then the new log held {written!r}"),
        expected=f"the creation message, then {LINE!r} written to {LOG_FILE}",
        hint=hint(calls, "the log line is written on every call, whether the file was there or not: keep the "
                  '`with open(..., mode="a")` block outside the `if`, after it.' if written is None
                  else "write the log line into the new file as before, and nothing else.", any_message=True),
    )


def test_a_log_file_with_earlier_entries_keeps_them(submission):
    calls = with_and_without_the_file(submission, dirs=["elsewhere"])
    held = calls.existing.files.get(LOG_FILE)
    gone = [entry for entry in (EARLIER, LINE) if entry not in (held or "")]
    check(
        printed_when_missing(calls) and held == EARLIER + LINE,
        tried=f"{TASK}(...) when {LOG_FILE} already holds {EARLIER!r}",
        got=(without_a_creation_message(calls) if not printed_when_missing(calls)
             else f"the log holds {held!r}: " + (f"{' and '.join(repr(entry) for entry in gone)} missing" if gone
                                                  else "not the earlier entry followed by the new line")),
        expected=f"the log holding {EARLIER + LINE!r}: the earlier entry, then the new line",
        hint=hint(calls, 'open the log in append mode ("a"), which keeps what the file holds; "w" empties it first.',
                  any_message=True),
    )
