"""The sandbox layer: the fork server and its client (bubblewrap, namespaces, a fresh filesystem per
submission), the seccomp supervisor that watches a submission process from outside, cgroups, and every limit
put on student code in one typed value (`limits.LIMITS`). It builds on the course and the code inside the
student's process, and knows nothing of pytest, grades or reports."""
