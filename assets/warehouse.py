"""The analyst's entry point: `metrics.duckdb`, one view per Parquet table."""

import dagster as dg

from metrics import storage
from pipelines.partitions import landing_partitions
from pipelines.resources import WarehouseResource

VIEW_SOURCES = [
    "catalog",
    "post_observations",
    "period_observations",
    "follower_observations",
    "post_sightings",
    "quarantine",
    "posts",
]


@dg.asset(
    group_name="rollups",
    deps=VIEW_SOURCES,
    partitions_def=landing_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"duckdb"},
    owners=["team:data-platform"],
    pool="duckdb_writer",
)
def warehouse_views(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Rebuilt aside and swapped in whole, so a reader never meets DuckDB's writer lock."""
    path = storage.rebuild_views(warehouse.warehouse)
    tables = storage.tables_on_disk(warehouse.warehouse)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "views": dg.MetadataValue.md("\n".join(f"- `{t}`" for t in tables)),
        }
    )
