"""The code that runs in the student's process, beside student code: the probe loads main.py, runs what a test
asks for and reports what happened. It imports nothing of the kit above it, and a copy of it is all of the
kit, with the sandbox's worker, supervisor and limits, that a sandbox holds. `probe.py` is its entry, which the
rest of the kit imports; its first lines name the modules that do the work."""
