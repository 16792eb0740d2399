"""The tree shows the architecture, and imports keep to it: one way, model at the bottom.

`pipelines` -> `assets` -> `metrics`; inside `metrics`, each stage imports only the stages below
it. A new import that breaks the order fails here, naming the module and what it imported.
Inside a package, modules import one way too: a circle (even through a type-only or an
in-function import) fails here, named import by import.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What each part of `metrics` may import from the rest of `metrics` (besides itself).
# `objects` (the s3:// path shim, pyarrow only) serves config and every stage reading the landing.
BASE = {"config", "faults", "objects"}
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "warehouse": {"model"},
    "ingest": {"model", "warehouse"},
    "transform": {"model", "warehouse"},
    "serve": {"model", "warehouse"},
    "sample": {"model"},
    "cli": {"model", "warehouse", "ingest", "transform", "serve", "sample"},
}
TOP_LEVEL = {"__init__": {"serve"}, "config": set(), "faults": set(), "objects": set()}


def _module(path: Path, root: Path = ROOT) -> str:
    """The dotted name of a source file (`metrics/serve/__init__.py` -> `metrics.serve`)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of `packages` under `root`, by dotted name."""
    return {_module(p, root): p for top in packages for p in sorted((root / top).rglob("*.py"))}


FILES = _files(ROOT, ("metrics", "assets", "pipelines"))


def _imports(path: Path, root: Path = ROOT, files: dict[str, Path] = FILES) -> set[str]:
    """Every module `path` imports, anywhere in the file (type-only and in-function imports
    included), absolute: relative imports resolved, `from pkg import name` read as the module
    `pkg.name` when `files` has it and as `pkg` otherwise."""
    module = _module(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                above = package.rsplit(".", node.level - 1)[0]
                base = f"{above}.{base}" if base else above
            for alias in node.names:
                name = f"{base}.{alias.name}"
                out.add(name if name in files else base)
    return out


def _part(module: str) -> str | None:
    """The part of `metrics` a module belongs to (`metrics.ingest.layout` -> `ingest`, the
    package itself -> `__init__`)."""
    parts = module.split(".")
    if parts[0] != "metrics":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


@pytest.mark.parametrize(
    "path", sorted((ROOT / "metrics").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_metrics_imports_only_the_stages_below(path: Path) -> None:
    rel = path.relative_to(ROOT / "metrics")
    own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
    allowed = (ALLOWED[own] if own in ALLOWED else TOP_LEVEL[own]) | BASE | {own}
    above = {"dagster", "pipelines", "assets"}
    bad = [
        module
        for module in _imports(path)
        if module.split(".")[0] in above or (_part(module) or own) not in allowed
    ]
    assert not bad, f"metrics/{rel} imports {sorted(bad)}; {own} may use {sorted(allowed)}"


@pytest.mark.parametrize("path", sorted((ROOT / "assets").rglob("*.py")), ids=lambda p: p.name)
def test_assets_never_import_pipelines(path: Path) -> None:
    bad = sorted(m for m in _imports(path) if m.split(".")[0] == "pipelines")
    assert not bad, f"assets/{path.name} imports {bad}: wiring goes pipelines -> assets"


def _circles(package: str, root: Path = ROOT, files: dict[str, Path] = FILES) -> list[list[str]]:
    """Import circles among the modules of `package` (its subpackages included), each as the
    imports that close it, importer first. graphlib names one circle at a time, so each found
    circle's closing import is set aside and the search goes on until none is left."""
    inside = {m for m in files if m == package or m.startswith(f"{package}.")}
    graph = {m: (_imports(files[m], root, files) & inside) - {m} for m in inside}
    found = []
    while True:
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as err:
            circle = err.args[1]  # each node is imported by the next one
            found.append(circle[::-1])
            graph[circle[1]].discard(circle[0])
        else:
            return found


PACKAGES = sorted(m for m, p in FILES.items() if p.name == "__init__.py")


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle_inside_a_package(package: str) -> None:
    """Two modules that import each other (even for a type, even inside a function) cannot be
    read, tested or moved apart; what both need belongs in a module below both."""
    circles = [" -> ".join(c) for c in _circles(package)]
    assert not circles, f"import circles in {package}:\n" + "\n".join(circles)


def test_the_circle_check_reads_every_form_of_import(tmp_path: Path) -> None:
    """A circle closed by a plain import, a type-only relative `from ..m import Name` and an
    in-function `from . import module` is found, as one circle; a module outside it is not."""
    for name, text in {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/a.py": "import pkg.sub.b\n",
        "pkg/sub/b.py": (
            "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from ..c import C\n"
        ),
        "pkg/c.py": "class C:\n    def f(self):\n        from . import a\n",
        "pkg/d.py": "from pkg.c import C\nfrom pkg import a\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    files = _files(tmp_path, ("pkg",))
    [circle] = _circles("pkg", tmp_path, files)
    assert circle[0] == circle[-1]
    ring = circle[:-1]
    start = ring.index("pkg.a")
    assert ring[start:] + ring[:start] == ["pkg.a", "pkg.sub.b", "pkg.c"]
    assert _circles("pkg.sub", tmp_path, files) == []
