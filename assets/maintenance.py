"""The maintenance job: compact small files and vacuum versions past the retention.

An op, not an asset: it changes no table's content (compaction rewrites files with the same
rows, vacuum deletes only files no retained version names), so it sits outside the landing job's
asset selection and never runs as part of a backfill. It takes the writers' pool
(`warehouse_writer`), so it does not run while a step of a run is writing.
"""

import dagster as dg

from assets.resources import WarehouseResource
from metrics.warehouse import maintain


class MaintainConfig(dg.Config):
    retention_days: float | None = None  # default: $METRICS_RETENTION_DAYS or 7


@dg.op(pool="warehouse_writer")
def maintain_warehouse(
    context: dg.OpExecutionContext, config: MaintainConfig, warehouse: WarehouseResource
) -> dg.Output[None]:
    """Compact, drop manifests past the retention, vacuum (metrics/warehouse/maintain.py)."""
    keep = maintain.retention(config.retention_days)
    result = maintain.maintain(warehouse.warehouse, keep)
    context.log.info(
        f"compacted {result.compacted}, dropped manifests {result.manifests_dropped}, "
        f"vacuumed {sum(len(v) for v in result.vacuumed.values())} files"
    )
    return dg.Output(
        None,
        metadata={
            "retention_days": keep.total_seconds() / 86400,
            "manifests_kept": dg.MetadataValue.json(result.manifests_kept),
            "manifests_dropped": dg.MetadataValue.json(result.manifests_dropped),
            "files_vacuumed": dg.MetadataValue.json(
                {t: len(f) for t, f in result.vacuumed.items()}
            ),
            "published_version": result.published if result.published is not None else -1,
        },
    )


@dg.job(description="Compact small files and vacuum warehouse versions past the retention.")
def maintenance_job() -> None:
    maintain_warehouse()
