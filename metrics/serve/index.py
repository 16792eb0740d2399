"""The warehouse held in memory for the read function: prefix sums, gauges and post activity.

A query must answer in about a millisecond, which rules out reading Parquet per request. So the
three rollup tables are loaded once (and again whenever `manifest.json` says the warehouse
changed) into flat arrays sorted by (scope, id, bucket_start), each (scope, id) owning one
contiguous slice:

- `cum` holds prefix sums of the additive columns, so the sum over any run of buckets is one
  subtraction, and the sum of everything before an instant `t` is one `searchsorted`;
- `followers`/`follower_delta` give F at any bucket edge: rollups hold a row for every bucket
  with a follower snapshot, so F is the last row's `followers` before `t`, or, before the
  first row, that row's `followers - follower_delta`.

Every bucket sum is then P(end) − P(start), with P read from the coarsest rollup whose buckets
are aligned with that instant: whole UTC weeks and days come from `rollup_week`/`rollup_day`,
edges cut by the window or by a local midnight from `rollup_hour`. Totals telescope to
P(until) − P(since), so they equal the sum of the series by construction.

`post_count` (distinct posts active in the window) is not additive, so posts are numbered in
catalog order (org, project, layer, account, post), which gives every entity a contiguous range
of posts, and each post keeps its sorted active hours; see `Activity`. Top performers ranks a
scope's posts from per-post arrays over the same positions and the hour rollup's prefix sums;
see `metrics.serve.ranking`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from metrics.model import scopes
from metrics.model.measures import ADDITIVE, POST_METRICS
from metrics.model.tables import (
    CATALOG_ACCOUNTS_TABLE,
    CATALOG_ENTITIES_TABLE,
    POSTS_TABLE,
    ROLLUPS,
    Table,
)
from metrics.serve import listing as listings
from metrics.serve import ranking as rankings
from metrics.serve import tree as trees
from metrics.serve.grain import Grain, Key
from metrics.serve.window import DAY, EPOCH_MONDAY, HOUR, WEEK
from metrics.warehouse import manifest as published
from metrics.warehouse import storage
from metrics.warehouse.location import Warehouse

# Coarsest first: (rollup, bucket length, an instant on a bucket edge).
_GRAINS: tuple[tuple[Table, int, int], ...] = (
    (ROLLUPS["week"], WEEK, EPOCH_MONDAY),
    (ROLLUPS["day"], DAY, 0),
    (ROLLUPS["hour"], HOUR, 0),
)
_HOUR_BITS = 21  # hours since 1970 stay below 2**21 until 2209
_LEVELS: tuple[tuple[str, str], ...] = tuple((s.name, s.id_column) for s in reversed(scopes.TREE))


@dataclass(frozen=True)
class Activity:
    """Active hours per post, for exact distinct counts over any post range and window.

    `keys` holds `position << 21 | hour` for every (post, hour) with a non-zero increment,
    sorted; `first`/`last` are each post's first and last active hour. A post whose first or
    last active hour lies in the window is counted outright; one active before the window and
    again after it needs its next active hour from `since` on, one vectorized `searchsorted`.
    """

    keys: np.ndarray
    first: np.ndarray
    last: np.ndarray
    ranges: dict[Key, tuple[int, int]]

    def count(self, key: Key, since: int, until: int) -> int:
        return int(self.active(key, since, until)[1].sum())

    def active(self, key: Key, since: int, until: int) -> tuple[int, np.ndarray]:
        """(lo, mask): the key's first post position, and which of its posts are active."""
        lo, hi = self.ranges.get(key, (0, 0))
        start, end = since // HOUR, until // HOUR
        first, last = self.first[lo:hi], self.last[lo:hi]
        touching = (first < end) & (last >= start)
        certain = touching & ((first >= start) | (last < end))
        straddling = np.flatnonzero(touching & ~certain)
        if len(straddling):
            base = (straddling + lo) << _HOUR_BITS
            nxt = self.keys[np.searchsorted(self.keys, base | start)]
            certain[straddling] = nxt < (base | end)
        return lo, certain


@dataclass(frozen=True)
class Index:
    """Everything one version of the warehouse answers from; immutable once built."""

    version: int | None  # the manifest's warehouse version
    as_of: str | None
    projects: dict[str, str]  # project id -> org id
    homes: dict[Key, tuple[str, str | None]]  # entity -> (org id, project id)
    grains: tuple[tuple[Grain, int, int], ...]  # (grain, bucket length, origin), coarsest first
    activity: Activity
    listing: listings.Listing  # names, ids and data spans for `metrics ls` and /v1/projects
    ranking: rankings.Ranking  # per-post window sums for top performers
    tree: trees.Tree  # accounts and layers of every entity, for breakdowns and coverage

    def measure(self, key: Key, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P, F) at each edge: additive sums of everything before it, and followers."""
        sums = np.zeros((len(edges), len(ADDITIVE)), dtype=np.int64)
        gauge = np.zeros(len(edges), dtype=np.int64)
        todo = np.ones(len(edges), dtype=bool)
        for grain, length, origin in self.grains:
            mask = todo & ((edges - origin) % length == 0)
            if mask.any():
                sums[mask] = grain.prefix(key, edges[mask])
                gauge[mask] = grain.gauge(key, edges[mask])
                todo &= ~mask
        return sums, gauge


def read_manifest(warehouse: Warehouse) -> dict[str, Any]:
    """`manifest.json`, or an empty one when the pipeline has not written any yet."""
    return published.read(warehouse)


def _grain(frame: pl.DataFrame) -> Grain:
    frame = frame.with_columns(pl.col("bucket_start").dt.epoch("s")).sort(
        "scope", "id", "bucket_start"
    )
    values = frame.select(ADDITIVE).to_numpy()
    cum = np.zeros((len(values) + 1, len(ADDITIVE)), dtype=np.int64)
    np.cumsum(values, axis=0, out=cum[1:])
    return Grain(
        starts=frame["bucket_start"].to_numpy(),
        cum=cum,
        followers=frame["followers"].to_numpy(),
        delta=frame["follower_delta"].to_numpy(),
        ranges=_spans(frame.with_row_index("row"), ["scope", "id"], "row"),
    )


def _spans(frame: pl.DataFrame, key: list[str], row: str) -> dict[Key, tuple[int, int]]:
    """(scope, id) -> [lo, hi) range of `row`, for a frame where each key's rows are contiguous."""
    spans = frame.group_by(key).agg(pl.col(row).min().alias("lo"), pl.col(row).max().alias("hi"))
    return {(k[0], k[1]): (k[2], k[3] + 1) for k in spans.iter_rows()}


def _lineage(accounts: pl.DataFrame, posts: pl.DataFrame) -> pl.DataFrame:
    """One row per attributable post, numbered in catalog order, with its ancestors."""
    return (
        posts.join(accounts, on="social_account_id", how="inner")
        .sort(*scopes.ID_COLUMNS)
        .with_row_index("position")
        .with_columns(pl.col("position").cast(pl.Int64))
    )


def _homes(
    entities: pl.DataFrame, accounts: pl.DataFrame, lineage: pl.DataFrame
) -> dict[Key, tuple[str, str | None]]:
    """(scope, id) -> (org, project) for every entity of the newest catalog and its posts."""
    rows = [
        entities.select("kind", "id", "org_id", "project_id"),
        accounts.select(pl.lit(scopes.ACCOUNT.name), "social_account_id", "org_id", "project_id"),
        lineage.select(pl.lit(scopes.POST.name), "platform_post_id", "org_id", "project_id"),
    ]
    return {
        (scope, id_): (org, project)
        for frame in rows
        for scope, id_, org, project in frame.iter_rows()
    }


def _activity(lineage: pl.DataFrame, hourly: pl.DataFrame) -> Activity:
    ranges: dict[Key, tuple[int, int]] = {}
    for scope, column in _LEVELS:
        spans = _spans(lineage.with_columns(pl.lit(scope).alias("_s")), ["_s", column], "position")
        ranges.update(spans)
    active = (
        hourly.filter(
            (pl.col("scope") == scopes.POST.name)
            & pl.any_horizontal(pl.col(m) != 0 for m in POST_METRICS)
        )
        .select(
            pl.col("id").alias("platform_post_id"),
            (pl.col("bucket_start").dt.epoch("s") // HOUR).alias("hour"),
        )
        .join(lineage.select("platform_post_id", "position"), on="platform_post_id")
        .sort("position", "hour")
    )
    bounds = active.group_by("position").agg(
        pl.col("hour").min().alias("first"), pl.col("hour").max().alias("last")
    )
    first = np.full(lineage.height, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(lineage.height, -1, dtype=np.int64)
    first[bounds["position"].to_numpy()] = bounds["first"].to_numpy()
    last[bounds["position"].to_numpy()] = bounds["last"].to_numpy()
    keys = (active["position"].to_numpy() << _HOUR_BITS) | active["hour"].to_numpy()
    return Activity(keys, first, last, ranges)


_ROLLUP_COLUMNS = ("scope", "id", "bucket_start", *ADDITIVE, "followers", "follower_delta")


def load(warehouse: Warehouse, manifest: dict[str, Any] | None = None) -> Index:
    """Read one version of the warehouse: exactly the table versions `manifest` (default: the
    published `manifest.json`) names, so a run committing meanwhile is not seen half-way.
    Missing tables read as empty (all answers zero); before any manifest, the newest commits."""
    manifest = read_manifest(warehouse) if manifest is None else manifest
    versions = manifest.get("tables")

    def read(
        warehouse: Warehouse, table: Table, columns: list[str] | tuple[str, ...]
    ) -> pl.DataFrame:
        return storage.read(warehouse, table, columns=columns, versions=versions)

    entities = read(
        warehouse, CATALOG_ENTITIES_TABLE, columns=["id", "kind", "org_id", "project_id"]
    )
    accounts = read(
        warehouse,
        CATALOG_ACCOUNTS_TABLE,
        columns=["social_account_id", "platform", "project_layer_id", "project_id", "org_id"],
    )
    posts = read(
        warehouse,
        POSTS_TABLE,
        columns=["platform_post_id", "social_account_id", "platform", "published_at"],
    )
    lineage = _lineage(accounts, posts)
    grains = []
    for table, length, origin in _GRAINS:  # one table in memory at a time
        frame = read(warehouse, table, columns=_ROLLUP_COLUMNS)
        if table is ROLLUPS["hour"]:
            activity = _activity(lineage, frame)
            listing = listings.load(warehouse, frame, versions)
        if frame.height:
            grains.append((_grain(frame), length, origin))
    hour = next((g for g, length, _ in grains if length == HOUR), None)
    projects = entities.filter(pl.col("kind") == "project").select("id", "org_id")
    return Index(
        version=manifest.get("version"),
        as_of=manifest.get("as_of"),
        projects=dict(projects.iter_rows()),
        homes=_homes(entities, accounts, lineage),
        grains=tuple(grains),
        activity=activity,
        listing=listing,
        ranking=rankings.build(
            lineage,
            hour.starts if hour else None,
            hour.cum if hour else None,
            hour.ranges if hour else {},
        ),
        tree=trees.load(entities, accounts, lineage, [g for g, _, _ in grains]),
    )
