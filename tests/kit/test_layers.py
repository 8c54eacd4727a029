"""The engine's layers are the folders of alfred/, and imports go one way: a module imports from its own layer
or from the layers below it, never from one above (docs/how-it-works.md, "How the kit is built").

Every import is read from the source (ast), those inside functions too, so a lazy import cannot go upward
unseen either. conftest.py, the kit's pytest plugin, belongs to the judge.
"""

from __future__ import annotations

import ast
from pathlib import Path

from alfred.course.targets import KIT_ROOT

LAYER_MAP_PAGE = KIT_ROOT / "docs" / "how-it-works.md"

PACKAGE = KIT_ROOT / "alfred"
# Lowest first. The modules at the top of alfred/ (the `alfred` command, its subcommands and the students'
# `python -m alfred.hint` and `python -m alfred.watch`) are the commands layer.
LAYERS = ("course", "inside", "sandbox", "judge", "reports", "grading", "commands")
TOP = "commands"


def layer_of_file(path: Path) -> str | None:
    """The layer of a source file: its folder under alfred/, `commands` at the top (None for alfred/__init__.py,
    the package itself), `judge` for the kit's conftest.py."""
    if path == KIT_ROOT / "conftest.py":
        return "judge"
    parts = path.relative_to(PACKAGE).parts
    if len(parts) == 1:
        return None if parts[0] == "__init__.py" else TOP
    return parts[0]


def imported_layers(source: str) -> list[tuple[int, str, str]]:
    """(line, module, layer) for every module of alfred the source imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] != "alfred" or len(parts) < 2:
                continue
            if parts[1] in LAYERS:
                found.append((node.lineno, name, parts[1]))
            elif (PACKAGE / f"{parts[1]}.py").is_file():
                found.append((node.lineno, name, TOP))
    return found


def upward_imports(path: Path, source: str) -> list[str]:
    """Each import of `source` (the text of `path`) that reaches a layer above the file's own."""
    own = layer_of_file(path)
    if own is None:
        return []
    return [f"{path.relative_to(KIT_ROOT)}:{line}: the {own} layer imports {module} ({layer})"
            for line, module, layer in imported_layers(source) if LAYERS.index(layer) > LAYERS.index(own)]


def test_every_folder_of_the_engine_is_a_layer():
    folders = {path.name for path in PACKAGE.iterdir() if path.is_dir() and path.name != "__pycache__"}
    assert folders == set(LAYERS) - {TOP}


def test_imports_go_one_way_from_the_commands_down_to_the_course():
    sources = [KIT_ROOT / "conftest.py", *sorted(PACKAGE.rglob("*.py"))]
    wrong = [problem for path in sources for problem in upward_imports(path, path.read_text())]
    assert wrong == [], "\n".join(wrong)


def test_an_upward_import_is_caught_wherever_it_is_written():
    """The check can fail: a lesson module importing the grader, at the top or inside a function, and the
    sandbox importing a command, are each named."""
    lesson, sandbox = PACKAGE / "course" / "lesson.py", PACKAGE / "sandbox" / "worker.py"
    assert upward_imports(lesson, "from alfred.grading.grade import grade_class\n") == [
        "alfred/course/lesson.py:1: the course layer imports alfred.grading.grade.grade_class (grading)"]
    assert len(upward_imports(lesson, "def f():\n    import alfred.judge.driver\n")) == 1
    assert len(upward_imports(sandbox, "from alfred import cli\n")) == 1
    assert upward_imports(sandbox, "from alfred.inside.probe import warm_up\nfrom alfred.sandbox import limits\n") == []


def modules_missing_from_the_map(page: str) -> list[str]:
    """The modules of alfred/ that the layer map (docs/how-it-works.md, "How the kit is built") does not name in
    their layer's row."""
    rows = {line.split("|")[1].strip(): line for line in page.splitlines() if line.startswith("| `alfred/")}
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        relative = path.relative_to(PACKAGE)
        row = rows.get("`alfred/` (top)" if len(relative.parts) == 1 else f"`alfred/{relative.parts[0]}/`", "")
        if f"`{path.name}`" not in row:
            missing.append(str(relative))
    return missing


def test_the_layer_map_names_every_module_in_its_layer():
    assert modules_missing_from_the_map(LAYER_MAP_PAGE.read_text()) == []


def test_the_map_check_sees_a_module_left_out():
    page = LAYER_MAP_PAGE.read_text().replace("`classroom.py`", "the class runner")
    assert modules_missing_from_the_map(page) == ["grading/classroom.py"]
