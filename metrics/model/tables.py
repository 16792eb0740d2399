"""Table names, column sets and polars schemas shared by every stage.

One place so that the writer, the read function, the checks and the data dictionary
(docs/data-dictionary.md) cannot drift apart.
"""

from __future__ import annotations

import polars as pl

from metrics.model.measures import POST_METRICS

UTC_TS = pl.Datetime("us", "UTC")

_METRIC_COLUMNS: dict[str, pl.DataType] = {m: pl.Int64() for m in POST_METRICS}

# Normalized tables, partitioned by landing date (hive key `landing_date`).
POST_OBSERVATIONS: dict[str, pl.DataType] = {
    "platform_post_id": pl.String(),
    "platform": pl.String(),
    "social_account_id": pl.String(),
    "collected_at": UTC_TS,
    "landing_file": pl.String(),
    "line": pl.Int64(),
    **_METRIC_COLUMNS,
}

PERIOD_OBSERVATIONS: dict[str, pl.DataType] = {
    "platform_post_id": pl.String(),
    "platform": pl.String(),
    "social_account_id": pl.String(),
    "day": pl.Date(),
    "period_start": UTC_TS,
    "period_end": UTC_TS,
    "collected_at": UTC_TS,
    "landing_file": pl.String(),
    "line": pl.Int64(),
    **_METRIC_COLUMNS,
}

FOLLOWER_OBSERVATIONS: dict[str, pl.DataType] = {
    "social_account_id": pl.String(),
    "platform": pl.String(),
    "collected_at": UTC_TS,
    "landing_file": pl.String(),
    "line": pl.Int64(),
    "followers": pl.Int64(),
}

# What each landing partition learned about a post (one row per post per partition).
POST_SIGHTINGS: dict[str, pl.DataType] = {
    "platform_post_id": pl.String(),
    "platform": pl.String(),
    "native_id": pl.String(),
    "social_account_id": pl.String(),
    "published_at": UTC_TS,
    "media_kind": pl.String(),
    "first_seen_at": UTC_TS,
    "collected_at": UTC_TS,
    "landing_file": pl.String(),
    "line": pl.Int64(),
}

QUARANTINE: dict[str, pl.DataType] = {
    "landing_file": pl.String(),
    "line": pl.Int64(),
    "record": pl.Int64(),
    "reason": pl.String(),
    "detail": pl.String(),
    "raw": pl.String(),
}

# One row per post, rebuilt from every partition's sightings.
POSTS: dict[str, pl.DataType] = {
    "platform_post_id": pl.String(),
    "platform": pl.String(),
    "native_id": pl.String(),
    "social_account_id": pl.String(),
    "published_at": UTC_TS,
    "media_kind": pl.String(),
    "first_seen_at": UTC_TS,
    "last_seen_at": UTC_TS,
    "published_known_since": pl.Date(),
}

# Hourly increments per post (hive key `day`, the UTC day of `hour`).
POST_HOURLY: dict[str, pl.DataType] = {
    "platform_post_id": pl.String(),
    "hour": UTC_TS,
    **_METRIC_COLUMNS,
}

ROLLUP: dict[str, pl.DataType] = {
    "scope": pl.String(),
    "id": pl.String(),
    "bucket_start": UTC_TS,
    "org_id": pl.String(),
    "project_id": pl.String(),
    "project_layer_id": pl.String(),
    "social_account_id": pl.String(),
    "platform_post_id": pl.String(),
    **_METRIC_COLUMNS,
    "followers": pl.Int64(),
    "follower_delta": pl.Int64(),
    "posts_published": pl.Int64(),
}

CATALOG_ACCOUNTS: dict[str, pl.DataType] = {
    "social_account_id": pl.String(),
    "platform": pl.String(),
    "native_id": pl.String(),
    "handle": pl.String(),
    "project_layer_id": pl.String(),
    "layer_kind": pl.String(),
    "project_id": pl.String(),
    "org_id": pl.String(),
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with the exact column types, so empty partitions still carry a schema."""
    return pl.DataFrame(schema=schema)
