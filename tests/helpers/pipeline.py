"""Run the real Dagster assets on a temporary landing zone and read the warehouse back."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
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

ROOT = Path(__file__).resolve().parents[2]
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


def table_contents(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    """Every registry table read through the one reader, rows in a canonical order: equal
    contents whatever order (or files, or commits) the writers produced them in."""
    out = {}
    for entry in tables.TABLES:
        df = storage.read(warehouse, entry)
        out[entry.name] = df.sort(df.columns, nulls_last=True) if df.height else df
    return out


def cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """The `metrics` console script (pipelines/cli.py) in a process of its own, with `env`."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def base_env(raw: Path, warehouse: Warehouse, home: Path, workers: int = 2) -> dict[str, str]:
    """The environment of a CLI run on this landing zone, warehouse and DAGSTER_HOME."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DAGSTER_HOME": str(home),
        "METRICS_RAW_DIR": str(raw),
        "METRICS_WAREHOUSE_DIR": str(warehouse),
        "METRICS_WORKERS": str(workers),
    }


def project_answers(warehouse: Warehouse, now: str = "2026-03-20T00:00:00Z") -> list[dict]:
    """The read function's answer for every project of the served catalog, at a fixed `now`."""
    import metrics

    store = metrics.connect(warehouse)
    projects = storage.read(warehouse, "catalog_accounts").select("org_id", "project_id").unique()
    return [
        store.query(org_id=org, project_id=prj, scope="project", id=prj, now=now)
        for org, prj in sorted(projects.iter_rows())
    ]
