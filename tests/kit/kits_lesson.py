"""Which of the self-check's tests need the kit's own lesson (lesson 7, as pyproject.toml's [tool.alfred]
names it): those that grade its corpora, its attacks, its demo class or its handout, or name its exercises.
The engine's own checks run with any lesson; with another lesson selected (ALFRED_LESSON), these are skipped,
saying why, and never fail at collection.

    skip_unless_the_kits_lesson()      at the top of a module, before anything of lesson 7 is loaded
    @the_kits_lesson_only              on one test (or `pytestmark = the_kits_lesson_only`)
"""

from __future__ import annotations

import pytest

from alfred.course.lesson import LESSON_VARIABLE, chosen_path, current, load

KITS_LESSON = load(chosen_path({}))  # the lesson pyproject.toml names, whatever ALFRED_LESSON says
ANOTHER_LESSON = current().suite != KITS_LESSON.suite
WHY = (f"a check of {KITS_LESSON.name}'s corpora, attacks and handout, not of the engine: {LESSON_VARIABLE} selects "
       f"{current().name} ({current().suite}); unset it to run this check")

the_kits_lesson_only = pytest.mark.skipif(ANOTHER_LESSON, reason=WHY)


def skip_unless_the_kits_lesson() -> None:
    """Skips the calling module, from its top, when another lesson is selected."""
    if ANOTHER_LESSON:
        pytest.skip(WHY, allow_module_level=True)
