"""The project's layering, read from the source (an import graph built from each module's AST,
imports inside functions included): `winch` imports nothing of `oracle` (nor of the tools
above it); `oracle` imports nothing of `fuzz_targets`, `scripts` or `tests` (the targets and
scripts are thin entry points on top of it, and an installed `oracle` has none of them); and
the modules of `oracle.reduce` import each other one way, with no cycle.

`from package import name` counts as importing `package.name` when that is a module, else
`package`; a module's own package `__init__` is not counted as imported by it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: str) -> dict:
    """Module name -> path, for every .py file of `package` (a directory under the root)."""
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


_KNOWN: dict = {}


def _is_module(name: str) -> bool:
    if name not in _KNOWN:
        base = ROOT.joinpath(*name.split("."))
        _KNOWN[name] = base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()
    return _KNOWN[name]


def imports_of(name: str, path: Path) -> set:
    """The modules (and packages) `name` imports anywhere in its source."""
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_pkg else anchor[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if _is_module(sub) else base)
    return out


def _graph(package: str) -> dict:
    return {n: imports_of(n, p) for n, p in modules(package).items()}


def _violations(package: str, forbidden: tuple) -> list:
    return sorted(f"{n} imports {i}" for n, deps in _graph(package).items() for i in deps
                  if i.split(".")[0] in forbidden)


@pytest.mark.parametrize("package,forbidden", [
    ("winch", ("oracle", "fuzz_targets", "scripts", "tests")),
    ("oracle", ("fuzz_targets", "scripts", "tests")),
])
def test_lower_layers_import_nothing_of_higher_ones(package, forbidden):
    assert _violations(package, forbidden) == []


def cycles(graph: dict) -> list:
    """The strongly connected components of more than one module (or a module importing
    itself), each sorted: Tarjan's algorithm, iterative."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1 or v in graph[v]:
                        out.append(sorted(comp))
    return sorted(out)


def test_reducer_modules_import_one_way():
    graph = {n: deps for n, deps in _graph("oracle").items() if n.startswith("oracle.reduce.")}
    assert len(graph) >= 7
    assert cycles(graph) == []


def test_cycle_finder_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    # and the import reader resolves `from package import module` and relative imports
    assert "oracle.reduce.edit" in imports_of("oracle.reduce.passes",
                                              ROOT / "oracle" / "reduce" / "passes.py")
