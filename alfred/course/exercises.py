"""The exercises of the lesson this run is about, numbered once: ids, numbers, titles and default points.

Everything that names an exercise (test markers, the progress table, grade reports) reads it from here, so
"Exercise 3 (endpoint)" is spelled the same way everywhere. The exercises themselves are data, in the
lesson's lesson.toml (alfred.course.lesson); this module is the engine's short way to them.
"""

from alfred.course.lesson import Exercise, current

LESSON = current()
EXERCISES: tuple[Exercise, ...] = LESSON.exercises
BY_ID = LESSON.by_id
IDS = LESSON.ids
LESSON_FOLDER = LESSON.folder


def exercise_asking_for(name: str) -> Exercise | None:
    return LESSON.exercise_asking_for(name)
