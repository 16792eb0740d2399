"""Rollup tables (spec §4): sums and follower gauges per scope and UTC time bucket.

One row per (`scope`, `id`, `bucket_start`) for the five scopes. A bucket gets a row when it
has a non-zero additive sum, a published post, or (from `social_account` up) a follower
snapshot of one of the scope's accounts. Between two rows of a scope F is therefore constant,
and before its first row F = `followers − follower_delta` of that row: a reader can evaluate
F at any bucket boundary from the rows alone, and buckets without a row are all zero.

Decisions where the contract is silent:

- `platform_post` rows carry `followers = follower_delta = 0`: followers are an account
  gauge and the read function refuses them for posts.
- Posts with a null `published_at` are never counted in `posts_published`.
- Attribution uses `accounts` (the newest catalog) only. A post whose account is not in it,
  or that is missing from `posts`, appears at `platform_post` scope only, with all ancestor
  ids null; follower snapshots of such accounts are ignored.
- A bucket's rows depend only on `post_hourly` inside that bucket, plus the whole `posts`,
  `accounts` and `follower_observations`. So the pipeline may rebuild a bucket range from
  `post_hourly` restricted to it, as long as it passes the follower snapshots F needs there
  (each account's last snapshot before the range, every one inside it, and its first one
  after it, since F before an account's first snapshot is that snapshot's value), and keeps
  only the rebuilt buckets' rows.
  Follower values of later buckets move whenever follower history changes, so
  a change there calls for a rebuild of the affected accounts' later buckets too.
"""

from __future__ import annotations

import polars as pl

from metrics.model import scopes
from metrics.model.measures import ADDITIVE, POST_METRICS
from metrics.model.scopes import Granularity
from metrics.model.tables import ROLLUP
from metrics.transform.followers import follower_steps

_EVERY: dict[str, str] = {"hour": "1h", "day": "1d", "week": "1w"}
_METRICS = list(POST_METRICS)
_ADDITIVE = list(ADDITIVE)
# Scopes above posts: (scope, its id column, the id columns of its ancestors), bottom up.
_LEVELS: list[tuple[str, str, list[str]]] = [
    (s.name, s.id_column, list(scopes.ancestor_columns(s.name)))
    for s in scopes.ancestors(scopes.POST.name)
]


def bucket_start(expr: pl.Expr, granularity: Granularity) -> pl.Expr:
    """The UTC bucket holding each timestamp: its hour, its midnight, or its ISO week's Monday."""
    return expr.dt.truncate(_EVERY[granularity])


def _unique_ids(frame: pl.DataFrame, column: str, label: str) -> None:
    dupes = frame.filter(pl.col(column).is_duplicated()).height
    if dupes:
        raise ValueError(f"{label} holds {dupes} rows with a repeated {column}")


def build_rollups(
    post_hourly: pl.DataFrame,
    posts: pl.DataFrame,
    accounts: pl.DataFrame,
    follower_observations: pl.DataFrame,
    *,
    granularity: Granularity,
) -> pl.DataFrame:
    """The `rollup_<granularity>` table for all five scopes, schema `ROLLUP`.

    Sums are built bottom-up (post buckets, then each level from the one below) so every
    parent equals the sum of its children exactly. Followers per scope are the sum of its
    accounts' first values plus a running sum of their per-bucket changes.
    """
    _unique_ids(posts, "platform_post_id", "posts")
    _unique_ids(accounts, "social_account_id", "accounts")
    catalog = accounts.lazy().select(
        "social_account_id", "project_layer_id", "project_id", "org_id"
    )
    lineage = (
        posts.lazy()
        .select("platform_post_id", "social_account_id")
        .join(catalog, on="social_account_id", how="inner")
    )

    published = (
        posts.lazy()
        .filter(pl.col("published_at").is_not_null())
        .select(
            "platform_post_id",
            bucket_start(pl.col("published_at"), granularity).alias("bucket_start"),
            pl.lit(1, pl.Int64).alias("posts_published"),
        )
    )
    activity = post_hourly.lazy().select(
        "platform_post_id",
        bucket_start(pl.col("hour"), granularity).alias("bucket_start"),
        *_METRICS,
    )
    post_sums = (
        pl.concat([activity, published], how="diagonal")
        .group_by("platform_post_id", "bucket_start")
        .agg(pl.col(c).sum() for c in _ADDITIVE)
        .join(lineage, on="platform_post_id", how="left")
        .collect()
    )

    lazy_steps, lazy_starts = follower_steps(follower_observations, every=_EVERY[granularity])
    steps = lazy_steps.join(catalog, on="social_account_id", how="inner").collect()
    starts = lazy_starts.join(catalog, on="social_account_id", how="inner").collect()

    tables = [_post_level(post_sums)]
    sums = post_sums.filter(pl.col("social_account_id").is_not_null())
    for scope, id_col, ancestors in _LEVELS:
        sums = sums.group_by(id_col, "bucket_start").agg(
            *[pl.col(c).sum() for c in _ADDITIVE], *[pl.col(a).first() for a in ancestors]
        )
        tables.append(_scope_level(scope, id_col, ancestors, sums, steps, starts))
    return pl.concat(tables).sort("scope", "id", "bucket_start")


def _nonzero() -> pl.Expr:
    return pl.any_horizontal(*[pl.col(c) != 0 for c in _ADDITIVE])


def _as_rollup(frame: pl.DataFrame) -> pl.DataFrame:
    """Exactly the `ROLLUP` columns; id columns below the row's level are null."""
    return frame.select(
        pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
        for c, t in ROLLUP.items()
    )


def _post_level(post_sums: pl.DataFrame) -> pl.DataFrame:
    return _as_rollup(
        post_sums.filter(_nonzero()).with_columns(
            pl.lit(scopes.POST.name).alias("scope"),
            pl.col("platform_post_id").alias("id"),
            pl.lit(0, pl.Int64).alias("followers"),
            pl.lit(0, pl.Int64).alias("follower_delta"),
        )
    )


def _scope_level(
    scope: str,
    id_col: str,
    ancestors: list[str],
    sums: pl.DataFrame,
    steps: pl.DataFrame,
    starts: pl.DataFrame,
) -> pl.DataFrame:
    """Rows of one scope above posts: its sums joined with its accounts' follower changes."""
    deltas = steps.group_by(id_col, "bucket_start").agg(
        pl.col("follower_delta").sum(), *[pl.col(a).first() for a in ancestors]
    )
    base = starts.group_by(id_col).agg(pl.col("followers").sum().alias("_base"))
    rows = (
        sums.filter(_nonzero())
        .join(deltas, on=[id_col, "bucket_start"], how="full", coalesce=True, suffix="_f")
        .with_columns(
            *[pl.coalesce(a, f"{a}_f") for a in ancestors],
            *[pl.col(c).fill_null(0) for c in [*_ADDITIVE, "follower_delta"]],
        )
        .join(base, on=id_col, how="left")
        .sort(id_col, "bucket_start")
        .with_columns(
            (pl.col("_base").fill_null(0) + pl.col("follower_delta").cum_sum().over(id_col)).alias(
                "followers"
            ),
            pl.lit(scope).alias("scope"),
            pl.col(id_col).alias("id"),
        )
    )
    return _as_rollup(rows.drop(f"{a}_f" for a in ancestors))
