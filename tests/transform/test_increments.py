"""spec §3.1 and §3.2: hourly increments per post."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import given, settings

from metrics.model import tables as schema
from metrics.transform.apportion import apportion
from metrics.transform.increments import post_hourly

METRICS = schema.POST_METRICS
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(seconds=round(hours * 3600))


def lifetime(*rows: dict[str, Any]) -> pl.DataFrame:
    defaults = {"platform": "x", "social_account_id": "acc_1", "landing_file": "x/f.jsonl"}
    filled = [{**defaults, **{m: None for m in METRICS}, **r} for r in rows]
    for i, r in enumerate(filled):
        r.setdefault("line", i + 1)
    return pl.DataFrame(filled, schema=schema.POST_OBSERVATIONS)


def per_day(*rows: dict[str, Any]) -> pl.DataFrame:
    defaults = {"platform": "youtube", "social_account_id": "acc_1", "landing_file": "y/f.jsonl"}
    filled = [{**defaults, **{m: None for m in METRICS}, **r} for r in rows]
    for i, r in enumerate(filled):
        r.setdefault("line", i + 1)
    return pl.DataFrame(filled, schema=schema.PERIOD_OBSERVATIONS)


def posts(published: dict[str, datetime | None]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"platform_post_id": p, "published_at": t} for p, t in published.items()],
        schema={"platform_post_id": pl.String, "published_at": schema.UTC_TS},
    )


NO_PERIODS = schema.empty(schema.PERIOD_OBSERVATIONS)
NO_LIFETIME = schema.empty(schema.POST_OBSERVATIONS)


def hourly(frame: pl.DataFrame, *metrics: str) -> list[tuple[Any, ...]]:
    return frame.select("platform_post_id", "hour", *metrics).rows()


def test_schema_sorting_and_zero_fill() -> None:
    obs = lifetime(
        {"platform_post_id": "p2", "collected_at": at(1.5), "views": 3},
        {"platform_post_id": "p1", "collected_at": at(0.5), "likes": 2},
    )
    got = post_hourly(obs, NO_PERIODS, posts({}))
    assert got.schema == pl.Schema(schema.POST_HOURLY)
    assert got.rows() == [
        ("p1", at(0), 0, 0, 0, 2, 0, 0, 0, 0),
        ("p2", at(1), 3, 0, 0, 0, 0, 0, 0, 0),
    ]


def test_empty_and_lazy_inputs() -> None:
    got = post_hourly(NO_LIFETIME.lazy(), NO_PERIODS.lazy(), schema.empty(schema.POSTS).lazy())
    assert got.schema == pl.Schema(schema.POST_HOURLY)
    assert got.height == 0


def test_refuses_inputs_it_cannot_count_exactly() -> None:
    huge = lifetime({"platform_post_id": "p", "collected_at": at(1), "views": 2**61})
    with pytest.raises(ValueError, match="beyond"):
        post_hourly(huge, NO_PERIODS, posts({}))
    backwards = per_day(_yt_day(date(2026, 3, 1), at(8), at(7), views=1, collected_at=at(50)))
    with pytest.raises(ValueError, match="end before"):
        post_hourly(NO_LIFETIME, backwards, posts({}))
    with pytest.raises(ValueError, match="repeated"):
        post_hourly(NO_LIFETIME, NO_PERIODS, posts({"p": None}).vstack(posts({"p": at(1)})))


def test_first_value_goes_to_publication_hour_then_increments_apportioned() -> None:
    obs = lifetime(
        {"platform_post_id": "p", "collected_at": at(2.5), "views": 100},
        {"platform_post_id": "p", "collected_at": at(4.5), "views": 110},
    )
    got = post_hourly(obs, NO_PERIODS, posts({"p": at(0 + 10 / 60)}))
    # 100 into 00:00 (published 00:10); +10 over [02:30, 04:30): 3/5/2 as in §3.3.
    assert hourly(got, "views") == [
        ("p", at(0), 100),
        ("p", at(2), 3),
        ("p", at(3), 5),
        ("p", at(4), 2),
    ]


def test_published_after_first_snapshot_uses_snapshot_hour() -> None:
    obs = lifetime({"platform_post_id": "p", "collected_at": at(5.5), "views": 7})
    got = post_hourly(obs, NO_PERIODS, posts({"p": at(6)}))
    assert hourly(got, "views") == [("p", at(5), 7)]


def test_unknown_publication_uses_snapshot_hour() -> None:
    obs = lifetime(
        {"platform_post_id": "null_pub", "collected_at": at(5.5), "views": 7},
        {"platform_post_id": "not_in_posts", "collected_at": at(3.25), "views": 4},
    )
    got = post_hourly(obs, NO_PERIODS, posts({"null_pub": None}))
    assert hourly(got, "views") == [("not_in_posts", at(3), 4), ("null_pub", at(5), 7)]


def test_duplicate_collected_at_later_file_then_line_wins() -> None:
    obs = lifetime(
        # same instant in two files: the later path wins, whatever the line numbers
        {"platform_post_id": "p", "collected_at": at(1.5), "views": 70,
         "landing_file": "x/2026-03-01/a.jsonl", "line": 9},
        {"platform_post_id": "p", "collected_at": at(1.5), "views": 50,
         "landing_file": "x/2026-03-02/a.jsonl", "line": 1},
        # same instant, same file: the later line wins
        {"platform_post_id": "q", "collected_at": at(1.5), "views": 8,
         "landing_file": "x/2026-03-01/a.jsonl", "line": 3},
        {"platform_post_id": "q", "collected_at": at(1.5), "views": 6,
         "landing_file": "x/2026-03-01/a.jsonl", "line": 2},
    )  # fmt: skip
    got = post_hourly(obs, NO_PERIODS, posts({}))
    assert hourly(got, "views") == [("p", at(1), 50), ("q", at(1), 8)]


def test_duplicate_winner_with_null_metric_hides_the_loser() -> None:
    # Decision: the winning snapshot is the snapshot of that instant; its unknown metric
    # stays unknown rather than being taken from the losing duplicate.
    obs = lifetime(
        {"platform_post_id": "p", "collected_at": at(1.5), "views": 10, "likes": 5, "line": 1},
        {"platform_post_id": "p", "collected_at": at(1.5), "views": 11, "likes": None, "line": 2},
    )
    got = post_hourly(obs, NO_PERIODS, posts({}))
    assert hourly(got, "views", "likes") == [("p", at(1), 11, 0)]


def test_decrease_is_a_negative_increment() -> None:
    obs = lifetime(
        {"platform_post_id": "p", "collected_at": at(1.25), "likes": 10},
        {"platform_post_id": "p", "collected_at": at(2.25), "likes": 6},
    )
    got = post_hourly(obs, NO_PERIODS, posts({"p": at(1)}))
    # -4 over [01:15, 02:15): 45 min / 15 min -> -3 / -1
    assert hourly(got, "likes") == [("p", at(1), 7), ("p", at(2), -1)]


def test_unknown_metric_is_skipped_not_zero() -> None:
    obs = lifetime(
        {"platform_post_id": "p", "collected_at": at(0.5), "views": 100, "likes": 1},
        {"platform_post_id": "p", "collected_at": at(1.5), "views": None, "likes": 3},
        {"platform_post_id": "p", "collected_at": at(3.5), "views": 130, "likes": 3},
    )
    got = post_hourly(obs, NO_PERIODS, posts({"p": at(0)}))
    # views: +30 over [00:30, 03:30): 5/10/10/5 of 30. likes: +2 over [00:30, 01:30): 1/1.
    assert hourly(got, "views", "likes") == [
        ("p", at(0), 105, 2),
        ("p", at(1), 10, 1),
        ("p", at(2), 10, 0),
        ("p", at(3), 5, 0),
    ]


def test_metric_first_known_later_goes_to_publication_hour() -> None:
    obs = lifetime(
        {"platform_post_id": "p", "collected_at": at(5.5), "views": 10},
        {"platform_post_id": "p", "collected_at": at(6.5), "views": 20, "reach": 9},
    )
    got = post_hourly(obs, NO_PERIODS, posts({"p": at(1)}))
    assert hourly(got, "views", "reach") == [
        ("p", at(1), 10, 9),
        ("p", at(5), 5, 0),
        ("p", at(6), 5, 0),
    ]


def test_hours_netting_to_zero_are_omitted() -> None:
    obs = lifetime(
        {"platform_post_id": "p", "collected_at": at(0.25), "views": 10},
        {"platform_post_id": "p", "collected_at": at(1.25), "views": 12},
        {"platform_post_id": "p", "collected_at": at(1.5), "views": 11},
    )
    got = post_hourly(obs, NO_PERIODS, posts({"p": at(0)}))
    # +2 over [00:15, 01:15) -> 2/0... (45 min vs 15 min: 1.5/0.5 -> 2/0); then -1 in 01:00.
    assert hourly(got, "views") == [("p", at(0), 12), ("p", at(1), -1)]


def _yt_day(d: date, start: datetime, end: datetime, **values: Any) -> dict[str, Any]:
    return {"platform_post_id": "v", "day": d, "period_start": start, "period_end": end, **values}


def test_per_day_row_over_its_pacific_day() -> None:
    rows = per_day(
        _yt_day(date(2026, 4, 1), at(24 * 31 + 7), at(24 * 32 + 7), views=48, collected_at=at(900))
    )
    got = post_hourly(NO_LIFETIME, rows, posts({"v": at(0)}))
    assert hourly(got, "views") == [("v", at(24 * 31 + 7 + i), 2) for i in range(24)]


def test_per_day_dst_days_use_23_and_25_hours() -> None:
    spring = (datetime(2026, 3, 8, 8, tzinfo=UTC), datetime(2026, 3, 9, 7, tzinfo=UTC))
    autumn = (datetime(2026, 11, 1, 7, tzinfo=UTC), datetime(2026, 11, 2, 8, tzinfo=UTC))
    rows = per_day(
        _yt_day(date(2026, 3, 8), *spring, views=100, collected_at=at(24 * 10)),
        _yt_day(date(2026, 11, 1), *autumn, views=60, collected_at=at(24 * 300)),
    )
    got = post_hourly(NO_LIFETIME, rows, posts({}))
    spring_hours = [spring[0] + timedelta(hours=i) for i in range(23)]
    autumn_hours = [autumn[0] + timedelta(hours=i) for i in range(25)]
    assert hourly(got, "views") == [
        *[("v", h, 5 if i < 8 else 4) for i, h in enumerate(spring_hours)],
        *[("v", h, 3 if i < 10 else 2) for i, h in enumerate(autumn_hours)],
    ]


def test_per_day_revision_replaces_whole_row() -> None:
    d, start, end = date(2026, 3, 2), at(24 + 8), at(48 + 8)
    rows = per_day(
        _yt_day(d, start, end, views=24, likes=24, collected_at=at(100), line=1),
        # later collection wins, and its unknown likes are unknown (not the old 24)
        _yt_day(d, start, end, views=48, likes=None, collected_at=at(200), line=2),
        # an older collection arriving later changes nothing
        _yt_day(d, start, end, views=96, likes=96, collected_at=at(150), line=3),
    )
    got = post_hourly(NO_LIFETIME, rows, posts({}))
    assert hourly(got, "views", "likes") == [("v", at(32 + i), 2, 0) for i in range(24)]


def test_per_day_tie_goes_to_later_file_and_line() -> None:
    d, start, end = date(2026, 3, 2), at(24 + 8), at(48 + 8)
    rows = per_day(
        _yt_day(d, start, end, views=24, collected_at=at(100), landing_file="y/2", line=1),
        _yt_day(d, start, end, views=-48, collected_at=at(100), landing_file="y/1", line=9),
    )
    got = post_hourly(NO_LIFETIME, rows, posts({}))
    assert hourly(got, "views") == [("v", at(32 + i), 1) for i in range(24)]


def test_post_with_both_sources_is_summed() -> None:
    obs = lifetime({"platform_post_id": "v", "collected_at": at(3.5), "views": 5})
    rows = per_day(_yt_day(date(2026, 3, 1), at(3), at(4), views=7, collected_at=at(50)))
    got = post_hourly(obs, rows, posts({"v": None}))
    assert hourly(got, "views") == [("v", at(3), 12)]


# --- reference implementation and properties ---------------------------------------------


def reference(
    obs: list[dict[str, Any]], periods: list[dict[str, Any]], published: dict[str, datetime | None]
) -> dict[tuple[str, datetime], dict[str, int]]:
    """§3.1/§3.2 spelt out with the scalar `apportion`, one row at a time."""
    out: dict[tuple[str, datetime], dict[str, int]] = defaultdict(lambda: dict.fromkeys(METRICS, 0))

    def add(post: str, n: int, start: datetime, end: datetime, metric: str) -> None:
        for hour, share in apportion(n, start, end):
            out[post, hour][metric] += share

    winners: dict[tuple[str, datetime], dict[str, Any]] = {}
    for r in sorted(obs, key=lambda r: (r["landing_file"], r["line"])):
        winners[r["platform_post_id"], r["collected_at"]] = r
    by_post: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (post, _), r in sorted(winners.items()):
        by_post[post].append(r)
    for post, snaps in by_post.items():
        for m in METRICS:
            known = [(r["collected_at"], r[m]) for r in snaps if r.get(m) is not None]
            if not known:
                continue
            t1, v1 = known[0]
            pub = published.get(post)
            anchor = pub if pub is not None and pub <= t1 else t1
            add(post, v1, anchor, anchor, m)
            for (ta, va), (tb, vb) in pairwise(known):
                add(post, vb - va, ta, tb, m)

    latest: dict[tuple[str, date], dict[str, Any]] = {}
    for r in sorted(periods, key=lambda r: (r["collected_at"], r["landing_file"], r["line"])):
        latest[r["platform_post_id"], r["day"]] = r
    for (post, _), r in latest.items():
        for m in METRICS:
            if r.get(m) is not None:
                add(post, r[m], r["period_start"], r["period_end"], m)
    return {k: v for k, v in out.items() if any(v.values())}


values = st.one_of(st.none(), st.integers(0, 10**9))
small_metrics = st.fixed_dictionaries({m: values for m in ("views", "likes", "saves")})


@st.composite
def lifetime_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for line in range(draw(st.integers(0, 25))):
        rows.append(
            {
                "platform_post_id": draw(st.sampled_from(["p1", "p2", "p3"])),
                # a coarse grid of instants so duplicates are common
                "collected_at": T0 + timedelta(seconds=draw(st.integers(0, 40)) * 1777),
                # (file, line) is unique, as in the landing zone
                "landing_file": draw(st.sampled_from(["x/2026-03-01/a", "x/2026-03-02/a"])),
                "line": line,
                **draw(small_metrics),
            }
        )
    return rows


@st.composite
def period_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for line in range(draw(st.integers(0, 10))):
        day = draw(st.integers(0, 3))
        start = T0 + timedelta(hours=24 * day + 8)
        hours = draw(st.sampled_from([23, 24, 25]))
        rows.append(
            {
                "platform_post_id": draw(st.sampled_from(["v1", "p1"])),
                "day": date(2026, 3, 1) + timedelta(days=day),
                "period_start": start,
                "period_end": start + timedelta(hours=hours),
                "collected_at": T0 + timedelta(days=draw(st.integers(5, 7))),
                "landing_file": draw(st.sampled_from(["y/a", "y/b"])),
                "line": line,
                "views": draw(st.one_of(st.none(), st.integers(-(10**6), 10**6))),
                "likes": draw(st.one_of(st.none(), st.integers(-5, 5))),
            }
        )
    return rows


publications = st.fixed_dictionaries(
    {
        p: st.one_of(st.none(), st.integers(-5, 60).map(lambda h: T0 + timedelta(hours=h)))
        for p in ("p1", "p2", "v1")
    }
)


@settings(max_examples=40, deadline=None)
@given(obs=lifetime_rows(), periods=period_rows(), published=publications)
def test_matches_reference(
    obs: list[dict[str, Any]], periods: list[dict[str, Any]], published: dict[str, datetime | None]
) -> None:
    got = post_hourly(lifetime(*obs), per_day(*periods), posts(published))
    want = reference(obs, periods, published)
    assert {
        (r["platform_post_id"], r["hour"]): {m: r[m] for m in METRICS} for r in got.to_dicts()
    } == want
    assert got.select("platform_post_id", "hour").is_duplicated().sum() == 0


@settings(max_examples=15, deadline=None)
@given(obs=lifetime_rows(), published=publications)
def test_sum_over_time_is_last_lifetime_value(
    obs: list[dict[str, Any]], published: dict[str, datetime | None]
) -> None:
    frame = lifetime(*obs)
    got = post_hourly(frame, NO_PERIODS, posts(published))
    totals = got.group_by("platform_post_id").agg(pl.col(m).sum() for m in METRICS)
    last_known = (
        frame.sort("platform_post_id", "collected_at", "landing_file", "line")
        .unique(["platform_post_id", "collected_at"], keep="last", maintain_order=True)
        .group_by("platform_post_id", maintain_order=True)
        .agg(pl.col(m).drop_nulls().last().fill_null(0) for m in METRICS)
    )
    both = last_known.join(totals, on="platform_post_id", how="left", suffix="_sum").fill_null(0)
    for m in METRICS:
        assert both[m].to_list() == both[f"{m}_sum"].to_list()


@settings(max_examples=15, deadline=None)
@given(periods=period_rows())
def test_youtube_sum_is_sum_of_latest_day_rows(periods: list[dict[str, Any]]) -> None:
    frame = per_day(*periods)
    got = post_hourly(NO_LIFETIME, frame, posts({}))
    totals = got.group_by("platform_post_id").agg(pl.col(m).sum() for m in METRICS)
    latest = (
        frame.sort("collected_at", "landing_file", "line")
        .unique(["platform_post_id", "day"], keep="last", maintain_order=True)
        .group_by("platform_post_id")
        .agg(pl.col(m).sum() for m in METRICS)
    )
    both = latest.join(totals, on="platform_post_id", how="left", suffix="_sum").fill_null(0)
    for m in METRICS:
        assert (
            both.sort("platform_post_id")[m].to_list()
            == both.sort("platform_post_id")[f"{m}_sum"].to_list()
        )
