"""The layout holds: layers import downwards, no import cycles, small modules and functions.

Static checks over the source (ast only: nothing is imported or run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "linktrack"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# A module over the limit must say in its docstring why its one concept needs it.
LONG_ON_PURPOSE = "one concept"
# Which layers each layer may import (the package root `linktrack` itself is empty).
ALLOWED = {
    "core": {"core"},
    "adapters": {"core", "adapters"},
    "service": {"core", "adapters", "service"},
    "bootstrap": {"core", "adapters", "service"},
    "entrypoints": {"core", "adapters", "service", "bootstrap", "entrypoints"},
}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


MODULES = dict(_modules())


def _imports(name: str, path: Path) -> set[str]:
    """The linktrack modules `name` imports anywhere in its body (lazy imports too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        out.update(t for t in targets if t in MODULES and t != name)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else "root"


def test_layers_import_only_downwards() -> None:
    wrong = [
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if _layer(name) in ALLOWED
        for target in targets
        if _layer(target) not in ALLOWED[_layer(name)]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    # A package importing its own submodules (re-exports) is not a cycle of concepts.
    def edges(name: str) -> set[str]:
        return {t for t in GRAPH[name] if not t.startswith(name + ".")}

    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(edges(name)):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(GRAPH):
        if name not in state and (cycle := visit(name)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_service_layer_writes_no_sql() -> None:
    for name, path in MODULES.items():
        if _layer(name) != "service":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                found = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            bad = [m for m in found if m.split(".")[0] == "sqlalchemy" or ".store.schema" in m]
            assert not bad, f"{name} imports {bad}"


def test_modules_are_small_unless_their_concept_needs_it() -> None:
    long = []
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if lines > MAX_MODULE_LINES and LONG_ON_PURPOSE not in docstring:
            long.append(f"{name}: {lines} lines")
    assert not long, "\n".join(long)


def test_functions_are_short() -> None:
    long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {size} lines")
    assert not long, "\n".join(long)
