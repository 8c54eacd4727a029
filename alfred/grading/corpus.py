"""The kit's corpora of student-like submissions, and the annotation each one carries.

tests/corpus/correct/*.py: correct solutions written differently from the reference; each must score 100.
A sample may also be a folder holding main.py and the project's other files (static files, data), graded
as a student's folder is.
tests/corpus/wrong/*.py: one realistic mistake each. The module docstring names the exercises that must
lose points in a line `loses: task` (several: `loses: lesson, stretch`); every other exercise keeps full marks.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

from alfred.course.exercises import IDS
from alfred.course.targets import KIT_ROOT

CORPUS_DIR = KIT_ROOT / "tests" / "corpus"


@dataclass(frozen=True)
class Sample:
    """One sample; its annotation is read from its file when first asked for (collecting the tests that are
    parametrized over the corpora needs only the names, and parsing every sample cost every run 0.16 s)."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.stem

    @functools.cached_property
    def summary(self) -> str:
        """The docstring's first line."""
        return self._docstring.splitlines()[0] if self._docstring else self.path.stem

    @functools.cached_property
    def loses(self) -> frozenset[str]:
        """The exercises the sample must lose points in (its `loses:` line); empty for a correct solution."""
        loses: set[str] = set()
        for line in self._docstring.splitlines():
            if line.strip().startswith("loses:"):
                loses = {part.strip() for part in line.split(":", 1)[1].split(",") if part.strip()}
        unknown = loses - set(IDS)
        if unknown:
            raise ValueError(f"{self.path.name}: unknown exercise ids {sorted(unknown)} in its `loses:` line")
        return frozenset(loses)

    @functools.cached_property
    def _docstring(self) -> str:
        source = self.path / "main.py" if self.path.is_dir() else self.path
        try:
            return ast.get_docstring(ast.parse(source.read_text())) or ""
        except SyntaxError:  # the broken corpus holds files that do not parse; they annotate in a comment
            return "\n".join(line.lstrip("# ") for line in source.read_text().splitlines() if line.startswith("#"))


@functools.cache
def load(kind: str) -> tuple[Sample, ...]:
    """The samples of one corpus ("correct", "wrong", "broken"), sorted by file name; listed once per process,
    since several test modules parametrize over the corpora."""
    folder = CORPUS_DIR / kind
    paths = [*folder.glob("*.py"), *(path for path in folder.iterdir() if (path / "main.py").is_file())]
    return tuple(Sample(path) for path in sorted(paths))
