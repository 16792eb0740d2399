"""spec §3.3: hand-computed splits, properties, and vectorized == scalar reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import given, settings

from metrics.model.tables import UTC_TS
from metrics.transform.apportion import MAX_ABS_VALUE, apportion, apportion_frame

LA = ZoneInfo("America/Los_Angeles")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def shares(result: list[tuple[datetime, int]]) -> list[int]:
    return [v for _, v in result]


# --- hand-computed ------------------------------------------------------------------------


def test_half_hour_edges_ten() -> None:
    # overlaps 1800/3600/1800 of S=7200: exact 2.5/5/2.5; floors 2/5/2; remainders
    # 3600/0/3600; the one leftover unit goes to the earlier tied hour.
    got = apportion(10, utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 2, 30))
    assert got == [
        (utc(2026, 1, 1, 0), 3),
        (utc(2026, 1, 1, 1), 5),
        (utc(2026, 1, 1, 2), 2),
    ]


def test_sign_applied_last() -> None:
    got = apportion(-10, utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 2, 30))
    assert shares(got) == [-3, -5, -2]


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (7, [2, 3, 2]),  # floors 1/3/1, remainders 5400/3600/5400: two leftovers to the ends
        (1, [0, 1, 0]),  # remainders 1800/3600/1800: the middle hour is the largest
        (2, [1, 1, 0]),  # floors 0/1/0, remainders 3600/0/3600: tie goes to the earlier hour
        (0, [0, 0, 0]),
    ],
)
def test_largest_remainders(n: int, expected: list[int]) -> None:
    assert shares(apportion(n, utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 2, 30))) == expected


def test_small_count_over_long_gap() -> None:
    # -9 over [00:29:37, 09:52:20): every floor is 0; remainders 16407 (first, 1823 s),
    # 32400 (eight full hours), 28260 (last, 3140 s) of S=33763: units to the full hours, then
    # the last; the first hour gets none. Regression: a vectorized bug once gave hour 9 two.
    got = apportion(-9, utc(2026, 3, 1, 0, 29, 37), utc(2026, 3, 1, 9, 52, 20))
    assert shares(got) == [0] + [-1] * 9


def test_exact_hour_edges() -> None:
    # [01:00, 03:00): the hour starting at the end is not touched; 2.5/2.5 -> tie -> earlier.
    got = apportion(5, utc(2026, 1, 1, 1), utc(2026, 1, 1, 3))
    assert got == [(utc(2026, 1, 1, 1), 3), (utc(2026, 1, 1, 2), 2)]


def test_zero_length_goes_to_hour_of_start() -> None:
    assert apportion(5, utc(2026, 1, 1, 1, 15), utc(2026, 1, 1, 1, 15)) == [(utc(2026, 1, 1, 1), 5)]
    assert apportion(-4, utc(2026, 1, 1, 2), utc(2026, 1, 1, 2)) == [(utc(2026, 1, 1, 2), -4)]


def test_sub_hour_interval() -> None:
    assert apportion(9, utc(2026, 1, 1, 1, 10), utc(2026, 1, 1, 1, 50)) == [(utc(2026, 1, 1, 1), 9)]


def test_sub_second_parts_truncated() -> None:
    # 00:59:59.9 -> 00:59:59, 01:00:00.5 -> 01:00:00: overlaps 1 s and 0 s -> one hour only.
    start = utc(2026, 1, 1, 0, 59, 59) + timedelta(microseconds=900_000)
    end = utc(2026, 1, 1, 1) + timedelta(microseconds=500_000)
    assert apportion(3, start, end) == [(utc(2026, 1, 1, 0), 3)]


def test_other_zones_are_converted() -> None:
    start = datetime(2026, 1, 1, 1, 30, tzinfo=ZoneInfo("Europe/Berlin"))  # 00:30 UTC
    assert apportion(4, start, start + timedelta(hours=1)) == [
        (utc(2026, 1, 1, 0), 2),
        (utc(2026, 1, 1, 1), 2),
    ]


def test_rejects_naive_and_backwards() -> None:
    with pytest.raises(ValueError, match="zone"):
        apportion(1, datetime(2026, 1, 1), utc(2026, 1, 2))
    with pytest.raises(ValueError, match="ends before"):
        apportion(1, utc(2026, 1, 2), utc(2026, 1, 1))


def test_pacific_spring_forward_day_has_23_hours() -> None:
    start = datetime(2026, 3, 8, tzinfo=LA)
    end = datetime(2026, 3, 9, tzinfo=LA)
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (utc(2026, 3, 8, 8), utc(2026, 3, 9, 7))
    # 100 over 23 full hours: floor 4 each (92), equal remainders, 8 leftovers to the first 8.
    got = apportion(100, start, end)
    assert [h for h, _ in got] == [utc(2026, 3, 8, 8) + timedelta(hours=i) for i in range(23)]
    assert shares(got) == [5] * 8 + [4] * 15


def test_pacific_fall_back_day_has_25_hours() -> None:
    start = datetime(2026, 11, 1, tzinfo=LA)
    end = datetime(2026, 11, 2, tzinfo=LA)
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        utc(2026, 11, 1, 7),
        utc(2026, 11, 2, 8),
    )
    # 60 over 25 full hours: floor 2 each (50), 10 leftovers to the first 10 hours.
    got = apportion(60, start, end)
    assert [h for h, _ in got] == [utc(2026, 11, 1, 7) + timedelta(hours=i) for i in range(25)]
    assert shares(got) == [3] * 10 + [2] * 15


def test_frame_sums_per_key_and_hour() -> None:
    df = pl.DataFrame(
        {
            "k": ["a", "a", "b"],
            "start": [utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 1), utc(2026, 1, 1, 0)],
            "end": [utc(2026, 1, 1, 2, 30), utc(2026, 1, 1, 1), utc(2026, 1, 1, 0)],
            "x": [10, 4, 0],
            "y": [None, 1, None],
        },
        schema={"k": pl.String, "start": UTC_TS, "end": UTC_TS, "x": pl.Int64, "y": pl.Int64},
    )
    got = apportion_frame(df, "start", "end", ["x", "y"], ["k"])
    assert got.rows() == [
        ("a", utc(2026, 1, 1, 0), 3, 0),
        ("a", utc(2026, 1, 1, 1), 9, 1),
        ("a", utc(2026, 1, 1, 2), 2, 0),
    ]
    assert got.schema == pl.Schema(
        {"k": pl.String(), "hour": UTC_TS, "x": pl.Int64(), "y": pl.Int64()}
    )


def test_frame_rejects_backwards_interval() -> None:
    df = pl.DataFrame(
        {"k": [1], "s": [utc(2026, 1, 2)], "e": [utc(2026, 1, 1)], "x": [1]},
        schema={"k": pl.Int64, "s": UTC_TS, "e": UTC_TS, "x": pl.Int64},
    )
    with pytest.raises(ValueError, match="end before"):
        apportion_frame(df, "s", "e", ["x"], ["k"])


def test_frame_refuses_values_that_would_overflow() -> None:
    df = pl.DataFrame(
        {"k": [1], "s": [utc(2026, 1, 1)], "e": [utc(2026, 1, 2)], "x": [-(MAX_ABS_VALUE + 1)]},
        schema={"k": pl.Int64, "s": UTC_TS, "e": UTC_TS, "x": pl.Int64},
    )
    with pytest.raises(ValueError, match="beyond"):
        apportion_frame(df, "s", "e", ["x"], ["k"])
    exact = apportion_frame(df.with_columns(x=pl.lit(MAX_ABS_VALUE)), "s", "e", ["x"], ["k"])
    assert exact["x"].to_list() == shares(
        apportion(MAX_ABS_VALUE, utc(2026, 1, 1), utc(2026, 1, 2))
    )


# --- properties ---------------------------------------------------------------------------

BASE = utc(2026, 3, 1)

starts = st.one_of(
    st.integers(0, 30 * 86400),  # anywhere
    st.integers(0, 24 * 30).map(lambda h: h * 3600),  # on an hour edge
)
lengths = st.one_of(
    st.just(0),
    st.integers(1, 3600),  # sub-hour
    st.integers(1, 3 * 3600),  # a few hours
    st.integers(1, 4).map(lambda h: h * 3600),  # whole hours
    st.integers(1, 21 * 86400),  # up to three weeks
)
# Counts close to the number of hours spanned make every floor zero and spread the leftover
# units over the hours: the hardest case for the closed-form ranks.
near_hour_count = st.tuples(starts, st.integers(1, 48 * 3600), st.integers(-2, 2)).map(
    lambda t: (t[0], t[1], (t[1] // 3600 + t[2]) * (1 if t[0] % 2 else -1))
)
counts = st.one_of(
    st.integers(-40, 40), st.integers(-(10**6), 10**6), st.integers(-(10**12), 10**12)
)


def interval(start_s: int, length_s: int) -> tuple[datetime, datetime]:
    start = BASE + timedelta(seconds=start_s)
    return start, start + timedelta(seconds=length_s)


@given(n=counts, start_s=starts, length_s=lengths)
def test_parts_sum_to_n_and_stay_within_one_unit(n: int, start_s: int, length_s: int) -> None:
    start, end = interval(start_s, length_s)
    got = apportion(n, start, end)
    assert sum(shares(got)) == n
    total = length_s
    if total == 0:
        assert len(got) == 1
        return
    for hour, share in got:
        overlap = (min(end, hour + timedelta(hours=1)) - max(start, hour)).total_seconds()
        # |share - n*s/S| < 1, in integers
        assert abs(share * total - n * int(overlap)) < total


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 3),  # key: several intervals share a key
            starts,
            lengths,
            counts,
            st.one_of(st.none(), st.integers(-50, 50)),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_frame_equals_scalar(rows: list[tuple[int, int, int, int, int | None]]) -> None:
    expected: dict[tuple[int, datetime], list[int]] = {}
    records = []
    for key, start_s, length_s, n, m in rows:
        start, end = interval(start_s, length_s)
        records.append((key, start, end, n, m))
        for column, value in ((0, n), (1, m)):
            if value is None:
                continue
            for hour, share in apportion(value, start, end):
                expected.setdefault((key, hour), [0, 0])[column] += share
    df = pl.DataFrame(
        records,
        schema={"k": pl.Int64, "s": UTC_TS, "e": UTC_TS, "n": pl.Int64, "m": pl.Int64},
        orient="row",
    )
    got = apportion_frame(df, "s", "e", ["n", "m"], ["k"])
    want = sorted((k, h, v[0], v[1]) for (k, h), v in expected.items() if v != [0, 0])
    assert got.rows() == want


@settings(max_examples=60, deadline=None)
@given(cases=st.lists(near_hour_count, min_size=1, max_size=25))
def test_frame_equals_scalar_when_count_is_close_to_hours(
    cases: list[tuple[int, int, int]],
) -> None:
    records, want = [], []
    for key, (start_s, length_s, n) in enumerate(cases):
        start, end = interval(start_s, length_s)
        records.append((key, start, end, n))
        want += [(key, hour, share) for hour, share in apportion(n, start, end) if share]
    df = pl.DataFrame(
        records, schema={"k": pl.Int64, "s": UTC_TS, "e": UTC_TS, "n": pl.Int64}, orient="row"
    )
    assert apportion_frame(df, "s", "e", ["n"], ["k"]).rows() == want
