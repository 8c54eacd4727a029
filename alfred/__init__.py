"""Alfred's kit: the engine of a test-first course, one folder per layer, imports going one way (course,
inside, sandbox, judge, reports, grading; docs/how-it-works.md, "How the kit is built"). The modules at this top level
are the commands: `alfred` (`__main__`, `cli`), `handout`, and the students' `hint` and `watch`."""
