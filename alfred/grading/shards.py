"""What `alfred merge` trusts of a shard's --out folder, and why: the run key that marks every result a grading
run wrote, and the schema every shard row is checked against before any report is made of it.

- **The run key.** Every `alfred grade --out OUT` keeps a key in OUT/run-key (`run_key`) and signs each
  student's cached result with it (an HMAC of the row and its content hash: `signed`, `signature_matches`).
  The shards of one run share the key: it is ALFRED_RUN_KEY when that is set (the Kubernetes Job sets it to
  the Job's uid on every pod, deploy/kubernetes/grade-job.yaml), else the key an earlier run recorded in OUT
  (a resumed run), else a fresh one. `alfred merge` refuses shards whose keys differ and rows whose signature
  is not their shard's key's: a folder of another run, a row copied or edited by hand.
- **The rows.** `ShardRow` bounds every field's type and length; `check_against_suite` then holds each row
  to the suite it claims to come from: the lesson's exercise ids, the suite's own test ids with their names,
  exercises and hidden sentences, the rubric's points, and counts that follow from the outcomes.

Who calls this: alfred.grading.classroom (grading writes and reads the cache; `merge` checks every shard).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from alfred.course.exercises import IDS
from alfred.course.targets import EXERCISES_MAIN
from alfred.judge.scoring import MAX_MESSAGE_CHARS, TestEntry
from alfred.judge.suite import run_suite
from alfred.reports.rows import UNGRADABLE, ResultRow

RUN_KEY_FILE = "run-key"  # in --out: the key of the grading run that wrote it
RUN_KEY_VARIABLE = "ALFRED_RUN_KEY"  # one key for every shard of a run (a Kubernetes Job's uid, say)

MAX_STUDENT_CHARS = 255  # a student id is a file or folder name
MAX_ROW_MESSAGE_CHARS = 10_000
MAX_FLAGS, MAX_FLAG_CHARS = 40, 300
MAX_TESTS = 2_000
ROUNDING = 0.005 * (len(IDS) + 1)  # each exercise's points and the total are rounded to 0.01 apart


class ShardError(Exception):
    """A shard the merge cannot use; the message names it and says why, in one line."""


def run_key(out: Path) -> str:
    """The key of the grading run writing into `out`, recorded in `out`/run-key (readable by its owner only):
    ALFRED_RUN_KEY, else the key an earlier run recorded there, else a fresh one."""
    given = os.environ.get(RUN_KEY_VARIABLE, "").strip()
    if given:
        key = hashlib.sha256(b"alfred run key\0" + given.encode()).hexdigest()
    else:
        try:
            key = recorded_key(out)
        except ShardError:
            key = secrets.token_hex(32)
    keep_key(out, key)
    return key


def recorded_key(out: Path) -> str:
    try:
        key = (out / RUN_KEY_FILE).read_text().strip()
    except (OSError, UnicodeDecodeError):
        key = ""
    if len(key) != 64 or any(char not in "0123456789abcdef" for char in key):
        raise ShardError(f"{out} holds no run key ({RUN_KEY_FILE}): it was not written by `alfred grade` "
                         "(or by a version before run keys); grade that shard again.")
    return key


def keep_key(out: Path, key: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    record = out / RUN_KEY_FILE
    handle = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as stream:
        stream.write(key + "\n")


def signed(row: ResultRow, digest: str, key: str) -> dict:
    """The cache file's content: the row, the hash of what was graded, and their signature with the run key."""
    return {"hash": digest, "row": row, "signature": _signature(row, digest, key)}


def signature_matches(cached: dict, key: str) -> bool:
    signature = cached.get("signature")
    return isinstance(signature, str) and hmac.compare_digest(signature, _signature(cached.get("row"), cached.get("hash"), key))


def _signature(row, digest, key: str) -> str:
    text = json.dumps({"hash": digest, "row": row}, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


# --- the rows' schema ---

Words = Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS)]
Points = Annotated[float, Field(ge=0, le=10_000)]
Count = Annotated[int, Field(ge=0, le=MAX_TESTS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ShardTest(_Strict):
    nodeid: Annotated[str, StringConstraints(max_length=500)]
    name: Annotated[str, StringConstraints(max_length=500)]
    exercise: Literal[tuple(IDS)]  # type: ignore[valid-type]
    outcome: Literal["passed", "failed", "error", "skipped", "not run"]
    message: Words
    learner: dict[Literal["tried", "got", "expected", "hint"], Words] | None
    hidden: Annotated[str, StringConstraints(max_length=500)] | None


class ShardExercise(_Strict):
    score: Points
    max_score: Points
    passed: Count
    total: Count


class ShardRow(_Strict):
    student: Annotated[str, StringConstraints(min_length=1, max_length=MAX_STUDENT_CHARS)]
    status: Literal["graded", "error", "timeout", UNGRADABLE]
    score: Points
    max_score: Points
    exercises: dict[Literal[tuple(IDS)], ShardExercise]  # type: ignore[valid-type]
    flags: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_FLAG_CHARS)]],
                     Field(max_length=MAX_FLAGS)]
    message: Annotated[str, StringConstraints(max_length=MAX_ROW_MESSAGE_CHARS)]
    tests: Annotated[list[ShardTest], Field(max_length=MAX_TESTS)]
    hidden_seed: Annotated[int, Field(ge=0, lt=2**63)] | None = None


class ShardResult(_Strict):
    """A cache file as grading writes it (`signed`)."""

    hash: Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{64})?$")]
    row: ShardRow
    signature: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def read_result(path: Path, key: str) -> tuple[ResultRow, str]:
    """A shard's cached result (its row and content hash), checked: its schema, then its signature with the
    shard's run key. Raises ShardError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
        cached = json.loads(text)
        ShardResult.model_validate_json(text)
    except (OSError, ValueError):  # pydantic's ValidationError is a ValueError
        raise ShardError(f"{path} is not a result the grader wrote (not valid JSON, or a field out of its "
                         "schema); grade that shard again.") from None
    if not signature_matches(cached, key):
        raise ShardError(f"{path} was not written by this grading run (its signature is not its folder's run "
                         "key's); grade that shard again.")
    return cached["row"], cached["hash"]


class SuiteTests:
    """The suite's own tests (by node id: name, exercise, hidden sentence) and the rubric's points per
    exercise, as the suite collects them here: what every row must agree with."""

    def __init__(self) -> None:
        collected = run_suite(EXERCISES_MAIN, "--collect-only")
        self.tests: dict[str, TestEntry] = {test["nodeid"]: test for test in collected["tests"]}
        self.points = {exercise: entry["max_score"] for exercise, entry in collected["exercises"].items()}

    def problem(self, row: ResultRow) -> str | None:
        """Why `row` cannot come from this suite, or None."""
        if set(row["exercises"]) != set(IDS):
            return f"its exercises are not the lesson's ({', '.join(IDS)})"
        seen = set()
        for test in row["tests"]:
            ours = self.tests.get(test["nodeid"])
            if ours is None:
                return f"it names a test the suite does not hold ({test['nodeid'][:100]!r})"
            if test["nodeid"] in seen:
                return f"it lists {test['nodeid'][:100]!r} twice"
            seen.add(test["nodeid"])
            if (test["name"], test["exercise"], test["hidden"]) != (ours["name"], ours["exercise"], ours["hidden"]):
                return f"its entry for {test['nodeid'][:100]!r} is not the suite's test"
        for exercise, entry in row["exercises"].items():
            mine = [test for test in row["tests"] if test["exercise"] == exercise]
            if entry["max_score"] != self.points[exercise] or entry["score"] > entry["max_score"]:
                return f"its points for {exercise} are not the rubric's"
            if (entry["total"], entry["passed"]) != (len(mine), sum(test["outcome"] == "passed" for test in mine)):
                return f"its counts for {exercise} do not follow from its tests"
        if row["max_score"] != sum(self.points.values()) or \
                abs(row["score"] - sum(entry["score"] for entry in row["exercises"].values())) > ROUNDING:
            return "its total is not the sum of its exercises' points"
        return None


def checked_row(row: ResultRow, suite: SuiteTests, path: Path) -> ResultRow:
    problem = suite.problem(row)
    if problem:
        raise ShardError(f"{path} is not a result of this kit's suite: {problem}; grade that shard again.")
    return row

