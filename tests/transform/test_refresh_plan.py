"""The incremental plan on small hand-made frames, in memory: what a run recomputes and rewrites.

Every expected plan is worked out by hand in the comments (docs/incremental.md gives the rules);
no test here reads or writes a warehouse. 2026-03-01 is a Sunday, so weeks start on Feb 23,
Mar 2 and Mar 9.
"""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from metrics.model.tables import CATALOG_ACCOUNTS, FOLLOWER_OBSERVATIONS, POST_OBSERVATIONS, POSTS
from metrics.transform import plan
from metrics.transform.plan import THE_END
from metrics.warehouse.ledger import Ledger


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def d(text: str) -> date:
    return date.fromisoformat(text)


def snapshot(post: str, when: str, landed: str, **metrics: int | None) -> dict:
    return {
        "platform_post_id": post,
        "platform": post.split("_")[0],
        "social_account_id": "acc_a",
        "collected_at": at(when),
        "landing_file": f"{landed}/a.jsonl",
        "line": 1,
        **metrics,
    }


def frames(rows: list[dict], landing: list[str]) -> tuple[pl.DataFrame, pl.DataFrame, list[date]]:
    """(new snapshots, lookback, landing dates): the lookback is every row collected from the
    lookback start on, as refresh.py reads it; the new snapshots are the rows landed in
    `landing`."""
    every = pl.DataFrame(rows, schema=POST_OBSERVATIONS)
    new = every.filter(pl.col("landing_file").str.slice(0, 10).is_in(landing)).select(
        "platform_post_id", "collected_at"
    )
    start = plan.lookback_start(new)
    assert start is not None
    return new, every.filter(pl.col("collected_at") >= start), [d(x) for x in landing]


def post(
    post_id: str, published: str | None, first_seen: str, known_since: str | None = None
) -> dict:
    return {
        "platform_post_id": post_id,
        "platform": post_id.split("_")[0],
        "social_account_id": "acc_a",
        "published_at": at(published) if published else None,
        "first_seen_at": at(first_seen),
        "last_seen_at": at(first_seen),
        "published_known_since": d(known_since) if known_since else None,
    }


def posts(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=POSTS)


NO_DAYS = pl.DataFrame(
    schema={
        "platform_post_id": pl.String(),
        "period_start": POST_OBSERVATIONS["collected_at"],
        "period_end": POST_OBSERVATIONS["collected_at"],
    }
)


def rows(df: pl.DataFrame) -> list[tuple]:
    return list(df.iter_rows())


# --- post_hourly ---------------------------------------------------------------------------


def test_a_missing_instagram_insight_bounds_each_metric_by_its_own_last_value() -> None:
    # tests/transform/test_incremental.py end to end: views known at Mar 5 06:00, missing at
    # 12:00 (no insights), known again in the new pull of Mar 6 06:00. The earliest new snapshot is
    # e = Mar 6 06:00, so the lookback starts at Mar 4 00:00.
    new, lookback, landing = frames(
        [
            snapshot("ig_42", "2026-03-01T06:00", "2026-03-01", views=5, likes=1),
            snapshot("ig_42", "2026-03-04T06:00", "2026-03-04", views=8, likes=1),
            snapshot("ig_42", "2026-03-05T06:00", "2026-03-05", views=10, likes=1),
            snapshot("ig_42", "2026-03-05T12:00", "2026-03-05", views=None, likes=2),
            snapshot("ig_42", "2026-03-06T06:00", "2026-03-06", views=34, likes=3),
        ],
        ["2026-03-06"],
    )
    known = posts(post("ig_42", "2026-03-01T05:00", "2026-03-01T06:00", "2026-03-01"))
    got = plan.plan_hourly(landing, new, lookback, NO_DAYS, known)

    assert got.lookback_start == at("2026-03-04T00:00")
    # t_prev(views) = Mar 5 06:00, t_prev(likes) = Mar 5 12:00; the other metrics are never
    # known, so they bound nothing: cut = floor(min) = Mar 5 06:00, not 12:00 as the last pull
    # of any metric would say. t_anchor(views) = t_anchor(likes) = Mar 4 06:00, in the lookback.
    assert rows(got.from_anchor) == [("ig_42", at("2026-03-04T06:00"), at("2026-03-05T06:00"))]
    assert got.from_scratch.is_empty()
    assert rows(got.regions) == [("ig_42", at("2026-03-05T06:00"), THE_END)]
    assert got.posts_recomputed == 1


def test_a_late_file_cuts_at_the_floor_hour_of_the_previous_snapshot() -> None:
    # Mar 3 06:10, Mar 4 06:20 and Mar 4 18:40 are known; a late file landing on Mar 6 holds
    # Mar 4 12:05, between the last two. e = Mar 4 12:05 (lookback from Mar 2 00:00),
    # t_prev = Mar 4 06:20, so cut = Mar 4 06:00; the last snapshot before the cut is Mar 3 06:10.
    new, lookback, landing = frames(
        [
            snapshot("tiktok_7", "2026-03-03T06:10", "2026-03-03", views=10, likes=1),
            snapshot("tiktok_7", "2026-03-04T06:20", "2026-03-04", views=20, likes=2),
            snapshot("tiktok_7", "2026-03-04T18:40", "2026-03-04", views=40, likes=4),
            snapshot("tiktok_7", "2026-03-04T12:05", "2026-03-06", views=30, likes=3),
        ],
        ["2026-03-06"],
    )
    known = posts(post("tiktok_7", "2026-03-01T00:30", "2026-03-01T01:00", "2026-03-01"))
    got = plan.plan_hourly(landing, new, lookback, NO_DAYS, known)

    assert got.lookback_start == at("2026-03-02T00:00")
    assert rows(got.from_anchor) == [("tiktok_7", at("2026-03-03T06:10"), at("2026-03-04T06:00"))]
    assert got.from_scratch.is_empty()
    assert rows(got.regions) == [("tiktok_7", at("2026-03-04T06:00"), THE_END)]


# x_1 was first seen on Feb 20 and has a snapshot on Mar 4 06:00; x_2's whole history is from
# Mar 4 10:00 on. e = Mar 6 06:00 for both, so the lookback starts at Mar 4 00:00.
TWO_POSTS = [
    snapshot("x_1", "2026-02-20T10:00", "2026-02-20", views=1),
    snapshot("x_1", "2026-03-04T06:00", "2026-03-04", views=3),
    snapshot("x_1", "2026-03-05T06:00", "2026-03-05", views=5),
    snapshot("x_1", "2026-03-06T06:00", "2026-03-06", views=9),
    snapshot("x_2", "2026-03-04T10:00", "2026-03-04", views=2),
    snapshot("x_2", "2026-03-06T06:00", "2026-03-06", views=4),
]


def test_posts_with_known_publication_keep_their_bounds() -> None:
    # x_1: t_prev = Mar 5 06:00 = cut, anchor Mar 4 06:00 (in the lookback). x_2, whole in the
    # lookback, is rebuilt from all of it (no anchor) from its first hour, min(published
    # Mar 4 09:15, first seen 10:00) floored = Mar 4 09:00.
    new, lookback, landing = frames(TWO_POSTS, ["2026-03-06"])
    known = posts(
        post("x_1", "2026-02-19T23:30", "2026-02-20T10:00", "2026-02-20"),
        post("x_2", "2026-03-04T09:15", "2026-03-04T10:00", "2026-03-04"),
    )
    got = plan.plan_hourly(landing, new, lookback, NO_DAYS, known)

    assert got.lookback_start == at("2026-03-04T00:00")
    assert got.from_scratch.is_empty()
    assert rows(got.from_anchor) == [
        ("x_1", at("2026-03-04T06:00"), at("2026-03-05T06:00")),
        ("x_2", None, at("2026-03-04T09:00")),
    ]


def test_a_republished_post_is_rebuilt_from_its_first_hour() -> None:
    # The same posts, with both publication times learned in this run (known since Mar 6): the
    # first value moves to the publication hour.
    # - x_1's history starts before the lookback: read in full, rebuilt from the hour of
    #   min(published Feb 19 23:30, first seen Feb 20 10:00) = Feb 19 23:00.
    # - x_2's whole history is in the lookback: rebuilt from it as before, from Mar 4 09:00.
    new, lookback, landing = frames(TWO_POSTS, ["2026-03-06"])
    known = posts(
        post("x_1", "2026-02-19T23:30", "2026-02-20T10:00", "2026-03-06"),
        post("x_2", "2026-03-04T09:15", "2026-03-04T10:00", "2026-03-06"),
    )
    got = plan.plan_hourly(landing, new, lookback, NO_DAYS, known)

    assert rows(got.from_scratch) == [("x_1", at("2026-02-19T23:00"))]
    assert rows(got.from_anchor) == [("x_2", None, at("2026-03-04T09:00"))]
    assert rows(got.regions) == [
        ("x_1", at("2026-02-19T23:00"), THE_END),
        ("x_2", at("2026-03-04T09:00"), THE_END),
    ]
    assert got.posts_recomputed == 2


def test_a_snapshot_closing_a_gap_of_weeks_is_read_in_full() -> None:
    # The last snapshot before the new one is Feb 1, outside the lookback (from Mar 4).
    new, lookback, landing = frames(
        [
            snapshot("tiktok_9", "2026-02-01T08:45", "2026-02-01", views=1),
            snapshot("tiktok_9", "2026-03-06T06:00", "2026-03-06", views=7),
        ],
        ["2026-03-06"],
    )
    known = posts(post("tiktok_9", None, "2026-02-01T08:45"))
    got = plan.plan_hourly(landing, new, lookback, NO_DAYS, known)

    assert rows(got.from_scratch) == [("tiktok_9", at("2026-02-01T08:00"))]
    assert got.from_anchor.is_empty()
    assert rows(got.regions) == [("tiktok_9", at("2026-02-01T08:00"), THE_END)]


def test_a_new_post_is_rebuilt_whole_from_the_lookback() -> None:
    # First seen in this run (Mar 6 07:10, published 06:50): its whole history is in the
    # lookback, so it is rebuilt from all of it, from its publication hour.
    new, lookback, landing = frames(
        [
            snapshot("tiktok_3", "2026-03-06T07:10", "2026-03-06", views=4),
            snapshot("tiktok_3", "2026-03-06T19:10", "2026-03-06", views=9),
        ],
        ["2026-03-06"],
    )
    known = posts(post("tiktok_3", "2026-03-06T06:50", "2026-03-06T07:10", "2026-03-06"))
    got = plan.plan_hourly(landing, new, lookback, NO_DAYS, known)

    assert got.from_scratch.is_empty()
    assert rows(got.from_anchor) == [("tiktok_3", None, at("2026-03-06T06:00"))]


def test_a_snapshot_knowing_no_metric_rebuilds_nothing() -> None:
    # The new pull knows no metric (every one missing): no increment can change, so the cut is
    # the end of time and the region is empty.
    new, lookback, landing = frames(
        [
            snapshot("x_5", "2026-03-05T06:00", "2026-03-05", views=3),
            snapshot("x_5", "2026-03-06T06:00", "2026-03-06"),
        ],
        ["2026-03-06"],
    )
    known = posts(post("x_5", "2026-02-01T00:00", "2026-02-01T00:00", "2026-02-01"))
    got = plan.plan_hourly(landing, new, lookback, NO_DAYS, known)

    assert rows(got.from_anchor) == [("x_5", None, THE_END)]
    assert rows(got.regions) == [("x_5", THE_END, THE_END)]


def test_youtube_rows_replace_only_their_own_days() -> None:
    # Two Pacific days (08:00 UTC in March before DST) revised on Mar 7: the hours of exactly
    # those days, read from the landing date before the first (every revision lands after it).
    new_days = pl.DataFrame(
        {
            "platform_post_id": ["youtube_1", "youtube_1"],
            "period_start": [at("2026-03-05T08:00"), at("2026-03-06T08:00")],
            "period_end": [at("2026-03-06T08:00"), at("2026-03-07T08:00")],
        },
        schema=NO_DAYS.schema,
    )
    none = pl.DataFrame(schema=POST_OBSERVATIONS)
    got = plan.plan_hourly(
        [d("2026-03-07")], none.select("platform_post_id", "collected_at"), none, new_days, posts()
    )

    assert got.lookback_start is None
    assert got.youtube_from == d("2026-03-04")
    spans = [("youtube_1", at("2026-03-05T08:00"), at("2026-03-07T08:00"))]
    assert rows(got.youtube_spans) == spans
    assert rows(got.regions) == spans
    assert got.posts_recomputed == 1 and not got.is_empty


# --- rollups -------------------------------------------------------------------------------

ACCOUNTS = pl.DataFrame(
    [
        {
            "social_account_id": "acc_a",
            "platform": "tiktok",
            "native_id": "1",
            "handle": "a",
            "project_layer_id": "lay_1",
            "layer_kind": "brand",
            "project_id": "prj_1",
            "org_id": "org_1",
        }
    ],
    schema=CATALOG_ACCOUNTS,
)
BUILT = plan.catalog_hash(ACCOUNTS)
# post_hourly holds Mar 1..Mar 10.
HOURLY_DAYS = [d("2026-03-01") + timedelta(days=i) for i in range(10)]
MARCH = posts(post("tiktok_1", "2026-03-01T10:00", "2026-03-01T11:00", "2026-03-01"))


def follower(account: str, when: str, landed: str) -> dict:
    return {
        "social_account_id": account,
        "platform": "tiktok",
        "collected_at": at(when),
        "landing_file": f"{landed}/f.jsonl",
        "line": 1,
        "followers": 100,
        "landing_date": d(landed),
    }


def followers(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema={**FOLLOWER_OBSERVATIONS, "landing_date": pl.Date()})


KNOWN_FOLLOWERS = followers(
    follower("acc_a", "2026-03-02T09:00", "2026-03-02"),
    follower("acc_a", "2026-03-04T09:00", "2026-03-04"),
)


def days(first: str, last: str) -> list[date]:
    n = (d(last) - d(first)).days + 1
    return [d(first) + timedelta(days=i) for i in range(n)]


def test_owed_ledger_days_join_the_touched_days() -> None:
    # Owed: Mar 3 (a post_hourly day a dead run rewrote) and its landing date. This run learns
    # the publication time of a post published Feb 26: that day is touched too.
    owed = Ledger(
        rollup_days={d("2026-03-03"): 7}, rollup_landing={d("2026-03-03"): 7}, catalog_hash=BUILT
    )
    known = pl.concat(
        [MARCH, posts(post("tiktok_2", "2026-02-26T12:00", "2026-03-07T00:00", "2026-03-08"))]
    )
    hourly = [d("2026-02-26"), *HOURLY_DAYS]
    got = plan.plan_rollups([d("2026-03-08")], owed, known, KNOWN_FOLLOWERS, ACCOUNTS, hourly)

    assert got.landing == [d("2026-03-03"), d("2026-03-08")]
    assert not got.full_rebuild and got.catalog_hash == BUILT
    assert got.days == [d("2026-02-26"), d("2026-03-03")]
    assert got.weeks == [d("2026-02-23"), d("2026-03-02")]
    # The post_hourly days of both weeks that exist: Feb 26, then Mar 1 .. Mar 8.
    assert got.hourly_days == [d("2026-02-26"), *days("2026-03-01", "2026-03-08")]
    assert got.follower_start == at("2026-02-23T00:00")


def test_a_new_follower_snapshot_touches_the_days_from_its_own() -> None:
    # acc_a's snapshot of Mar 4 landed on Mar 4 and it is not the account's first: F changes
    # from Mar 4 to the last day with data (Mar 10).
    got = plan.plan_rollups(
        [d("2026-03-04")], Ledger(catalog_hash=BUILT), MARCH, KNOWN_FOLLOWERS, ACCOUNTS, HOURLY_DAYS
    )

    assert got.days == days("2026-03-04", "2026-03-10")
    assert got.weeks == [d("2026-03-02"), d("2026-03-09")]
    assert got.follower_start == at("2026-03-02T00:00")


def test_a_first_follower_snapshot_touches_every_day_from_the_first() -> None:
    # acc_b's first snapshot (Mar 5, landed Mar 6): F before it is its value, so every day from
    # the first with data (Mar 1) changes.
    every = pl.concat(
        [KNOWN_FOLLOWERS, followers(follower("acc_b", "2026-03-05T09:00", "2026-03-06"))]
    )
    got = plan.plan_rollups(
        [d("2026-03-06")], Ledger(catalog_hash=BUILT), MARCH, every, ACCOUNTS, HOURLY_DAYS
    )

    assert not got.full_rebuild
    assert got.days == days("2026-03-01", "2026-03-10")
    assert got.weeks == [d("2026-02-23"), d("2026-03-02"), d("2026-03-09")]
    assert got.follower_start == at("2026-02-23T00:00")


def test_a_catalog_change_rebuilds_every_rollup_partition() -> None:
    # Nothing owed, nothing new; but acc_a moved to another layer since the rollups were built.
    moved = ACCOUNTS.with_columns(project_layer_id=pl.lit("lay_2"))
    got = plan.plan_rollups(
        [d("2026-03-11")], Ledger(catalog_hash=BUILT), MARCH, KNOWN_FOLLOWERS, moved, HOURLY_DAYS
    )

    assert got.full_rebuild and got.catalog_hash == plan.catalog_hash(moved) != BUILT
    assert got.days == HOURLY_DAYS  # every day with post_hourly, a publication or a snapshot
    assert got.weeks == [d("2026-02-23"), d("2026-03-02"), d("2026-03-09")]
    # No hash at all (a warehouse whose rollups were never built) rebuilds them too.
    assert plan.plan_rollups(
        [], Ledger(), MARCH, KNOWN_FOLLOWERS, ACCOUNTS, HOURLY_DAYS
    ).full_rebuild


def test_nothing_owed_and_nothing_new_touches_nothing() -> None:
    got = plan.plan_rollups(
        [d("2026-03-11")], Ledger(catalog_hash=BUILT), MARCH, KNOWN_FOLLOWERS, ACCOUNTS, HOURLY_DAYS
    )

    assert (got.days, got.weeks, got.hourly_days) == ([], [], [])
    assert got.follower_start == datetime.combine(date.max, datetime.min.time(), tzinfo=UTC)


def test_the_plan_never_reaches_the_disk() -> None:
    """plan.py imports no reader or writer: only the model and the ledger's record type."""
    source = Path(plan.__file__).read_text()
    imported = {
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    metrics_imports = {m for m in imported if m.startswith("metrics.")}
    assert metrics_imports <= {
        "metrics.model.measures.POST_METRICS",
        "metrics.model.tables.UTC_TS",
        "metrics.warehouse.ledger.Ledger",
    }
