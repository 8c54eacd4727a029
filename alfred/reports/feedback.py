"""The student's feedback, `feedback/<name>.md`, short enough to send as it is: the score and the first thing to
fix, then every exercise: its failures, each learner message once (in a fence nothing in it can close), with
"the same for N more tests" for failures that say the same, and a count of the tests that passed. A hidden check (alfred.judge.hidden) shows only its exercise
and its public sentence, grouped: never its name, its inputs or what it got."""

from __future__ import annotations

from alfred.course.exercises import BY_ID, IDS, LESSON
from alfred.judge.hidden import public_lines, visible
from alfred.judge.screen import same_for, told_once
from alfred.reports.text import code_block, code_span, got, part
from alfred.reports.rows import UNGRADABLE, ResultRow

NAME = "feedback"


def for_student(row: ResultRow, name: str) -> dict[str, str]:
    return {f"feedback/{name}.md": markdown(row)}


def for_class(rows: list[ResultRow]) -> dict[str, str]:
    return {}


def markdown(row: ResultRow) -> str:
    lines = [f"# {LESSON.name} feedback for {code_span(row['student'])}", ""]
    if row["status"] == UNGRADABLE:
        return "\n".join([*lines, "Not graded yet: the grader failed on its own side, so this is no verdict on your "
                          "code and there is no score. Your instructor sees it listed for review and grades it "
                          "again.", "", *code_block(row["message"], indent=""), ""])
    lines += [f"Score: **{row['score']:g} / {row['max_score']:g}** ({row['status']})", ""]
    if row["status"] in ("error", "timeout"):
        lines += ["Your submission could not be tested:", "", *code_block(row["message"], indent=""), "",
                  "Fix that first; the tests below did not run because of it.", ""]
    else:
        lines += _first_to_fix(row)
    for exercise_id in IDS:
        entry = row["exercises"][exercise_id]
        mine = [test for test in row["tests"] if test["exercise"] == exercise_id]
        if not mine:
            continue
        lines += [f"## {BY_ID[exercise_id].label}: {entry['passed']}/{entry['total']} tests, "
                  f"{entry['score']:g}/{entry['max_score']:g} points", ""]
        shown = visible(mine)
        failed = [test for test in shown if test["outcome"] == "failed"]
        waiting = [test for test in shown if test["outcome"] not in ("passed", "failed")]
        for test, more in told_once(failed):
            lines += [f"- **not yet**: {test['name']}", "", *code_block(test["message"], indent="  "), ""]
            if more:
                lines += [f"  {same_for(more)}", ""]
        if waiting:  # a file that does not import: told once, by the first test; the others wait for it
            lines.append(f"- **not yet**: {len(waiting)} test{'s' * (len(waiting) != 1)} not run "
                         + ("(the error above)" if row["status"] == "graded" else "(see above)"))
        passed = sum(test["outcome"] == "passed" for test in shown)
        if passed:
            lines.append(f"- passed: {passed} test{'s' * (passed != 1)}")
        for ok, line in public_lines(mine, BY_ID[exercise_id].label):
            lines.append(f"- {line}" if ok else f"- **not yet**: {line}")
        lines.append("")
    if row["flags"]:
        lines += ["Notes for your instructor: " + ", ".join(code_span(flag) for flag in row["flags"]), ""]
    lines.append(f"Run `pytest {LESSON.student_file.split('/')[0]}` to see the same tests on your machine.")
    return "\n".join(lines) + "\n"


def _first_to_fix(row: ResultRow) -> list[str]:
    """The first failure of the first exercise not done (the lesson's order), in one line under the score."""
    failed = next((test for test in visible(row["tests"]) if test["outcome"] == "failed"), None)
    if failed is None:
        return []
    hint = part(failed, "hint")
    return [f"First to fix, in {BY_ID[failed['exercise']].label}: {code_span(got(failed))}"
            + (f". Hint: {code_span(hint)}" if hint else ""), ""]
