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

from metrics.model import tables
from metrics.model.tables import Table

PART_FILE = "part-0.parquet"
DUCKDB_FILE = "metrics.duckdb"
MANIFEST_FILE = "manifest.json"
OBSERVATION_TABLES = tuple(t.name for t in tables.OBSERVATIONS)

# Hive keys that are dates, so DuckDB and polars read them as DATE, not strings.
DATE_KEYS = tables.DATE_KEYS


def _name(table: Table | str) -> str:
    return table.name if isinstance(table, Table) else table


def parquet_root(warehouse: Path) -> Path:
    return warehouse / "parquet"


def table_dir(warehouse: Path, table: Table | str) -> Path:
    return parquet_root(warehouse) / _name(table)


def partition_path(warehouse: Path, table: Table | str, key: str | None, value: str | None) -> Path:
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
    warehouse: Path,
    table: Table | str,
    df: pl.DataFrame,
    key: str | None = None,
    value: str | None = None,
) -> tuple[Path, int]:
    """Replace one partition (or the whole unpartitioned table) with `df`."""
    path = partition_path(warehouse, table, key, value)
    return path, write_parquet_atomic(df, path)


def remove_partitions(warehouse: Path, table: Table | str, key: str, values: Iterable[str]) -> None:
    """Drop partitions that a rebuild no longer produces (their file first, then the folder)."""
    for value in values:
        path = partition_path(warehouse, table, key, value)
        path.unlink(missing_ok=True)
        if path.parent.exists() and not any(path.parent.iterdir()):
            path.parent.rmdir()


def partition_values(warehouse: Path, table: Table | str, key: str) -> list[str]:
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


def glob(warehouse: Path, table: Table | str) -> str:
    """The path pattern an analyst pastes into DuckDB's read_parquet or polars' scan_parquet."""
    base = table_dir(warehouse, table)
    partitioned = base.is_dir() and any(p.is_dir() for p in base.iterdir())
    return str(base / "**" / "*.parquet") if partitioned else str(base / PART_FILE)


def scan(warehouse: Path, table: Table | str, values: Iterable[str] | None = None) -> pl.LazyFrame:
    """The one way to read a table: a lazy scan of all of it, or of the partitions whose key has
    one of `values`, with the file columns then the hive key (typed as the registry says).

    A table, or a partition, without a file reads as nothing: an absent table is an empty frame
    with the registry's schema, never an error.
    """
    entry = tables.table(_name(table))
    key = entry.partition
    if key is None:
        path = partition_path(warehouse, entry, None, None)
        files = [path] if path.is_file() else []
    else:
        wanted = partition_values(warehouse, entry, key.name) if values is None else values
        files = [
            path
            for value in wanted
            if (path := partition_path(warehouse, entry, key.name, value)).is_file()
        ]
    if not files:
        return pl.LazyFrame(schema=entry.read_schema)
    if key is None:
        return pl.scan_parquet(files)
    return pl.scan_parquet(files, hive_partitioning=True, hive_schema={key.name: key.dtype})


def read(
    warehouse: Path,
    table: Table | str,
    values: Iterable[str] | None = None,
    columns: Iterable[str] | None = None,
) -> pl.DataFrame:
    """`scan` collected: the table or the given partitions, optionally only some columns."""
    frame = scan(warehouse, table, values)
    return (frame.select(list(columns)) if columns is not None else frame).collect()


def tables_on_disk(warehouse: Path) -> list[str]:
    root = parquet_root(warehouse)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.rglob("*.parquet")))


def _view_query(warehouse: Path, entry: Table, on_disk: set[str]) -> str:
    """The Parquet files of a table, or, before it has any, no rows with the registry's columns."""
    if entry.name in on_disk:
        pattern = glob(warehouse, entry).replace("'", "''")
        return (
            f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true, "
            "union_by_name = true)"
        )
    columns = ", ".join(
        f'CAST(NULL AS {tables.sql_type(dtype)}) AS "{name}"'
        for name, dtype in entry.read_schema.items()
    )
    return f"SELECT {columns} WHERE false"


def rebuild_views(warehouse: Path) -> Path:
    """Rebuild `metrics.duckdb` (one view per registry table) aside, then swap it in atomically.

    Views use absolute paths so the file works from any working directory; readers that hold the
    old file open keep reading it until they reconnect.
    """
    warehouse.mkdir(parents=True, exist_ok=True)
    final = warehouse / DUCKDB_FILE
    tmp = warehouse / f".{DUCKDB_FILE}.{uuid.uuid4().hex}.tmp"
    try:
        con = duckdb.connect(str(tmp))
        try:
            on_disk = set(tables_on_disk(warehouse))
            for entry in tables.TABLES:
                con.execute(
                    f'CREATE VIEW "{entry.name}" AS {_view_query(warehouse, entry, on_disk)}'
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
    for entry in tables.OBSERVATIONS:
        for path in sorted(table_dir(warehouse, entry).glob("*/" + PART_FILE)):
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
    manifest: dict[str, object] = {"version": digest.hexdigest()[:16], "as_of": as_of(warehouse)}
    target = warehouse / MANIFEST_FILE
    tmp = warehouse / f".{MANIFEST_FILE}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, target)
    return manifest
