"""The recipes' code keeps the project's habits: short functions and no import cycle among its modules."""

from __future__ import annotations

import ast
from pathlib import Path

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def _modules() -> dict[str, tuple[ast.Module, bool]]:
    """Every module of ``recipes/`` by dotted name: its syntax tree and whether it is a package (``__init__``)."""
    out = {}
    for path in sorted(RECIPES.rglob("*.py")):
        parts = path.relative_to(RECIPES.parent).with_suffix("").parts
        package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if package else parts)] = (ast.parse(path.read_text()), package)
    return out


def test_no_function_is_longer_than_60_lines():
    long = [
        f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for name, (tree, _) in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60
    ]
    assert not long


def _imports(name: str, tree: ast.Module, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` imports (absolute or relative, at any depth)."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: the package ``level - 1`` steps up, then the module named
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module
            found |= {base} | {f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return (found & known) - {name}


def test_no_import_cycle_among_the_recipe_modules():
    modules = _modules()
    graph = {name: _imports(name, tree, package, set(modules)) for name, (tree, package) in modules.items()}
    assert graph["recipes.toy.recipe"] >= {"recipes.toy.synthetic", "recipes.toy.settings"}  # the scan sees imports

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    assert not [name for name in graph if reaches(name, name, set())]
