"""The judge's own safety margins, each checked directly: what a student process may send is bounded and
validated, and a student's words in the reports stay words (no terminal escapes, no Markdown or HTML that a
viewer would render). What a submission leaves behind is checked in test_sandbox.py."""

import re

import pytest
from markdown_it import MarkdownIt
from pydantic import ValidationError

from alfred.reports.feedback import markdown as feedback_markdown
from alfred.reports.gradebook import csv_text as _gradebook
from alfred.reports.summary import markdown as _summary
from alfred.judge.observation import Observation
from alfred.inside.probe import MAX_EVENTS, MAX_OUTPUT_EVENTS, run_probe
from alfred.course.targets import SOLUTIONS_MAIN
from kits_lesson import the_kits_lesson_only

# --- the channel ---


@the_kits_lesson_only
def test_a_flood_of_prints_is_cut_but_the_task_still_reports_how_it_ended(tmp_path):
    flood = SOLUTIONS_MAIN.read_text().replace(
        "    time.sleep(5)\n", "    time.sleep(5)\n    for _ in range(10_000):\n        print()\n        time.sleep(0)\n", 1)
    (tmp_path / "main.py").write_text(flood)
    raw = run_probe(tmp_path / "main.py", {"action": "request", "method": "POST", "path": "/request-intel-report",
                                           "json": {"recipient_email": "bruce@wayne.enterprises", "report_name": "x"}},
                    tmp_path)
    observation = Observation.model_validate(raw)
    assert raw["output_truncated"]
    assert MAX_OUTPUT_EVENTS <= len(observation.events) <= MAX_EVENTS
    assert [kind for kind in ("task-start", "task-end") if observation.index(kind) is None] == []


def test_a_forged_reply_with_too_many_events_is_rejected():
    event = {"kind": "task-start", "t": 0.0, "phase": "task", "function": "f"}
    Observation.model_validate({"events": [event] * MAX_EVENTS})
    with pytest.raises(ValidationError):
        Observation.model_validate({"events": [event] * (MAX_EVENTS + 1)})


def test_sending_a_probe_to_a_process_that_stopped_reading_gives_up_at_the_deadline():
    import os
    import time

    from alfred.judge.sandboxed import _write_before

    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        assert _write_before(write_end, b"x" * 1000, time.monotonic() + 1)  # read later, fits the pipe
        assert not _write_before(write_end, b"x" * 10_000_000, time.monotonic() + 0.05)  # nobody reads 10 MB
    finally:
        os.close(read_end)
        os.close(write_end)


def test_task_runs_pair_each_start_with_the_next_end():
    kinds = ["task-start", "print", "task-end", "task-start", "task-start", "task-end", "task-start"]
    observation = Observation.model_validate({"events": [{"kind": k, "t": 0, "phase": "task"} for k in kinds]})
    assert observation.task_runs() == [(0, 2), (3, 5), (4, 5), (6, None)]


# --- the student's words in the reports ---

PAYLOAD = ("\x1b[2J\x1b[31mall passed\x1b[0m \u202eevil\u202c\x07\n```\n````\n# Score: 100 / 100 MARKER\n"
           "<script>alert('MARKER')</script>\n![MARKER](http://example.invalid/pixel.png) | --- |")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _row(message: str, learner: dict | None = None) -> dict:
    test = {"exercise": "task", "name": "the task prints", "outcome": "failed", "message": message, "learner": learner}
    exercises = {i: {"score": 0.0, "max_score": 10.0, "passed": 0, "total": 1 if i == "task" else 0}
                 for i in ("lesson", "model", "task", "endpoint", "stretch")}
    return {"student": "robin", "status": "error", "score": 0.0, "max_score": 100.0, "exercises": exercises,
            "flags": [], "message": message, "tests": [test]}


def _outside_code(markdown: str) -> str:
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    return re.sub(r"<code[^>]*>.*?</code>", "", html, flags=re.DOTALL)


@the_kits_lesson_only
def test_student_words_in_feedback_and_summary_stay_inert_text():
    from alfred.judge.feedback import printable

    row = _row(printable(f"Got:      it raised RuntimeError: {PAYLOAD}"))
    for report in (feedback_markdown(row), _summary([row, {**row, "status": "graded"}])):
        assert not CONTROL.search(report)
        assert "MARKER" in report and "MARKER" not in _outside_code(report)
        assert "<script" not in _outside_code(report) and "<img" not in _outside_code(report)


def test_printable_escapes_controls_and_keeps_every_other_character():
    from alfred.judge.feedback import printable

    assert printable("é ✓ 🎉 line\n\tnext") == "é ✓ 🎉 line\n\tnext"
    assert printable("\x1b[2J\u202e\x00") == "\\x1b[2J\\u202e\\x00"


@the_kits_lesson_only
def test_a_student_id_that_looks_like_a_formula_opens_as_text_in_the_gradebook():
    row = {**_row("Got:      nothing"), "student": '=HYPERLINK("http://example.invalid","x")'}
    cell = _gradebook([row]).splitlines()[1].split(",")[0]
    assert cell.startswith("\"'=HYPERLINK")


@the_kits_lesson_only
def test_exercism_output_is_cut_at_500_characters_with_a_note_and_a_broken_file_is_an_error():
    import json
    from pathlib import Path

    import jsonschema

    from alfred.reports import exercism

    schema = json.loads((Path(__file__).parent / "schemas" / "exercism-results-v3.schema.json").read_text())
    from dataclasses import asdict

    from alfred.judge.feedback import LearnerMessage

    message = LearnerMessage(tried="POST /x", got="y" * 2000, expected="z", hint="h")
    long = _row(message.text, asdict(message))
    results = exercism.results({**long, "status": "graded"})
    jsonschema.validate(results, schema)
    output = results["tests"][0]["output"]
    assert len(output) == 500 and output.endswith(exercism.CUT_NOTE) and results["tests"][0]["task_id"] == 2
    broken = exercism.results(long)  # status error: nothing could be tested
    jsonschema.validate(broken, schema)
    assert broken["status"] == "error" and broken["message"] and "tests" not in broken
