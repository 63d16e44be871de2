"""The shape of the tree, from its imports: no circle, no import back up a layer, no private names.

Every import counts — at the top of a module, inside a function, under ``TYPE_CHECKING`` —
because each is a dependency a reader (and the structure drawn from the imports) sees.
The layers, from the bottom:

* the core: ``shared`` but ``shared.runtime`` and ``shared.transports`` (pure: see test_core_is_pure.py);
* the I/O around it: ``shared.runtime``, ``shared.transports``;
* the two adapters (``proxy_server``, ``proxy_server_fastapi``) and ``proxyctl``;
* ``loadtests``, which starts servers through ``proxyctl``; ``tests`` on top.

The simulator (``aicore_sim``) stands apart: it imports nothing of the proxy, so its picture
of SAP AI Core cannot be the proxy's.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "proxyctl", "aicore_sim", "loadtests", "tests")
ADAPTERS = ("proxy_server", "proxy_server_fastapi")
IO = ("shared.runtime", "shared.transports")


def _modules() -> dict[str, Path]:
    found = {name: ROOT / f"{name}.py" for name in ADAPTERS}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module ``name`` is, or is inside of (None: not ours)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> Iterator[tuple[str, str | None]]:
    """(imported project module, imported name when it is a ``from`` import) of every import."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (target := _resolve(alias.name)) is not None:
                    yield target, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                target = _resolve(f"{base}.{alias.name}") or _resolve(base)
                if target is not None:
                    yield target, alias.name


GRAPH = {m: {t for t, _ in _imports(m, p) if t != m} for m, p in MODULES.items()}


def _layer(module: str) -> str:
    if module in ADAPTERS:
        return "adapter"
    if module.startswith(IO):
        return "io"
    return module.split(".")[0]


# layer -> the layers it may import
ALLOWED = {
    "shared": {"shared"},
    "io": {"shared", "io"},
    "adapter": {"shared", "io"},
    "proxyctl": {"shared", "io", "proxyctl"},
    "loadtests": {"shared", "io", "proxyctl", "loadtests"},
    "aicore_sim": {"aicore_sim"},
    "tests": {"shared", "io", "adapter", "proxyctl", "loadtests", "aicore_sim", "tests"},
}


def test_no_import_circle_anywhere_in_the_tree() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert circles == []


def test_no_import_runs_back_up_a_layer() -> None:
    wrong = sorted(
        f"{m} ({_layer(m)}) imports {t} ({_layer(t)})"
        for m, targets in GRAPH.items()
        for t in targets
        if _layer(t) not in ALLOWED[_layer(m)]
    )
    assert wrong == []


def test_no_private_name_is_imported_from_another_module() -> None:
    wrong = sorted(
        f"{m}: {name} from {t}"
        for m, path in MODULES.items()
        for t, name in _imports(m, path)
        if t != m and name is not None and name.startswith("_") and not name.startswith("__")
    )
    assert wrong == []


def test_the_graph_sees_what_it_should() -> None:
    """A guard on the parser itself: known edges of each kind are found."""
    assert "shared.record" in GRAPH["shared.flows.commands"]  # from-import
    assert "shared.runtime.startup" in GRAPH["proxy_server"]
    assert "proxyctl.procs" in GRAPH["loadtests.bench.targets"]
    assert "aicore_sim.server" in GRAPH["aicore_sim.app"]
