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
    path: Path
    summary: str  # the docstring's first line
    loses: frozenset[str]  # empty for a correct solution

    @property
    def name(self) -> str:
        return self.path.stem


@functools.cache
def load(kind: str) -> tuple[Sample, ...]:
    """The samples of one corpus ("correct", "wrong", "broken"), sorted by file name. Read once per process:
    several test modules parametrize over the corpora, and parsing the samples for each one cost seconds."""
    folder = CORPUS_DIR / kind
    paths = [*folder.glob("*.py"), *(path for path in folder.iterdir() if (path / "main.py").is_file())]
    return tuple(_sample(path) for path in sorted(paths))


def _sample(path: Path) -> Sample:
    source = path / "main.py" if path.is_dir() else path
    try:
        docstring = ast.get_docstring(ast.parse(source.read_text())) or ""
    except SyntaxError:  # the broken corpus holds files that do not parse; they annotate in a comment
        docstring = "\n".join(line.lstrip("# ") for line in source.read_text().splitlines() if line.startswith("#"))
    loses: set[str] = set()
    for line in docstring.splitlines():
        if line.strip().startswith("loses:"):
            loses = {part.strip() for part in line.split(":", 1)[1].split(",") if part.strip()}
    unknown = loses - set(IDS)
    if unknown:
        raise ValueError(f"{path.name}: unknown exercise ids {sorted(unknown)} in its `loses:` line")
    return Sample(path, docstring.splitlines()[0] if docstring else path.stem, frozenset(loses))
