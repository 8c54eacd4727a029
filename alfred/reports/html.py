"""The class report, `report.html`: the teacher's view of a graded class as one static page that works
offline, written by every `alfred grade` run beside the gradebook.

The page opens with the class's numbers and a table of contents that links every section below: the score
distribution, each exercise's and each test's pass rate, the most common failures with how many students hit
each and the hints they were given, the submissions that are flagged or could not be tested, and a row per
student linking to that student's `feedback/<name>.md` (an exercise worth no points, such as a worked
example, reads done or not done there). Everything is inline: the
styles, and the charts, which are SVG drawn here in Python, so the page needs no script, no network and no
library. A Content-Security-Policy forbids scripts and every fetch, so even a slip in escaping could run
nothing; and there is none to slip: every student word (ids, messages, printed text) goes through
`printable` and `html.escape`.

Numbers are counted as `summary.md` counts them: scores of every submission that imported (status graded
or timeout), pass rates and failures of the students whose file could be tested (status graded), points
written as the gradebook writes them. The page says beside the mean which students it counts.
"""

from __future__ import annotations

import html
import statistics
from collections import Counter
from urllib.parse import quote

from alfred.course import exercises
from alfred.reports.names import slug_of
from alfred.course.exercises import BY_ID, IDS
from alfred.judge.feedback import printable
from alfred.reports import summary
from alfred.reports.text import got, labelled
from alfred.reports.rows import UNGRADABLE, UNSCORED, ResultRow
from alfred.judge.scoring import ExerciseScore, TestEntry

NAME = "html"

BANDS = ("0-20", "20-40", "40-60", "60-80", "80-100")
TOP_FAILURES = 10

PASS, FAIL, BAR, TRACK, INK, MUTED = "#2f7d4f", "#c0392b", "#3a6ea5", "#e6e9ee", "#1f2933", "#5f6b7a"


def title() -> str:
    """The page's title: the lesson's name, from the lesson's data."""
    return f"{exercises.LESSON.name}: class report"


def for_student(row: ResultRow, name: str) -> dict[str, str]:
    return {}


def for_class(rows: list[ResultRow]) -> dict[str, str]:
    return {"report.html": page(rows)}


# --- the page ---


# The page's sections in their order, by id and heading; the first CHARTS (always there) are charts, side by side.
SECTIONS = (("distribution", "Score distribution"), ("exercises", "Pass rate per exercise"),
            ("review", "Flagged and untested submissions"), ("failures", "Most common failures"),
            ("tests", "Pass rate per test"), ("students", "Students"))
CHARTS = 2


def page(rows: list[ResultRow]) -> str:
    tested = [row for row in rows if row["status"] == "graded"]
    bodies = [_distribution(rows), _exercises(tested), _untested_and_flagged(rows), _failures(tested),
              _tests(tested), _students(rows)]  # in SECTIONS' order; "" where the class has nothing to show
    shown = [(section_id, heading, body) for (section_id, heading), body in zip(SECTIONS, bodies) if body]
    sections = [f'<section id="{section_id}"><h2>{heading}</h2>{body}</section>' for section_id, heading, body in shown]
    charts = f'<div class="charts">{"".join(sections[:CHARTS])}</div>'
    contents = [(section_id, heading) for section_id, heading, _ in shown]
    body = "\n".join([_overview(rows, contents), charts, *sections[CHARTS:]])
    return _DOCUMENT.format(title=_text(title()), style=_STYLE, body=body)


_DOCUMENT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""

_STYLE = f"""
body {{ margin: 0; background: #f6f7f9; color: {INK}; font: 15px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }}
main {{ max-width: 1080px; margin: 0 auto; padding: 24px 20px 48px; }}
h1 {{ font-size: 26px; margin: 0 0 4px; }}
h2 {{ font-size: 19px; margin: 0 0 10px; }}
section {{ background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 16px 20px; margin: 16px 0; }}
.lead {{ color: {MUTED}; margin: 0 0 12px; }}
nav.contents {{ margin: 12px 0 0; }}
#counted {{ margin-top: 8px; }}
nav.contents a {{ display: inline-block; margin: 0 14px 4px 0; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.card {{ flex: 1 1 130px; border: 1px solid #dde1e6; border-radius: 6px; padding: 8px 12px; }}
.card b {{ display: block; font-size: 24px; }}
.card span {{ color: {MUTED}; font-size: 13px; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 16px; margin: 16px 0; }}
.charts > section {{ flex: 1 1 420px; margin: 0; }}
svg {{ display: block; max-width: 100%; height: auto; }}
svg text {{ font-family: inherit; }}
table {{ border-collapse: collapse; width: 100%; font-size: 14px; }}
th, td {{ text-align: left; padding: 4px 8px; border-bottom: 1px solid #eceef1; vertical-align: top; }}
th {{ background: #f0f2f5; font-weight: 600; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
tr.group td {{ background: #f8f9fb; font-weight: 600; }}
code, pre {{ font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }}
pre {{ white-space: pre-wrap; overflow-wrap: anywhere; background: #f4f5f7; border-radius: 4px; padding: 6px 8px;
  margin: 4px 0; }}
td pre {{ margin: 0; }}
.failure {{ border-top: 1px solid #eceef1; padding: 10px 0; }}
.failure:first-of-type {{ border-top: 0; }}
.failure h3 {{ font-size: 15px; margin: 0 0 4px; }}
.count {{ display: inline-block; min-width: 2.2em; text-align: center; background: {FAIL}; color: #fff;
  border-radius: 10px; padding: 0 6px; margin-right: 6px; font-size: 13px; }}
.who {{ color: {MUTED}; font-size: 13px; margin-bottom: 4px; }}
.hint {{ display: grid; grid-template-columns: 9.5em 1fr; column-gap: 8px; align-items: baseline; margin: 6px 0; }}
.told {{ color: {MUTED}; font-size: 13px; text-align: right; }}
.status-graded {{ color: {PASS}; }}
.status-error, .status-timeout, .status-ungradable {{ color: {FAIL}; font-weight: 600; }}
.flag {{ display: inline-block; background: #fdf0d5; border: 1px solid #f0c36d; border-radius: 4px; padding: 0 5px;
  margin: 1px 2px 1px 0; font-size: 12px; }}
"""


def _text(value) -> str:
    """Student words (or any text) as HTML text: controls written as escapes, markup as entities."""
    return html.escape(printable(str(value)), quote=True)


def _number(value: float) -> str:
    return f"{value:g}"


def _percent(part: float, whole: float) -> str:
    return f"{round(100 * part / whole)}%" if whole else "-"


def _feedback_link(student: str) -> str:
    href = "feedback/" + quote(slug_of(student), safe="") + ".md"
    return f'<a href="{html.escape(href, quote=True)}">{_text(student)}</a>'


def _scores(rows: list[ResultRow]) -> list[dict]:
    """The rows whose score counts in the distribution: graded or stopped for time (an import that never
    ends scores 0 and counts); a file that does not load is listed for review instead."""
    return [row for row in rows if row["status"] not in UNSCORED]


def _band(row: ResultRow) -> int:
    share = 100 * row["score"] / row["max_score"] if row["max_score"] else 0
    return min(int(share // 20), len(BANDS) - 1)


# --- sections ---


def _overview(rows: list[ResultRow], sections: list[tuple[str, str]]) -> str:
    """The class in numbers, under the title and a table of contents linking `sections` (id, heading)."""
    statuses = Counter(row["status"] for row in rows)
    scored = [row["score"] for row in _scores(rows)]
    flagged = sum(1 for row in rows if row["flags"] or row["status"] != "graded")
    cards = [(len(rows), "submissions"), (statuses["graded"], "tested")]
    if scored:
        cards += [(_number(round(statistics.mean(scored), 2)), f"mean score of {len(scored)}"),
                  (_number(round(statistics.median(scored), 2)), "median score"),
                  (f"{_number(min(scored))}-{_number(max(scored))}", "lowest-highest")]
    cards.append((flagged, "to review"))
    summary = "; ".join(f"{status}: {statuses[status]}" for status in ("graded", "timeout", "error", UNGRADABLE)
                        if statuses[status])
    max_scores = sorted({row["max_score"] for row in rows})
    out_of = f" Scores are out of {'/'.join(map(_number, max_scores))}." if max_scores else ""
    return (f'<header><h1>{_text(title())}</h1>'
            f'<p class="lead" id="overview">{len(rows)} submission{"s" * (len(rows) != 1)}'
            f'{" (" + summary + ")" if summary else ""}.{out_of} Pass rates count the {statuses["graded"]} '
            'students whose file could be tested.</p>' + _hidden_seed(rows)
            + '<nav class="contents" aria-label="Sections">'
            + "".join(f'<a href="#{section_id}">{heading}</a>' for section_id, heading in sections)
            + '</nav></header>\n<div class="cards">'
            + "".join(f'<div class="card"><b>{value}</b><span>{label}</span></div>' for value, label in cards)
            + "</div>" + (_counted(rows) if scored else ""))


def _counted(rows: list[ResultRow]) -> str:
    """Which students the mean counts, in the summary's words."""
    return f'<p class="lead" id="counted">{summary.counted_sentence(rows, _text)}</p>'


def _hidden_seed(rows: list[ResultRow]) -> str:
    """The summary's sentence on the hidden checks' seed (teachers only: students never see this page)."""
    lines = summary.hidden_seed_lines(rows)
    return f'<p class="lead" id="hidden-seed">{_text(lines[0])}</p>' if lines else ""


def _distribution(rows: list[ResultRow]) -> str:
    scored = _scores(rows)
    counts = Counter(_band(row) for row in scored)
    return (f'<p class="lead">{len(scored)} scored submissions, by share of the maximum score (%).</p>'
            + histogram([counts.get(band, 0) for band in range(len(BANDS))], BANDS))


def histogram(counts: list[int], labels: tuple[str, ...]) -> str:
    """A vertical bar chart as inline SVG: one bar per label, its count written above it."""
    width, height, left, bottom, top = 440, 230, 34, 34, 22
    plot_w, plot_h = width - left - 10, height - bottom - top
    highest = max(max(counts, default=0), 1)
    step = plot_w / len(counts)
    parts = [f'<svg class="chart" id="score-histogram" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
             f'aria-label="Score distribution: {", ".join(f"{label}: {count}" for label, count in zip(labels, counts))}">']
    for tick in (range(highest + 1) if highest <= 5 else sorted({0, highest // 2, highest})):
        y = top + plot_h - plot_h * tick / highest
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="{TRACK}"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{MUTED}">{tick}</text>')
    for index, (label, count) in enumerate(zip(labels, counts)):
        bar_h = plot_h * count / highest
        x = left + index * step + step * 0.15
        y = top + plot_h - bar_h
        parts.append(f'<rect class="bar" data-band="{html.escape(label)}" data-count="{count}" x="{x:.1f}" '
                     f'y="{y:.1f}" width="{step * 0.7:.1f}" height="{bar_h:.1f}" rx="3" fill="{BAR}">'
                     f'<title>{html.escape(label)}: {count}</title></rect>'
                     f'<text class="bar-count" x="{x + step * 0.35:.1f}" y="{y - 5:.1f}" text-anchor="middle" '
                     f'font-size="13" font-weight="600" fill="{INK}">{count}</text>'
                     f'<text x="{x + step * 0.35:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                     f'font-size="12" fill="{MUTED}">{html.escape(label)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{MUTED}"/>'
                 f'<text x="{left + plot_w / 2:.1f}" y="{height - 2}" text-anchor="middle" font-size="11" '
                 f'fill="{MUTED}">score, % of the maximum</text></svg>')
    return "".join(parts)


def _exercise_rates(tested: list[ResultRow]) -> list[tuple[str, int, int, int]]:
    """Per exercise: (id, tests passed, tests run, students who passed all of its tests), over tested rows."""
    rates = []
    for exercise_id in IDS:
        entries = [row["exercises"][exercise_id] for row in tested if row["exercises"][exercise_id]["total"]]
        if entries:
            rates.append((exercise_id, sum(entry["passed"] for entry in entries), sum(entry["total"] for entry in entries),
                          sum(1 for entry in entries if entry["passed"] == entry["total"])))
    return rates


def _exercises(tested: list[ResultRow]) -> str:
    rates = _exercise_rates(tested)
    body = (rate_chart([(BY_ID[i].label, passed, total, f"{done}/{len(tested)} students complete")
                        for i, passed, total, done in rates], chart_id="exercise-rates")
            if rates else '<p class="lead">No submission could be tested.</p>')
    return '<p class="lead">Share of the exercise\'s tests passed, over the tested students.</p>' + body


def rate_chart(items: list[tuple[str, int, int, str]], chart_id: str) -> str:
    """A horizontal bar chart as inline SVG: per item (label, passed, total, note), a bar filled to the share
    passed, with `passed/total` and the percentage written beside it."""
    width, row_h, label_w, bar_w = 480, 46, 190, 180
    height = row_h * len(items) + 6
    parts = [f'<svg class="chart" id="{chart_id}" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" aria-label="Pass rates: '
             + html.escape(", ".join(f"{label}: {passed}/{total}" for label, passed, total, _ in items), quote=True)
             + '">']
    for index, (label, passed, total, note) in enumerate(items):
        y = 6 + index * row_h
        filled = bar_w * passed / total if total else 0
        colour = PASS if total and passed == total else (BAR if total and passed * 2 >= total else FAIL)
        parts.append(f'<text x="0" y="{y + 14}" font-size="12.5" fill="{INK}">{_text(label)}</text>'
                     f'<text x="0" y="{y + 30}" font-size="11" fill="{MUTED}">{_text(note)}</text>'
                     f'<rect x="{label_w}" y="{y + 6}" width="{bar_w}" height="18" rx="3" fill="{TRACK}"/>'
                     f'<rect class="bar" data-passed="{passed}" data-total="{total}" x="{label_w}" y="{y + 6}" '
                     f'width="{filled:.1f}" height="18" rx="3" fill="{colour}"><title>{_text(label)}: '
                     f'{passed}/{total}</title></rect>'
                     f'<text x="{label_w + bar_w + 8}" y="{y + 20}" font-size="12.5" fill="{INK}">'
                     f'{passed}/{total} ({_percent(passed, total)})</text>')
    parts.append("</svg>")
    return "".join(parts)


def small_bar(passed: int, total: int) -> str:
    """The bar of one row of the test table, as inline SVG."""
    filled = 120 * passed / total if total else 0
    colour = PASS if passed == total else (BAR if passed * 2 >= total else FAIL)
    return (f'<svg class="rate" width="120" height="12" viewBox="0 0 120 12" xmlns="http://www.w3.org/2000/svg" '
            f'role="img" aria-label="{passed} of {total}"><rect width="120" height="12" rx="2" fill="{TRACK}"/>'
            f'<rect width="{filled:.1f}" height="12" rx="2" fill="{colour}"/></svg>')


def _tests(tested: list[ResultRow]) -> str:
    outcomes: dict[tuple[str, str], list[bool]] = {}
    hidden = {(test["exercise"], test["name"]) for row in tested for test in row["tests"] if test.get("hidden")}
    for row in tested:
        for test in row["tests"]:
            outcomes.setdefault((test["exercise"], test["name"]), []).append(test["outcome"] == "passed")
    if not outcomes:
        return ""
    lines = [f'<p class="lead">{len(tested)} students whose file could be tested.</p>',
             '<table><thead><tr><th>test</th><th class="num">passed</th><th class="num">rate</th><th></th></tr>'
             '</thead><tbody>']
    current = None
    for (exercise_id, name), done in outcomes.items():
        if exercise_id != current:
            current = exercise_id
            lines.append(f'<tr class="group"><td colspan="4">{_text(BY_ID[exercise_id].label)}</td></tr>')
        tag = ' <span class="flag">hidden</span>' if (exercise_id, name) in hidden else ""
        lines.append(f'<tr class="test" data-exercise="{_text(exercise_id)}"><td><code>{_text(name)}</code>{tag}</td>'
                     f'<td class="num">{sum(done)}/{len(done)}</td><td class="num">{_percent(sum(done), len(done))}</td>'
                     f"<td>{small_bar(sum(done), len(done))}</td></tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _failures(tested: list[ResultRow]) -> str:
    """The tests most students failed (the cases of one parametrized test are one failure, once per student),
    each with the hints those students were given and how many got each."""
    students: dict[tuple[str, str], list[str]] = {}
    told: dict[tuple[str, str], dict[str, list[str]]] = {}  # per failure: hint -> what each of those students got
    for row in tested:
        failed: dict[tuple[str, str], dict] = {}
        for test in row["tests"]:
            if test["outcome"] != "passed":
                failed.setdefault((test["exercise"], test["name"].split("[")[0]), test)
        for key, test in failed.items():
            students.setdefault(key, []).append(row["student"])
            told.setdefault(key, {}).setdefault(_hint(test), []).append(got(test))
    if not students:
        return ""
    ranked = sorted(students, key=lambda key: -len(students[key]))[:TOP_FAILURES]  # stable: suite order on ties
    lines = [f'<p class="lead">The tests most students did not pass, with the hint each of them was given '
             f'(out of {len(tested)} tested students).</p>']
    for key in ranked:
        exercise_id, name = key
        who = students[key]
        lines.append(f'<div class="failure" data-students="{len(who)}"><h3><span class="count">{len(who)}</span>'
                     f'{_text(BY_ID[exercise_id].label)}: <code>{_text(name)}</code></h3>'
                     f'<div class="who">{len(who)} student{"s" * (len(who) != 1)}: {summary.named(who, _feedback_link)}</div>')
        for hint, seen in sorted(told[key].items(), key=lambda item: -len(item[1])):
            lines.append(f'<div class="hint" data-students="{len(seen)}"><span class="told">{len(seen)} '
                         f'student{"s" * (len(seen) != 1)} got</span><pre>{_text(seen[0])}</pre>'
                         f'<span class="told">and the hint</span><pre>{_text(hint)}</pre></div>')
        lines.append("</div>")
    return "\n".join(lines)


def _hint(test: TestEntry) -> str:
    """The hint a failed test gave (the `Hint:` of its learner message), or what it saw when it gave none."""
    return labelled(test, "Hint:") or got(test)


def _untested_and_flagged(rows: list[ResultRow]) -> str:
    review = [row for row in rows if row["status"] != "graded" or row["flags"]]
    if not review:
        return '<p class="lead">None: every file was tested and nothing was flagged.</p>'
    lines = ['<p class="lead">Files that could not be tested (error, timeout) and submissions flagged for your '
             'review.</p><table><thead><tr><th>student</th><th>status</th><th>flags</th><th>why</th></tr></thead>'
             '<tbody>']
    for row in review:
        flags = "".join(f'<span class="flag">{_text(flag)}</span>' for flag in row["flags"])
        lines.append(f'<tr><td>{_feedback_link(row["student"])}</td>'
                     f'<td class="status-{_text(row["status"])}">{_text(row["status"])}</td><td>{flags}</td>'
                     f'<td><pre>{_text(row["message"][:600])}</pre></td></tr>')
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _students(rows: list[ResultRow]) -> str:
    head = "".join(f'<th class="num" title="{_text(BY_ID[i].label)}">{_text(i)}</th>' for i in IDS)
    lines = ['<p class="lead">Points per exercise as in <code>gradebook.csv</code>, but an exercise worth no points '
             'reads done (every test passed) or not done; each name opens that student\'s feedback.</p>',
             f'<table id="student-table"><thead><tr><th>student</th>{head}<th class="num">total</th>'
             '<th class="num">max</th><th>status</th><th>flags</th></tr></thead><tbody>']
    for row in rows:
        scored = row["status"] != UNGRADABLE  # as in gradebook.csv: no points where the grader failed
        cells = "".join(f'<td class="num" data-exercise="{_text(i)}">{_points(row["exercises"][i]) if scored else ""}</td>'
                        for i in IDS)
        flags = "".join(f'<span class="flag">{_text(flag)}</span>' for flag in row["flags"])
        lines.append(f'<tr class="student"><td class="student-id">{_feedback_link(row["student"])}</td>{cells}'
                     f'<td class="num total">{_number(row["score"]) if scored else ""}</td><td class="num">{_number(row["max_score"])}</td>'
                     f'<td class="status-{_text(row["status"])}">{_text(row["status"])}</td><td>{flags}</td></tr>')
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _points(exercise: ExerciseScore) -> str:
    """An exercise's cell in the student table: its points, or done / not done when it is worth none."""
    if exercise["max_score"]:
        return _number(exercise["score"])
    return "done" if exercise["total"] and exercise["passed"] == exercise["total"] else "not done"
