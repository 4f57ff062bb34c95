"""The code's shape (docs/CONTRACTS.md, Layout): no import cycles, small modules and functions, no
private torch API, and every third-party package the code imports declared in pyproject.toml.

Static checks over the source text (ast), so they run in a second and import nothing they judge.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "fashion_transfer"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _imported(name: str, tree: ast.Module) -> set[str]:
    """The suite's modules `name` imports anywhere in its body (top level or inside functions),
    with the packages whose `__init__` such an import runs."""
    is_package = MODULES[name].name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            for i in range(1, len(parts) + 1):  # a.b.c runs a/__init__, a/b/__init__, then c
                module = ".".join(parts[:i])
                if module in MODULES and module != name:
                    found.add(module)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

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
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _graph() -> dict[str, set[str]]:
    return {name: _imported(name, tree) for name, tree in TREES.items()}


def test_the_cycle_finder_finds_a_cycle_and_passes_a_tree() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_function_level_imports_count() -> None:
    tree = ast.parse("def f():\n    from fashion_transfer.errors import UserError\n")
    assert "fashion_transfer.errors" in _imported("fashion_transfer.cli", tree)


def test_no_import_cycles_in_src() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_module_over_the_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in MODULES.values()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def _long_functions(tree: ast.Module) -> dict[str, int]:
    long = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            n = node.end_lineno - node.lineno + 1
            if n > MAX_FUNCTION_LINES:
                long[f"{node.name}:{node.lineno}"] = n
    return long


def test_the_function_measure_counts_body_lines() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert _long_functions(ast.parse(f"def f():\n{body}\n")) == {"f:1": MAX_FUNCTION_LINES + 1}


def test_no_function_over_the_limit() -> None:
    long = {
        f"{MODULES[name].relative_to(ROOT)}:{where}": n
        for name, tree in TREES.items()
        for where, n in _long_functions(tree).items()
    }
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_no_private_torch_api() -> None:
    """`torch._x` names change without notice between releases; the public API is the contract."""
    private = re.compile(r"\btorch\._(?!_)\w+")  # not dunders such as __version__
    found = {
        f"{path.relative_to(ROOT)}:{i}": line.strip()
        for path in MODULES.values()
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if private.search(line.split("#")[0])
    }
    assert not found, found


def _distribution(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


@pytest.mark.parametrize(("folder", "extras"), [("src", ()), ("tests", ("dev",))])
def test_every_imported_package_is_declared(folder: str, extras: tuple[str, ...]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_distribution(r) for r in project["dependencies"]}
    for extra in extras:
        declared |= {_distribution(r) for r in project["optional-dependencies"][extra]}
    providers = importlib.metadata.packages_distributions()
    local = {PACKAGE, *(p.stem for p in (ROOT / folder).rglob("*.py"))}  # e.g. tests' helpers
    missing = {}
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for top in {n.split(".")[0] for n in names} - set(sys.stdlib_module_names):
                if top in local:
                    continue
                dists = {d.lower().replace("_", "-") for d in providers.get(top, [top])}
                if not dists & declared:
                    missing[top] = str(path.relative_to(ROOT))
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
