"""What a student process sends the judge cannot make the judge grow: hostile reply lines fed to the judge's
own reading path (`SubprocessDriver`, `parse_reply`, the observation's lazy decoding), with the Python memory
each one costs measured by tracemalloc. A memory bound, not a timing one.

Before replies were bounded by shape, a 2 MB reply of empty lists or objects in a free-form field cost the
judge about 50 MB of Python objects, and kept them for the rest of the submission.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import signal
import socket
import tracemalloc
from pathlib import Path

import pytest
from pydantic import ValidationError

from alfred.judge.driver import InProcessDriver, Submission
from alfred.judge.sandboxed import SubprocessDriver
from alfred.judge.observation import Described, ModelReport, Observation, Reply, Response, decoded, parse_reply
from alfred.inside.probe import (
    MAX_BODY_CHARS,
    MAX_EVENTS,
    MAX_REPLY_BYTES,
    MAX_REPLY_DEPTH,
    MAX_REPLY_NODES,
    MAX_VALUE_DEPTH,
    WITNESS_CHANNEL,
    encode_reply,
    json_shape,
    run_probe,
)
from alfred.sandbox.supervisor import filter_program, listen_for_the_judge
from alfred.course.targets import SOLUTIONS_MAIN
from kits_lesson import the_kits_lesson_only

OLD_CAP = 2_000_000  # the size cap replies had before their shape was bounded
HOSTILE_PEAK = 10_000_000  # Python allocations for a refused reply: a few copies of what was read, hardly any tree
VALID_PEAK = 24_000_000  # for the largest reply the schema accepts: its validated objects, while a test reads them
KEPT_BOUND = 1_000_000  # what the judge still holds once a refused reply is dealt with


def filled(prefix: str, unit: str, suffix: str, size: int) -> bytes:
    """prefix + unit, unit, ... + suffix, as many units as fit in `size` bytes (newline included)."""
    count = (size - len(prefix) - len(suffix) - 1) // len(unit)
    return (prefix + (unit * count).rstrip(",") + suffix + "\n").encode()


def nested(depth: int, opening: str, core: str, closing: str) -> str:
    return opening * depth + core + closing * depth


@functools.cache
def hostile(size: int) -> dict[str, bytes]:
    """Replies to probe 1 that the schema would accept in their envelope, each `size` bytes or less."""
    levels = (size - 100) // 6
    return {
        "[[],[],...] as the body": filled('{"id":1,"observation":{"response":{"status":200,"json":[',
                                          "[],", "]}}}", size),
        "{},{},... as a value": filled('{"id":1,"observation":{"returned":{"type":"list","value":[',
                                       "{},", "]}}}", size),
        "[[],...] as a model's values": filled('{"id":1,"observation":{"model":{"is_pydantic":true,"values":{"a":[',
                                              "[],", "]}}}}", size),
        "{},{},... as events": filled('{"id":1,"observation":{"events":[', "{},", "]}}", size),
        "0,0,... in a field the schema ignores": filled('{"id":1,"junk":[', "0,", '],"observation":{}}', size),
        '"","",... in a list of strings': filled('{"id":1,"observation":{"warnings":[', '"",', "]}}", size),
        "deep [[[...]]]": (nested((size - 1) // 2, "[", "", "]") + "\n").encode(),
        'deep {"a":{"a":...}}': ('{"id":1,"observation":{"response":{"status":200,"json":'
                                 + nested(levels, '{"a":', "1", "}") + "}}}\n").encode(),
    }


class _Server:
    """Stands in for the sandbox's fork server: the 'submission process' is a supervised child process that
    writes one reply on the watched channel, as a real one does (alfred.sandbox.supervisor)."""

    def __init__(self, reply: bytes):
        self.reply = reply
        self.program = filter_program()
        self.staging = Path("/nonexistent")

    def spawn(self, *args):
        probes_read, probes_write = os.pipe()
        judge_end, student_end = socket.socketpair()
        judge_end.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)  # as the fork server does: the sender's pid
        pid = os.fork()
        if pid == 0:
            try:
                judge_end.close()
                os.close(probes_write)
                os.dup2(os.open(os.devnull, os.O_WRONLY), WITNESS_CHANNEL)
                listen_for_the_judge(student_end, self.program)
                with os.fdopen(probes_read, "rb") as probes:
                    probe_id = json.loads(probes.readline())["id"]  # drawn afresh for each probe by the judge
                view = memoryview(self.reply.replace(b'{"id":1,', b'{"id":%d,' % probe_id, 1))
                while view:
                    view = view[os.write(WITNESS_CHANNEL, view):]
            finally:
                os._exit(0)
        os.close(probes_read)
        student_end.close()
        handover = os.dup(judge_end.fileno())
        judge_end.close()
        return pid, probes_write, handover, "/nonexistent"

    def end(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        return "exit 0"


def judged(reply: bytes, tmp_path: Path) -> tuple[Observation | None, SubprocessDriver, int, int]:
    """(what a test would get, the driver, peak and kept Python allocations in bytes) for one reply line,
    through the judge's whole reading path: the pipe, the driver, the answer kept for later tests."""
    driver = SubprocessDriver(_Server(reply), "k")
    submission = Submission(driver, tmp_path, "main.py")
    probe = {"action": "request", "method": "GET", "path": "/"}
    gc.collect()
    tracemalloc.start()
    try:
        size = _size(submission._answer(probe))  # the test is over: its observation goes
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    driver.stop()
    observation = Submission(driver, tmp_path, "main.py", submission.shared_answers)._answer(probe)  # kept
    assert _size(observation) == size
    return observation, driver, peak, kept


def _size(observation: Observation | None) -> int:
    return 0 if observation is None else len(observation.model_dump_json())


@pytest.mark.slow  # these four read megabytes of replies under tracemalloc: the slow tier
@pytest.mark.parametrize("shape", list(hostile(OLD_CAP)))
def test_a_hostile_2_mb_reply_costs_the_judge_a_bounded_few_mb_and_is_refused(shape, tmp_path):
    observation, driver, peak, kept = judged(hostile(OLD_CAP)[shape], tmp_path)
    print(f"\n{shape}: {len(hostile(OLD_CAP)[shape]):,} bytes sent, peak {peak / 1e6:.1f} MB, kept {kept / 1e6:.2f} MB")
    assert observation is not None and observation.problem == "oversized"
    assert driver.flags == {"output cut"}
    assert peak < HOSTILE_PEAK, f"{peak / 1e6:.1f} MB of Python allocations for one reply"
    assert kept < KEPT_BOUND


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(hostile(MAX_REPLY_BYTES)))
def test_a_hostile_reply_within_the_size_cap_is_refused_on_its_shape_before_it_is_parsed(shape, tmp_path):
    reply = hostile(MAX_REPLY_BYTES)[shape]
    assert len(reply) <= MAX_REPLY_BYTES
    observation, driver, peak, kept = judged(reply, tmp_path)
    print(f"\n{shape}: {len(reply):,} bytes, peak {peak / 1e6:.1f} MB, kept {kept / 1e6:.2f} MB, {observation.problem}")
    assert observation.problem in ("oversized", "malformed")
    assert peak < HOSTILE_PEAK, f"{peak / 1e6:.1f} MB of Python allocations for one reply"
    assert kept < KEPT_BOUND


def within_every_cap() -> dict[str, bytes]:
    """Replies just within the caps on bytes, values and depth: they are parsed, then (but the last) refused."""
    def listed(field: str, item: bytes, count: int) -> bytes:
        return b'{"id":1,"observation":{"%s":[' % field.encode() + b",".join([item] * count) + b"]}}\n"

    return {
        "{} as events": listed("events", b"{}", MAX_REPLY_NODES // 2 - 100),
        "events beyond MAX_EVENTS": listed("events", b'{"kind":"print","t":0,"phase":"x"}', MAX_REPLY_NODES // 8),
        '"" as warnings': listed("warnings", b'""', MAX_REPLY_NODES - 100),
        "[] in a field the schema ignores": b'{"id":1,"junk":[' + b",".join([b"[]"] * (MAX_REPLY_NODES // 2 - 100))
                                            + b'],"observation":{}}\n',
    }


@pytest.mark.slow
@pytest.mark.parametrize("shape", list(within_every_cap()))
def test_a_hostile_reply_within_every_cap_is_parsed_with_bounded_memory(shape, tmp_path):
    reply = within_every_cap()[shape]
    observation, driver, peak, kept = judged(reply, tmp_path)
    outcome = observation.problem if observation is not None else "not a valid observation"
    print(f"\n{shape}: {len(reply):,} bytes, peak {peak / 1e6:.1f} MB, kept {kept / 1e6:.2f} MB, {outcome}")
    assert peak < HOSTILE_PEAK, f"{peak / 1e6:.1f} MB of Python allocations for one reply"
    assert kept < KEPT_BOUND


@pytest.mark.slow
def test_the_most_a_valid_reply_may_hold_is_read_with_bounded_memory_and_its_claimed_events_are_dropped(tmp_path):
    """A reply the schema accepts, as large as it may be: MAX_EVENTS events carrying as much as the caps allow.
    The events a process claims are never believed: the judge keeps those its supervisor saw (here none)."""
    event = {"kind": "print", "t": 0.0, "phase": "task", "stream": "stdout", "text": "x" * 20, "watched": {"a": True}}
    reply = encode_reply({"id": 1, "observation": {"events": [event] * MAX_EVENTS, "output_truncated": True}})
    assert json.loads(reply).get("observation"), "as many events as an observation may hold fit the reply's caps"
    observation, driver, peak, kept = judged(reply, tmp_path)
    print(f"\n{len(reply):,} bytes, peak {peak / 1e6:.1f} MB, kept {kept / 1e6:.2f} MB")
    assert observation.events == [] and driver.flags == {"output cut"}
    assert peak < VALID_PEAK
    assert kept < 2 * len(reply)  # kept for later tests of the submission: text, not objects


def test_nodes_and_depth_are_counted_on_the_bytes_whatever_the_strings_hold():
    text = b'{"a":"x,[{\\"y\\\\","b":[1,2,{"c":null}],"d":"]]]]"}'
    assert json.loads(text)  # valid JSON, whose strings hold commas, brackets, escaped quotes and backslashes
    assert json_shape(text, 3) == (8, False)  # the object, "x...", the list, 1, 2, {"c": null}, null, "]]]]"
    assert json_shape(text, 2) == (8, True)
    assert json_shape(b'"unterminated [[[[[[', 1) == (1, False)  # a parser stops at once: nothing to count
    assert json_shape(("[" * 1000).encode(), 10)[1]


def test_free_form_fields_travel_as_bounded_text_and_are_decoded_only_when_read():
    many = "[" + "{}," * (MAX_BODY_CHARS // 3 - 1) + "{}]"
    response = Response(status=200, body_json=many)
    gc.collect()
    tracemalloc.start()
    try:
        body = response.body
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(body) == MAX_BODY_CHARS // 3 and peak < 4_000_000  # one body's worth, freed when dropped
    with pytest.raises(ValidationError):
        Response(status=200, body_json=many + " ")  # beyond MAX_BODY_CHARS: the reply is refused
    deep = "[" * (MAX_VALUE_DEPTH + 1) + "]" * (MAX_VALUE_DEPTH + 1)
    assert Response(status=200, body_json=deep).body is None
    assert decoded("[" * MAX_VALUE_DEPTH + "]" * MAX_VALUE_DEPTH) is not None
    assert Described(type="x", value_json='"not JSON: its repr"').value == "not JSON: its repr"
    assert ModelReport(is_pydantic=True, values_json='{"a": 1}').values == {"a": 1}
    with pytest.raises(ValidationError):  # a model's values are its fields: an instance that is not JSON data
        ModelReport(is_pydantic=True, values_json='"<its repr>"')  # makes the report unreadable, as it always did
    with pytest.raises(ValidationError):
        Observation.model_validate({"response": {"status": 200, "body_json": [[]] * 3}})  # data, not text


def test_a_reply_the_judge_would_refuse_becomes_a_problem_in_the_student_process_too():
    events = [{"kind": "print", "t": 0.0, "phase": "task", "stream": "stdout", "text": "x" * 2000}] * MAX_EVENTS
    line = encode_reply({"id": 7, "observation": {"events": events}})
    reply = parse_reply(line)
    assert isinstance(reply, Reply) and reply.id == 7 and reply.problem == "oversized"
    assert "bytes, where the grader reads" in reply.detail
    reply = parse_reply(encode_reply({"id": 8, "observation": {"warnings": [""] * (MAX_REPLY_NODES + 1)}}))
    assert reply.problem == "oversized" and f"where the grader reads {MAX_REPLY_NODES:,}" in reply.detail
    assert parse_reply(b'{"id": "1", "observation": {}}\n') == "malformed"  # ids are numbers, strictly
    deep = '{"id":1,"observation":{"response":{"status":200,"json":' + "[" * 8 + "]" * 8 + "}}}\n"
    assert parse_reply(deep.encode()) == "malformed"  # deeper than any reply's schema: not even parsed
    assert MAX_REPLY_DEPTH >= 7  # the schema's own depth: reply, observation, scheduled, task, args, value, instance_of


@the_kits_lesson_only
def test_the_in_process_driver_reads_the_very_reply_line_a_student_process_would_send(tmp_path):
    probe = {"action": "request", "method": "GET", "path": "/openapi.json"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    raw = run_probe(SOLUTIONS_MAIN, probe, tmp_path / "a")
    observation = Observation.model_validate(InProcessDriver(SOLUTIONS_MAIN).run(probe, tmp_path / "b"))
    assert observation.response.body == json.loads(raw["response"]["body_json"])
    assert "/request-intel-report" in observation.response.body["paths"]
    assert len(encode_reply({"id": 1, "observation": raw})) < MAX_REPLY_BYTES // 50
