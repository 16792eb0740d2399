"""Apportionment of integer increments over UTC hours (spec §3.3).

Every total in the warehouse is a sum of these shares, so the split must be exact and
reproducible: integers only, largest remainders, ties to the earlier hour. `apportion` is the
readable scalar reference; `apportion_pieces` / `apportion_frame` are the vectorized forms the
pipeline runs over millions of intervals, tested equal to the reference.

The vectorized form does not rank remainders per interval (a sort inside every interval, with
`over()`, is far too slow). Inside one interval only three overlaps exist: the first hour, the
last hour and the full hours between, which all share one quotient and one remainder. So each
hour's rank among the remainders, and with it whether it gets one of the leftover units, has a
closed form.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import polars as pl

from metrics.model.tables import UTC_TS

HOUR_SECONDS = 3600
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US_PER_HOUR = HOUR_SECONDS * 1_000_000

# Column of `apportion_pieces` output: whole hours since the epoch. Pieces stay integer-keyed
# until the final group-by because grouping on an int64 is much cheaper than on a timestamp.
HOUR_INDEX = "hour_index"

# |n| * overlap (at most 3600 s) must fit in int64: about 2.5e15, far above any real counter.
MAX_ABS_VALUE = (2**63 - 1) // HOUR_SECONDS


def _epoch_seconds(t: datetime) -> int:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}: times must carry a zone")
    return (t - _EPOCH) // timedelta(seconds=1)


def apportion(n: int, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """Split `n` over the UTC hours overlapping `[start, end)`, exactly as spec §3.3 says.

    Returns every overlapping hour in time order, zero shares included, so a reader can check
    the split against the contract by hand. Sub-second parts of the ends are truncated first,
    because the contract works in whole seconds.
    """
    a, b = _epoch_seconds(start), _epoch_seconds(end)
    if b < a:
        raise ValueError(f"interval ends before it starts: {start} > {end}")
    first_hour = a // HOUR_SECONDS
    if a == b:
        return [(_EPOCH + timedelta(hours=first_hour), n)]
    hours = range(first_hour, (b - 1) // HOUR_SECONDS + 1)
    total = b - a
    magnitude = abs(n)
    quotients: list[int] = []
    remainders: list[int] = []
    for h in hours:
        overlap = min(b, (h + 1) * HOUR_SECONDS) - max(a, h * HOUR_SECONDS)
        q, r = divmod(magnitude * overlap, total)
        quotients.append(q)
        remainders.append(r)
    leftover = magnitude - sum(quotients)
    by_remainder = sorted(range(len(hours)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[:leftover]:
        quotients[i] += 1
    sign = -1 if n < 0 else 1
    return [(_EPOCH + timedelta(hours=h), sign * q) for h, q in zip(hours, quotients, strict=True)]


def hour_index_to_datetime(expr: pl.Expr) -> pl.Expr:
    """The UTC hour start for a `HOUR_INDEX` value."""
    return (expr * _US_PER_HOUR).cast(UTC_TS)


def apportion_pieces(
    intervals: pl.LazyFrame,
    *,
    start_col: str,
    end_col: str,
    value_cols: Sequence[str],
    key_cols: Sequence[str],
) -> pl.LazyFrame:
    """Hourly shares of many intervals, not yet summed per (key, hour).

    Left unsummed so a caller can concatenate pieces from several sources (and several
    interval shapes) and pay for a single group-by. Output: `key_cols`, `HOUR_INDEX`, then
    `value_cols` as Int64; a null value means "nothing for this metric"; a piece whose values
    are all zero or null is omitted. Intervals must not end before they start, and values must
    stay below `MAX_ABS_VALUE` in magnitude (int64 products wrap silently); `apportion_frame`
    checks both, callers of this function own them.
    """
    keys = list(key_cols)
    values = list(value_cols)
    a, b = pl.col("_a"), pl.col("_b")
    h0, h1, k = pl.col("_h0"), pl.col("_h1"), pl.col("_k")

    base = (
        intervals.select(
            *keys,
            pl.col(start_col).dt.epoch("s").alias("_a"),
            pl.col(end_col).dt.epoch("s").alias("_b"),
            *[pl.col(v).cast(pl.Int64) for v in values],
        )
        .filter(pl.any_horizontal(*[pl.col(v) != 0 for v in values]))
        .with_columns(_h0=a // HOUR_SECONDS)
        # A zero-length interval belongs to the hour containing its start.
        .with_columns(_h1=pl.max_horizontal((b - 1) // HOUR_SECONDS, h0))
        .with_columns(_k=h1 - h0 + 1)
    )

    single = base.filter(k == 1).select(*keys, pl.col("_h0").alias(HOUR_INDEX), *values)

    total = b - a
    overlap_first = (h0 + 1) * HOUR_SECONDS - a
    overlap_last = b - h1 * HOUR_SECONDS
    n_inner = k - 2
    per_metric: list[pl.Expr] = []
    for v in values:
        m = pl.col(v).abs()
        sign = pl.col(v).sign()
        q_f, r_f = (m * overlap_first) // total, (m * overlap_first) % total
        q_l, r_l = (m * overlap_last) // total, (m * overlap_last) % total
        q_m, r_m = (m * HOUR_SECONDS) // total, (m * HOUR_SECONDS) % total
        leftover = m - q_f - q_l - n_inner * q_m
        # Rank of each hour among the remainders (larger first, earlier first on ties);
        # an hour gets a leftover unit iff its rank is below `leftover`.
        rank_first = (r_l > r_f).cast(pl.Int64) + n_inner * (r_m > r_f).cast(pl.Int64)
        rank_last = (r_f >= r_l).cast(pl.Int64) + n_inner * (r_m >= r_l).cast(pl.Int64)
        # Inner hour i (1-based) has rank (r_f >= r_m) + (r_l > r_m) + (i - 1), so the first
        # `inner_plus` inner hours get a unit (at most all of them).
        ahead_of_inner = (r_f >= r_m).cast(pl.Int64) + (r_l > r_m).cast(pl.Int64)
        inner_plus = pl.min_horizontal((leftover - ahead_of_inner).clip(0, None), n_inner)
        per_metric += [
            (sign * (q_f + (rank_first < leftover).cast(pl.Int64))).alias(f"_first_{v}"),
            (sign * (q_l + (rank_last < leftover).cast(pl.Int64))).alias(f"_last_{v}"),
            (sign * q_m).alias(f"_base_{v}"),
            (sign * inner_plus).alias(f"_plus_{v}"),
        ]
    multi = base.filter(k >= 2).with_columns(per_metric)

    first = multi.select(
        *keys, pl.col("_h0").alias(HOUR_INDEX), *[pl.col(f"_first_{v}").alias(v) for v in values]
    )
    last = multi.select(
        *keys, pl.col("_h1").alias(HOUR_INDEX), *[pl.col(f"_last_{v}").alias(v) for v in values]
    )

    # Inner hours past the last one that gets a leftover unit are all zero when every
    # quotient is zero (a small count over a long gap): do not materialise them.
    any_quotient = pl.any_horizontal(*[pl.col(f"_base_{v}") != 0 for v in values]).fill_null(False)
    most_plus = pl.max_horizontal(*[pl.col(f"_plus_{v}").abs() for v in values]).fill_null(0)
    i = pl.col("_i")
    inner = (
        multi.filter(k >= 3)
        .select(
            *keys,
            "_h0",
            *[f"_base_{v}" for v in values],
            *[f"_plus_{v}" for v in values],
            _i=pl.int_ranges(1, pl.when(any_quotient).then(n_inner).otherwise(most_plus) + 1),
        )
        .explode("_i")
        .select(
            *keys,
            (pl.col("_h0") + i).alias(HOUR_INDEX),
            *[
                (
                    pl.col(f"_base_{v}")
                    + pl.when(i <= pl.col(f"_plus_{v}").abs())
                    .then(pl.col(f"_plus_{v}").sign())
                    .otherwise(0)
                ).alias(v)
                for v in values
            ],
        )
    )
    nonzero = pl.any_horizontal(*[pl.col(v) != 0 for v in values]).fill_null(False)
    return pl.concat([single, first, last, inner]).filter(nonzero)


def apportion_frame(
    df: pl.DataFrame | pl.LazyFrame,
    start_col: str,
    end_col: str,
    value_cols: Sequence[str],
    key_cols: Sequence[str],
) -> pl.DataFrame:
    """Apportion every row's values over `[start_col, end_col)` and sum per (key, hour).

    Each value column is split independently (a null contributes nothing to its column).
    Returns `key_cols`, `hour` (UTC), `value_cols` as non-null Int64, sorted by key and hour,
    without rows whose values are all zero.
    """
    lf = df.lazy()
    keys, values = list(key_cols), list(value_cols)
    backwards, too_large = (
        lf.select(
            (pl.col(end_col) < pl.col(start_col)).sum(),
            pl.any_horizontal(*[pl.col(v).abs() > MAX_ABS_VALUE for v in values]).sum(),
        )
        .collect()
        .row(0)
    )
    if backwards:
        raise ValueError(f"{backwards} interval(s) end before they start")
    if too_large:
        raise ValueError(f"{too_large} row(s) hold a value beyond ±{MAX_ABS_VALUE}")
    pieces = apportion_pieces(
        lf, start_col=start_col, end_col=end_col, value_cols=values, key_cols=keys
    )
    return (
        pieces.group_by(*keys, HOUR_INDEX)
        .agg(pl.col(v).sum() for v in values)
        .filter(pl.any_horizontal(*[pl.col(v) != 0 for v in values]))
        .sort(*keys, HOUR_INDEX)
        .select(*keys, hour_index_to_datetime(pl.col(HOUR_INDEX)).alias("hour"), *values)
        .collect()
    )
