"""The package's import graph, read from the source with ``ast`` (nothing is imported).

* no cycle between ``unival`` modules, counting function-level imports too;
* no cycle between the packages of ``unival`` (``hub``, ``merging``, ``probes``, ...), entry
  points aside: ``unival.cli``, ``unival.commands.*`` and ``__main__`` modules may import any
  library module, and no library module may import them;
* the scorers in ``unival.metrics`` import only the standard library, numpy, torch and
  pycocoevalcap (and each other);
* the package root holds only ``__init__``, ``cli``, ``compat`` and ``tokenizer``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, List, Set

PACKAGE = Path(__file__).resolve().parents[3] / "fairseq_plugins" / "unival"
METRICS_MAY_IMPORT = {"numpy", "torch", "pycocoevalcap"}
ROOT_MODULES = {"__init__.py", "cli.py", "compat.py", "tokenizer.py"}


def module_files(package: Path = PACKAGE) -> Dict[str, Path]:
    """``{"unival.hub.load": path, "unival.hub": path/__init__.py, ...}``."""
    modules = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path) -> Set[str]:
    """Absolute names of everything ``module`` imports, at any depth of the file."""
    is_package = path.name == "__init__.py"
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # "from pkg import mod" imports pkg.mod; "from mod import name" resolves to mod
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
    return names


def unival_edges(modules: Dict[str, Path]) -> Dict[str, Set[str]]:
    """Module -> the ``unival`` modules it imports (names resolved to the nearest module)."""
    edges = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(module, path):
            while name not in modules and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in modules and name != module and name != "unival":
                targets.add(name)
        edges[module] = targets
    return edges


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def is_entry_point(module: str) -> bool:
    return (
        module == "unival.cli"
        or module.startswith("unival.commands")
        or module.endswith(".__main__")
    )


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def package_edges(edges: Dict[str, Set[str]]) -> Dict[str, Set[str]]:
    """Package -> the packages its library modules import (entry points left out)."""
    out: Dict[str, Set[str]] = {}
    for module, targets in edges.items():
        if is_entry_point(module):
            continue
        for target in targets:
            if package_of(target) != package_of(module):
                out.setdefault(package_of(module), set()).add(package_of(target))
    return out


def test_cycle_finder_finds_a_cycle_and_only_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_unival_modules():
    found = cycles(unival_edges(module_files()))
    assert found == [], f"import cycles between modules: {found}"


def test_no_import_cycle_between_unival_packages():
    found = cycles(package_edges(unival_edges(module_files())))
    assert found == [], f"import cycles between packages: {found}"


def test_no_library_module_imports_an_entry_point():
    edges = unival_edges(module_files())
    wrong = sorted(
        f"{m} -> {t}"
        for m, ts in edges.items()
        if not is_entry_point(m)
        for t in ts
        if is_entry_point(t)
    )
    assert wrong == []


def test_metrics_import_only_the_standard_library_numpy_torch_and_pycocoevalcap():
    modules = module_files()
    allowed = set(sys.stdlib_module_names) | METRICS_MAY_IMPORT | {"__future__"}
    wrong = []
    for module, path in modules.items():
        if not module.startswith("unival.metrics"):
            continue
        for name in imported_names(module, path):
            top = name.split(".")[0]
            if name.startswith("unival.metrics") or top in allowed:
                continue
            wrong.append(f"{module} imports {name}")
    assert wrong == []


def test_the_package_root_holds_only_the_entry_module_compat_and_tokenizer():
    files = {p.name for p in PACKAGE.iterdir() if p.is_file() and p.suffix == ".py"}
    assert files <= ROOT_MODULES, sorted(files - ROOT_MODULES)
