"""What passes between the student's process and the judge: the bounds of one observation and of one reply
line (`MAX_*`), the descriptors and marker of the supervised channel, JSON written and read by the C code of
`_json` alone, and the lines themselves: `encode_reply` (a reply beyond what the judge reads becomes an
"oversized" problem here) and `decode_request`. The judge reads replies with the same bounds
(`alfred.judge.observation`); the lowest module of `alfred/inside/`, imported by every other one.
"""

# Trusted after load: every function here binds what it uses as keyword-only defaults (the rule is written at
# the top of alfred/inside/probe.py).

from __future__ import annotations

import codecs
import itertools
import json
import operator
import re
from _json import encode_basestring_ascii as _c_encode_string
from _json import make_encoder as _c_make_encoder
from _json import make_scanner as _c_make_scanner
from typing import Any

# What one observation may hold, so that an honest reply stays far below the driver's size cap and the
# judge's work on it stays small. `alfred.judge.observation` rejects a (forged) reply beyond these.
MAX_OUTPUT_CHARS = 64_000
MAX_FILE_CHARS = 16_000
MAX_FILES = 20
MAX_TEXT_CHARS = 2_000
# A response's text (an HTML page): its first MAX_RESPONSE_CHARS characters travel, with its whole length; the
# tests read as much of it as the lesson's bound says (lesson.toml [bounds] response_chars, 2,000 unless
# raised), never more than this ceiling, which the judge enforces (alfred.judge.observation.page_bound).
MAX_RESPONSE_CHARS = 32_000
MAX_OUTPUT_EVENTS = 2_000  # prints and sleeps
MAX_EVENTS = 2 * MAX_OUTPUT_EVENTS  # and the requests' and tasks' own events
MAX_SCHEDULED = 100  # background tasks described
MAX_ARGUMENTS = 20  # arguments described, per task
MAX_ITEMS = 100  # any other list or mapping: a model's fields and errors, a location's parts, watched paths...
MAX_BODY_CHARS = 64_000  # a response's JSON body, as JSON text (the largest honest one, /openapi.json: 3.6 kB)
MAX_SENT_BODY_BYTES = 96_000  # an answer of the kit's route for a model, as told to the supervisor when sent
MAX_VALUE_CHARS = 16_000  # a described value or a model's values, as JSON text (the largest honest one: 126)
MAX_VALUE_DEPTH = 64  # nesting of a free-form JSON text the judge agrees to decode
# One reply line, as the judge reads it. The largest honest reply, measured on every probe of the suite
# against the reference, the stubs, the demo class, every corpus and the attacks' honest code (8,570 replies),
# is 6.7 kB with 115 JSON values, 7 levels deep (/openapi.json, its body as text). A flood of prints that
# fills MAX_OUTPUT_EVENTS while a file is watched takes 245 kB and 16,000 values (515 kB if every character
# printed is a control character, which JSON writes in 6 bytes); beyond the caps a reply becomes an
# "oversized" problem, in or out of process alike. The caps are 78 times the largest honest reply's bytes,
# 4 times the flood's values, and the schema's depth plus room.
MAX_REPLY_BYTES = 512 * 1024
MAX_REPLY_NODES = 64_000  # JSON values: what a parser allocates one object for
MAX_REPLY_DEPTH = 10

# The supervised channel (alfred.sandbox.supervisor), in a submission process.
WITNESS_CHANNEL = 3  # the descriptor the judge's supervisor reads (alfred.sandbox.supervisor.CHANNEL)
SERVING = 4  # witnessed: a socket on which the judge hands a listening socket for each request, served by uvicorn
MARKER = b"\x1f"  # starts a line on the channel that is not the reply: {"phase": ...} or {"event": ...}


# --- JSON, by the C code of `_json` only ---


def _unencodable(value, *, _TypeError=TypeError, _type=type):
    raise _TypeError(f"{_type(value).__name__} is not JSON data")


# Compact, ASCII (every other character escaped, lone surrogates included), NaN written as json.dumps does.
_C_ENCODE = _c_make_encoder(None, _unencodable, _c_encode_string, None, ":", ",", False, False, True)
_C_SCAN = _c_make_scanner(json.JSONDecoder())  # what json.loads uses, with the same settings
_WHITESPACE = re.compile(r"[ \t\n\r]*").match  # what json.loads skips around a document
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'"[]{},')  # what json_shape drops
_IS_QUOTE = tuple(1 if byte == ord('"') else 0 for byte in range(256))
_SQUARE = bytes.maketrans(b"{}", b"[]")  # nesting is nesting, whichever the brackets


def _to_json(value, *, _encode=_C_ENCODE, _join="".join) -> str:
    """The JSON text of plain data."""
    return _join(_encode(value, 0))


def _from_json(text: str, *, _scan=_C_SCAN, _skip=_WHITESPACE, _len=len, _ValueError=ValueError,
               _StopIteration=StopIteration) -> Any:
    """The value of one JSON document, as json.loads reads it; ValueError when `text` is not one."""
    try:
        value, end = _scan(text, _skip(text, 0).end())
    except _StopIteration:
        raise _ValueError("not a JSON document") from None
    if _skip(text, end).end() != _len(text):
        raise _ValueError("more than one JSON document")
    return value


def _detect_encoding(data: bytes, *, _len=len, _utf32=(codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE),
                     _utf16=(codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE), _utf8=codecs.BOM_UTF8) -> str:
    """The encoding json.loads reads bytes in: json.detect_encoding, with its constants bound."""
    if data.startswith(_utf32):
        return "utf-32"
    if data.startswith(_utf16):
        return "utf-16"
    if data.startswith(_utf8):
        return "utf-8-sig"
    if _len(data) >= 4:
        if not data[0]:
            return "utf-16-be" if data[1] else "utf-32-be"
        if not data[1]:
            return "utf-16-le" if data[2] or data[3] else "utf-32-le"
    elif _len(data) == 2:
        if not data[0]:
            return "utf-16-be"
        if not data[1]:
            return "utf-16-le"
    return "utf-8"


def _from_json_bytes(data: bytes, *, _detect=_detect_encoding, _from_json=_from_json) -> Any:
    """json.loads of bytes (what httpx's Response.json() does), without looking up json.loads."""
    return _from_json(data.decode(_detect(data), "surrogatepass"))


def json_shape(data: bytes, depth_limit: int, *, _bytes=bytes, _compress=itertools.compress, _map=map,
               _accumulate=itertools.accumulate, _not=operator.not_, _xor=operator.xor, _range=range,
               _bool=bool, _is_quote=_IS_QUOTE.__getitem__, _not_structure=_NOT_STRUCTURE,
               _square=_SQUARE) -> tuple[int, bool]:
    """(an upper bound on the JSON values in `data`, whether it nests deeper than `depth_limit` or its brackets
    do not pair up), counted on the bytes without parsing them: escaped backslashes and quotes go, then every
    byte but quotes, brackets and commas, then what lies inside strings (a quote opens what the next one
    closes); each round then removes the innermost pairs of brackets, and valid JSON is left with none after
    as many rounds as it is deep. Linear time (times the depth limit), and no more memory than a few copies
    of `data`, whatever the bytes. For bytes that are not valid JSON, the bound on values holds for the part
    a parser reads before it stops."""
    structure = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _not_structure)
    if b'"' in structure:
        inside = _accumulate(_map(_is_quote, structure), _xor)  # 1 from an opening quote to its closing one
        structure = _bytes(_compress(structure, _map(_not, inside)))
    nodes = structure.count(b",") + structure.count(b"[") + structure.count(b"{") + 1
    nesting = structure.translate(_square, b'",')
    for _ in _range(depth_limit):
        if not nesting:
            break
        nesting = nesting.replace(b"[]", b"")
    return nodes, _bool(nesting)


def reply_problem(data: bytes, *, _len=len, _shape=json_shape, _max_bytes=MAX_REPLY_BYTES,
                  _max_nodes=MAX_REPLY_NODES, _max_depth=MAX_REPLY_DEPTH) -> tuple[str, str]:
    """("oversized" or "malformed", why, in a student's words) for a reply line beyond what the judge reads
    (too many bytes or values; nested deeper than any reply's schema); ("", "") for one it reads."""
    if _len(data) > _max_bytes:
        return "oversized", f"a report of {_len(data):,} bytes, where the grader reads {_max_bytes:,}"
    nodes, deeper = _shape(data, _max_depth)
    if nodes > _max_nodes:
        return "oversized", f"a report of {nodes:,} values, where the grader reads {_max_nodes:,}"
    if deeper:
        return "malformed", f"a report nested more than {_max_depth} deep, or not JSON"
    return "", ""


def encode_reply(reply: dict, *, _to_json=_to_json, _problem=reply_problem) -> bytes:
    """The reply line for `reply` ({"id", "observation"} or {"id", "problem", "detail"}); a reply beyond what
    the judge reads becomes a problem ("oversized") here, so an honest reply is never cut on the way."""
    data = (_to_json(reply) + "\n").encode("ascii")
    problem, detail = _problem(data)
    if problem:
        data = (_to_json({"id": reply.get("id"), "problem": problem, "detail": detail}) + "\n").encode("ascii")
    return data


def decode_request(line: bytes, *, _from_json=_from_json, _type=type, _dict=dict, _ValueError=ValueError) -> dict:
    """One line from the judge: {"id", "workdir", "probe"}."""
    request = _from_json(line.decode("utf-8"))
    if _type(request) is not _dict:
        raise _ValueError("a request is a JSON object")
    return request
