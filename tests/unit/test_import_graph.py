"""The engine's imports form no cycle, and no import hides inside a function unless it must.

Read with ``ast`` only: every ``import`` in ``ailicia_core`` counts, at module level and inside
functions alike (and under ``if TYPE_CHECKING:`` too), so a cycle cannot hide behind an import deferred
to call time. A function-level import is allowed only where the package imported may be missing (or
exists on one platform only): those are listed below, each with why.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set, Tuple

CORE = Path(__file__).resolve().parents[2] / "ailicia_core"

#: (module, what it imports inside a function): the only imports allowed at call time.
DEFERRED_ALLOWED = {
    # websocket-client is optional: without it the rest of the package still works and says what is missing.
    ("ailicia_core.connect_runner", "websocket"),
    ("ailicia_core.demo", "websocket"),
    ("ailicia_core.sandbox.dashboard", "websocket"),
    # truststore is optional: without it the default certificates are used.
    ("ailicia_core.trust", "truststore"),
    # A Windows console only: msvcrt exists on Windows alone, and ctypes is loaded only there.
    ("ailicia_core.demo_table", "ctypes"),
    ("ailicia_core.demo_table", "msvcrt"),
    # These modules import requests, which may be missing: the command line explains how to install it
    # instead of failing at start (``cli_support.import_sending``).
    ("ailicia_core.cli", "ailicia_core.client"),
    ("ailicia_core.cli_support", "ailicia_core.client"),
    ("ailicia_core.cli_support", "ailicia_core.demo"),
    ("ailicia_core.cli_listen", "ailicia_core.listener"),
}


def _modules() -> Dict[str, Path]:
    found = {}
    for path in CORE.rglob("*.py"):
        parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _targets(module: str, node: ast.AST, is_package: bool) -> List[str]:
    """The modules ``node`` imports, in full (a name imported from a package counts as its submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    return [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]


def _own(name: str) -> str:
    """The ailicia_core module ``name`` is or is inside, "" for an outside one."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports() -> Tuple[Dict[str, Set[str]], Set[Tuple[str, str]]]:
    """Each module's imports of other ailicia_core modules, and every (module, target) imported in a function."""
    edges: Dict[str, Set[str]] = {name: set() for name in MODULES}
    deferred: Set[Tuple[str, str]] = set()
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_functions = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(name, node, path.name == "__init__.py"):
                own = _own(target)
                if own and own != name:
                    edges[name].add(own)
                if id(node) in in_functions:
                    deferred.add((name, own or target))
    return edges, deferred


def _cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    groups: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycles_among_the_engines_modules():
    edges, _ = _imports()
    assert _cycles(edges) == []


def test_no_module_imports_itself_through_a_self_loop_either():
    edges, _ = _imports()
    assert [name for name, targets in edges.items() if name in targets] == []


def test_imports_inside_functions_are_only_the_listed_optional_ones():
    _, deferred = _imports()
    assert sorted(deferred - DEFERRED_ALLOWED) == []


def test_every_listed_deferred_import_is_still_there():
    """A stale entry would let a future hidden import through unnoticed."""
    _, deferred = _imports()
    assert sorted(DEFERRED_ALLOWED - deferred) == []


def test_the_graph_sees_imports_made_inside_functions():
    """The reader itself: an import inside a function is an edge like any other."""
    edges, deferred = _imports()
    assert "ailicia_core.client" in edges["ailicia_core.cli"]
    assert ("ailicia_core.cli", "ailicia_core.client") in deferred


def test_a_planted_cycle_is_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_policies_import_neither_the_status_words_nor_the_modules_they_govern():
    """decide holds the lanes' numbers and lanes their state: words and pacing sit above them."""
    edges, _ = _imports()
    assert edges["ailicia_core.decide"] & {"ailicia_core.pacing", "ailicia_core.status"} == set()
    assert edges["ailicia_core.lanes"] & {"ailicia_core.status", "ailicia_core.feature_words"} == set()
    assert "ailicia_core.status" not in edges["ailicia_core.errors"]


def test_no_module_imports_another_modules_private_names():
    """``from .x import _name`` reaches into x as surely as ``x._name`` does (which ruff's SLF001 catches)."""
    found = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("ailicia_core")):
                found += [f"{name}: {a.name}" for a in node.names if a.name.startswith("_") and a.name != "__version__"]
    assert found == []
