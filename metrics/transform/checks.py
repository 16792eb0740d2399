"""Data-quality checks over the partitions whose inputs changed; each returns the offending rows.

They read only the buckets the run rebuilt (which include any that an earlier, dead run left owed:
metrics/warehouse/ledger.py), so a check costs what the run cost, and an empty result means the
check passed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import TypeVar

import polars as pl

from metrics.model import scopes, tables
from metrics.model.measures import ADDITIVE, POST_METRICS
from metrics.model.tables import POST_HOURLY_TABLE, ROLLUPS
from metrics.warehouse import storage
from metrics.warehouse.location import Warehouse

# (child scope, parent scope, the parent's id column), bottom up.
PARENTS: tuple[tuple[str, str, str], ...] = tuple(
    (s.name, p.name, p.id_column) for s in scopes.TREE if (p := scopes.parent(s.name)) is not None
)


_Value = TypeVar("_Value")


def per_partition(
    values: Sequence[_Value], check: Callable[[list[_Value]], pl.DataFrame]
) -> pl.DataFrame:
    """`check` over one partition value at a time, its offending rows concatenated. Every check
    here is partition-local (a key, a bucket with its children, a week's grains all fall in one
    partition), so the answer is the same as over all at once while memory follows one
    partition, not the run: a full rebuild checks the whole history."""
    found = [bad for value in values if not (bad := check([value])).is_empty()]
    return pl.concat(found) if found else pl.DataFrame()


def duplicate_keys(warehouse: Warehouse, table: str, values: list[str]) -> pl.DataFrame:
    """Keys that appear more than once in the given partitions (there must be none)."""
    df = storage.read(warehouse, table, values)
    if df.is_empty():
        return df
    keys = (
        ["platform_post_id", "hour"]
        if table == POST_HOURLY_TABLE.name
        else ["scope", "id", "bucket_start"]
    )
    return df.group_by(keys).len().filter(pl.col("len") > 1)


def weeks_disagree(warehouse: Warehouse, weeks: list[date]) -> pl.DataFrame:
    """(scope, id, week) whose hour, day and week rollups give different totals."""
    if not weeks:
        return pl.DataFrame()
    days = [(w + timedelta(days=i)).isoformat() for w in weeks for i in range(7)]
    frames = {
        "hour": storage.read(warehouse, ROLLUPS["hour"], days),
        "day": storage.read(warehouse, ROLLUPS["day"], days),
        "week": storage.read(warehouse, ROLLUPS["week"], [w.isoformat() for w in weeks]),
    }
    keys = ["scope", "id", "week"]
    totals = {
        name: df.group_by(
            "scope", "id", pl.col("bucket_start").dt.truncate("1w").alias("week")
        ).agg(pl.col(c).sum() for c in ADDITIVE)
        for name, df in frames.items()
        if not df.is_empty()
    }
    if not totals:
        return pl.DataFrame()
    names = list(totals)
    joined = totals[names[0]]
    for name in names[1:]:
        joined = joined.join(
            totals[name], on=keys, how="full", coalesce=True, suffix=f"_{name}"
        ).fill_null(0)
    differs = pl.any_horizontal(
        pl.col(c) != pl.col(f"{c}_{name}") for c in ADDITIVE for name in names[1:]
    )
    return joined.filter(differs).select(keys)


def children_disagree(rollup: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Parent rows whose additive sums differ from the sum of their children's rows."""
    if rollup.is_empty():
        return rollup
    bad = []
    known = accounts["social_account_id"].implode()
    for child, parent, parent_col in PARENTS:
        kids = rollup.filter(pl.col("scope") == child)
        if child == scopes.POST.name:
            kids = kids.filter(pl.col("social_account_id").is_in(known))
        summed = kids.group_by(parent_col, "bucket_start").agg(pl.col(c).sum() for c in ADDITIVE)
        parents = rollup.filter(pl.col("scope") == parent).select("id", "bucket_start", *ADDITIVE)
        joined = parents.join(
            summed.rename({parent_col: "id"}),
            on=["id", "bucket_start"],
            how="full",
            coalesce=True,
            suffix="_kids",
        ).fill_null(0)
        differs = pl.any_horizontal(pl.col(c) != pl.col(f"{c}_kids") for c in ADDITIVE)
        bad.append(
            joined.filter(differs).select("id", "bucket_start").with_columns(scope=pl.lit(parent))
        )
    return pl.concat(bad)


BUCKET = {ROLLUPS["hour"].name: "1h", ROLLUPS["day"].name: "1d", ROLLUPS["week"].name: "1w"}


def _post_sums(frame: pl.DataFrame, time_col: str, every: str) -> pl.LazyFrame:
    """Non-zero post-metric sums per (post, bucket)."""
    return (
        frame.lazy()
        .group_by(
            pl.col("platform_post_id"), pl.col(time_col).dt.truncate(every).alias("bucket_start")
        )
        .agg(pl.col(m).sum() for m in POST_METRICS)
        .filter(pl.any_horizontal(pl.col(m) != 0 for m in POST_METRICS))
    )


def rollups_disagree_with_hourly(
    warehouse: Warehouse, table: str, values: list[str]
) -> pl.DataFrame:
    """(post, bucket) whose `platform_post` rollup row differs from the sum of its `post_hourly`
    rows, over the given partitions of `table`: the rollups must say what the hours say.

    It is the one check that reads both tables, so it is what catches rollups left behind by a
    run that died between writing the hours and rebuilding their buckets.
    """
    days = (
        [(date.fromisoformat(v) + timedelta(days=i)).isoformat() for v in values for i in range(7)]
        if tables.table(table).partition_key == "week"
        else list(values)
    )
    hourly = storage.read(warehouse, POST_HOURLY_TABLE, days)
    rollup = storage.read(warehouse, table, values)
    from_hours = _post_sums(hourly, "hour", BUCKET[table])
    from_rollup = _post_sums(
        rollup.filter(pl.col("scope") == scopes.POST.name).with_columns(
            platform_post_id=pl.col("id")
        ),
        "bucket_start",
        BUCKET[table],
    )
    keys = ["platform_post_id", "bucket_start"]
    joined = from_hours.join(from_rollup, on=keys, how="full", coalesce=True, suffix="_rollup")
    differs = pl.any_horizontal(
        pl.col(m).fill_null(0) != pl.col(f"{m}_rollup").fill_null(0) for m in POST_METRICS
    )
    return joined.filter(differs).select(keys).collect()
