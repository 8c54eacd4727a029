"""Review flags (alfred.grading.review): what the lesson asks for and behaviour cannot show, read from main.py's
text. Correct files written differently raise none (but a flag their docstring declares, `flagged:`), each
kind of mistake raises its own words, code that answers the lesson's routes by hand is caught, flags cost
no point unless the course says so, and a lesson's `[[review]]` data is checked like the rest of lesson.toml."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from alfred.course.lesson import LessonError, current, load
from alfred.course.targets import KIT_ROOT, SOLUTIONS_MAIN
from alfred.grading.review import review
from kits_lesson import the_kits_lesson_only

CORPUS = KIT_ROOT / "tests" / "corpus"
CORRECT = sorted((CORPUS / "correct").glob("*.py")) + sorted((CORPUS / "correct").glob("*/main.py"))


def words(source: str) -> list[str]:
    return [flag.words for flag in review(source, current())]


@the_kits_lesson_only
@pytest.mark.parametrize("path", CORRECT, ids=lambda path: str(path.relative_to(CORPUS)))
def test_a_correct_file_raises_no_flag_but_those_it_declares(path):
    declared = re.findall(r"^flagged: (.+)$", path.read_text(), flags=re.MULTILINE)
    assert words(path.read_text()) == declared


def test_the_reference_and_the_demo_class_honest_student_raise_none():
    assert words(SOLUTIONS_MAIN.read_text()) == []
    assert words((KIT_ROOT / "demo_class" / "dick_grayson.py").read_text()) == []


@the_kits_lesson_only
@pytest.mark.parametrize("name, expected", [
    ("endpoint_never_schedules.py", "POST /request-intel-report does not call add_task"),
    ("endpoint_creates_its_own_background_tasks.py", "POST /request-intel-report takes no BackgroundTasks parameter"),
    ("endpoint_wrong_path_plural.py", "POST /request-intel-report is not declared with a route decorator"),
    ("endpoint_body_is_plain_dict.py", "POST /request-intel-report takes no model class as its body"),
    ("model_email_checked_with_a_pattern.py", "no field of IntelReportRequest is typed EmailStr"),
    ("model_forgets_basemodel_base.py", "IntelReportRequest is not a pydantic model"),
    ("lesson_log_endpoint_calls_task_inline.py", "POST /log-activity/{user_email} does not call add_task"),
])
def test_each_mistake_behaviour_may_miss_is_named(name, expected):
    found = words((CORPUS / "wrong" / name).read_text())
    assert any(flag.startswith(expected) and flag.endswith(": review by hand") for flag in found), found


RAW_ASGI_APP = '''
import json

async def app(scope, receive, send):
    """Answers POST /request-intel-report by hand: no FastAPI, no route, no model, no add_task."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    data = json.loads(body or b"{}")
    await send({"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps({"message": "ok"}).encode()})
    print("simulate_intel_report_compilation got", json.dumps(data))
'''

STARLETTE_APP = '''
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def report(request):
    return JSONResponse({"message": "ok"}, status_code=202)

app = Starlette(routes=[Route("/request-intel-report", report, methods=["POST"])])
'''

OBFUSCATED = SOLUTIONS_MAIN.read_text() + '''
import base64
exec(base64.b64decode(b"cHJpbnQoMSk="))
import builtins
getattr(builtins, "ex" + "ec")("print(2)")
'''


@the_kits_lesson_only
@pytest.mark.parametrize("source, expected", [
    (RAW_ASGI_APP, ["no FastAPI() app is bound to `app`", "POST /request-intel-report is not declared",
                    "POST /log-activity/{user_email} is not declared"]),
    (STARLETTE_APP, ["no FastAPI() app is bound to `app`", "POST /request-intel-report is not declared"]),
    (OBFUSCATED, ["runs code from text", "reaches names computed at run time"]),
    ((KIT_ROOT / "tests" / "attacks" / "model_answered_by_hand_on_the_socket.py").read_text(),
     ["no field of IntelReportRequest is typed EmailStr"]),
], ids=["a raw ASGI app", "a Starlette app without FastAPI", "obfuscated exec", "a model answered by hand"])
def test_code_that_answers_the_lesson_by_hand_is_flagged(source, expected):
    found = words(source)
    for start in expected:
        assert any(flag.startswith(start) for flag in found), (start, found)


def test_a_file_that_does_not_parse_raises_no_flag_its_error_row_says_why():
    assert words("def broken(:\n") == []


@the_kits_lesson_only
def test_lesson_review_data_is_checked_with_its_file_and_key(tmp_path):
    lesson = (current().suite / "lesson.toml").read_text()
    for bad, words_in_error in [('route = "POST /request-intel-report"', None),
                                ('route = "request-intel-report"', "'route' must be a method and a path"),
                                ('exercise = "nope"', "'exercise' names no exercise")]:
        text = lesson.replace('route = "POST /request-intel-report"', bad, 1) if "route" in bad else \
            lesson.replace('exercise = "endpoint"\nbackground_task', f'{bad}\nbackground_task', 1)
        (tmp_path / "lesson.toml").write_text(text)
        if words_in_error is None:
            assert load(tmp_path).review == current().review
        else:
            with pytest.raises(LessonError, match=re.escape(words_in_error)):
                load(tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="grading sandboxes with bubblewrap")
def test_flags_reach_the_gradebook_and_cost_points_only_when_the_course_says_so(tmp_path, capsys, monkeypatch):
    from alfred.cli import main
    from alfred.grading import grade

    klass = tmp_path / "class"
    klass.mkdir()
    shutil.copy(SOLUTIONS_MAIN, klass / "honest.py")
    shutil.copy(CORPUS / "correct" / "endpoint_starts_a_thread_for_the_task.py", klass / "threaded.py")

    def graded(out: str) -> dict:
        capsys.readouterr()
        assert main(["grade", str(klass), "--out", str(tmp_path / out), "--json", "--hidden-seed", "3"]) == 0
        return {row["student"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}

    rows = graded("default")
    flag = "POST /request-intel-report does not call add_task: review by hand"
    assert rows["honest"]["flags"] == [] and rows["threaded"]["flags"] == [flag]
    assert rows["threaded"]["score"] == 100  # a note for review, not a point lost
    assert flag in (tmp_path / "default" / "gradebook.csv").read_text()
    assert flag in (tmp_path / "default" / "summary.md").read_text() + (tmp_path / "default" / "report.html").read_text()
    assert flag in (tmp_path / "default" / "feedback" / "threaded.md").read_text()

    setting = tmp_path / "pyproject.toml"
    setting.write_text((KIT_ROOT / "pyproject.toml").read_text().replace("[tool.alfred]\n", "[tool.alfred]\nreview_costs_points = true\n", 1))
    monkeypatch.setattr(grade, "RUBRIC_FILE", setting)  # the grading pool forks: inherited
    costly = graded("costly")
    assert costly["threaded"]["exercises"]["endpoint"]["score"] == 0 and costly["threaded"]["score"] == 65
    assert costly["honest"]["score"] == 100
