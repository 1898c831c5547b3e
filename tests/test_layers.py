"""The architecture of docs/architecture.md, kept by CI: every import inside `engine/` (at the
top of a module or deferred into a function) points down the layers, and no modules import
each other in a circle. A deliberate wrong-way import makes these tests fail."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "engine"

# Bottom to top. A part may import the parts below it and itself; parts on one level are
# independent of each other. `engine` itself (the public API) and `engine.__main__` stand above
# everything.
LAYERS: list[tuple[str, ...]] = [
    ("engine.case_format",),
    ("engine._version", "engine.errors", "engine.model"),
    ("engine.inputs",),
    ("engine.lang", "engine.docs"),
    ("engine.core",),
    ("engine.formats",),
    ("engine.analysis", "engine.review", "engine.authoring"),
    ("engine.config", "engine.cluster"),
    ("engine.api",),
    ("engine.service",),
    ("engine.cli",),
]
TOP = ("engine", "engine.__main__")
ONLY_IMPORTER_OF_DURABLE = "engine.core.compile"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = ("engine",) + path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path, modules: set[str]) -> set[str]:
    """Every module this file imports, by absolute name (relative imports resolved; for
    `from X import name`, X.name when that is a module of diplo, else X)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in modules else target)
    return found


FILES = sorted(ROOT.rglob("*.py"))
MODULES = {module_name(path) for path in FILES}


def part_of(module: str) -> str | None:
    if module in TOP:
        return module
    for level in LAYERS:
        for part in level:
            if module == part or module.startswith(part + "."):
                return part
    return None


def level_of(part: str) -> int:
    if part in TOP:
        return len(LAYERS)
    return next(i for i, level in enumerate(LAYERS) if part in level)


def wrong_way(root: Path = ROOT) -> list[str]:
    files = sorted(root.rglob("*.py"))
    modules = {module_name(p, root) for p in files} | MODULES
    problems = []
    for path in files:
        importer = module_name(path, root)
        source = part_of(importer)
        for imported in sorted(imports_of(path, root, modules)):
            if imported == "durable" or imported.startswith("durable."):
                if importer != ONLY_IMPORTER_OF_DURABLE:
                    problems.append(f"{importer} imports {imported}: only "
                                    f"{ONLY_IMPORTER_OF_DURABLE} may")
                continue
            if imported not in modules:
                continue
            target = part_of(imported)
            if source is None or target is None or source == target:
                continue
            if imported == "engine" and source not in TOP:
                # `from .. import __version__`: the version module, through the package
                continue
            if level_of(target) >= level_of(source):
                problems.append(f"{importer} ({source}) imports {imported} ({target}), "
                                "which is not below it")
    return problems


def circles(root: Path = ROOT) -> list[list[str]]:
    files = sorted(root.rglob("*.py"))
    modules = {module_name(p, root) for p in files}
    graph = {module_name(p, root): {m for m in imports_of(p, root, modules)
                                    if m in modules and m != "engine"} for p in files}
    # Tarjan's strongly connected components: any of more than one module is a circle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_belongs_to_a_layer():
    assert [m for m in sorted(MODULES) if part_of(m) is None] == []


def test_imports_point_down_the_layers():
    assert wrong_way() == []


def test_no_import_circles():
    assert circles() == []


def test_no_module_is_a_house_of_its_own():
    # the issue that set up the layers: no module over about 600 lines
    long = {module_name(p): n for p in FILES if (n := len(p.read_text().splitlines())) > 620}
    assert long == {}


@pytest.mark.parametrize("line, expected", [
    ("from ..cli.common import EXIT_OK\n", "engine.core.facts (engine.core) imports engine.cli.common"),
    ("from ..analysis import explain\n", "engine.core.facts (engine.core) imports engine.analysis.explain"),
    ("import durable.lang\n", "engine.core.facts imports durable.lang: only engine.core.compile"),
])
def test_a_wrong_way_import_is_caught(tmp_path, line, expected):
    facts = ROOT / "core" / "facts.py"
    planted = tmp_path / "engine" / "core" / "facts.py"
    planted.parent.mkdir(parents=True)
    planted.write_text(line + facts.read_text())
    problems = wrong_way(tmp_path / "engine")
    assert any(p.startswith(expected) for p in problems), problems


def test_a_circle_is_caught(tmp_path):
    (tmp_path / "engine" / "lang").mkdir(parents=True)
    (tmp_path / "engine" / "lang" / "a.py").write_text("from . import b\n")
    (tmp_path / "engine" / "lang" / "b.py").write_text("from .a import x\n")
    found = circles(tmp_path / "engine")
    assert found == [["engine.lang.a", "engine.lang.b"]]
