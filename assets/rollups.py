"""Hourly increments and hour/day/week rollups, maintained incrementally per landing date.

One step produces all four tables: the rollups rewrite exactly the buckets whose hourly rows
changed, which this step knows in memory and would otherwise have to persist between steps.
"""

from datetime import date
from functools import partial
from typing import Any

import dagster as dg
import polars as pl

from assets import column_schema, table_metadata
from assets.ingest import catalog
from assets.partitions import landing_partitions
from assets.resources import WarehouseResource
from metrics.model.tables import (
    CATALOG_ACCOUNTS_TABLE,
    FOLLOWER_OBSERVATIONS_TABLE,
    PERIOD_OBSERVATIONS_TABLE,
    POST_HOURLY_TABLE,
    POST_OBSERVATIONS_TABLE,
    POSTS_TABLE,
    ROLLUPS,
    Table,
)
from metrics.transform import checks, refresh
from metrics.warehouse import storage

_ROLLUP_DEPS = [POST_HOURLY_TABLE.name, catalog.key, FOLLOWER_OBSERVATIONS_TABLE.name]
# table -> (group, upstream assets)
_SPECS: dict[Table, tuple[str, list]] = {
    POST_HOURLY_TABLE: (
        "hourly",
        [t.name for t in (POST_OBSERVATIONS_TABLE, PERIOD_OBSERVATIONS_TABLE, POSTS_TABLE)],
    ),
    **{t: ("rollups", _ROLLUP_DEPS) for t in ROLLUPS.values()},
}
ROLLUP_NAMES = [t.name for t in ROLLUPS.values()]


def _description(table: Table) -> str:
    key = table.partition_key
    return f"{table.meaning} On disk by {key} (`{key}=`)." if key else table.meaning


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            table.name,
            group_name=group,
            description=_description(table),
            deps=deps,
            kinds={"polars", "deltalake"},
            owners=["team:data-platform"],
            metadata={"dagster/column_schema": column_schema(table)},
        )
        for table, (group, deps) in _SPECS.items()
    ],
    check_specs=[
        *[
            dg.AssetCheckSpec(
                "no_duplicate_keys",
                asset=table.name,
                blocking=True,
                description="No key appears twice in the partitions this run wrote.",
            )
            for table in _SPECS
        ],
        *[
            dg.AssetCheckSpec(
                "children_sum_to_parent",
                asset=name,
                blocking=True,
                description="Every additive column of a parent scope equals the sum over its "
                "children, in every bucket this run wrote.",
            )
            for name in ROLLUP_NAMES
        ],
        *[
            dg.AssetCheckSpec(
                "matches_post_hourly",
                asset=name,
                blocking=True,
                description="Every post's bucket equals the sum of its post_hourly rows, in "
                "every bucket whose inputs changed since the rollups were last built (by this "
                "run or by one that died before finishing).",
            )
            for name in ROLLUP_NAMES
        ],
        dg.AssetCheckSpec(
            "granularities_agree",
            asset=ROLLUPS["week"].name,
            blocking=True,
            description="Hour, day and week rollups give the same totals over each whole week "
            "this run touched.",
        ),
    ],
    partitions_def=landing_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="warehouse_writer",
)
def hourly_and_rollups(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Recompute posts with new observations, then rewrite the buckets they touched.

    What is recomputed is the run's own partitions plus what the ledger owes. The own dates
    are folded even when another run's step already folded them: that step may have read the
    `posts` table before this run's `posts` step added the posts first seen on these dates, and
    only this run's step, after its own `posts` step, is sure to see them."""
    own = [date.fromisoformat(k) for k in context.partition_keys]
    run = context.run.run_id
    epoch = refresh.claim(warehouse.warehouse, run)  # after the pool slot, before any read
    hourly = refresh.refresh_post_hourly(warehouse.warehouse, own, epoch, run)
    if extra := sorted(set(hourly.landing) - set(own)):
        context.log.warning(
            "post_hourly: also folding in landing dates other runs normalized and left owed: "
            + ", ".join(d.isoformat() for d in extra)
        )
    context.log.info(
        f"post_hourly: {hourly.posts_recomputed} posts recomputed "
        f"({hourly.posts_read_in_full} read in full), {len(hourly.days_rewritten)} days rewritten"
    )
    rolled = refresh.refresh_rollups(warehouse.warehouse, own, epoch, run, hourly.inputs)
    context.log.info(
        "rollups: "
        + ("full rebuild (catalog changed), " if rolled.full_rebuild else "")
        + ", ".join(f"{t} {len(v)} partitions" for t, v in rolled.partitions_written.items())
    )
    yield dg.MaterializeResult(
        asset_key=POST_HOURLY_TABLE.name,
        metadata={
            "posts_recomputed": hourly.posts_recomputed,
            "posts_read_in_full": hourly.posts_read_in_full,
            "days_rewritten": dg.MetadataValue.json(hourly.days_rewritten),
            "rows_written": hourly.rows_written,
            **table_metadata(warehouse.warehouse, POST_HOURLY_TABLE, context.run),
        },
    )
    for table, partitions in rolled.partitions_written.items():
        metadata: dict[str, Any] = {
            "partitions_rewritten": dg.MetadataValue.json(partitions),
            "rows_written": rolled.rows_by_table[table],
            "bytes_written": rolled.bytes_by_table[table],
            "full_rebuild": rolled.full_rebuild,
            **table_metadata(warehouse.warehouse, table, context.run),
        }
        if table == ROLLUPS["day"].name and partitions:
            metadata |= _newest_day_per_project(warehouse, max(partitions))
        yield dg.MaterializeResult(asset_key=table, metadata=metadata)

    yield from _checks(warehouse, rolled)


PROJECT_COLUMNS = ("views", "likes", "comments", "shares", "posts_published", "followers")


def _newest_day_per_project(warehouse: WarehouseResource, day: str) -> dict[str, Any]:
    """The newest rewritten UTC day per project, for the UI: a table (`project_totals`), and
    each project's views as a number of its own (`views_newest_day/<project id>`), which the
    asset's Plots tab draws over its materializations."""
    rows = (
        storage.read(warehouse.warehouse, ROLLUPS["day"], [day])
        .filter(pl.col("scope") == "project")
        .sort("views", "id", descending=[True, False])
    )
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("project", "string"),
            *[dg.TableColumn(c, "int") for c in PROJECT_COLUMNS],
        ]
    )
    records = [
        dg.TableRecord({"project": r["id"], **{c: int(r[c]) for c in PROJECT_COLUMNS}})
        for r in rows.iter_rows(named=True)
    ]
    return {
        "newest_day": day,
        "project_totals": dg.MetadataValue.table(records, schema),
        **{f"views_newest_day/{r['id']}": int(r["views"]) for r in rows.iter_rows(named=True)},
    }


def _checks(warehouse: WarehouseResource, rolled: refresh.RollupResult):
    """Checks over every partition whose inputs changed: the days the ledger owed the rollups
    (this run's and any dead run's), not only the files this run happened to write."""
    wh = warehouse.warehouse
    days = [d.isoformat() for d in rolled.touched_days]
    weeks = sorted({refresh.week_of(d) for d in rolled.touched_days})
    by_key = {"day": days, "week": [w.isoformat() for w in weeks]}
    checked = {t.name: by_key[str(t.partition_key)] for t in (POST_HOURLY_TABLE, *ROLLUPS.values())}
    for table, values in checked.items():
        dupes = checks.per_partition(values, partial(checks.duplicate_keys, wh, table))
        yield dg.AssetCheckResult(
            check_name="no_duplicate_keys",
            asset_key=table,
            passed=dupes.is_empty(),
            metadata={"partitions_checked": len(values), "duplicates": dupes.height},
        )
    accounts = storage.read(wh, CATALOG_ACCOUNTS_TABLE)
    for table, values in list(checked.items())[1:]:
        sizes: list[int] = []

        def children(
            value: list[str], table: str = table, sizes: list[int] = sizes
        ) -> pl.DataFrame:
            rows = storage.read(wh, table, value)
            sizes.append(rows.height)
            return checks.children_disagree(rows, accounts)

        bad = checks.per_partition(values, children)
        yield dg.AssetCheckResult(
            check_name="children_sum_to_parent",
            asset_key=table,
            passed=bad.is_empty(),
            metadata={
                "rows_checked": sum(sizes),
                "mismatches": bad.height,
                "first_mismatches": dg.MetadataValue.json(bad.head(5).rows()),
            },
        )
        off = checks.per_partition(values, partial(checks.rollups_disagree_with_hourly, wh, table))
        yield dg.AssetCheckResult(
            check_name="matches_post_hourly",
            asset_key=table,
            passed=off.is_empty(),
            metadata={
                "partitions_checked": len(values),
                "mismatches": off.height,
                "first_mismatches": dg.MetadataValue.json(
                    [[p, str(b)] for p, b in off.head(5).rows()]
                ),
            },
        )
    bad = checks.per_partition(weeks, partial(checks.weeks_disagree, wh))
    yield dg.AssetCheckResult(
        check_name="granularities_agree",
        asset_key=ROLLUPS["week"].name,
        passed=bad.is_empty(),
        metadata={"weeks_checked": len(weeks), "mismatches": bad.height},
    )
