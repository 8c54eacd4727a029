"""Discovery reads each student's work once, from that student's own folder, and turns names into safe ids.

Links of every kind that leave the folder are refused with a reason; a loop is an error row, not a crash;
what is graded is the bytes read at discovery; the output folder is never a student; any name the
filesystem allows gets an id that is printable and a report file name that is short and safe.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from alfred.grading.discovery import MAX_FOLDER_FILES, Entry, GradeError, discover
from alfred.reports.names import slug_of
from alfred.grading.grade import content_hash
from alfred.course.targets import SOLUTIONS_MAIN
from kits_lesson import the_kits_lesson_only

CANDIDATES = ("main.py", "lesson_07/main.py")
SOURCE = SOLUTIONS_MAIN.read_bytes()


def entries(*paths: Path, exclude: tuple[Path, ...] = ()) -> dict[str, Entry]:
    return {entry.student: entry for entry in discover(list(paths), exclude, CANDIDATES).entries}


@pytest.fixture
def klass(tmp_path: Path) -> Path:
    root = tmp_path / "class"
    (root / "honest").mkdir(parents=True)
    (root / "honest" / "main.py").write_bytes(SOURCE)
    return root


def test_an_honest_folder_is_read_whole_with_its_templates_and_static_files(klass):
    (klass / "honest" / "templates").mkdir()
    (klass / "honest" / "templates" / "page.html").write_text("<p>{{ name }}</p>")
    (klass / "honest" / "static").mkdir()
    (klass / "honest" / "static" / "logo.svg").write_text("<svg/>")
    (klass / "honest" / "__pycache__").mkdir()
    (klass / "honest" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (klass / "honest" / ".git").mkdir()
    entry = entries(klass)["honest"]
    assert entry.problem == "" and entry.main == "main.py" and entry.label == "honest/main.py"
    assert entry.files == {"main.py": SOURCE, "templates/page.html": b"<p>{{ name }}</p>", "static/logo.svg": b"<svg/>"}


@the_kits_lesson_only
@pytest.mark.parametrize(
    ("plant", "reason"),
    [
        (lambda student, outside: (student / "main.py").symlink_to(outside / "main.py"), "symbolic link"),
        (lambda student, outside: (student / "main.py").symlink_to("../../outside/main.py"), "outside the student"),
        (lambda student, outside: ((student / "a").symlink_to("b"), (student / "b").symlink_to("../../outside/main.py"),
                                   (student / "main.py").symlink_to("a")), "outside the student"),
        (lambda student, outside: ((student / "a").symlink_to("b"), (student / "b").symlink_to("a"),
                                   (student / "main.py").symlink_to("a")), "loop"),
        (lambda student, outside: os.link(outside / "main.py", student / "main.py"), "hard link"),
        (lambda student, outside: ((student / "main.py").write_bytes(SOURCE),
                                   os.link(outside / "main.py", student / "data.txt")), "hard link"),
        (lambda student, outside: (student / "lesson_07").symlink_to(outside, target_is_directory=True), "symbolic link"),
        (lambda student, outside: ((student / "main.py").write_bytes(SOURCE),
                                   (student / "templates").symlink_to(outside, target_is_directory=True)),
         "symbolic link"),
        (lambda student, outside: ((student / "main.py").write_bytes(SOURCE),
                                   (student / "notes.txt").symlink_to(outside / "main.py")), "symbolic link"),
    ],
    ids=["absolute link", "relative link to a neighbour", "chain out", "loop", "hard link to main.py",
         "hard link beside main.py", "folder link", "folder link beside main.py", "file link beside main.py"],
)
def test_a_link_out_of_the_students_folder_is_refused_with_a_reason(tmp_path, klass, plant, reason):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "main.py").write_bytes(SOURCE)
    (outside / "lesson_07").mkdir()
    (outside / "lesson_07" / "main.py").write_bytes(SOURCE)
    student = klass / "mallory"
    student.mkdir()
    plant(student, outside)
    found = entries(klass)
    assert found["honest"].problem == ""
    assert reason in found["mallory"].problem and not found["mallory"].files, found["mallory"]


@the_kits_lesson_only
def test_links_that_stay_inside_the_folder_are_followed(klass):
    (klass / "honest" / "data").mkdir()
    (klass / "honest" / "data" / "real.txt").write_text("inside")
    (klass / "honest" / "alias.txt").symlink_to("data/real.txt")
    os.link(klass / "honest" / "data" / "real.txt", klass / "honest" / "data" / "again.txt")
    entry = entries(klass)["honest"]
    assert entry.problem == ""
    assert entry.files["alias.txt"] == entry.files["data/again.txt"] == b"inside"


def test_a_student_entry_that_is_a_link_is_refused_even_to_a_neighbour(klass):
    (klass / "copycat").symlink_to(klass / "honest", target_is_directory=True)
    (klass / "copy.py").symlink_to(klass / "honest" / "main.py")
    found = entries(klass)
    assert "symbolic link" in found["copycat"].problem and "symbolic link" in found["copy"].problem


@the_kits_lesson_only
def test_what_is_graded_is_what_was_read_at_discovery(klass, tmp_path):
    found = entries(klass)["honest"]
    before = content_hash(found, "kit")
    (klass / "honest" / "main.py").unlink()
    (klass / "honest" / "main.py").symlink_to(tmp_path / "elsewhere.py")
    assert found.files["main.py"] == SOURCE and content_hash(found, "kit") == before


def test_the_output_folder_and_other_entries_are_skipped_with_a_line(klass):
    out = klass / "grades"
    out.mkdir()
    (klass / "homework.zip").write_bytes(b"PK")
    (klass / "README.md").write_text("# class")
    result = discover([klass], (out,), CANDIDATES)
    assert [entry.student for entry in result.entries] == ["honest"]
    assert any(line.startswith("grades: the output folder") for line in result.skipped)
    assert any(line.startswith("homework.zip") and "unzip" in line for line in result.skipped)
    assert any(line.startswith("README.md") for line in result.skipped)


def test_a_folder_too_big_to_be_a_project_is_an_error_row(klass):
    for number in range(MAX_FOLDER_FILES + 1):
        (klass / "honest" / f"{number}.txt").write_text("x")
    assert "submit only your project" in entries(klass)["honest"].problem


ODD_NAMES = [b"new\nline", b"esc\x1b[31mred", b"rtl\xe2\x80\xaeevil", b"<img src=x onerror=alert(1)>",
             b"[link](javascript:alert(1))", b"=HYPERLINK(1)", b"x" * 250, b"latin1-\xe9t\xe9", b"a,b;c\"d",
             b"tab\there", b"CON", b"-starts-like-an-option"]


@the_kits_lesson_only
def test_any_name_gets_a_printable_id_and_a_safe_unique_report_name(tmp_path):
    root = tmp_path / "class"
    root.mkdir()
    for name in ODD_NAMES:
        os.mkdir(os.path.join(os.fsencode(root), name))
        with open(os.path.join(os.fsencode(root), name, b"main.py"), "wb") as handle:
            handle.write(SOURCE)
    found = discover([root], (), CANDIDATES).entries
    assert len(found) == len(ODD_NAMES) and all(entry.problem == "" for entry in found)
    slugs = [entry.slug for entry in found]
    assert len(set(slugs)) == len(slugs)
    for entry in found:
        assert entry.student.isprintable() and "\n" not in entry.student
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,72}", entry.slug), entry.slug
        assert not entry.slug.startswith(".")
        assert slug_of(entry.student) == entry.slug  # stable: the same id always gets the same name


def test_two_submissions_with_one_name_both_get_graded(tmp_path):
    root = tmp_path / "class"
    (root / "alice").mkdir(parents=True)
    (root / "alice" / "main.py").write_bytes(SOURCE)
    (root / "alice.py").write_bytes(SOURCE)
    students = sorted(entry.student for entry in discover([root], (), CANDIDATES).entries)
    assert students == ["alice", "alice.py"]


def test_a_class_folder_with_nothing_to_grade_is_a_one_line_error(tmp_path):
    with pytest.raises(GradeError, match="No submissions found"):
        discover([tmp_path], (), CANDIDATES)


@the_kits_lesson_only
def test_a_class_folder_holding_a_student_named_main_stays_a_class(klass):
    (klass / "main.py").write_bytes(SOURCE)  # the student "main"
    (klass / "bob.py").write_bytes(SOURCE)
    found = entries(klass)
    assert set(found) == {"honest", "main", "bob"}
    assert set(found["main"].files) == {"main.py"}  # nobody else's files


@the_kits_lesson_only
def test_one_students_folder_is_one_submission_with_its_project(tmp_path):
    project = tmp_path / "alice"
    (project / "templates").mkdir(parents=True)
    (project / "main.py").write_bytes(SOURCE)
    (project / "templates" / "page.html").write_text("<p/>")
    found = entries(project)
    assert set(found) == {"alice"} and set(found["alice"].files) == {"main.py", "templates/page.html"}


def test_no_id_can_take_another_ids_report_name(klass):
    (klass / "alice smith").mkdir()
    (klass / "alice smith" / "main.py").write_bytes(SOURCE)
    (klass / slug_of("alice smith")).mkdir()  # a plain name spelling the other's report name
    (klass / slug_of("alice smith") / "main.py").write_bytes(SOURCE)
    slugs = [entry.slug for entry in entries(klass).values()]
    assert len(slugs) == len(set(slugs)) == 3


def test_ids_made_unique_never_meet_an_existing_one(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    for folder, names in ((first, ["bob", "bob~2"]), (second, ["bob"])):
        for name in names:
            (folder / name).mkdir(parents=True)
            (folder / name / "main.py").write_bytes(SOURCE)
    students = [entry.student for entry in discover([first, second], (), CANDIDATES).entries]
    assert len(students) == len(set(students)) == 3


@the_kits_lesson_only
def test_a_file_name_that_is_not_utf8_is_read_and_hashed(klass):
    with open(os.path.join(os.fsencode(klass / "honest"), b"notes-\xff.txt"), "wb") as handle:
        handle.write(b"x")
    entry = entries(klass)["honest"]
    assert entry.problem == "" and len(entry.files) == 2
    assert content_hash(entry, "kit")
