"""What went wrong in exercise 2 (task), for test_task.py and its hidden check: the `got` sentences and the
hints of its failures, by what the task printed, slept and raised.

It imports nothing from the test module, which imports it: the lesson's names its sentences use are defined
here, and the tests take them from here.
"""

import re
import sys

from alfred.judge.feedback import lines

TASK = "simulate_intel_report_compilation"


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


def sleep_hint(seen):
    """The hint for a task that did not work 5 simulated seconds: an asyncio.sleep never awaited is told apart."""
    never_awaited = any("never awaited" in warning for warning in seen.warnings)
    return ("asyncio.sleep(5) does nothing unless awaited: in a plain `def` task call time.sleep(5); in an "
            "`async def` task write `await asyncio.sleep(5)`."
            if never_awaited else hint_or_error(seen, "call time.sleep(5) once, between the start and the end message."))
