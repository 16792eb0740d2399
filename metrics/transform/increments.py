"""Hourly increments per post from normalized observations (spec §3.1, §3.2).

Lifetime snapshots become differences between consecutive known values of each metric, and
per-day rows become their own value over their Pacific day; both are apportioned over UTC hours
(§3.3) and summed per (post, hour). Summing a post's increments over all time gives back its
last lifetime value, which is the property the whole warehouse rests on.

Decisions where the contract is silent:

- Duplicate snapshots (same post, same `collected_at`) are resolved on the whole row before
  any metric is looked at: the later one in (`landing_file`, `line`) order is *the* snapshot of
  that instant. If it lacks a metric, that metric is unknown at that instant, even when the
  losing duplicate had a value.
- The same applies to a per-day revision: the winning row replaces the earlier one entirely; a
  metric that it lacks contributes nothing for that day, even if an earlier row had it.
- A post missing from `posts` has no known `published_at`: its first values go to the hour of
  their first snapshot.
"""

from __future__ import annotations

import polars as pl

from metrics.model.measures import POST_METRICS
from metrics.model.tables import POST_HOURLY
from metrics.transform.apportion import (
    HOUR_INDEX,
    MAX_ABS_VALUE,
    apportion_pieces,
    hour_index_to_datetime,
)

_POST = "platform_post_id"
_METRICS = list(POST_METRICS)
_SEGMENT = "_post_seq"


def _last_per_key(lf: pl.LazyFrame, key: list[str], order: list[str]) -> pl.LazyFrame:
    """Keep, per `key`, the row that sorts last by `order`; the result is sorted by key, order.

    The callers need the sorted frame anyway, and on it the winner is simply the row whose
    successor has another key: a linear pass, no second hash or sort.
    """
    same_as_next = pl.all_horizontal(*[pl.col(c) == pl.col(c).shift(-1) for c in key]).fill_null(
        False
    )
    return lf.sort(*key, *order).filter(~same_as_next)


def _check_magnitudes(frame: pl.DataFrame, bound: int, label: str) -> None:
    """Refuse values whose apportionment would overflow int64 rather than return wrong sums."""
    over = frame.select(pl.any_horizontal(pl.col(m).abs() > bound for m in _METRICS).sum()).item()
    if over:
        raise ValueError(f"{over} {label}(s) hold a metric beyond ±{bound}")


def _lifetime_pieces(observations: pl.LazyFrame, published: pl.LazyFrame) -> pl.LazyFrame:
    """Unsummed hourly pieces of lifetime snapshots, keyed by the post id as a categorical.

    Consecutive known values are found with shifts and forward fills over the sorted frame
    rather than per-post `over()` expressions: one linear pass, whatever the number of posts. A
    fill that reaches back into the previous post is recognised by its sequence number and
    discarded.
    """
    t = pl.col("collected_at")
    seq = pl.col(_SEGMENT)
    # Materialised once: every branch below starts from it, and the sort is the costly part.
    # Categoricals (which sort lexically, like the strings) halve its time and memory, and
    # keep the many pieces and their group-by keyed by a 4-byte code.
    snapshots = (
        _last_per_key(
            observations.select(
                pl.col(_POST).cast(pl.Categorical),
                "collected_at",
                pl.col("landing_file").cast(pl.Categorical),
                "line",
                *_METRICS,
            ),
            [_POST, "collected_at"],
            ["landing_file", "line"],
        )
        .select(pl.col(_POST).rle_id().alias(_SEGMENT), _POST, "collected_at", *_METRICS)
        .collect()
    )
    # A difference of two values is at most twice as large as either.
    _check_magnitudes(snapshots, MAX_ABS_VALUE // 2, "lifetime snapshot")

    # The previous snapshot of the same post, whatever it knew. Usually every metric known at a
    # snapshot was also known at that one, so all metrics share one interval and are
    # apportioned together ("regular"). A metric whose previous value is older (unknown in
    # between) gets its own interval and is apportioned alone.
    row_prev_t = pl.when(seq.shift(1) == seq).then(t.shift(1))
    per_metric: list[pl.Expr] = [row_prev_t.alias("_row_prev_t")]
    for m in _METRICS:
        known = pl.col(m).is_not_null()
        prev_seq = pl.when(known).then(seq).shift(1).forward_fill()
        has_prev = known & (prev_seq == seq).fill_null(False)
        prev_t = pl.when(known).then(t).shift(1).forward_fill()
        step = pl.col(m) - pl.col(m).shift(1).forward_fill()
        regular = has_prev & (prev_t == row_prev_t).fill_null(False)
        per_metric += [
            pl.when(known & ~has_prev).then(pl.col(m)).alias(f"_first_{m}"),
            pl.when(regular).then(step).alias(f"_step_{m}"),
            pl.when(has_prev & ~regular).then(step).alias(f"_alone_{m}"),
            pl.when(has_prev & ~regular).then(prev_t).alias(f"_from_{m}"),
        ]
    steps = snapshots.lazy().with_columns(per_metric)

    # First known values: whole into the publication hour, unless unknown or later.
    firsts = [f"_first_{m}" for m in _METRICS]
    first = (
        steps.select(_POST, "collected_at", *firsts)
        .filter(pl.any_horizontal(*[pl.col(c).is_not_null() for c in firsts]))
        .join(published.with_columns(pl.col(_POST).cast(pl.Categorical)), on=_POST, how="left")
        .select(
            _POST,
            pl.when(pl.col("published_at") <= t)
            .then(pl.col("published_at"))
            .otherwise(t)
            .dt.epoch("s")
            .floordiv(3600)
            .alias(HOUR_INDEX),
            *[pl.col(f"_first_{m}").alias(m) for m in _METRICS],
        )
    )
    together = apportion_pieces(
        steps.select(
            _POST,
            "_row_prev_t",
            "collected_at",
            *[pl.col(f"_step_{m}").alias(m) for m in _METRICS],
        ),
        start_col="_row_prev_t",
        end_col="collected_at",
        value_cols=_METRICS,
        key_cols=[_POST],
    )
    # Metrics apportioned alone are rare: stack them into one long frame keyed by metric, so
    # a single apportionment handles all of them, then spread the values back into columns.
    irregular = (
        steps.select(
            _POST,
            "collected_at",
            *[f"_alone_{m}" for m in _METRICS],
            *[f"_from_{m}" for m in _METRICS],
        )
        .filter(pl.any_horizontal(*[pl.col(f"_alone_{m}").is_not_null() for m in _METRICS]))
        .collect()
    )
    stacked = pl.concat(
        [
            irregular.lazy()
            .filter(pl.col(f"_alone_{m}").is_not_null())
            .select(
                _POST,
                pl.lit(m).alias("_metric"),
                pl.col(f"_from_{m}").alias("_from"),
                "collected_at",
                pl.col(f"_alone_{m}").alias("_n"),
            )
            for m in _METRICS
        ]
    )
    alone = apportion_pieces(
        stacked,
        start_col="_from",
        end_col="collected_at",
        value_cols=["_n"],
        key_cols=[_POST, "_metric"],
    ).select(
        _POST,
        HOUR_INDEX,
        *[pl.when(pl.col("_metric") == m).then(pl.col("_n")).alias(m) for m in _METRICS],
    )
    return pl.concat([first, together, alone], how="diagonal")


def _period_pieces(period_observations: pl.LazyFrame) -> pl.LazyFrame:
    """Unsummed hourly pieces of per-day rows, after the latest revision of each day wins."""
    latest = _last_per_key(
        period_observations.select(
            pl.col(_POST).cast(pl.Categorical),
            "day",
            "period_start",
            "period_end",
            "collected_at",
            "landing_file",
            "line",
            *_METRICS,
        ),
        [_POST, "day"],
        ["collected_at", "landing_file", "line"],
    ).collect()
    _check_magnitudes(latest, MAX_ABS_VALUE, "per-day row")
    backwards = latest.filter(pl.col("period_end") < pl.col("period_start")).height
    if backwards:
        raise ValueError(f"{backwards} per-day row(s) end before they start")
    return apportion_pieces(
        latest.lazy(),
        start_col="period_start",
        end_col="period_end",
        value_cols=_METRICS,
        key_cols=[_POST],
    )


def post_hourly(
    post_observations: pl.DataFrame | pl.LazyFrame,
    period_observations: pl.DataFrame | pl.LazyFrame,
    posts: pl.DataFrame | pl.LazyFrame,
) -> pl.DataFrame:
    """The `post_hourly` table: summed hourly increments per post, schema `POST_HOURLY`.

    Takes the whole history of each post it should cover: increments are differences between
    snapshots, so a post's hours can only be recomputed from all of its observations. Rows
    whose metrics are all zero are left out; the rest carry 0 for metrics without increments.
    """
    published = posts.lazy().select(_POST, "published_at").collect()
    repeated = published.filter(pl.col(_POST).is_duplicated()).height
    if repeated:
        # A repeated post would have its first values joined, and counted, twice.
        raise ValueError(f"posts holds {repeated} rows with a repeated {_POST}")
    pieces = pl.concat(
        [
            _lifetime_pieces(post_observations.lazy(), published.lazy()),
            _period_pieces(period_observations.lazy()),
        ],
        how="diagonal",
    )
    return (
        pieces.group_by(_POST, HOUR_INDEX)
        .agg(pl.col(m).sum() for m in _METRICS)
        .filter(pl.any_horizontal(*[pl.col(m) != 0 for m in _METRICS]))
        .sort(_POST, HOUR_INDEX)
        .select(
            pl.col(_POST).cast(pl.String),
            hour_index_to_datetime(pl.col(HOUR_INDEX)).alias("hour"),
            *_METRICS,
        )
        .collect()
        # polars types the keys as a Mapping's invariant union (names, selectors, dtypes): a
        # dict[str, DataType] is accepted at run time but not by its stubs.
        .cast(POST_HOURLY)  # type: ignore[arg-type]  # polars' stub types cast()'s mapping narrower than it accepts
    )
