"""What the lesson asks for and behaviour cannot show, read from main.py's text: flags for the teacher's review.

Grading judges what a submission does. Some of what a lesson asks for leaves no trace a client can see: a
hand-written ASGI function answers a route as FastAPI does, a thread runs a task as `add_task` would, a
regular expression can accept the addresses an `EmailStr` accepts. So the grader also reads main.py as text
(`ast.parse`: it is never run here) and says, in words a teacher and a student can read, what it does not
find: "POST /reports does not call add_task: review by hand". What it looks for comes from the
lesson's data (`[[review]]` in lesson.toml: alfred.course.lesson.ReviewedRoute); what no lesson asks of a
student (exec, frame introspection, edits of sys.modules, new namespaces, raw sockets) is the same for every
lesson (`PAST_THE_LESSON`).

A flag is a note for review, never a point lost, unless the course sets `review_costs_points = true` in
`[tool.alfred]`: then a flag's exercise scores 0 (`Flag.exercise`). The reading is syntactic and
deliberately modest: names are followed through `import ... as` and plain assignments at the top level, not
through code that computes them, which is itself flagged when it reaches for exec, getattr on modules and
the like.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

from alfred.course.lesson import Lesson, ReviewedRoute
from alfred.grading.discovery import GradeError

REVIEW = ": review by hand"
SETTING = "review_costs_points"  # in [tool.alfred]: true makes a flagged exercise score 0


class ReviewSettingError(GradeError):
    """A bad `review_costs_points` in [tool.alfred]: `alfred grade` stops at once with this line."""


def review_costs_points(pyproject: Path) -> bool:
    """Whether the course makes review flags cost their exercise's points (false unless it says so)."""
    try:
        with pyproject.open("rb") as handle:
            value = tomllib.load(handle).get("tool", {}).get("alfred", {}).get(SETTING, False)
    except (OSError, tomllib.TOMLDecodeError):
        return False
    if not isinstance(value, bool):
        raise ReviewSettingError(f"Invalid {SETTING} {value!r} in {pyproject} [tool.alfred]: true or false")
    return value


@dataclass(frozen=True)
class Flag:
    words: str  # what the teacher and the student read
    exercise: str | None  # the exercise it belongs to (None: the whole file)


def review(source: str, lesson: Lesson) -> list[Flag]:
    """The flags of one main.py, in a stable order; none for a file that does not parse (its error row says why)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    module = _Module(tree)
    flags: list[Flag] = []
    if lesson.review and not module.binds_fastapi_app(lesson.app):
        flags.append(Flag(f"no FastAPI() app is bound to `{lesson.app}`{REVIEW}", None))
    for rule in lesson.review:
        flags += _route_flags(module, rule)
    flags += [Flag(f"{words}{REVIEW}", None) for words in module.past_the_lesson()]
    if module.serves_on_import():
        flags.append(Flag(f"{SERVES_ON_IMPORT}{REVIEW}", None))
    return list(dict.fromkeys(flags))


def _route_flags(module: _Module, rule: ReviewedRoute) -> list[Flag]:
    route = f"{rule.method} {rule.path}"
    function = module.route_function(rule.method, rule.path)
    if function is None:
        flags = [Flag(f"{route} is not declared with a route decorator (@app.{rule.method.lower()}(...)){REVIEW}",
                      rule.exercise)]
        model = module.classes.get(rule.model)  # the lesson's model, by name, is still read
        return flags + (_model_flags(module, model, rule) if model is not None else [])
    flags = []
    if rule.background_task:
        # The endpoint, or a dependency it declares (FastAPI injects BackgroundTasks there too), takes it.
        functions = module.with_dependencies(function)
        tasks = [(used, name) for used in functions for name, annotation in _parameters(used)
                 if module.is_name(annotation, "BackgroundTasks")]
        if not tasks:
            flags.append(Flag(f"{route} takes no BackgroundTasks parameter{REVIEW}", rule.exercise))
        elif not any(_calls_method(used, name, "add_task") for used, name in tasks):
            flags.append(Flag(f"{route} does not call add_task{REVIEW}", rule.exercise))
    if rule.model:
        model = module.body_model(function, rule.model)
        if model is None:
            flags.append(Flag(f"{route} takes no model class as its body (the lesson's {rule.model}){REVIEW}",
                              rule.model_exercise or rule.exercise))
        else:
            flags += _model_flags(module, model, rule)
    return flags


def _model_flags(module: _Module, model: ast.ClassDef, rule: ReviewedRoute) -> list[Flag]:
    exercise = rule.model_exercise or rule.exercise
    if not module.is_model(model):
        return [Flag(f"{model.name} is not a pydantic model{REVIEW}", exercise)]
    if rule.email_field and not module.has_email_field(model):
        return [Flag(f"no field of {model.name} is typed EmailStr{REVIEW}", exercise)]
    return []


# What no lesson asks of a student: (what is found, the words), by the names reached or imported.
PAST_THE_LESSON = {
    "exec": "runs code from text (exec, eval or compile)", "eval": "runs code from text (exec, eval or compile)",
    "compile": "runs code from text (exec, eval or compile)",
    "__import__": "imports modules by computed name (__import__, importlib)",
    "importlib": "imports modules by computed name (__import__, importlib)",
    "ctypes": "calls C functions directly (ctypes)",
    "gc": "reaches objects through the garbage collector (gc)",
    "_getframe": "inspects the interpreter's frames", "currentframe": "inspects the interpreter's frames",
    "f_back": "inspects the interpreter's frames", "f_globals": "inspects the interpreter's frames",
    "f_locals": "inspects the interpreter's frames", "tb_frame": "inspects the interpreter's frames",
    "gi_frame": "inspects the interpreter's frames", "cr_frame": "inspects the interpreter's frames",
    "modules": "edits sys.modules",
    "fork": "starts processes or namespaces of its own (fork, unshare, mount)",
    "forkpty": "starts processes or namespaces of its own (fork, unshare, mount)",
    "unshare": "starts processes or namespaces of its own (fork, unshare, mount)",
    "setns": "starts processes or namespaces of its own (fork, unshare, mount)",
    "mount": "starts processes or namespaces of its own (fork, unshare, mount)",
    "SOCK_RAW": "opens raw sockets", "AF_PACKET": "opens raw sockets",
    "__builtins__": "reaches names computed at run time (getattr on a module, __builtins__)",
    "getattr": "reaches names computed at run time (getattr on a module, __builtins__)",
}


# The server started at the top level of main.py: `uvicorn main:app` and every grader that imports main.py
# start it again (grading refuses to, and passes the app's tests all the same), so a teacher should see it.
SERVES_ON_IMPORT = "calls uvicorn.run() at the top level, not under `if __name__ == \"__main__\":`"


_CODE_FROM_TEXT = ("exec", "eval", "compile", "__import__")


class _Module:
    """main.py's syntax tree, with the names it imports and binds at its top level."""

    def __init__(self, tree: ast.Module):
        self.tree = tree
        self.imported: dict[str, str] = {}  # local name -> what it stands for: "fastapi.FastAPI", "time"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.imported[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        self.classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
        self.assigned: dict[str, ast.expr] = {}  # top-level `name = value`
        for node in tree.body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.assigned[target.id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                self.assigned[node.target.id] = node.value

    def dotted(self, node: ast.expr) -> str:
        """`fastapi.FastAPI` for `FastAPI` imported from fastapi, `F` imported as it, or `fastapi.FastAPI`."""
        if isinstance(node, ast.Name):
            return self.imported.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            return f"{self.dotted(node.value)}.{node.attr}"
        if isinstance(node, ast.Subscript):  # Annotated[X, ...], Optional[X], X | None: the first argument
            inner = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) and node.slice.elts else node.slice
            return self.dotted(inner)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            left = self.dotted(node.left)
            return left if left not in ("None", "") else self.dotted(node.right)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
            try:
                return self.dotted(ast.parse(node.value, mode="eval").body)
            except SyntaxError:
                return ""
        return ""

    def is_name(self, node: ast.expr | None, name: str) -> bool:
        """Whether `node` names `name` (a class or function of a library, however it was imported)."""
        return node is not None and self.dotted(node).rsplit(".", 1)[-1] == name

    def binds_fastapi_app(self, app: str) -> bool:
        value = self.assigned.get(app)
        return isinstance(value, ast.Call) and self.is_name(value.func, "FastAPI")

    def _routers(self) -> dict[str, str]:
        """Each name bound to the app or an APIRouter, with the prefix its routes get: its own and the one
        `include_router` adds."""
        prefixes = {}
        for name, value in self.assigned.items():
            if isinstance(value, ast.Call) and (self.is_name(value.func, "FastAPI") or self.is_name(value.func, "APIRouter")):
                prefixes[name] = _keyword_text(value, "prefix")
        for node in ast.walk(self.tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "include_router"
                    and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in prefixes):
                prefixes[node.args[0].id] = _keyword_text(node, "prefix") + prefixes[node.args[0].id]
        return prefixes

    def route_function(self, method: str, path: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The function declared for `method path` with a route decorator of the app or one of its routers."""
        routers = self._routers()
        for node in ast.walk(self.tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for decorator in node.decorator_list:
                if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                        and isinstance(decorator.func.value, ast.Name) and decorator.func.value.id in routers):
                    continue
                declared = _keyword_text(decorator, "path") or (
                    decorator.args[0].value if decorator.args and isinstance(decorator.args[0], ast.Constant)
                    and isinstance(decorator.args[0].value, str) else None)
                if declared is None:
                    continue
                verb = decorator.func.attr
                methods = {verb.upper()} if verb != "api_route" else _methods(decorator)
                if method in methods and routers[decorator.func.value.id] + declared == path:
                    return node
        return None

    def with_dependencies(self, function, depth: int = 4) -> list:
        """`function` and the functions of main.py it declares as dependencies (`Depends(f)` as a default or in
        `Annotated[...]`), theirs too, a few levels down."""
        functions = {node.name: node for node in self.tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        found, pending = [function], [function]
        for _ in range(depth):
            pending = [functions[name] for current in pending for name in _dependencies(current, self)
                       if name in functions and functions[name] not in found]
            found += pending
        return found

    def body_model(self, function, lesson_model: str) -> ast.ClassDef | None:
        """The class of the endpoint's body: a parameter typed with a class of main.py (the lesson's model
        first, a renamed one otherwise)."""
        typed = [self.dotted(annotation) for _, annotation in _parameters(function) if annotation is not None]
        for name in [lesson_model, *typed]:
            if name in typed and name in self.classes:
                return self.classes[name]
        return None

    def is_model(self, model: ast.ClassDef) -> bool:
        """A pydantic model (a BaseModel, maybe through another class of main.py), or a dataclass FastAPI
        validates as one."""
        if any(self.is_name(decorator.func if isinstance(decorator, ast.Call) else decorator, "dataclass")
               for decorator in model.decorator_list):
            return True
        for base in model.bases:
            if self.is_name(base, "BaseModel"):
                return True
            parent = self.classes.get(self.dotted(base))
            if parent is not None and parent is not model and self.is_model(parent):
                return True
        return False

    def has_email_field(self, model: ast.ClassDef) -> bool:
        fields = [node.annotation for node in model.body if isinstance(node, ast.AnnAssign)]
        if any(self.is_name(annotation, "EmailStr") or "EmailStr" in ast.unparse(annotation) for annotation in fields):
            return True
        parents = [self.classes.get(self.dotted(base)) for base in model.bases]
        return any(parent is not None and parent is not model and self.has_email_field(parent) for parent in parents)

    def _is_module(self, node: ast.expr) -> bool:
        """A name bound by `import` (a module, not a name imported from one), or `builtins`."""
        return isinstance(node, ast.Name) and (node.id in ("builtins", "__builtins__") or (
            node.id in self.imported and "." not in self.imported[node.id] and not any(
                isinstance(n, ast.ImportFrom) and any((a.asname or a.name) == node.id for a in n.names)
                for n in ast.walk(self.tree))))

    def serves_on_import(self) -> bool:
        """Whether a statement run on import (at the top level, outside functions, classes and the
        `if __name__ == "__main__":` block) calls uvicorn.run."""
        def runs_on_import(statements) -> bool:
            for statement in statements:
                if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    continue
                if isinstance(statement, ast.If) and "__main__" in ast.unparse(statement.test):
                    if runs_on_import(statement.orelse):
                        return True
                    continue
                if any(isinstance(node, ast.Call) and self.dotted(node.func) == "uvicorn.run"
                       for node in ast.walk(statement)):
                    return True
            return False

        return runs_on_import(self.tree.body)

    def past_the_lesson(self) -> list[str]:
        found = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                origin = self.imported.get(node.id, f"builtins.{node.id}")  # a name not imported is a builtin
                if origin.removeprefix("builtins.") in _CODE_FROM_TEXT and origin.startswith("builtins."):
                    found.append(PAST_THE_LESSON[origin.removeprefix("builtins.")])
                if node.id == "__builtins__":
                    found.append(PAST_THE_LESSON["__builtins__"])
            elif isinstance(node, ast.Call) and self.is_name(node.func, "getattr") and len(node.args) >= 2 \
                    and not isinstance(node.args[1], ast.Constant) and self._is_module(node.args[0]):
                found.append(PAST_THE_LESSON["getattr"])
            elif isinstance(node, ast.Attribute) and node.attr in _CODE_FROM_TEXT:
                if self.dotted(node.value) == "builtins":
                    found.append(PAST_THE_LESSON[node.attr])
            elif isinstance(node, ast.Attribute) and node.attr in PAST_THE_LESSON:
                if node.attr == "modules" and self.dotted(node.value) != "sys":
                    continue
                if node.attr in ("fork", "forkpty", "unshare", "setns") and self.dotted(node.value) != "os":
                    continue
                if node.attr == "mount" and self.dotted(node.value) not in ("libc", "os"):
                    continue
                found.append(PAST_THE_LESSON[node.attr])
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for module in modules:
                    top = module.split(".")[0]
                    if top in ("ctypes", "gc", "importlib"):
                        found.append(PAST_THE_LESSON[top])
                if isinstance(node, ast.ImportFrom) and node.module in ("inspect", "sys", "os"):
                    found += [PAST_THE_LESSON[alias.name] for alias in node.names if alias.name in PAST_THE_LESSON]
        return list(dict.fromkeys(found))


def _parameters(function) -> list[tuple[str, ast.expr | None]]:
    arguments = function.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    return [(argument.arg, argument.annotation) for argument in every]


def _dependencies(function, module: _Module) -> list[str]:
    """The names given to `Depends(...)` in the parameters of `function` (defaults and annotations)."""
    arguments = function.args
    places = [*arguments.defaults, *arguments.kw_defaults,
              *(argument.annotation for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs])]
    return [node.args[0].id for place in places if place is not None for node in ast.walk(place)
            if isinstance(node, ast.Call) and module.is_name(node.func, "Depends") and node.args
            and isinstance(node.args[0], ast.Name)]


def _calls_method(function, owner: str, method: str) -> bool:
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method
               and isinstance(node.func.value, ast.Name) and node.func.value.id == owner for node in ast.walk(function))


def _keyword_text(call: ast.Call, name: str) -> str:
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
            return keyword.value.value
    return ""


def _methods(call: ast.Call) -> set[str]:
    for keyword in call.keywords:
        if keyword.arg == "methods" and isinstance(keyword.value, (ast.List, ast.Tuple, ast.Set)):
            return {element.value.upper() for element in keyword.value.elts
                    if isinstance(element, ast.Constant) and isinstance(element.value, str)}
    return {"GET"}
