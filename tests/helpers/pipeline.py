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
from metrics.model import tables
from metrics.sample import generate
from metrics.warehouse import storage
from metrics.warehouse.location import Warehouse
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
    warehouse: Warehouse,
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


def table(warehouse: Warehouse, name: str) -> pl.DataFrame:
    """A whole table as the pipeline wrote it, hive key included (metrics/warehouse/storage.py)."""
    return storage.read(warehouse, name)


def table_digests(warehouse: Warehouse, versions: storage.Versions | None = None) -> dict[str, str]:
    """A digest of every partition's rows, read through the Delta log (the newest commit, or
    the versions given), by `<table>/<key>=<value>`: equal digests mean identical table content.

    Delta file names are random and an overwrite leaves the replaced files on storage until a
    vacuum, so "identical" is about what a reader sees, not about bytes on disk. Rows are sorted
    on every column, so the digest ignores row order but not multiplicity: a duplicated row
    changes it.
    """
    digests = {}
    for entry in tables.TABLES:
        frame = storage.read(warehouse, entry, versions=versions)
        key = entry.partition_key
        groups = frame.partition_by(key, as_dict=True) if key and frame.height else {}
        parts = {f"{key}={k[0]}": g for k, g in groups.items()} if key else {"": frame}
        for name, part in parts.items():
            canonical = part.sort(part.columns).write_csv().encode()
            digests[f"{entry.name}/{name}"] = hashlib.sha256(canonical).hexdigest()
    return digests
