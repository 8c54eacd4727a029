"""The judge layer: the pytest plugin's side of the kit (with conftest.py), which runs the lesson's suite
against a main.py: the drivers that run probes in process or in a sandboxed process, the bounded reading of
replies, learner messages, timelines, points and the plugin's options. It uses the sandbox, and knows nothing
of a class, its reports or the commands."""
