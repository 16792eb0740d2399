"""Data-quality checks over the partitions a run wrote; each returns the offending rows.

They read only what the run touched, so a check costs what the run cost, and an empty result
means the check passed.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl

from metrics import storage
from metrics.schema import POST_METRICS

ADDITIVE = (*POST_METRICS, "posts_published")
PARENTS = (
    ("platform_post", "social_account", "social_account_id"),
    ("social_account", "project_layer", "project_layer_id"),
    ("project_layer", "project", "project_id"),
    ("project", "organization", "org_id"),
)


def read_partitions(warehouse: Path, table: str, key: str, values: list[str]) -> pl.DataFrame:
    files = [
        str(p) for v in values if (p := storage.partition_path(warehouse, table, key, v)).exists()
    ]
    return pl.read_parquet(files) if files else pl.DataFrame()


def duplicate_keys(warehouse: Path, table: str, key: str, values: list[str]) -> pl.DataFrame:
    """Keys that appear more than once in the given partitions (there must be none)."""
    df = read_partitions(warehouse, table, key, values)
    if df.is_empty():
        return df
    keys = (
        ["platform_post_id", "hour"] if table == "post_hourly" else ["scope", "id", "bucket_start"]
    )
    return df.group_by(keys).len().filter(pl.col("len") > 1)


def weeks_disagree(warehouse: Path, weeks: list[date]) -> pl.DataFrame:
    """(scope, id, week) whose hour, day and week rollups give different totals."""
    if not weeks:
        return pl.DataFrame()
    days = [(w + timedelta(days=i)).isoformat() for w in weeks for i in range(7)]
    frames = {
        "hour": read_partitions(warehouse, "rollup_hour", "day", days),
        "day": read_partitions(warehouse, "rollup_day", "day", days),
        "week": read_partitions(warehouse, "rollup_week", "week", [w.isoformat() for w in weeks]),
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
        if child == "platform_post":
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
