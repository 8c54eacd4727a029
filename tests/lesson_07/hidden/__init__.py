"""Lesson 7's hidden checks: run only when work is graded (alfred.judge.hidden), never handed out.

A package so that its modules import the visible suite's probes and diagnoses (`test_endpoint`,
`diagnosis_endpoint`, ...) from the folder above.
"""
