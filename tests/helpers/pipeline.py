"""Run the real Dagster assets on a temporary landing zone and read the warehouse back."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from assets.resources import WarehouseResource
from metrics.sample import generate
from metrics.warehouse import storage
from pipelines.definitions import all_assets

START = date(2026, 3, 6)
SMALL: dict[str, Any] = dict(seed=11, accounts=12, posts_per_account=4, days=4, start=START)


def make_landing(root: Path, **overrides: object) -> tuple[Path, dict]:
    """A generated landing zone and its truth file."""
    params = {**SMALL, **overrides}
    raw = root / "raw"
    truth = root / "truth.json"
    generate.generate(raw, truth=truth, **params)
    return raw, json.loads(truth.read_text())


def run(
    raw: Path,
    warehouse: Path,
    first: date,
    last: date,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    """One Dagster run over landing dates first..last, exactly as `metrics backfill` does."""
    result = dg.materialize(
        [a for a in all_assets if isinstance(a, dg.AssetsDefinition | dg.SourceAsset)],
        resources={"warehouse": WarehouseResource(raw_dir=str(raw), warehouse_dir=str(warehouse))},
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
    )
    assert result.success
    return result


def table(warehouse: Path, name: str) -> pl.DataFrame:
    """A whole table as the pipeline wrote it, hive key included (metrics/warehouse/storage.py)."""
    return storage.read(warehouse, name)


def parquet_digests(warehouse: Path) -> dict[str, str]:
    """Every Parquet file's bytes, by path: equal digests mean identical tables."""
    root = storage.parquet_root(warehouse)
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }
