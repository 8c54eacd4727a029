"""The class report, `report.html`: built from result rows, it is one offline page whose student words stay
text, whose top links every section and says which students the mean counts; opened in headless Chromium after
a real `alfred grade`, its charts render, its section links lead to their sections and its numbers are the
gradebook's.

The browser test drives the system's Chromium (Debian's `chromium` and `chromium-driver`, which `.ci/run`
installs) through Selenium; no browser is downloaded. Without them it is skipped on a developer's machine
and fails under CI (CI=true), where the report must be checked.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from alfred.cli import DEMO_CLASS
from alfred.reports import summary
from alfred.reports.names import slug_of
from alfred.course.exercises import IDS, LESSON
from alfred.reports import DEFAULT_FORMATS, class_files
from alfred.reports.html import BANDS, SECTIONS, for_class, title
from alfred.course.targets import SOLUTIONS_MAIN
from kits_lesson import the_kits_lesson_only

# Every tag the report may hold: anything else (script, img, iframe, a student's <b>) means escaping failed.
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "header", "h1", "h2", "h3", "p", "div",
                "section", "nav", "span", "b", "a", "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "svg",
                "rect", "line", "text"}
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
SCRIPT_ID = "<script>alert(1)</script>.py"
WORKED_EXAMPLE = next(exercise.id for exercise in LESSON.exercises if not exercise.points)  # worth no points
PRINTED = "<script>alert('MARKER')</script><img src=x onerror=alert('MARKER')> & \x1b[31m \u202eevil"


class _Page(HTMLParser):
    """The report as a browser parses it: its tags, attributes and text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _row(student: str, status: str, score: float, message: str = "", flags=(), learner: dict | None = None):
    """A result row as `alfred.grading.grade` makes it: one test per exercise, the task's failed with the learner
    message `learner` (tried, got, expected, hint), carried as fields and as the text a terminal shows."""
    tests = [{"nodeid": f"tests/lesson_07/test_{i}.py::test_{i}_works[case]", "name": f"test_{i}_works[case]",
              "exercise": i, "outcome": "passed", "message": ""} for i in IDS]
    if learner is not None:
        task = next(test for test in tests if test["exercise"] == "task")
        task.update(outcome="failed", learner=learner,
                    message="\n".join(f"{name.capitalize() + ':':10}{learner[name]}" for name in learner))
    exercises = {i: {"score": 0.0, "max_score": 0.0 if i == WORKED_EXAMPLE else 25.0, "passed": sum(t["outcome"] == "passed" for t in tests
                                                                     if t["exercise"] == i), "total": 1} for i in IDS}
    return {"student": student, "status": status, "score": score, "max_score": 100.0, "exercises": exercises,
            "flags": list(flags), "message": message, "tests": tests}


def _hostile_rows() -> list[dict]:
    learner = {"tried": "running the task", "got": f"it printed {PRINTED}", "expected": "the report",
               "hint": f"print {PRINTED}"}
    return [_row(SCRIPT_ID, "graded", 75.0, message=PRINTED, flags=["crashed", PRINTED], learner=learner),
            _row("ann", "graded", 100.0),
            _row("<img src=x onerror=alert(1)>", "error", 0.0, message=f"does not import: RuntimeError: {PRINTED}")]


def test_every_grade_run_writes_the_report():
    assert "html" in DEFAULT_FORMATS
    assert set(class_files([_row("ann", "graded", 100.0)])) >= {"report.html", "gradebook.csv", "summary.md"}


@the_kits_lesson_only
def test_student_words_in_the_report_stay_text_and_nothing_can_run_or_load():
    rows = _hostile_rows()
    report = for_class(rows)["report.html"]
    page = _Page(report)
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    ids = {attrs["id"] for _, attrs in page.tags if "id" in attrs}
    for tag, attrs in page.tags:
        assert not any(name.startswith("on") or name in ("src", "srcdoc", "style") for name in attrs), (tag, attrs)
        if tag == "a":  # a feedback file beside the page, or a section of the page itself
            assert (re.fullmatch(r"feedback/[A-Za-z0-9._-]+\.md", attrs["href"])
                    or attrs["href"].startswith("#") and attrs["href"][1:] in ids), attrs["href"]
    assert not CONTROL.search(report)
    assert "url(" not in report and "@import" not in report  # the style loads nothing either
    content_policy = next(attrs["content"] for tag, attrs in page.tags if attrs.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in content_policy and "script-src" not in content_policy
    text = "".join(page.text)
    # The words are shown as the student wrote them (controls as escapes), once per place they belong.
    assert SCRIPT_ID in text and "<img src=x onerror=alert(1)>" in text
    assert "<script>alert('MARKER')</script><img src=x onerror=alert('MARKER')> & \\x1b[31m \\u202eevil" in text
    assert text.count("does not import: RuntimeError: <script>") == 1  # the untested student's reason
    assert "print <script>alert('MARKER')" in text  # the hint of the common failure


@the_kits_lesson_only
def test_each_student_links_to_the_feedback_file_that_grading_writes():
    rows = _hostile_rows()
    page = _Page(for_class(rows)["report.html"])
    links = {attrs["href"] for tag, attrs in page.tags if tag == "a" and not attrs["href"].startswith("#")}
    assert links == {f"feedback/{slug_of(row['student'])}.md" for row in rows}


@the_kits_lesson_only
def test_the_top_of_the_page_links_every_section_in_its_order():
    page = _Page(for_class(_hostile_rows())["report.html"])
    sections = [attrs["id"] for tag, attrs in page.tags if tag == "section"]
    contents = [attrs["href"] for tag, attrs in page.tags if tag == "a" and attrs["href"].startswith("#")]
    assert contents == [f"#{section}" for section in sections] == [f"#{section}" for section, _ in SECTIONS]
    tags = [tag for tag, _ in page.tags]
    assert tags.index("nav") < tags.index("section")  # above the first section: at the top


@the_kits_lesson_only
def test_an_exercise_worth_no_points_reads_done_or_not_done_in_the_student_table():
    failing = {"tried": "t", "got": "no", "expected": "yes", "hint": "do"}
    rows = [_row("done", "graded", 100.0), _row("not_done", "graded", 75.0), _row("broken", "error", 0.0),
            _row("grader_failed", "ungradable", 0.0)]
    worked = next(test for test in rows[1]["tests"] if test["exercise"] == WORKED_EXAMPLE)
    worked.update(outcome="failed", learner=failing)
    rows[1]["exercises"][WORKED_EXAMPLE]["passed"] = 0
    for row in rows[2:]:  # no test ran
        row["exercises"] = {i: dict(entry, passed=0) for i, entry in row["exercises"].items()}
    report = for_class(rows)["report.html"]
    cells = re.findall(rf'<td class="num" data-exercise="{WORKED_EXAMPLE}">([^<]*)</td>', report)
    assert cells == ["done", "not done", "not done", ""]  # an ungradable row has no points, as in gradebook.csv
    assert re.findall(r'<td class="num" data-exercise="model">([^<]*)</td>', report) == ["0", "0", "0", ""]


@the_kits_lesson_only
def test_beside_the_mean_the_page_says_which_students_it_counts():
    rows = [_row("a", "graded", 100.0), _row("b", "graded", 50.0), _row("slow", "timeout", 0.0),
            _row("broken", "error", 0.0), _row("grader_failed", "ungradable", 0.0)]
    page = _Page(for_class(rows)["report.html"])
    text = "".join(page.text)
    assert "50mean score of 3" in text  # (100 + 50 + 0) / 3: the timeout counts, the other two do not
    assert ("The mean, median, range and score distribution count 3 submissions: 2 graded and 1 stopped for time "
            "(timeout), counted with its score: slow 0. Left out: 1 whose file does not load (error): broken; "
            "1 the grader could not grade (ungradable): grader_failed.") in text
    summary_md = summary.markdown(rows)  # summary.md says it in the same words, the ids as code spans
    assert "Scores: mean 50, median 50" in summary_md
    assert ("The mean, median, range and score distribution count 3 submissions: 2 graded and 1 stopped for time "
            "(timeout), counted with its score: ` slow ` 0. Left out: 1 whose file does not load (error): ` broken `; "
            "1 the grader could not grade (ungradable): ` grader_failed `.") in summary_md


@the_kits_lesson_only
def test_the_numbers_count_as_the_summary_counts():
    rows = [_row("a", "graded", 100.0), _row("b", "graded", 59.9, learner={"tried": "t", "got": "no", "expected": "yes", "hint": "do"}),
            _row("c", "timeout", 10.0), _row("d", "error", 0.0)]
    report = for_class(rows)["report.html"]
    counts = dict(re.findall(r'data-band="([^"]+)" data-count="(\d+)"', report))
    # error rows have no score; a timeout's counts (as in summary.md)
    assert counts == {"0-20": "1", "20-40": "0", "40-60": "1", "60-80": "0", "80-100": "1"}
    assert list(counts) == list(BANDS)
    # pass rates count the two tested students only; the failure is named with its count and hint
    assert '<td class="num">1/2</td>' in report and '<td class="num">2/2</td>' in report
    assert '<div class="failure" data-students="1">' in report and "<pre>do</pre>" in report


# --- in a real browser, after a real grading run ---


def _browser():
    """Selenium driving the system's headless Chromium, or the reason it cannot."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None, "selenium is not installed (pip install -e '.[dev]')"
    binary = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver_path = shutil.which("chromedriver") or next(
        (str(p) for p in (Path("/usr/lib/chromium/chromedriver"), Path("/usr/bin/chromedriver")) if p.exists()), None)
    if not binary or not driver_path:
        return None, "no system Chromium and chromedriver (apt-get install chromium chromium-driver)"
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1600", "--disable-background-networking"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(options=options, service=Service(executable_path=driver_path)), None
    except Exception as exc:  # a browser that is there but does not start: said, never hidden
        return None, f"Chromium did not start: {exc}"


@pytest.fixture(scope="module")
def browser():
    driver, reason = _browser()
    if driver is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the report's browser test must run in CI: {reason}")
        pytest.skip(reason)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The demo class and two hostile students, graded by the real command: one whose name is markup and
    whose file does not import (its error is markup), one whose task prints markup."""
    klass = tmp_path_factory.mktemp("class")
    for path in DEMO_CLASS.iterdir():
        (shutil.copytree if path.is_dir() else shutil.copy)(path, klass / path.name)
    solution = SOLUTIONS_MAIN.read_text()
    (klass / "<img src=x onerror=document.title='PWNED'>.py").write_text(
        "raise RuntimeError(\"<script>document.title='PWNED'</script>\")\n" + solution)
    creating = 'print("--- BACKGROUND TASK: Creating log file ---")'
    assert creating in solution
    (klass / "mallory.py").write_text(solution.replace(
        creating, "print(\"<script>document.title='PWNED'</script><b onmouseover=alert(1)>bold</b>\")"))
    out = klass.parent / "grades"
    completed = subprocess.run([sys.executable, "-m", "alfred", "grade", str(klass), "--out", str(out)],
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    return out


@pytest.mark.slow
def test_the_report_renders_in_chromium_with_the_gradebooks_numbers(browser, graded):
    from selenium.webdriver.common.by import By

    browser.get((graded / "report.html").as_uri())
    assert browser.title == title()  # no payload retitled the page
    assert browser.find_elements(By.CSS_SELECTOR, "script, img, iframe, object, embed, b[onmouseover]") == []
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "<script>document.title='PWNED'</script>" in body  # shown as text, where the teacher reads it
    assert "<img src=x onerror=document.title='PWNED'>" in body
    assert "<b onmouseover=alert(1)>bold</b>" in body

    gradebook = list(csv.DictReader(io.StringIO((graded / "gradebook.csv").read_text())))
    assert len(gradebook) == 7

    # The charts rendered: every SVG has a size, and the histogram's bars are the gradebook's totals.
    charts = browser.find_elements(By.CSS_SELECTOR, "svg")
    assert len(charts) >= 3
    for chart in charts:
        assert chart.size["width"] > 0 and chart.size["height"] > 0, chart.get_attribute("outerHTML")[:200]
    expected = [0] * len(BANDS)
    for line in gradebook:
        if line["status"] != "error":
            expected[min(int(100 * float(line["total"]) / float(line["max"]) // 20), len(BANDS) - 1)] += 1
    bars = browser.find_elements(By.CSS_SELECTOR, "#score-histogram rect.bar")
    assert [int(bar.get_attribute("data-count")) for bar in bars] == expected
    assert [int(text.text) for text in browser.find_elements(By.CSS_SELECTOR, "#score-histogram text.bar-count")] == expected
    for bar, count in zip(bars, expected):
        assert (bar.size["height"] > 0) == (count > 0) and bar.size["width"] > 0
    exercise_bars = browser.find_elements(By.CSS_SELECTOR, "#exercise-rates rect.bar")
    assert len(exercise_bars) == len(IDS)
    for bar in exercise_bars:
        assert (bar.size["width"] > 0) == (int(bar.get_attribute("data-passed")) > 0)

    # The top links every section, on the first screen; each link brings its section into view, and the student
    # table, the last section, is one click away.
    height = browser.execute_script("return window.innerHeight")
    links = browser.find_elements(By.CSS_SELECTOR, "nav.contents a")
    sections = [section.get_attribute("id") for section in browser.find_elements(By.TAG_NAME, "section")]
    assert [link.get_attribute("hash") for link in links] == [f"#{section}" for section in sections]
    assert sections[-1] == "students"
    for link, section in zip(links, sections):
        browser.execute_script("window.scrollTo(0, 0)")
        assert link.is_displayed() and link.rect["y"] + link.rect["height"] <= height, section
        link.click()
        top = browser.execute_script("return document.getElementById(arguments[0]).getBoundingClientRect().top", section)
        assert -1 < top < height, (section, top)  # at the top, give or take a fraction of a pixel
    table = browser.execute_script("return document.getElementById('student-table').getBoundingClientRect()")
    assert browser.execute_script("return window.scrollY") > 0 and -1 < table["top"] < height, table

    # The student table is the gradebook, row for row (but the worked example, worth no points, reads done or
    # not done as the grader's row says), and every name opens a feedback file that exists.
    graded_rows = {row["student"]: row for row in (json.loads(path.read_text())["row"]
                                                   for path in (graded / "cache").glob("*.json"))}

    def cell(line: dict, exercise_id: str) -> str:
        if exercise_id != WORKED_EXAMPLE:
            return line[exercise_id]
        entry = graded_rows[line["student"]]["exercises"][exercise_id]
        return "done" if entry["passed"] == entry["total"] > 0 else "not done"

    shown = []
    for row in browser.find_elements(By.CSS_SELECTOR, "#student-table tr.student"):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        flags = [flag.text for flag in row.find_elements(By.CSS_SELECTOR, ".flag")]
        shown.append([*cells[:-1], "; ".join(flags)])
        link = urlparse(row.find_element(By.TAG_NAME, "a").get_attribute("href"))
        assert link.scheme == "file" and Path(unquote(link.path)).is_file(), link
    assert shown == [[line["student"], *(cell(line, i) for i in IDS), line["total"], line["max"], line["status"],
                      line["flags"]] for line in gradebook]
    assert {cell(line, WORKED_EXAMPLE) for line in gradebook} == {"done", "not done"}  # tim_drake's does not import

    # Pass rates per test are those of summary.md; the untested are listed with their status.
    summary = (graded / "summary.md").read_text()
    in_summary = re.findall(r"^\| [^|]+: (test_[^|]+?) \| (\d+/\d+) \|$", summary, flags=re.MULTILINE)
    in_page = [(row.find_element(By.TAG_NAME, "code").text, row.find_elements(By.TAG_NAME, "td")[1].text)
               for row in browser.find_elements(By.CSS_SELECTOR, "#tests tr.test")]
    assert in_page == in_summary and len(in_page) > 40
    review = browser.find_element(By.ID, "review").text
    assert "tim_drake" in review and "<img src=x onerror=document.title='PWNED'>" in review
    failures = browser.find_elements(By.CSS_SELECTOR, "#failures .failure")
    assert failures and all("hint" in failure.text for failure in failures)
    assert "mallory" in browser.find_element(By.ID, "failures").text

    # Nothing was blocked or failed to load: the page asked for nothing outside itself.
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
