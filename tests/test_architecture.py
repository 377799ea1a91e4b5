"""The import structure, read from the source with ``ast``: layers, no module circle, no folder circle.

Layers, lowest first (a module's layer is that of its longest matching prefix; see "Layout" in README.md):
core < plugins (datasets, backbones) < library (what methods build on) < methods < app (runner, CLI, reporting).
A module may import its own layer or a lower one. Every import counts, including those inside functions.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from benchmark.core.paths import REPO_ROOT

PACKAGES = ("benchmark", "datasets", "methods")
LAYERS = {
    "benchmark.core": 0,
    "datasets": 1, "benchmark.backbones": 1, "datasets.synthface.tools": 4,
    "benchmark.task": 2, "benchmark.method": 2, "benchmark.budget": 2, "benchmark.search_space": 2,
    "benchmark.features": 2,
    "benchmark.clustering": 2, "benchmark.number_of_classes": 2, "benchmark.device": 2, "benchmark.distributed": 2,
    "benchmark.training": 2,
    "methods": 3,
    "benchmark": 4, "benchmark.reporting": 4, "benchmark.cli": 4,
}
LAYER_NAMES = ("core", "plugins", "library", "methods", "app")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """First-party modules imported by the file (``from pkg import mod`` counts as importing ``pkg.mod``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            submodules = {f"{node.module}.{a.name}" for a in node.names} & MODULES.keys()
            out.update(submodules or {node.module})
    return out & MODULES.keys()


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def layer(module: str) -> int:
    prefix = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def folder(module: str) -> str:
    return str(MODULES[module].parent.relative_to(REPO_ROOT))


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path whose last node equals its first, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_every_module_has_a_layer():
    assert all(layer(m) in range(len(LAYER_NAMES)) for m in MODULES)


def test_no_import_from_a_lower_layer_to_a_higher_one():
    upward = [f"{m} ({LAYER_NAMES[layer(m)]}) imports {d} ({LAYER_NAMES[layer(d)]})"
              for m, deps in GRAPH.items() for d in sorted(deps) if layer(d) > layer(m)]
    assert not upward, "\n".join(upward)


def test_no_import_circle_between_modules():
    cycle = find_cycle(GRAPH)
    assert cycle is None, " -> ".join(cycle)


def test_no_import_circle_between_folders():
    folders: dict[str, set[str]] = {}
    for module, deps in GRAPH.items():
        folders.setdefault(folder(module), set()).update(folder(d) for d in deps if folder(d) != folder(module))
    cycle = find_cycle(folders)
    assert cycle is None, " -> ".join(cycle)


@pytest.mark.parametrize("graph, expected", [({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]), ({"a": {"b"}}, None)])
def test_find_cycle(graph, expected):
    assert find_cycle(graph) == expected


def test_reporting_reads_results_and_runs_nothing():
    """Tables come from records and the results store alone: reporting imports no runner, executor or command."""
    forbidden = ("benchmark.runner", "benchmark.executors", "benchmark.cli", "benchmark.isolation", "methods")
    found = [f"{m} imports {d}" for m, deps in GRAPH.items() if m.startswith("benchmark.reporting")
             for d in sorted(deps) if d.startswith(forbidden)]
    assert not found, "\n".join(found)
