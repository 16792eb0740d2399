"""The tree shows the architecture, and imports keep to it: one way, model at the bottom.

`pipelines` -> `assets` -> `metrics`; inside `metrics`, each stage imports only the stages below
it. A new import that breaks the order fails here, naming the module and what it imported.
"""

from __future__ import annotations

import ast
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


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, absolute, with `from pkg import name` as `pkg.name`."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out |= {f"{node.module}.{alias.name}" for alias in node.names}
    return out


def _part(module: str) -> str | None:
    """The part of `metrics` a module belongs to (`metrics.ingest.layout` -> `ingest`)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "metrics" and len(parts) > 1 else None


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
