"""The shape of the code, checked: no import circle between modules, no long function.

The import graph is built from the source with :mod:`ast`, so that it sees what ``import-linter``
(the layer contracts in pyproject.toml) sees and more: imports inside functions count, because a
circle closed by a function-level import is still a circle a reader has to untangle. Imports under
``if TYPE_CHECKING:`` do not count: they never run, and they are how two modules name each
other's types without importing each other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("keepmum", "device", "wakeword", "storage", "sim")
LAYERS = ("device", "wakeword", "storage", "sim")
MAX_FUNCTION_LINES = 100


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(packages: tuple[str, ...]) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except what sits under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports at run time, at any depth of the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import name``: the submodule pkg.name if there is one, else pkg itself.
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    files = list(source_files(PACKAGES))
    known = {module_name(path) for path in files}
    return {module_name(path): imported_modules(path, known) for path in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as the list of its modules, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_the_graph_sees_function_level_imports() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    # The real graph: wakeword.backend opens ONNX sessions through a function-level import.
    assert "wakeword.sessions" in import_graph()["wakeword.backend"]


def test_type_checking_imports_are_not_edges() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x\nimport y\n"
    tree = ast.parse(source)
    names = {
        alias.name
        for node in _runtime_nodes(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert names == {"y"}


def test_no_import_cycle_between_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_core_imports_no_layer() -> None:
    graph = import_graph()
    core = {name: graph[name] for name in ("keepmum.errors", "keepmum.files", "keepmum.settings")}
    for name, targets in core.items():
        assert not {t for t in targets if t.split(".")[0] in LAYERS}, name


def long_functions(limit: int) -> list[str]:
    found = []
    for path in source_files(LAYERS):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit:
                    found.append(f"{module_name(path)}.{node.name}: {length} lines")
    return found


def test_no_function_longer_than_100_lines() -> None:
    assert long_functions(MAX_FUNCTION_LINES) == []


def test_the_length_check_finds_long_functions() -> None:
    assert long_functions(5), "every package has functions longer than 5 lines"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_is_in_the_graph(package: str) -> None:
    assert package in import_graph()
