"""Warehouse maintenance: compact small files, then vacuum files no retained version needs.

A Delta overwrite removes files from the log but leaves them on storage, so that a reader of an
older version still finds them; they are deleted here, once no version worth keeping names them.
The versions kept are those of every manifest published within the retention (default 7 days,
`METRICS_RETENTION_DAYS`), and always those of the current manifest, however old: the one the
read function and `metrics.duckdb` answer from. Publications older than the retention are
dropped from the `manifests` control table first (time travel reaches back exactly as far as
the retention), then each table is vacuumed with the delta-rs retention (files removed from the
log longer ago than the retention) and `keep_versions` naming every version a kept manifest
names. The control tables themselves are vacuumed with the same retention: only their newest
version is ever read.

Compaction rewrites a partition's files into fewer, larger ones in a new version with the same
rows (delta-rs `optimize.compact`, data_change=false), then publishes a new manifest naming the
compacted versions, so readers move onto them at their next reload and the old files age out.
Run it while no pipeline run is writing (the CLI and the Dagster job both take the same path).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from metrics.model import tables
from metrics.warehouse import location, storage
from metrics.warehouse import manifest as published
from metrics.warehouse.location import Warehouse

RETENTION_ENV = "METRICS_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 7.0
# A run reads the newest version of a control table and then its file: never vacuum a control
# table's replaced files sooner than this, whatever the retention, so no reader loses its file.
CONTROL_RETENTION_HOURS = 1


def retention(days: float | None = None) -> timedelta:
    """The retention: `days`, else $METRICS_RETENTION_DAYS, else 7 days."""
    value = (
        days if days is not None else float(os.environ.get(RETENTION_ENV) or DEFAULT_RETENTION_DAYS)
    )
    if value < 0:
        raise ValueError(f"a retention of {value} days is negative; use 0 or more")
    return timedelta(days=value)


@dataclass
class MaintenanceResult:
    manifests_dropped: list[int] = field(default_factory=list)
    manifests_kept: list[int] = field(default_factory=list)
    compacted: dict[str, int] = field(default_factory=dict)  # files removed by compaction
    vacuumed: dict[str, list[str]] = field(default_factory=dict)  # files deleted, per table
    published: int | None = None  # the manifest version written after compaction


def _kept_manifests(
    warehouse: Warehouse, keep: timedelta, now: datetime
) -> tuple[list[int], list[int]]:
    """(kept, dropped) manifest numbers: within the retention, plus the current one."""
    current = published.read(warehouse).get("version")
    kept: list[int] = []
    dropped: list[int] = []
    for manifest in published.history(warehouse):
        number, at = manifest["version"], datetime.fromisoformat(manifest["published_at"])
        (kept if number == current or now - at <= keep else dropped).append(number)
    return kept, dropped


def protected_versions(warehouse: Warehouse, manifests: list[int]) -> dict[str, set[int]]:
    """Every table version that the given manifests, or the current one, name."""
    named: dict[str, set[int]] = {}
    wanted = set(manifests)
    for manifest in [
        published.read(warehouse),
        *(m for m in published.history(warehouse) if m["version"] in wanted),
    ]:
        for table, version in manifest.get("tables", {}).items():
            named.setdefault(table, set()).add(int(version))
    return named


def maintain(
    warehouse: Warehouse,
    keep: timedelta | None = None,
    *,
    compact: bool = True,
    dry_run: bool = False,
    now: datetime | None = None,
) -> MaintenanceResult:
    """Compact (unless `compact=False`), drop manifests past the retention, vacuum every table
    keeping the files of every retained version. `dry_run` lists what would go, deletes nothing."""
    loc = location.of(warehouse)
    keep = retention() if keep is None else keep
    now = now or datetime.now(UTC)
    result = MaintenanceResult()
    if compact and not dry_run:
        for entry in tables.TABLES:
            dt = storage.open_table(loc, entry)
            if dt is None:
                continue
            metrics = dt.optimize.compact()
            if metrics.get("numFilesRemoved"):
                result.compacted[entry.name] = int(metrics["numFilesRemoved"])
        if result.compacted:
            versions = storage.current_versions(loc)
            storage.rebuild_views(loc, versions)
            result.published = published.publish(loc, versions, "maintenance", now)["version"]
    kept, dropped = _kept_manifests(loc, keep, now)
    result.manifests_kept, result.manifests_dropped = kept, dropped
    named = protected_versions(loc, kept)
    if not dry_run:
        published.drop(loc, dropped)
    hours = int(keep.total_seconds() // 3600)
    for entry in (*tables.TABLES, *tables.CONTROL_TABLES):
        dt = storage.open_table(loc, entry)
        if dt is None:
            continue
        gone = dt.vacuum(
            retention_hours=max(hours, CONTROL_RETENTION_HOURS)
            if entry.folder == "control"
            else hours,
            dry_run=dry_run,
            enforce_retention_duration=False,
            keep_versions=sorted(named.get(entry.name, set())),
        )
        if gone:
            result.vacuumed[entry.name] = sorted(gone)
    return result
