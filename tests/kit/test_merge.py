"""`alfred merge` trusts no shard folder as written: crafted shards (a formula cell, markup in feedback, a test
id the suite does not hold, a node id naming the solutions file, an honest student's 100 turned into 0, a shard
of another run) are refused in one line naming the shard, or written inert, and a refused merge writes nothing.

The shards are made from one real grading run of two students, split into folders as `--shard` would, and
crafted by editing their cached rows, re-signed with the run's key where the attack assumes the attacker has it.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from alfred.cli import main
from alfred.course.targets import EXERCISES_MAIN, SOLUTIONS_MAIN
from alfred.grading.shards import RUN_KEY_FILE, RUN_KEY_VARIABLE, signed
from alfred.reports.exercism import results

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="alfred grade needs bubblewrap")]

HONEST, OTHER = "alice", "bob"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """The --out folder of one grading run: alice solved everything, bob handed in the stubs."""
    root = tmp_path_factory.mktemp("run")
    (root / "class").mkdir()
    shutil.copy(SOLUTIONS_MAIN, root / "class" / f"{HONEST}.py")
    shutil.copy(EXERCISES_MAIN, root / "class" / f"{OTHER}.py")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(RUN_KEY_VARIABLE, "the uid of one grading job")
        assert main(["grade", str(root / "class"), "--out", str(root / "out"), "--jobs", "2",
                     "--hidden-seed", "5", "--format", "exercism"]) == 0
    return root / "out"


def shard(run: Path, folder: Path, *students: str) -> Path:
    """A shard's --out folder holding these students' results of `run`, as a `--shard I/N` of it would."""
    (folder / "cache").mkdir(parents=True)
    shutil.copy(run / RUN_KEY_FILE, folder / RUN_KEY_FILE)
    for student in students:
        shutil.copy(run / "cache" / f"{student}.json", folder / "cache" / f"{student}.json")
    return folder


def craft(folder: Path, student: str, change, key_from: Path | None = None) -> None:
    """Edits a cached row in place; re-signs it with the run key of `key_from` (an attacker who read it)."""
    path = folder / "cache" / f"{student}.json"
    cached = json.loads(path.read_text())
    row = cached["row"]
    change(row)
    if key_from is not None:
        cached = signed(row, cached["hash"], (key_from / RUN_KEY_FILE).read_text().strip())
    path.write_text(json.dumps(cached))


def merged(capsys, into: Path, *shards: Path) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["merge", *map(str, shards), "--out", str(into), "--format", "exercism"])
    return code, capsys.readouterr().err


def refused(capsys, tmp_path: Path, *shards: Path) -> str:
    """The one line a refused merge says; it exits non-zero and writes nothing."""
    __tracebackhide__ = True
    into = tmp_path / "class-reports"
    code, told = merged(capsys, into, *shards)
    assert code != 0, told
    assert len(told.strip().splitlines()) == 1 and told.startswith("alfred: merge refused: "), told
    assert not into.exists() or not any(into.rglob("*")), sorted(into.rglob("*"))
    return told


def test_shards_of_one_run_merge_into_its_reports(run, tmp_path, capsys):
    first, second = shard(run, tmp_path / "shard-0", HONEST), shard(run, tmp_path / "shard-1", OTHER)
    code, told = merged(capsys, tmp_path / "class-reports", first, second)
    assert code == 0, told
    assert (tmp_path / "class-reports" / "gradebook.csv").read_text() == (run / "gradebook.csv").read_text()


def test_a_formula_in_any_cell_opens_as_text(run, tmp_path, capsys):
    first = shard(run, tmp_path / "shard-0", HONEST)

    def formulas(row):
        row["student"] = HONEST  # the id must still be the file's: only its flags carry the formulas
        row["flags"] = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    craft(first, HONEST, formulas, key_from=run)
    code, told = merged(capsys, tmp_path / "class-reports", first, shard(run, tmp_path / "shard-1", OTHER))
    assert code == 0, told
    cells = [cell for line in csv.reader(io.StringIO((tmp_path / "class-reports" / "gradebook.csv").read_text()))
             for cell in line]
    assert "=HYPERLINK" in "".join(cells)  # the words are there...
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")], cells  # ...never a formula


def test_markup_in_a_row_stays_words_in_feedback_summary_and_html(run, tmp_path, capsys):
    first = shard(run, tmp_path / "shard-0", OTHER)
    markup = "![tracker](http://evil.example/pixel.png)\n# You passed\n<img src=x onerror=alert(1)>"

    def marked(row):
        row["flags"] = [markup]
        row["message"] = markup
        failed = next(test for test in row["tests"] if test["outcome"] != "passed" and not test["hidden"])
        failed["message"] = markup
        failed["learner"] = {"tried": markup, "got": markup, "expected": markup, "hint": markup}
    craft(first, OTHER, marked, key_from=run)
    code, told = merged(capsys, tmp_path / "class-reports", first, shard(run, tmp_path / "shard-1", HONEST))
    assert code == 0, told
    reports = tmp_path / "class-reports"
    for markdown in (reports / "feedback" / f"{OTHER}.md", reports / "summary.md"):
        rendered = MarkdownIt("commonmark").render(markdown.read_text())
        assert "<img" not in rendered and "<h1>You passed" not in rendered, (markdown, rendered)
        assert "evil.example" in rendered  # shown as typed, not dropped
    page = (reports / "report.html").read_text()
    assert "<img src=x" not in page and "&lt;img src=x" in page


@pytest.mark.parametrize("nodeid", ["tests/lesson_07/test_task.py::test_made_up_for_full_marks",
                                    "solutions/lesson_07/main.py::report_task"],
                         ids=["a-test-the-suite-does-not-hold", "a-node-id-naming-the-solutions-file"])
def test_a_test_id_the_suite_does_not_hold_is_refused(run, tmp_path, capsys, nodeid):
    first = shard(run, tmp_path / "shard-0", HONEST)

    def foreign(row):
        row["tests"][0]["nodeid"] = nodeid
    craft(first, HONEST, foreign, key_from=run)
    told = refused(capsys, tmp_path, first, shard(run, tmp_path / "shard-1", OTHER))
    assert "a test the suite does not hold" in told and HONEST in told, told


def test_exercism_test_code_comes_from_the_suite_files_alone_whatever_a_row_names(run):
    row = json.loads((run / "cache" / f"{OTHER}.json").read_text())["row"]
    shown = {test["name"]: test["test_code"] for test in results(row)["tests"]}
    assert any(code.startswith("def test_") for code in shown.values())  # the suite's own code is shown
    for test in row["tests"]:
        test["nodeid"] = "solutions/lesson_07/main.py::" + test["name"]
    assert {test["test_code"] for test in results(row)["tests"]} == {""}


def test_an_honest_row_edited_without_the_run_key_is_refused(run, tmp_path, capsys):
    first = shard(run, tmp_path / "shard-0", HONEST, OTHER)

    def zero(row):
        row["score"], row["exercises"] = 0.0, {key: {**value, "score": 0.0} for key, value in row["exercises"].items()}
    craft(first, HONEST, zero)
    told = refused(capsys, tmp_path, first)
    assert "was not written by this grading run" in told and f"{HONEST}.json" in told, told


def test_a_second_shard_that_replaces_an_honest_100_with_0_is_refused_naming_both(run, tmp_path, capsys):
    first = shard(run, tmp_path / "shard-0", HONEST)
    second = shard(run, tmp_path / "shard-1", HONEST, OTHER)

    def zero(row):  # consistent, signed with the run's key: only the other shard tells it is wrong
        for test in row["tests"]:
            test["outcome"] = "failed"
        row["score"] = 0.0
        row["exercises"] = {key: {**value, "score": 0.0, "passed": 0} for key, value in row["exercises"].items()}
    craft(second, HONEST, zero, key_from=run)
    told = refused(capsys, tmp_path, first, second)
    assert f"{first} and {second} disagree about '{HONEST}'" in told, told


def test_a_shard_of_another_run_is_refused_naming_both_shards(run, tmp_path, capsys):
    first = shard(run, tmp_path / "shard-0", HONEST)
    other_run = shard(run, tmp_path / "shard-1", OTHER)
    (other_run / RUN_KEY_FILE).write_text("0" * 64 + "\n")  # its own key: rows signed with it, say
    craft(other_run, OTHER, lambda row: None, key_from=other_run)
    told = refused(capsys, tmp_path, first, other_run)
    assert f"{first} and {other_run} were written by different grading runs" in told, told
