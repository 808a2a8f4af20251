"""The package's shape: no import cycle, few function-level imports, small modules.

Run alone with ``python -m pytest tests/test_structure.py``; it reads the source,
imports nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "wagtail_neural_feed"
NAME = PACKAGE.name

#: Function-level imports of our own modules, each for a reason Python or Django gives.
ALLOWED_FUNCTION_IMPORTS = {
    # The package is imported before Django's apps are ready: its public API loads lazily.
    ("__init__", "__getattr__", "feeds"),
    ("__init__", "__getattr__", "api"),
    # AppConfig.ready(): these need the app registry.
    ("apps", "ready", "checks"),
    ("apps", "ready", "signals"),
    # The one upward call the design asks for: page.similar_pages().
    ("models.mixins", "similar_pages", "api"),
}
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 80


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).with_suffix("")
        if "migrations" in relative.parts:
            continue
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        found[".".join(parts) or "__init__"] = path
    return found


def resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool) -> list[str]:
    """Our modules an import statement names (``from . import x`` names module x)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names if alias.name.startswith(NAME + ".")]
        return [name[len(NAME) + 1 :] for name in names]
    if node.level == 0:
        if not (node.module or "").startswith(NAME):
            return []
        base = (node.module or "")[len(NAME) + 1 :]
    else:
        parts = [] if module == "__init__" else module.split(".")
        package = parts if is_package else parts[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    known = modules()
    targets = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}" if base else alias.name
        targets.append(candidate if candidate in known else base or "__init__")
    return targets


def imports(*, at_module_level: bool) -> list[tuple[str, str, str]]:
    """(module, enclosing function or "", imported module) for every import of ours."""
    found = []
    for module, path in modules().items():
        tree = ast.parse(path.read_text())
        is_package = path.name == "__init__.py"
        functions = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        if at_module_level:
            for node in tree.body:
                if isinstance(node, ast.Import | ast.ImportFrom):
                    found += [(module, "", t) for t in resolve(module, node, is_package)]
            continue
        for function in functions:
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    targets = resolve(module, node, is_package)
                    found += [(module, function.name, t) for t in targets]
    return found


def test_imports_form_no_cycle():
    """Module-level and function-level imports together, less the documented ones."""
    graph: dict[str, set[str]] = {}
    every = imports(at_module_level=True) + imports(at_module_level=False)
    for module, _, target in (i for i in every if i not in ALLOWED_FUNCTION_IMPORTS):
        # Importing ranking.rows runs ranking/__init__ first: depend on both.
        parts = target.split(".")
        for end in range(1, len(parts) + 1):
            dependency = ".".join(parts[:end])
            if dependency != module and not module.startswith(dependency + "."):
                graph.setdefault(module, set()).add(dependency)
    # A package imports its own submodules (ranking/__init__ -> ranking.scope); a
    # submodule importing its package's __init__ is what makes a cycle there.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_function_level_imports_are_only_the_documented_ones():
    found = {
        (module, function, target) for module, function, target in imports(at_module_level=False)
    }
    assert found <= ALLOWED_FUNCTION_IMPORTS, sorted(found - ALLOWED_FUNCTION_IMPORTS)
    assert len(ALLOWED_FUNCTION_IMPORTS) <= 10


def test_modules_and_functions_stay_small():
    too_long = []
    for module, path in modules().items():
        source = path.read_text()
        if source.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"module {module}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{module}.{node.name}: {length} lines")
    assert not too_long, too_long
