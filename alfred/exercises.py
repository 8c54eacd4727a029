"""The lesson's exercises, numbered once: ids, numbers, titles and default points.

Everything that names an exercise (stub TODOs, test markers, the progress table, grade reports) reads it
from here, so "Exercise 3 (endpoint)" is spelled the same way everywhere.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Exercise:
    id: str
    number: int | None  # None for the lesson's worked example, which is not homework
    title: str
    points: float
    names: tuple[str, ...] = ()  # names in main.py this exercise asks for

    @property
    def label(self) -> str:
        return f"Exercise {self.number} ({self.id})" if self.number else "The lesson's worked example"


EXERCISES = (
    Exercise("lesson", None, "POST /log-activity/{user_email} and its logging task", 0, ("log_batcomputer_activity",)),
    Exercise("model", 1, "IntelReportRequest model", 20, ("IntelReportRequest",)),
    Exercise("task", 2, "simulate_intel_report_compilation task", 25, ("simulate_intel_report_compilation",)),
    Exercise("endpoint", 3, "POST /request-intel-report endpoint", 35),
    Exercise("stretch", 4, "log file creation message", 20),
)
BY_ID = {exercise.id: exercise for exercise in EXERCISES}
IDS = tuple(BY_ID)
LESSON_FOLDER = "lesson_07"


def exercise_asking_for(name: str) -> Exercise | None:
    return next((exercise for exercise in EXERCISES if name in exercise.names), None)
