"""Follower gauges (spec §3.4): F(t) per account and per set of accounts.

F(t) is the value of the account's last snapshot with `collected_at` strictly before `t`;
before its first snapshot it is that first value (so a newly connected account does not show
its whole audience as one day's growth); 0 for an account never observed. A scope's F is the
sum over its accounts.

Decisions where the contract is silent:

- Two snapshots of one account at the same `collected_at`: the later one in
  (`landing_file`, `line`) order wins, as for posts.
- A snapshot whose `followers` is null is no snapshot at all (unknown, never zero).
"""

from __future__ import annotations

import polars as pl

_ACCOUNT = "social_account_id"


def follower_snapshots(follower_observations: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """One snapshot per (account, `collected_at`), sorted by account and time.

    Columns: `social_account_id`, `collected_at`, `followers`.
    """
    same_as_next = (
        (pl.col(_ACCOUNT) == pl.col(_ACCOUNT).shift(-1))
        & (pl.col("collected_at") == pl.col("collected_at").shift(-1))
    ).fill_null(False)
    return (
        follower_observations.lazy()
        .filter(pl.col("followers").is_not_null())
        .sort(_ACCOUNT, "collected_at", "landing_file", "line")
        .filter(~same_as_next)
        .select(_ACCOUNT, "collected_at", pl.col("followers").cast(pl.Int64))
    )


def follower_values_at(
    follower_observations: pl.DataFrame | pl.LazyFrame,
    queries: pl.DataFrame | pl.LazyFrame,
    *,
    at: str = "at",
) -> pl.DataFrame:
    """F(t) of one account per query row.

    `queries` holds `social_account_id` and a UTC timestamp column `at`; the result is
    `queries` (in its order) plus an Int64 `followers` column.
    """
    snapshots = follower_snapshots(follower_observations).collect()
    first = snapshots.group_by(_ACCOUNT).agg(pl.col("followers").first().alias("_first"))
    q = queries.lazy().with_row_index("_row").collect()
    matched = (
        q.sort(at)
        .join_asof(
            snapshots.sort("collected_at").rename({"collected_at": "_snapshot_at"}),
            left_on=at,
            right_on="_snapshot_at",
            by=_ACCOUNT,
            strategy="backward",
            allow_exact_matches=False,
            check_sortedness=False,  # both sides sorted just above; the check cannot see `by`
        )
        .join(first, on=_ACCOUNT, how="left")
    )
    return (
        matched.sort("_row")
        .with_columns(pl.coalesce("followers", "_first", pl.lit(0, pl.Int64)).alias("followers"))
        .drop("_row", "_snapshot_at", "_first")
    )


def scope_follower_values_at(
    follower_observations: pl.DataFrame | pl.LazyFrame,
    members: pl.DataFrame | pl.LazyFrame,
    queries: pl.DataFrame | pl.LazyFrame,
    *,
    scope_col: str,
    at: str = "at",
) -> pl.DataFrame:
    """F(t) of a scope per query row: the sum over the scope's accounts.

    `members` maps `scope_col` to `social_account_id`; `queries` holds `scope_col` and `at`.
    Returns the distinct (`scope_col`, `at`) pairs of `queries` with `followers`, sorted.
    A scope without members (or without observed members) has F = 0.
    """
    pairs = queries.lazy().select(scope_col, at).unique().collect()
    per_account = pairs.join(members.lazy().collect(), on=scope_col, how="left")
    known = per_account.filter(pl.col(_ACCOUNT).is_not_null())
    values = follower_values_at(follower_observations, known, at=at)
    return (
        pairs.join(
            values.group_by(scope_col, at).agg(pl.col("followers").sum()),
            on=[scope_col, at],
            how="left",
        )
        .with_columns(pl.col("followers").fill_null(0))
        .sort(scope_col, at)
    )


def follower_steps(
    follower_observations: pl.DataFrame | pl.LazyFrame, *, every: str
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """How each account's F changes from one time bucket to the next.

    Buckets are `collected_at.dt.truncate(every)`. Because F at a bucket's end counts the
    snapshots taken strictly before that end, it is the last value inside the bucket (or F at
    the start, if the bucket holds none), so F only changes across buckets holding snapshots.
    Returns:

    - steps: `social_account_id`, `bucket_start`, `follower_delta` = F(end) − F(start), one
      row per bucket holding a snapshot of the account;
    - starts: `social_account_id`, `followers` = the first value, F before any snapshot.

    F at the end of bucket B is then start + the sum of the deltas of buckets up to B, which
    is how rollups add accounts into scopes without evaluating F per scope and bucket.
    """
    snapshots = follower_snapshots(follower_observations).with_columns(
        pl.col("collected_at").dt.truncate(every).alias("bucket_start")
    )
    starts = snapshots.group_by(_ACCOUNT).agg(pl.col("followers").first())
    ends = snapshots.group_by(_ACCOUNT, "bucket_start").agg(pl.col("followers").last())
    steps = (
        ends.join(starts, on=_ACCOUNT, suffix="_first")
        .sort(_ACCOUNT, "bucket_start")
        .select(
            _ACCOUNT,
            "bucket_start",
            (
                pl.col("followers")
                - pl.col("followers").shift(1).over(_ACCOUNT).fill_null(pl.col("followers_first"))
            ).alias("follower_delta"),
        )
    )
    return steps, starts
