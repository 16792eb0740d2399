"""The published state: `metrics.duckdb` (one view per table over the files of the versions
this run finished with) and then, last, the manifest naming those versions."""

import os
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from assets.ingest import CATALOG_TABLES, catalog
from assets.partitions import landing_partitions
from assets.resources import WarehouseResource
from metrics import faults
from metrics.model.tables import TABLES
from metrics.warehouse import manifest as published
from metrics.warehouse import storage

# One view per registry table, so the views asset follows every asset that writes one: the
# catalog asset for the catalog tables, the table's own asset for every other.
VIEW_SOURCES: list[dg.AssetKey] = list(
    dict.fromkeys(catalog.key if t in CATALOG_TABLES else dg.AssetKey(t.name) for t in TABLES)
)


@dg.asset(
    group_name="rollups",
    deps=VIEW_SOURCES,
    partitions_def=landing_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"duckdb"},
    owners=["team:data-platform"],
    pool="duckdb_writer",
    check_specs=[
        dg.AssetCheckSpec(
            "freshness",
            asset="warehouse_views",
            description="The latest collected_at (as_of) is within METRICS_FRESHNESS_LAG_HOURS "
            "(default 36) of the end of the newest landing date in the run.",
        )
    ],
)
def warehouse_views(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Rebuilt aside and swapped in whole, so a reader never meets DuckDB's writer lock; then
    `manifest.json` tells long-lived readers (the API) that a new version is in place."""
    versions = published.to_publish(warehouse.warehouse)
    path = storage.rebuild_views(warehouse.warehouse, versions)
    faults.point("views.written")
    manifest = published.publish(warehouse.warehouse, versions, run=context.run.run_id)
    tables = [t.name for t in TABLES]
    lag = timedelta(hours=float(os.environ.get("METRICS_FRESHNESS_LAG_HOURS", "36")))
    newest_end = datetime.combine(
        date.fromisoformat(context.partition_keys[-1]) + timedelta(days=1),
        datetime.min.time(),
        tzinfo=UTC,
    )
    as_of = manifest["as_of"]
    behind = newest_end - datetime.fromisoformat(str(as_of)) if as_of else None
    fresh = dg.AssetCheckResult(
        check_name="freshness",
        passed=behind is not None and behind <= lag,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "as_of": str(as_of),
            "landing_date_end": newest_end.isoformat(),
            "hours_behind": round(behind.total_seconds() / 3600, 1) if behind else -1,
            "allowed_lag_hours": lag.total_seconds() / 3600,
        },
    )
    return dg.MaterializeResult(
        check_results=[fresh],
        metadata={
            "path": dg.MetadataValue.path(str(path or warehouse.warehouse)),
            "tables": dg.MetadataValue.json(manifest.get("tables", {})),
            "as_of": str(manifest["as_of"]),
            "version": str(manifest["version"]),
            "views": dg.MetadataValue.md("\n".join(f"- `{t}`" for t in tables)),
        },
    )
