"""What went wrong in exercise 4 (stretch), for test_stretch.py and its hidden check: the reading of the three
calls' timelines that tells a creation message from a line printed on every call (see test_stretch.py), the
`got` sentences of its failures and their hints.

It imports nothing from the test module, which imports it: the lesson's names its sentences use are defined
here, and the tests take them from here. The checks take their reading of the calls (`announcements`,
`printed_when_missing`) from here too, so that what fails a test and what its message says are one reading.
"""

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from alfred.judge.feedback import lines
from alfred.judge.observation import Event, Observation

LOG_DIR = "batcomputer_logs"
LOG_FILE = f"{LOG_DIR}/activity_log.txt"
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


@dataclass(frozen=True)
class Calls:
    """The same call three times: `missing` with no log file, `existing` with one, `again` with one whose
    surroundings differ (two earlier entries, another file beside it), to see what changes from call to call."""

    missing: Observation
    existing: Observation
    again: Observation


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
