"""The grading layer: grading a class (finding and reading each student's work, the cache, the worker pool,
shards and merge), the kit's corpora, and the Gradescope bundle. It runs the judge in sandboxes and writes
the reports; only the commands import it."""
