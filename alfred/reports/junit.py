"""JUnit XML, one file per student (`junit/<name>.xml`), for CI dashboards such as GitLab's test reports
(`artifacts: reports: junit:`) and Jenkins: a `<testsuite>` named after the student, with the score, status
and flags as properties, and one `<testcase>` per entry of alfred.reports.entries: the exercise's label as
`classname`, the test's name as `name` (a hidden check group: its public sentence, never its tests), a
`<failure>` holding the learner message, a `<skipped>` for a test that did not run because the file did not
import. A submission with no test (nothing to grade, or the grader failed: ungradable) is one `<error>` case
saying why.

Written with junitparser, which escapes XML's markup; student words are printable first (control characters
escaped, alfred.judge.feedback.printable) and XML's two noncharacters too, so every file is well-formed XML.
GitLab keys a test by classname and name: grade one student per CI job, as in a student's own repository.
"""

from __future__ import annotations

from junitparser import Error, Failure, Skipped, TestCase, TestSuite

from alfred.reports.entries import Entry, cut, entries
from alfred.reports.rows import UNGRADABLE, ResultRow

NAME = "junit"
SUBMISSION = "submission"  # the classname of the one case of a submission that has no test


def for_student(row: ResultRow, name: str) -> dict[str, str]:
    return {f"junit/{name}.xml": xml_text(row)}


def for_class(rows: list[ResultRow]) -> dict[str, str]:
    return {}


def xml_text(row: ResultRow) -> str:
    suite = TestSuite(_xml(cut(row["student"], 200)))
    for name, value in (("score", f"{row['score']:g}"), ("max_score", f"{row['max_score']:g}"),
                        ("status", row["status"]), ("flags", "; ".join(row["flags"]))):
        suite.add_property(name, _xml(cut(value)))
    cases = [] if row["status"] == UNGRADABLE else [_case(entry) for entry in entries(row)]
    if not cases:
        case = TestCase("grading", SUBMISSION)
        case.result = [_result(Error, row["message"])]
        cases = [case]
    suite.add_testcases(cases)
    return suite.tostring().decode("utf-8")


def _case(entry: Entry) -> TestCase:
    case = TestCase(_xml(entry.name), _xml(entry.label))
    if entry.outcome == "failed":
        case.result = [_result(Failure, entry.message)]
    elif entry.outcome != "passed":  # not run, skipped: the file did not import, or the run stopped before it
        case.result = [_result(Skipped, entry.message)]
    return case


def _result(kind, message: str):
    """A failure, an error or a skip: its first line as the message attribute (what Jenkins lists), the whole
    message as its text (what GitLab shows)."""
    message = _xml(cut(message))
    result = kind(message.strip().splitlines()[0][:300] if message.strip() else kind.__name__.lower(),
                  kind.__name__.lower())
    result.text = message
    return result


def _xml(text: str) -> str:
    """XML 1.0 allows every character `printable` leaves but U+FFFE and U+FFFF: those are escaped the same way."""
    return text.replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")
