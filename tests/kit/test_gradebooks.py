"""`--format canvas`, `--format moodle` (with `--roster FILE`) and `--format junit`: each file has the shape its
reader documents, and every field a student controls stays a field.

- canvas.csv is read here as Canvas's gradebook importer reads it (instructure/canvas-lms,
  app/models/gradebook_importer.rb: the header's student columns `Student`, `ID`, `SIS User ID`, `SIS Login ID`,
  `Section`; a `Points Possible` row; a student found by ID, SIS User ID, SIS Login ID, then name; a blank or
  `-` cell is no score).
- moodle.csv is read as Moodle's CSV grade import reads it (moodle/moodle, grade/import/csv/classes/load_data.php:
  one column mapped to a user field, username, email or ID number, a blank grade is no grade, any other must be
  a number, and a row whose identifier is blank keeps the student of the row before).
- junit/<name>.xml is validated against the JUnit schema Jenkins's xUnit plugin publishes (schemas/junit-10.xsd).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import xmlschema

from alfred.cli import main
from alfred.course.exercises import LESSON
from alfred.course.targets import SOLUTIONS_MAIN
from alfred.grading import corpus
from alfred.grading.grade import ungradable_row
from alfred.reports import canvas, junit, moodle, roster as rosters
from kits_lesson import skip_unless_the_kits_lesson

skip_unless_the_kits_lesson()  # lesson 7's corpora, loaded below

CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]  # Canvas's export, in order
MOODLE_USER_FIELDS = {"Username": "username", "Email address": "email", "ID number": "idnumber"}
FORMULA = '=HYPERLINK("http://example.invalid","x")'
HOSTILE = '</testcase><testcase name="forged"/>]]><!-- \x1b[2J\x00\ufffe\uffff & "quotes" <b>bold</b>'
BROKEN = next(sample for sample in corpus.load("broken") if "syntax" in sample.path.name)


def _row(student: str, score: float, status: str = "graded", message: str = "Every test passed.") -> dict:
    row = ungradable_row(student, "x")
    return {**row, "status": status, "score": score, "flags": [], "message": message} if status != "ungradable" else row


def _roster(tmp_path: Path, text: str) -> rosters.Roster:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return rosters.read(path)


# --- Canvas ---


def _canvas_reads(text: str) -> tuple[str, str, dict[tuple[str, str, str, str], str]]:
    """(assignment, points possible, {(name, id, sis user id, sis login id): grade}) as Canvas's importer reads
    the file; a header it would refuse ("Invalid header row") fails here."""
    lines = list(csv.reader(io.StringIO(text)))
    header = lines[0]
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1], header  # row_has_student_headers?
    assert header[:5] == CANVAS_STUDENT_COLUMNS, header  # SIS User ID then SIS Login ID: five student columns
    assert "Section" in header[4] and len(header) == 6, header  # the last student column, then one assignment
    assert "Points Possible" in lines[1][0]
    grades = {}
    for line in lines[2:]:
        key = tuple(line[:4])
        assert any(key), line  # Canvas would make an unknown student of a row that names nobody
        assert key not in grades, line
        grades[key] = line[5].strip()
    return header[5], lines[1][5], grades


def test_canvas_csv_has_canvass_columns_and_scores_rounded_as_canvas_keeps_them():
    rows = [_row("ada", 83.333333), _row("bob", 100.0), _row("carol", 0.0, status="error"),
            _row("dan", 0.0, status="ungradable")]
    assignment, possible, grades = _canvas_reads(canvas.csv_text(rows))
    assert assignment == (f"{LESSON.name}: {LESSON.title}" if LESSON.title else LESSON.name) and possible == "100"
    assert grades == {("ada", "", "", "ada"): "83.33", ("bob", "", "", "bob"): "100",
                      ("carol", "", "", "carol"): "0",  # a file that does not import earns 0, as in gradebook.csv
                      ("dan", "", "", "dan"): ""}  # the grader failed: no score, never a 0


def test_canvas_matches_students_through_the_roster_and_leaves_out_those_it_does_not_name(tmp_path):
    roster = _roster(tmp_path, "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section, Folder ,Assignment 1\n"
                               "Ada Lovelace,1001,S-1,alovelace,Section A,ada,7\n"
                               "Bob Byte,1002,,bbyte,Section B,bob,\n")
    rows = [_row("ada", 90.0), _row("bob", 45.5), _row("zed", 70.0)]
    _, _, grades = _canvas_reads(canvas.csv_text(rows, roster))
    assert grades == {("Ada Lovelace", "1001", "S-1", "alovelace"): "90", ("Bob Byte", "1002", "", "bbyte"): "45.5"}
    assert canvas.left_out(rows, roster) == ["zed"] and canvas.left_out(rows, None) == []
    assert "Section A" in canvas.csv_text(rows, roster) and "Assignment 1" not in canvas.csv_text(rows, roster)


# --- Moodle ---


def _moodle_reads(text: str) -> tuple[str, str, dict[str, float | None]]:
    """(user field mapped from, grade column, {identifier: grade}) as Moodle's CSV import reads the file."""
    lines = list(csv.reader(io.StringIO(text)))
    header = lines[0]
    assert len(header) == 2 and header[0] in MOODLE_USER_FIELDS, header
    grades: dict[str, float | None] = {}
    for line in lines[1:]:
        identifier, value = (cell.strip() for cell in line)
        assert identifier, line  # Moodle would give this grade to the student of the row before
        grades[identifier] = None if value in ("", "-") else float(value)  # else "badgrade": the import stops
    return MOODLE_USER_FIELDS[header[0]], header[1], grades


def test_moodle_csv_has_one_identifier_column_and_a_grade_column():
    rows = [_row("ada", 83.333333), _row("dan", 0.0, status="ungradable")]
    field, column, grades = _moodle_reads(moodle.csv_text(rows))
    assert field == "username" and column.startswith(LESSON.name)
    assert grades == {"ada": 83.33, "dan": None}


def test_moodle_takes_the_rosters_identifier_and_never_writes_a_row_without_one(tmp_path):
    roster = _roster(tmp_path, "folder,First name,Last name,ID number,Email address\n"
                               "ada,Ada,Lovelace,,ada@example.edu\nbob,Bob,Byte,,\n")
    rows = [_row("ada", 90.0), _row("bob", 45.0), _row("zed", 70.0)]
    field, _, grades = _moodle_reads(moodle.csv_text(rows, roster))
    assert field == "email" and grades == {"ada@example.edu": 90.0}
    assert moodle.left_out(rows, roster) == ["bob", "zed"]


# --- every field stays a field ---


def test_a_student_id_made_of_a_formula_opens_as_text_in_both_gradebooks():
    rows = [_row(FORMULA, 50.0), _row("+1-2", 50.0), _row("@SUM(A1)", 50.0)]
    for text in (canvas.csv_text(rows), moodle.csv_text(rows)):
        cells = [cell for line in csv.reader(io.StringIO(text)) for cell in line]
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")], cells
        assert f"'{FORMULA}" in cells


def test_a_roster_that_cannot_be_used_is_named_with_its_line(tmp_path):
    for text, words in (("name,login\nada,a\n", "must name a `folder` column"),
                        ("folder,Username\nada,a\n,b\n", "line 3 names no folder"),
                        ("folder,Username\nada,a\nada,b\n", "line 3 names the folder 'ada' a second time")):
        with pytest.raises(rosters.RosterError, match=words):
            _roster(tmp_path, text)
    (tmp_path / "latin1.csv").write_bytes("folder,Username\nzoé,z\n".encode("latin-1"))
    with pytest.raises(rosters.RosterError, match="not UTF-8"):
        rosters.read(tmp_path / "latin1.csv")


# --- JUnit ---


def _graded_row(outcomes: list[str], student: str = "ada", message: str = "Got: nothing") -> dict:
    row = _row(student, 0.0)
    names = ["test_a", "test_b", "test_c"]
    row["tests"] = [{"nodeid": f"tests/x/test_task.py::{name}", "name": name, "exercise": "task", "outcome": outcome,
                     "message": "" if outcome == "passed" else message, "learner": None, "hidden": None}
                    for name, outcome in zip(names, outcomes)]
    row["tests"].append({"nodeid": "tests/x/hidden/test_h.py::test_hidden_secret", "name": "test_hidden_secret",
                         "exercise": "task", "outcome": "failed", "message": "Got: SECRET-INPUT", "learner": None,
                         "hidden": "the task must name the report it was given"})
    row["exercises"]["task"] = {"score": 0.0, "max_score": 25.0, "passed": 1, "total": 4}
    return row


@functools.cache
def junit_schema() -> xmlschema.XMLSchema:
    """The Jenkins xUnit plugin's JUnit schema, built once, when a test first needs it (building it takes most of
    a second: not at collection, which every run of the quick tier pays)."""
    return xmlschema.XMLSchema(str(Path(__file__).parent / "schemas" / "junit-10.xsd"))


def _cases(text: str) -> list[ElementTree.Element]:
    junit_schema().validate(text)
    suite = ElementTree.fromstring(text)
    assert suite.tag == "testsuite"
    return suite.findall("testcase")


def test_junit_has_one_case_per_test_with_the_exercise_as_classname_and_hidden_checks_by_sentence():
    text = junit.xml_text(_graded_row(["passed", "failed", "not run"]))
    cases = _cases(text)
    assert [case.get("classname") for case in cases] == ["Exercise 2 (task)"] * 4
    assert [case.get("name") for case in cases] == ["test_a", "test_b", "test_c",
                                                    "hidden checks: the task must name the report it was given"]
    assert [[child.tag for child in case] for case in cases] == [[], ["failure"], ["skipped"], ["failure"]]
    assert cases[1].find("failure").text == "Got: nothing"
    assert "SECRET-INPUT" not in text and "test_hidden_secret" not in text
    suite = ElementTree.fromstring(text)
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "1")


def test_junit_of_a_submission_with_no_test_is_one_error_saying_why():
    (case,) = _cases(junit.xml_text(ungradable_row("ada", "the grader could not start its sandbox")))
    assert case.find("error") is not None and "could not start its sandbox" in case.find("error").text


def test_no_student_id_or_output_can_forge_or_break_the_xml():
    text = junit.xml_text(_graded_row(["failed", "failed", "failed"], student=HOSTILE, message=HOSTILE))
    cases = _cases(text)  # well-formed and valid: a noncharacter or a control character would make it neither
    assert len(cases) == 4 and "forged" not in [case.get("name") for case in cases]
    suite = ElementTree.fromstring(text)
    assert suite.get("name").startswith('</testcase><testcase name="forged"/>]]>')
    assert "\\x1b[2J\\x00\\ufffe\\uffff & \"quotes\" <b>bold</b>" in cases[0].find("failure").text


def test_the_junit_schema_can_fail():
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        junit_schema().validate('<testsuite name="x"><testcase name="y"/></testsuite>')  # no tests/failures/errors


# --- through the command line ---


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="alfred grade needs bubblewrap")
def test_alfred_grade_and_merge_write_every_gradebook_with_the_roster(tmp_path, capsys):
    class_folder, out = tmp_path / "class", tmp_path / "out"
    class_folder.mkdir()
    for student, sample in (("ada", SOLUTIONS_MAIN), ("=1+1", SOLUTIONS_MAIN), ("zed", BROKEN.path)):
        shutil.copyfile(sample, class_folder / f"{student}.py")
    roster = tmp_path / "roster.csv"
    roster.write_text('Student,ID,SIS User ID,SIS Login ID,Section,folder,Email address\n'
                      'Ada Lovelace,1001,S-1,alovelace,A,ada,ada@example.edu\n'
                      'Formula Fan,1002,S-2,ffan,A,=1+1,fan@example.edu\n')
    formats = ["--format", "canvas", "--format", "moodle", "--format", "junit", "--format", "prairielearn"]
    assert main(["grade", str(class_folder), "--out", str(out), "--jobs", "2", "--roster", str(roster), *formats]) == 0
    told = capsys.readouterr().err
    assert "left out of canvas.csv, the roster names no account for them: zed" in told
    assert "left out of moodle.csv, the roster names no account for them: zed" in told
    _, _, grades = _canvas_reads((out / "canvas.csv").read_text())
    assert grades == {("Ada Lovelace", "1001", "S-1", "alovelace"): "100",
                      ("Formula Fan", "1002", "S-2", "ffan"): "100"}
    assert _moodle_reads((out / "moodle.csv").read_text())[2] == {"ada@example.edu": 100.0, "fan@example.edu": 100.0}
    for path in (out / "junit").glob("*.xml"):
        _cases(path.read_text())
    assert len(list((out / "junit").glob("*.xml"))) == len(list((out / "prairielearn").glob("*.json"))) == 3
    assert json.loads((out / "prairielearn" / "zed.json").read_text())["gradable"] is False

    merged = tmp_path / "merged"
    assert main(["merge", str(out), "--out", str(merged), "--roster", str(roster), *formats]) == 0
    assert (merged / "canvas.csv").read_text() == (out / "canvas.csv").read_text()
    assert (merged / "moodle.csv").read_text() == (out / "moodle.csv").read_text()


def test_a_bad_roster_stops_the_run_before_any_grading(tmp_path, capsys):
    (tmp_path / "roster.csv").write_text("name\nada\n")
    with pytest.raises(SystemExit) as stopped:
        main(["grade", str(tmp_path / "nowhere"), "--format", "canvas", "--roster", str(tmp_path / "roster.csv")])
    assert stopped.value.code == 2 and "must name a `folder` column" in capsys.readouterr().err
