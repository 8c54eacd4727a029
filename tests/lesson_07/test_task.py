"""Exercise 2 (task): simulate_intel_report_compilation(report_request) announces, works 5 s, announces.

The task is called with a report request object the kit builds, so these tests do not depend on the
student's model (exercise 1). Time is virtual: the 5 seconds pass at once.
"""

import re
import sys

import pytest

from alfred.judge.driver import model_object
from alfred.judge.feedback import call_tried, check, lines, source_call
from alfred.judge.timeline import around_the_sleeps

pytestmark = pytest.mark.task

TASK = "simulate_intel_report_compilation"
REPORTS = [
    pytest.param("Penguin's smuggling routes", "bruce@wayne.enterprises", id="penguin"),
    pytest.param("Riddler's whereabouts", "oracle@gotham.gov", id="riddler"),
]


def report(email, name):
    """The report request the task is given: the student's own IntelReportRequest holding these fields, or
    while that model cannot hold them, a stand-in of the kit's (exercise 1 is graded on its own)."""
    return model_object("IntelReportRequest", recipient_email=email, report_name=name)


def run_task(submission, name, email):
    """Runs the task. An error it raises fails only the tests of what it did not get to do: a task that
    crashes in its end message still earns its start message and its 5 seconds."""
    return submission.call(TASK, report(email, name))


def raised(seen):
    return f"; then it raised {seen.error.sentence()}" if seen.error else ""


# Modules a task may use without importing them: the standard library's, and the lesson's packages.
MODULES = frozenset(sys.stdlib_module_names) | {"anyio", "fastapi", "pydantic", "starlette"}
NOT_DEFINED = re.compile(r"name '([^']+)' is not defined")


def reading_the_fields(error):
    """Whether the error is one of reading the report request's fields the wrong way: a missing attribute of
    the object (not of a module), a key, a subscript."""
    return (error.type == "KeyError" or (error.type == "TypeError" and "subscriptable" in error.message)
            or (error.type == "AttributeError" and not error.message.startswith("module ")))


def hint_or_error(seen, hint):
    """`hint`, or what to do about the error the task raised, by its kind: the error is named, and an error
    that has nothing to do with the report request's fields (a missing import, say) is not blamed on them."""
    error = seen.error
    if error is None:
        return hint
    at = f" at line {error.line}" if error.line else ""
    if error.type == "NotImplementedError":
        return "write the task's body in place of its `raise NotImplementedError(...)` line."
    if error.type == "TypeError" and "argument" in error.message:
        return (f"{TASK} takes one parameter, the report request object: def {TASK}(report_request: "
                "IntelReportRequest).")
    if reading_the_fields(error):
        return (f"fix the {error.type}{at} first: read report_request.report_name and report_request.recipient_email "
                "from the object you get.")
    undefined = NOT_DEFINED.search(error.message) if error.type in ("NameError", "UnboundLocalError") else None
    if undefined and undefined.group(1) in MODULES:
        module = undefined.group(1)
        return (f"fix the NameError{at} first: the task uses the module {module}, but main.py has no "
                f"`import {module}`: add it at the top of main.py.")
    if undefined and undefined.group(1) == "report_request":
        return (f"fix the NameError{at} first: the task's body reads report_request, so name its parameter so: "
                f"def {TASK}(report_request: IntelReportRequest).")
    if undefined:
        return (f"fix the NameError{at} first: nothing is named {undefined.group(1)} where the task uses it; check "
                f"the spelling, or import or define it. Then {hint}")
    if error.type in ("ImportError", "ModuleNotFoundError"):
        return (f"fix the {error.type}{at} first ({error.message}): check the spelling of the module and of the "
                f"name you import from it. Then {hint}")
    return f"fix the {error.type} the task raises{at} first (see Got). Then {hint}"


def split_at_work(seen):
    """The lines printed before the first simulated sleep, and after the last one. With no sleep at all, the
    first line stands for the start message and the others for the end message."""
    printed = seen.printed("call")
    return around_the_sleeps(seen) or (printed[:1], printed[1:])


def around_the_work(seen, side, texts):
    """What `got` says the task printed `side` ("before" or "after") its simulated work; when there was no
    work to be before or after, it says so rather than speak of it."""
    if seen.sleeps("call"):
        return f"{side} the simulated work it printed {lines(texts)}{raised(seen)}"
    printed = seen.printed("call")
    if seen.error:
        return (f"no simulated work was done (no sleep ran): it printed {lines(printed)}, "
                f"then raised {seen.error.sentence()}")
    part = {"before": "its first line, which stands for the start message",
            "after": "the lines after its first"}[side]
    return f"it did no simulated work (no sleep ran); it printed {lines(printed)}, so {part}: {lines(texts)}"


def mentions_both(texts, name, email):
    """True when the lines, read together, name the report and the recipient (a banner may span lines)."""
    together = "\n".join(texts)
    return name in together and email in together


@pytest.mark.parametrize(("name", "email"), REPORTS)
def test_task_announces_the_report_and_recipient_before_the_work(submission, name, email):
    seen = run_task(submission, name, email)
    before, _ = split_at_work(seen)
    check(
        mentions_both(before, name, email),
        tried=call_tried(TASK, source_call("IntelReportRequest", recipient_email=email, report_name=name)),
        got=around_the_work(seen, "before", before),
        expected=f"a start message naming {name!r} and {email!r}, printed before time.sleep(5)",
        hint=hint_or_error(seen, "print something like "
                           "f\"Compiling {report_request.report_name} for {report_request.recipient_email}\" first."),
    )


@pytest.mark.parametrize(("name", "email"), REPORTS)
def test_task_announces_the_report_and_recipient_after_the_work(submission, name, email):
    seen = run_task(submission, name, email)
    _, after = split_at_work(seen)
    check(
        mentions_both(after, name, email),
        tried=call_tried(TASK, source_call("IntelReportRequest", recipient_email=email, report_name=name)),
        got=around_the_work(seen, "after", after),
        expected=f"an end message naming {name!r} and {email!r}, printed after time.sleep(5)",
        hint=hint_or_error(seen, "print the end message after the sleep, and name the report and the recipient in it too."),
    )


@pytest.mark.parametrize(("name", "email"), REPORTS)
def test_task_works_for_exactly_five_simulated_seconds(submission, name, email):
    seen = run_task(submission, name, email)
    slept = sum(seen.sleeps("call"))
    never_awaited = any("never awaited" in warning for warning in seen.warnings)
    check(
        slept == 5,
        tried=call_tried(TASK, source_call("IntelReportRequest", recipient_email=email, report_name=name)),
        got=f"it slept {slept:g} simulated seconds ({seen.sleeps('call') or 'no sleep at all'}){raised(seen)}",
        expected="5 simulated seconds of work: time.sleep(5) (or await asyncio.sleep(5) in an async task)",
        hint="asyncio.sleep(5) does nothing unless awaited: in a plain `def` task call time.sleep(5); in an "
        "`async def` task write `await asyncio.sleep(5)`."
        if never_awaited else hint_or_error(seen, "call time.sleep(5) once, between the start and the end message."),
    )
