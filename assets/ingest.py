"""Ingest and normalize: the landing zone -> catalog tables and normalized observations."""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import polars as pl

from assets import column_schema, table_metadata
from assets.partitions import FIRST_LANDING_DATE, landing_partitions
from assets.resources import WarehouseResource
from assets.runs import heartbeat_timeout, liveness
from metrics import faults
from metrics.ingest import guard
from metrics.ingest import steps as ingest
from metrics.ingest.catalog import load_catalog
from metrics.ingest.normalize import Accounting, recount_landing
from metrics.model.tables import (
    CATALOG_ACCOUNTS_TABLE,
    CATALOG_ENTITIES_TABLE,
    NORMALIZED,
    POST_SIGHTINGS_TABLE,
    POSTS_TABLE,
    QUARANTINE_TABLE,
)
from metrics.warehouse import ledger, storage

SINGLE_RUN = dg.BackfillPolicy.single_run()
LEFT_WAIT_HEARTBEATS = 1.5
INPUTS_CHECK = "inputs_present"
RECONCILE_CHECK = "lines_reconcile"

landing_zone = dg.AssetSpec(
    "landing_zone",
    group_name="ingest",
    description="Raw platform exports under <raw>/<platform>/<landing date>/*.jsonl[.gz] "
    "(spec §2). Files are never modified after landing; re-deliveries are new files.",
    kinds={"json"},
    owners=["team:data-platform"],
)


@dg.asset(
    group_name="ingest",
    deps=[landing_zone],
    partitions_def=landing_partitions,
    backfill_policy=SINGLE_RUN,
    kinds={"polars", "deltalake"},
    owners=["team:data-platform"],
    pool="warehouse_writer",
    check_specs=[
        dg.AssetCheckSpec(
            INPUTS_CHECK,
            asset="catalog",
            blocking=True,
            description="The landing zone exists, a catalog snapshot is in reach, and it does not "
            "drop more than METRICS_MAX_ACCOUNT_LOSS of the accounts served now. Checked before "
            "anything is written; when it fails, the run stops and the warehouse is untouched.",
        )
    ],
)
def catalog(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    """The newest catalog snapshot as `catalog_entities` and `catalog_accounts`
    (CATALOG_TABLES).

    Attribution follows the newest snapshot, so every run republishes it whole; but first the
    inputs are checked (metrics/ingest/guard.py), so a missing mount cannot empty the warehouse.
    """
    loaded = load_catalog(warehouse.raw, first=FIRST_LANDING_DATE)
    verdict = guard.check_inputs(warehouse.raw, warehouse.warehouse, loaded)
    checked = dg.AssetCheckResult(
        check_name=INPUTS_CHECK,
        passed=verdict.ok,
        metadata={
            "landing_zone": str(warehouse.raw),
            "snapshot": loaded.snapshot_file or "none",
            "accounts_served": verdict.accounts_served,
            "accounts_kept": verdict.accounts_kept,
            "problems": dg.MetadataValue.json(list(verdict.problems)),
        },
    )
    if not verdict.ok:
        yield checked
        raise dg.Failure(description="\n".join(verdict.problems))
    # Before anything is written: the run's dates, so that if it dies before it claims them for
    # normalize, the next run loads them (a CLI run has recorded them already).
    days = [date.fromisoformat(key) for key in context.partition_keys]
    ledger.request(warehouse.warehouse, days, context.run.run_id)
    cat = ingest.write_catalog_tables(
        warehouse.raw, warehouse.warehouse, loaded, context.run.run_id
    )
    faults.point("catalog.written")
    for where, why in cat.rejected:
        context.log.warning(f"catalog snapshot {where} skipped: {why}")
    yield checked
    yield dg.MaterializeResult(
        metadata={
            "snapshot": cat.snapshot_file or "none",
            "accounts": cat.accounts.height,
            "entities": cat.entities.height,
            "rejected_snapshots": len(cat.rejected),
            **table_metadata(warehouse.warehouse, CATALOG_ACCOUNTS_TABLE, context.run),
        }
    )


# The tables the catalog asset writes; the views asset depends on it for them.
CATALOG_TABLES = (CATALOG_ENTITIES_TABLE, CATALOG_ACCOUNTS_TABLE)
NORMALIZED_NAMES = [t.name for t in NORMALIZED]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            table.name,
            group_name="normalize",
            deps=[landing_zone, catalog],
            description=table.meaning,
            kinds={"polars", "deltalake"},
            owners=["team:data-platform"],
            metadata={"dagster/column_schema": column_schema(table)},
        )
        for table in NORMALIZED
    ],
    check_specs=[
        dg.AssetCheckSpec(
            RECONCILE_CHECK,
            asset=QUARANTINE_TABLE.name,
            blocking=True,
            description="Per landing partition: lines read = lines used + lines quarantined, "
            "files found = files read + files quarantined, and both lines read and files found "
            "equal an independent walk and count of the landing zone.",
        )
    ],
    partitions_def=landing_partitions,
    backfill_policy=SINGLE_RUN,
)
def normalized(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Normalize each landing date of the run; each date's partition is replaced atomically."""
    today = datetime.now(UTC).date()  # one verdict on stray (future) folders for run and check
    cat = load_catalog(warehouse.raw, today, FIRST_LANDING_DATE)
    total = Accounting()
    rows = dict.fromkeys(NORMALIZED_NAMES, 0)
    written = 0
    lines_counted = files_found = 0
    empty_dates: list[str] = []
    unbalanced: list[str] = []
    days = [date.fromisoformat(key) for key in context.partition_keys]

    def announce(claim: ledger.Normalizing) -> None:
        for day, owner in sorted(claim.left.items()):
            context.log.warning(
                f"{day}: being normalized by run {owner}, which is still running; waiting for "
                "it to finish the date (or to be judged dead, then taking it over)"
            )

    with ingest.worker_pool() as pool:
        for stats in ingest.normalize_landing_dates(
            warehouse.raw,
            warehouse.warehouse,
            days,
            cat,
            pool,
            today,
            FIRST_LANDING_DATE,
            owner=context.run.run_id,
            alive=liveness(context),
            announce=announce,
            # Long enough for a run that died on another host to be judged dead by its
            # heartbeat, so this run takes its own dates over instead of leaving them owed.
            wait_for_left=LEFT_WAIT_HEARTBEATS * heartbeat_timeout(),
        ):
            faults.point("normalize.date_written")
            key = stats.landing_date.isoformat()
            if stats.landing_date not in days:
                context.log.warning(
                    f"{key}: normalized again, an earlier run died before finishing it"
                )
            recount = recount_landing(warehouse.raw, stats.landing_date, today, FIRST_LANDING_DATE)
            acc = stats.accounting
            lines_counted += recount.lines
            files_found += recount.files
            if not (
                acc.balanced and recount.lines == acc.lines_read and recount.files == acc.files
            ):
                unbalanced.append(key)
            total.add(stats.accounting)
            written += stats.bytes_written
            for table, n in stats.rows.items():
                rows[table] += n
            if acc.files == 0:
                empty_dates.append(key)
                context.log.warning(f"{key}: no files landed on this date")
            context.log.info(
                f"{key}: {acc.files} files = {acc.files_read} read + {acc.files_quarantined} "
                f"quarantined, {acc.lines_read} lines = {acc.lines_used} used + "
                f"{acc.lines_quarantined} quarantined "
                f"({acc.records_quarantined} records quarantined)"
            )
    for table in NORMALIZED_NAMES:
        metadata: dict[str, Any] = {
            "dagster/row_count": rows[table],
            **table_metadata(warehouse.warehouse, table, context.run),
        }
        if table == QUARANTINE_TABLE.name:
            metadata |= {
                "lines_read": total.lines_read,
                "lines_used": total.lines_used,
                "lines_quarantined": total.lines_quarantined,
                "records_quarantined": total.records_quarantined,
                "files": total.files,
                "dates_without_files": dg.MetadataValue.json(empty_dates),
                "files_read": total.files_read,
                "files_quarantined": total.files_quarantined,
                "bytes_written": written,
                "by_reason": dg.MetadataValue.json(dict(sorted(total.reasons.items()))),
                "by_reason_all_dates": _reasons_all_dates(warehouse),
            }
        yield dg.MaterializeResult(asset_key=table, metadata=metadata)
    yield dg.AssetCheckResult(
        check_name=RECONCILE_CHECK,
        asset_key=QUARANTINE_TABLE.name,
        passed=not unbalanced,
        metadata={
            "lines_read": total.lines_read,
            "lines_counted_independently": lines_counted,
            "lines_used": total.lines_used,
            "lines_quarantined": total.lines_quarantined,
            "files_found_independently": files_found,
            "files_read": total.files_read,
            "files_quarantined": total.files_quarantined,
            "unbalanced_partitions": dg.MetadataValue.json(unbalanced),
        },
    )


def _reasons_all_dates(warehouse: WarehouseResource) -> dg.TableMetadataValue:
    """Quarantined lines or records per reason over every landing date in the warehouse, not
    only this run's (`by_reason`): what the table holds now, most frequent first."""
    counts = (
        storage.scan(warehouse.warehouse, QUARANTINE_TABLE)
        .group_by("reason")
        .agg(
            pl.len().alias("rows"),
            pl.col(str(QUARANTINE_TABLE.partition_key)).n_unique().alias("dates"),
        )
        .sort(["rows", "reason"], descending=[True, False])
        .collect()
    )
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("reason", "string"),
            dg.TableColumn("rows", "int"),
            dg.TableColumn("landing_dates", "int"),
        ]
    )
    records = [
        dg.TableRecord({"reason": r, "rows": int(n), "landing_dates": int(d)})
        for r, n, d in counts.iter_rows()
    ]
    return dg.MetadataValue.table(records, schema)


@dg.asset(
    group_name="normalize",
    deps=[POST_SIGHTINGS_TABLE.name],
    description=POSTS_TABLE.meaning,
    metadata={"dagster/column_schema": column_schema(POSTS_TABLE)},
    partitions_def=landing_partitions,
    backfill_policy=SINGLE_RUN,
    kinds={"polars", "deltalake"},
    owners=["team:data-platform"],
    pool="warehouse_writer",
)
def posts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Rebuilt from every landing date's sightings (small: posts × dates)."""
    df = ingest.rebuild_posts(warehouse.warehouse, context.run.run_id)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": df.height,
            "without_published_at": df["published_at"].null_count(),
            **table_metadata(warehouse.warehouse, POSTS_TABLE, context.run),
        }
    )
