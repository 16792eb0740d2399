"""Small warehouses written straight from hand-made rows, for tests of the read side.

Only the pipeline's last steps run here (`build_rollups`, partition writes, the manifest), so a
test states its post_hourly increments and follower snapshots directly and can compute the
expected answer by hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from metrics.ingest.catalog import parse_snapshot
from metrics.model.measures import POST_METRICS
from metrics.model.tables import (
    CATALOG_ACCOUNTS_TABLE,
    CATALOG_ENTITIES_TABLE,
    FOLLOWER_OBSERVATIONS,
    FOLLOWER_OBSERVATIONS_TABLE,
    POST_HOURLY,
    POST_HOURLY_TABLE,
    POSTS,
    POSTS_TABLE,
    ROLLUPS,
    Table,
)
from metrics.transform.rollups import build_rollups
from metrics.warehouse import manifest, storage

# A post's hourly increments: (post id, UTC hour, {metric: value}).
HourlyRow = tuple[str, datetime, dict[str, int]]
# A follower snapshot: (account id, collected_at, followers).
FollowerRow = tuple[str, datetime, int]


@dataclass
class Warehouse:
    """What a test warehouse holds, in the shape tests write it."""

    catalog: dict[str, Any]
    posts: dict[str, tuple[str, datetime | None]] = field(default_factory=dict)  # id -> (acc, pub)
    hourly: list[HourlyRow] = field(default_factory=list)
    followers: list[FollowerRow] = field(default_factory=list)


def _posts_frame(posts: dict[str, tuple[str, datetime | None]]) -> pl.DataFrame:
    rows = [
        {
            "platform_post_id": pid,
            "platform": pid.split("_")[1],
            "native_id": pid.split("_", 2)[2],
            "social_account_id": account,
            "published_at": published,
        }
        for pid, (account, published) in posts.items()
    ]
    return pl.DataFrame(rows, schema=POSTS)


def _hourly_frame(rows: Iterable[HourlyRow]) -> pl.DataFrame:
    records = [
        {"platform_post_id": pid, "hour": hour, **{m: values.get(m, 0) for m in POST_METRICS}}
        for pid, hour, values in rows
    ]
    frame = pl.DataFrame(records, schema=POST_HOURLY)
    return (
        frame.group_by("platform_post_id", "hour")
        .agg(pl.col(m).sum() for m in POST_METRICS)
        .filter(pl.any_horizontal(pl.col(m) != 0 for m in POST_METRICS))
        .sort("platform_post_id", "hour")
    )


def _followers_frame(rows: Iterable[FollowerRow]) -> pl.DataFrame:
    records = [
        {
            "social_account_id": account,
            "platform": "tiktok",
            "collected_at": at,
            "landing_file": "tiktok/fixture.jsonl",
            "line": line,
            "followers": value,
        }
        for line, (account, at, value) in enumerate(rows, start=1)
    ]
    return pl.DataFrame(records, schema=FOLLOWER_OBSERVATIONS)


def _write_by(warehouse: Path, table: Table, frame: pl.DataFrame, expr: pl.Expr) -> None:
    """Replace the table's partitions with `frame` split by its hive key = `expr` (a date)."""
    keyed = frame.with_columns(expr.dt.date().cast(pl.String).alias("_key"))
    with storage.Batch(warehouse, table) as batch:
        for old in storage.partition_values(warehouse, table, str(table.partition_key)):
            batch.drop(old)
        for (value,), part in keyed.partition_by("_key", as_dict=True).items():
            batch.put(str(value), part.drop("_key"))


def write_frames(
    root: Path,
    catalog: dict[str, Any],
    posts: pl.DataFrame,
    hourly: pl.DataFrame,
    followers: pl.DataFrame,
    publish: bool = True,
) -> Path:
    """Write a warehouse from frames (schemas POSTS, POST_HOURLY, FOLLOWER_OBSERVATIONS),
    replacing what `root` held (each table overwritten whole, one commit), and publish its
    manifest as the next warehouse version (unless `publish` is false: a run cut short
    before its views step)."""
    entities, accounts = parse_snapshot(json.dumps(catalog).encode(), "fixture")
    storage.write_partition(root, CATALOG_ENTITIES_TABLE, entities)
    storage.write_partition(root, CATALOG_ACCOUNTS_TABLE, accounts)
    storage.write_partition(root, POSTS_TABLE, posts)
    _write_by(root, POST_HOURLY_TABLE, hourly, pl.col("hour"))
    _write_by(root, FOLLOWER_OBSERVATIONS_TABLE, followers, pl.col("collected_at"))
    for granularity, table in ROLLUPS.items():
        rollup = build_rollups(hourly, posts, accounts, followers, granularity=granularity)
        _write_by(root, table, rollup, pl.col("bucket_start"))
    if publish:
        versions = storage.current_versions(root)
        storage.rebuild_views(root, versions)  # as the pipeline publishes: views, then manifest
        manifest.publish(root, versions)
    return root


def write_warehouse(root: Path, data: Warehouse, publish: bool = True) -> Path:
    """Write `data` as a warehouse under `root` (replacing what was there) and publish it
    (unless `publish` is false)."""
    return write_frames(
        root,
        data.catalog,
        _posts_frame(data.posts),
        _hourly_frame(data.hourly),
        _followers_frame(data.followers),
        publish,
    )
