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


def table_contents(warehouse: Path) -> dict[str, pl.DataFrame]:
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


def base_env(raw: Path, warehouse: Path, home: Path, workers: int = 2) -> dict[str, str]:
    """The environment of a CLI run on this landing zone, warehouse and DAGSTER_HOME."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DAGSTER_HOME": str(home),
        "METRICS_RAW_DIR": str(raw),
        "METRICS_WAREHOUSE_DIR": str(warehouse),
        "METRICS_WORKERS": str(workers),
    }


def project_answers(warehouse: Path, now: str = "2026-03-20T00:00:00Z") -> list[dict]:
    """The read function's answer for every project of the served catalog, at a fixed `now`."""
    import metrics

    store = metrics.connect(warehouse)
    projects = storage.read(warehouse, "catalog_accounts").select("org_id", "project_id").unique()
    return [
        store.query(org_id=org, project_id=prj, scope="project", id=prj, now=now)
        for org, prj in sorted(projects.iter_rows())
    ]
