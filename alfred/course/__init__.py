"""The course layer, the lowest: what a lesson is (its lesson.toml read into frozen values, its exercises) and
which main.py a run is about. Every other layer reads it; it imports nothing else of the kit."""
