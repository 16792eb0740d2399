"""The warehouse on disk: hive-partitioned Parquet (the source of truth) and a DuckDB views file.

Every partition is exactly one file, written beside its final name and moved into place with
`os.replace`, which is atomic on POSIX: a reader sees the old file or the new one, never half of
either, and a writer killed mid-way leaves only a hidden `*.tmp` that no glob matches. DuckDB
holds one writer per file and locks out readers in other processes, so `metrics.duckdb` only
holds views over the Parquet; it is rebuilt aside and swapped in the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from datetime import UTC
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

PART_FILE = "part-0.parquet"
DUCKDB_FILE = "metrics.duckdb"
MANIFEST_FILE = "manifest.json"
OBSERVATION_TABLES = ("post_observations", "period_observations", "follower_observations")

# Hive keys that are dates, so DuckDB and polars read them as DATE, not strings.
DATE_KEYS = ("landing_date", "day", "week")


def parquet_root(warehouse: Path) -> Path:
    return warehouse / "parquet"


def table_dir(warehouse: Path, table: str) -> Path:
    return parquet_root(warehouse) / table


def partition_path(warehouse: Path, table: str, key: str | None, value: str | None) -> Path:
    base = table_dir(warehouse, table)
    return (base / f"{key}={value}" if key else base) / PART_FILE


def write_parquet_atomic(df: pl.DataFrame, path: Path) -> int:
    """Write `df` to `path` through a same-folder temp file and an atomic rename; return bytes.

    Statistics and a fixed compression make the bytes a pure function of the frame, so a re-run
    of the same partition gives an identical file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        # Left by a writer that was killed; partition writers are serialized, so it is dead.
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        df.write_parquet(tmp, compression="zstd", compression_level=3, statistics=True)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.stat().st_size


def write_partition(
    warehouse: Path, table: str, df: pl.DataFrame, key: str | None = None, value: str | None = None
) -> tuple[Path, int]:
    """Replace one partition (or the whole unpartitioned table) with `df`."""
    path = partition_path(warehouse, table, key, value)
    return path, write_parquet_atomic(df, path)


def remove_partitions(warehouse: Path, table: str, key: str, values: Iterable[str]) -> None:
    """Drop partitions that a rebuild no longer produces (their file first, then the folder)."""
    for value in values:
        path = partition_path(warehouse, table, key, value)
        path.unlink(missing_ok=True)
        if path.parent.exists() and not any(path.parent.iterdir()):
            path.parent.rmdir()


def partition_values(warehouse: Path, table: str, key: str) -> list[str]:
    """The values of `key` that have a partition file, sorted."""
    base = table_dir(warehouse, table)
    if not base.is_dir():
        return []
    prefix = f"{key}="
    return sorted(
        p.name[len(prefix) :]
        for p in base.iterdir()
        if p.name.startswith(prefix) and (p / PART_FILE).is_file()
    )


def glob(warehouse: Path, table: str) -> str:
    """The path pattern an analyst pastes into DuckDB's read_parquet or polars' scan_parquet."""
    base = table_dir(warehouse, table)
    partitioned = base.is_dir() and any(p.is_dir() for p in base.iterdir())
    return str(base / "**" / "*.parquet") if partitioned else str(base / PART_FILE)


def scan(warehouse: Path, table: str) -> pl.LazyFrame:
    """Lazy polars scan of a table with its hive keys typed."""
    return pl.scan_parquet(glob(warehouse, table), hive_partitioning=True)


def tables_on_disk(warehouse: Path) -> list[str]:
    root = parquet_root(warehouse)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.rglob("*.parquet")))


def rebuild_views(warehouse: Path) -> Path:
    """Rebuild `metrics.duckdb` (one view per table) aside, then swap it in atomically.

    Views use absolute paths so the file works from any working directory; readers that hold the
    old file open keep reading it until they reconnect.
    """
    warehouse.mkdir(parents=True, exist_ok=True)
    final = warehouse / DUCKDB_FILE
    tmp = warehouse / f".{DUCKDB_FILE}.{uuid.uuid4().hex}.tmp"
    try:
        con = duckdb.connect(str(tmp))
        try:
            for table in tables_on_disk(warehouse):
                pattern = glob(warehouse, table).replace("'", "''")
                con.execute(
                    f"CREATE VIEW \"{table}\" AS SELECT * FROM read_parquet('{pattern}', "
                    "hive_partitioning = true, union_by_name = true)"
                )
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return final


def as_of(warehouse: Path) -> str | None:
    """The latest `collected_at` of any observation, as spec §5's `as_of` wants it.

    Read from the Parquet footers' column statistics, so it costs a few bytes per file rather
    than a scan of every observation.
    """
    latest = None
    for table in OBSERVATION_TABLES:
        for path in sorted(table_dir(warehouse, table).glob("*/" + PART_FILE)):
            meta = pq.ParquetFile(path).metadata
            column = meta.schema.to_arrow_schema().get_field_index("collected_at")
            for group in range(meta.num_row_groups):
                stats = meta.row_group(group).column(column).statistics
                if (
                    stats is not None
                    and stats.has_min_max
                    and (latest is None or stats.max > latest)
                ):
                    latest = stats.max
    return latest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if latest is not None else None


def write_manifest(warehouse: Path) -> dict[str, object]:
    """Publish `manifest.json` last: its `version` changes whenever any Parquet file was
    replaced, which is how a long-lived reader knows to reload."""
    digest = hashlib.sha256()
    root = parquet_root(warehouse)
    for path in sorted(root.rglob("*.parquet")) if root.is_dir() else []:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    manifest = {"version": digest.hexdigest()[:16], "as_of": as_of(warehouse)}
    target = warehouse / MANIFEST_FILE
    tmp = warehouse / f".{MANIFEST_FILE}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, target)
    return manifest
