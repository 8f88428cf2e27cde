"""No import circles between the modules of tui/ and backends/.

A circle (a imports b, b imports a, however far round) makes the layers hard to read and a
module impossible to load or test alone. The graph is built from every import statement with
``ast``: at module level, inside functions, under ``if TYPE_CHECKING:`` (a circle of types is
still a circle of knowledge); relative imports are resolved; ``from pkg import name`` is an
edge to ``pkg.name`` when that is a module, else to ``pkg``.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("tui", "backends")


def _modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of :data:`PACKAGES` under ``root``."""
    found = {}
    for top in PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    """Each module -> the modules of tui/ and backends/ it imports (itself left out)."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                for alias in node.names:
                    if f"{base}.{alias.name}" in modules:
                        edges.add(f"{base}.{alias.name}")
                    elif base in modules:
                        edges.add(base)
        edges.discard(name)
        graph[name] = edges
    return graph


def tied_groups(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules tied by import circles: each strongly connected group of two or
    more modules (Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def circle(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """The shortest path from the group's first module back to itself, inside the group."""
    start, members = group[0], set(group)
    paths = {w: [start, w] for w in sorted(graph[start] & members)}
    frontier = list(paths)
    while start not in paths:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    return paths[start]


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_no_import_circles() -> None:
    graph = import_graph()
    assert "tui.core.runner" in graph and "backends.client" in graph
    found = tied_groups(graph)
    assert not found, "import circles (take each apart):\n" + "\n".join(
        f"{' -> '.join(circle(graph, group))}  (tied together: {', '.join(group)})"
        for group in found
    )


def test_the_graph_sees_lazy_typing_and_relative_imports(tmp_path: Path) -> None:
    """A circle made of a lazy import, a TYPE_CHECKING import and a relative import is found;
    ``from pkg import name`` leads to the module ``pkg.name``, a plain name to ``pkg``."""
    _write(
        tmp_path,
        {
            "tui/__init__.py": "",
            "tui/core/__init__.py": "VALUE = 1\n",
            "tui/core/a.py": "def f():\n    from tui.core import b\n",
            "tui/core/b.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n"
            ),
            "tui/core/c.py": "from . import a\nfrom tui.core import VALUE\n",
            "tui/store.py": "import tui.core.a\n",
            "backends/__init__.py": "",
        },
    )
    graph = import_graph(tmp_path)
    assert graph["tui.core.a"] == {"tui.core.b"}
    assert graph["tui.core.b"] == {"tui.core.c"}
    assert graph["tui.core.c"] == {"tui.core.a", "tui.core"}
    assert graph["tui.store"] == {"tui.core.a"}
    assert tied_groups(graph) == [["tui.core.a", "tui.core.b", "tui.core.c"]]
    assert circle(graph, ["tui.core.a", "tui.core.b", "tui.core.c"]) == [
        "tui.core.a",
        "tui.core.b",
        "tui.core.c",
        "tui.core.a",
    ]


def test_a_graph_without_circles_has_none(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "tui/__init__.py": "",
            "tui/low.py": "import os\n",
            "tui/high.py": "from tui import low\nfrom tui.low import os\n",
            "backends/__init__.py": "",
        },
    )
    graph = import_graph(tmp_path)
    assert graph["tui.high"] == {"tui.low"}
    assert tied_groups(graph) == []
