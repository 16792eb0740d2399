"""spec §4 rollups: hand-computed rows at every scope, and invariants on random data."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from metrics.model import tables as schema
from metrics.transform.followers import scope_follower_values_at
from metrics.transform.rollups import Granularity, build_rollups

METRICS = schema.POST_METRICS
ADDITIVE = [*METRICS, "posts_published"]
STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def catalog(rows: list[tuple[str, str, str, str]]) -> pl.DataFrame:
    """(account, layer, project, org) rows."""
    return pl.DataFrame(
        [
            {"social_account_id": a, "platform": "x", "native_id": a, "handle": a,
             "project_layer_id": lyr, "layer_kind": "social_content", "project_id": prj,
             "org_id": org}
            for a, lyr, prj, org in rows
        ],
        schema=schema.CATALOG_ACCOUNTS,
    )  # fmt: skip


def post_table(rows: list[tuple[str, str, datetime | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"platform_post_id": p, "platform": "x", "native_id": p, "social_account_id": a,
             "published_at": pub, "media_kind": "video"}
            for p, a, pub in rows
        ],
        schema=schema.POSTS,
    )  # fmt: skip


def hourly(rows: list[tuple[str, datetime, dict[str, int]]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"platform_post_id": p, "hour": h, **dict.fromkeys(METRICS, 0), **v} for p, h, v in rows],
        schema=schema.POST_HOURLY,
    )


def followers(rows: list[tuple[str, datetime, int, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"social_account_id": a, "platform": "x", "collected_at": t, "followers": f,
             "landing_file": lf, "line": line}
            for a, t, f, lf, line in rows
        ],
        schema=schema.FOLLOWER_OBSERVATIONS,
    )  # fmt: skip


# --- hand-computed ------------------------------------------------------------------------

ACCOUNTS = catalog(
    [
        ("acc_1", "lyr_1", "prj_1", "org_1"),
        ("acc_2", "lyr_2", "prj_1", "org_1"),
        ("acc_3", "lyr_3", "prj_2", "org_2"),
    ]
)
POSTS = post_table(
    [
        ("pst_x_1", "acc_1", utc(2026, 3, 2, 10, 15)),  # a Monday
        ("pst_x_2", "acc_2", utc(2026, 3, 1, 23, 30)),  # the Sunday before
        ("pst_x_3", "acc_1", None),  # never counted as published
        ("pst_x_4", "acc_3", utc(2026, 3, 3, 1)),  # published, no activity at all
        ("pst_x_9", "acc_gone", utc(2026, 3, 2, 11)),  # account not in the catalog
    ]
)
POST_HOURLY = hourly(
    [
        ("pst_x_1", utc(2026, 3, 2, 10), {"views": 100, "likes": 5}),
        ("pst_x_1", utc(2026, 3, 2, 23), {"views": 10}),
        ("pst_x_1", utc(2026, 3, 3, 0), {"views": -2}),
        ("pst_x_2", utc(2026, 3, 1, 23), {"views": 50}),
        ("pst_x_2", utc(2026, 3, 2, 0), {"views": 7, "saves": 1}),
        ("pst_x_3", utc(2026, 3, 2, 10), {"views": 1}),
        ("pst_x_9", utc(2026, 3, 2, 11), {"views": 1000}),
    ]
)
FOLLOWERS = followers(
    [
        ("acc_1", utc(2026, 3, 2, 9), 100, "x/2026-03-02/u", 1),
        ("acc_1", utc(2026, 3, 2, 12), 110, "x/2026-03-02/u", 2),
        ("acc_1", utc(2026, 3, 2, 12), 120, "x/2026-03-03/u", 1),  # same instant, later file
        ("acc_1", utc(2026, 3, 4, 0), 90, "x/2026-03-04/u", 1),
        ("acc_2", utc(2026, 3, 2, 0, 30), 50, "x/2026-03-02/u", 3),
        ("acc_gone", utc(2026, 3, 2), 999, "x/2026-03-02/u", 4),  # ignored: not in catalog
    ]
)

LINEAGE = {
    "pst_x_1": ("org_1", "prj_1", "lyr_1", "acc_1", "pst_x_1"),
    "pst_x_2": ("org_1", "prj_1", "lyr_2", "acc_2", "pst_x_2"),
    "pst_x_3": ("org_1", "prj_1", "lyr_1", "acc_1", "pst_x_3"),
    "pst_x_4": ("org_2", "prj_2", "lyr_3", "acc_3", "pst_x_4"),
    "pst_x_9": (None, None, None, None, "pst_x_9"),
    "acc_1": ("org_1", "prj_1", "lyr_1", "acc_1", None),
    "acc_2": ("org_1", "prj_1", "lyr_2", "acc_2", None),
    "acc_3": ("org_2", "prj_2", "lyr_3", "acc_3", None),
    "lyr_1": ("org_1", "prj_1", "lyr_1", None, None),
    "lyr_2": ("org_1", "prj_1", "lyr_2", None, None),
    "lyr_3": ("org_2", "prj_2", "lyr_3", None, None),
    "prj_1": ("org_1", "prj_1", None, None, None),
    "prj_2": ("org_2", "prj_2", None, None, None),
    "org_1": ("org_1", None, None, None, None),
    "org_2": ("org_2", None, None, None, None),
}


def row(scope: str, id_: str, bucket: datetime, *, f: int = 0, fd: int = 0, **v: int) -> tuple:
    values = {**dict.fromkeys(ADDITIVE, 0), **v}
    return (
        scope, id_, bucket, *LINEAGE[id_], *[values[m] for m in METRICS], f, fd,
        values["posts_published"],
    )  # fmt: skip


def rows_of(frame: pl.DataFrame, scope: str, id_: str | None = None) -> list[tuple]:
    selected = frame.filter(pl.col("scope") == scope)
    if id_ is not None:
        selected = selected.filter(pl.col("id") == id_)
    return selected.rows()


@pytest.fixture(scope="module")
def day() -> pl.DataFrame:
    return build_rollups(POST_HOURLY, POSTS, ACCOUNTS, FOLLOWERS, granularity="day")


def test_schema_and_order(day: pl.DataFrame) -> None:
    assert day.schema == pl.Schema(schema.ROLLUP)
    assert day.equals(day.sort("scope", "id", "bucket_start"))
    assert day.select("scope", "id", "bucket_start").is_duplicated().sum() == 0


D1, D2, D3, D4 = (utc(2026, 3, d) for d in (1, 2, 3, 4))


def test_day_platform_post(day: pl.DataFrame) -> None:
    assert rows_of(day, "platform_post") == [
        row("platform_post", "pst_x_1", D2, views=110, likes=5, posts_published=1),
        row("platform_post", "pst_x_1", D3, views=-2),
        row("platform_post", "pst_x_2", D1, views=50, posts_published=1),
        row("platform_post", "pst_x_2", D2, views=7, saves=1),
        row("platform_post", "pst_x_3", D2, views=1),
        row("platform_post", "pst_x_4", D3, posts_published=1),
        row("platform_post", "pst_x_9", D2, views=1000, posts_published=1),
    ]


def test_day_social_account(day: pl.DataFrame) -> None:
    assert rows_of(day, "social_account") == [
        # F before the first snapshot is its value 100; the day ends on the 12:00 winner 120.
        row("social_account", "acc_1", D2, f=120, fd=20, views=111, likes=5, posts_published=1),
        row("social_account", "acc_1", D3, f=120, fd=0, views=-2),
        row("social_account", "acc_1", D4, f=90, fd=-30),  # a snapshot alone makes a row
        row("social_account", "acc_2", D1, f=50, fd=0, views=50, posts_published=1),
        row("social_account", "acc_2", D2, f=50, fd=0, views=7, saves=1),
        row("social_account", "acc_3", D3, f=0, fd=0, posts_published=1),  # never observed
    ]


def test_day_layers_projects_orgs(day: pl.DataFrame) -> None:
    assert rows_of(day, "project_layer") == [
        row("project_layer", "lyr_1", D2, f=120, fd=20, views=111, likes=5, posts_published=1),
        row("project_layer", "lyr_1", D3, f=120, fd=0, views=-2),
        row("project_layer", "lyr_1", D4, f=90, fd=-30),
        row("project_layer", "lyr_2", D1, f=50, fd=0, views=50, posts_published=1),
        row("project_layer", "lyr_2", D2, f=50, fd=0, views=7, saves=1),
        row("project_layer", "lyr_3", D3, posts_published=1),
    ]
    prj_1 = [
        ("prj_1", D1, {"f": 150, "fd": 0, "views": 50, "posts_published": 1}),
        ("prj_1", D2, {"f": 170, "fd": 20, "views": 118, "likes": 5, "saves": 1,
                       "posts_published": 1}),
        ("prj_1", D3, {"f": 170, "fd": 0, "views": -2}),
        ("prj_1", D4, {"f": 140, "fd": -30}),
    ]  # fmt: skip
    assert rows_of(day, "project") == [
        *[row("project", i, b, **v) for i, b, v in prj_1],
        row("project", "prj_2", D3, posts_published=1),
    ]
    assert rows_of(day, "organization") == [
        *[row("organization", "org_1", b, **v) for _, b, v in prj_1],
        row("organization", "org_2", D3, posts_published=1),
    ]


def test_hour_social_account() -> None:
    hour = build_rollups(POST_HOURLY, POSTS, ACCOUNTS, FOLLOWERS, granularity="hour")
    assert rows_of(hour, "social_account", "acc_1") == [
        # the 09:00:00 snapshot is inside its hour: F(10:00) = 100 = F(09:00), the first value
        row("social_account", "acc_1", utc(2026, 3, 2, 9), f=100, fd=0),
        row("social_account", "acc_1", utc(2026, 3, 2, 10), f=100, views=101, likes=5,
            posts_published=1),
        row("social_account", "acc_1", utc(2026, 3, 2, 12), f=120, fd=20),
        row("social_account", "acc_1", utc(2026, 3, 2, 23), f=120, views=10),
        row("social_account", "acc_1", utc(2026, 3, 3, 0), f=120, views=-2),
        row("social_account", "acc_1", utc(2026, 3, 4, 0), f=90, fd=-30),
    ]  # fmt: skip


def test_week_is_iso_monday() -> None:
    week = build_rollups(POST_HOURLY, POSTS, ACCOUNTS, FOLLOWERS, granularity="week")
    w0, w1 = utc(2026, 2, 23), utc(2026, 3, 2)  # Mondays
    assert rows_of(week, "social_account", "acc_1") == [
        row("social_account", "acc_1", w1, f=90, fd=-10, views=109, likes=5, posts_published=1)
    ]
    assert rows_of(week, "project", "prj_1") == [
        row("project", "prj_1", w0, f=150, fd=0, views=50, posts_published=1),
        row("project", "prj_1", w1, f=140, fd=-10, views=116, likes=5, saves=1,
            posts_published=1),
    ]  # fmt: skip


@pytest.mark.parametrize("granularity", ["hour", "day", "week"])
def test_empty_inputs(granularity: Granularity) -> None:
    got = build_rollups(
        schema.empty(schema.POST_HOURLY),
        schema.empty(schema.POSTS),
        schema.empty(schema.CATALOG_ACCOUNTS),
        schema.empty(schema.FOLLOWER_OBSERVATIONS),
        granularity=granularity,
    )
    assert got.schema == pl.Schema(schema.ROLLUP)
    assert got.height == 0


def test_repeated_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="repeated platform_post_id"):
        build_rollups(
            POST_HOURLY, pl.concat([POSTS, POSTS]), ACCOUNTS, FOLLOWERS, granularity="day"
        )


# --- invariants on random data ------------------------------------------------------------

WEEK0 = utc(2026, 3, 2)  # a Monday; the data covers three whole weeks from here


def random_world(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    accounts = [
        (f"acc_{i}", f"lyr_{i % 5}", f"prj_{i % 5 % 3}", f"org_{i % 5 % 3 % 2}") for i in range(8)
    ]
    post_rows, hourly_rows = [], []
    for p in range(40):
        account = rng.choice([a[0] for a in accounts] + ["acc_gone"])
        published = rng.choice([None, WEEK0 + timedelta(minutes=rng.randrange(0, 3 * 7 * 24 * 60))])
        post_rows.append((f"pst_x_{p}", account, published))
        for h in rng.sample(range(3 * 7 * 24), rng.randrange(0, 30)):
            values = {m: rng.choice([0, 0, rng.randrange(-20, 200)]) for m in METRICS}
            hourly_rows.append((f"pst_x_{p}", WEEK0 + timedelta(hours=h), values))
    follower_rows = []
    for a, *_ in accounts[:6]:  # two accounts are never observed
        for i in range(rng.randrange(1, 12)):
            t = WEEK0 + timedelta(seconds=rng.randrange(-86400, 22 * 86400))
            follower_rows.append((a, t, rng.randrange(0, 10_000), "x/f", i))
    return {
        "accounts": catalog(accounts),
        "posts": post_table(post_rows),
        "post_hourly": hourly(hourly_rows).filter(
            pl.any_horizontal(pl.col(m) != 0 for m in METRICS)
        ),
        "followers": followers(follower_rows),
    }


def build(world: dict[str, Any], granularity: Granularity, **overrides: Any) -> pl.DataFrame:
    w = {**world, **overrides}
    return build_rollups(
        w["post_hourly"], w["posts"], w["accounts"], w["followers"], granularity=granularity
    )


@pytest.fixture(scope="module", params=[1, 2, 3])
def world(request: pytest.FixtureRequest) -> dict[str, Any]:
    return random_world(request.param)


@pytest.fixture(scope="module")
def built(world: dict[str, Any]) -> dict[str, pl.DataFrame]:
    return {g: build(world, g) for g in ("hour", "day", "week")}


def f_from_rows(rows: list[dict[str, Any]], t: datetime, step: timedelta) -> int:
    """F(t) at a bucket edge, read from a scope's rows alone (the documented reading)."""
    before = [r for r in rows if r["bucket_start"] + step <= t]
    if before:
        return before[-1]["followers"]
    return rows[0]["followers"] - rows[0]["follower_delta"] if rows else 0


def test_totals_agree_across_granularities(built: dict[str, pl.DataFrame]) -> None:
    totals = [
        built[g].group_by("scope", "id").agg(pl.col(c).sum() for c in ADDITIVE).sort("scope", "id")
        for g in ("hour", "day", "week")
    ]
    assert totals[0].equals(totals[1])
    assert totals[0].equals(totals[2])
    per_day = (
        built["hour"]
        .group_by("scope", "id", pl.col("bucket_start").dt.truncate("1d"))
        .agg(pl.col(c).sum() for c in ADDITIVE)
        .filter(pl.any_horizontal(pl.col(c) != 0 for c in ADDITIVE))
        .sort("scope", "id", "bucket_start")
    )
    days = built["day"].filter(pl.any_horizontal(pl.col(c) != 0 for c in ADDITIVE))
    assert per_day.equals(days.select(per_day.columns))


CHILD = {
    "social_account": ("platform_post", "social_account_id"),
    "project_layer": ("social_account", "project_layer_id"),
    "project": ("project_layer", "project_id"),
    "organization": ("project", "org_id"),
}


@pytest.mark.parametrize("granularity", ["hour", "day", "week"])
def test_children_sum_to_parent(built: dict[str, pl.DataFrame], granularity: str) -> None:
    frame = built[granularity]
    step = STEP[granularity]
    for parent, (child, link) in CHILD.items():
        parents = frame.filter(pl.col("scope") == parent)
        # posts of accounts outside the catalog have no parent
        children = frame.filter(pl.col("scope") == child, pl.col(link).is_not_null())
        summed = (
            children.group_by(pl.col(link).alias("id"), "bucket_start")
            .agg(pl.col(c).sum() for c in ADDITIVE)
            .filter(pl.any_horizontal(pl.col(c) != 0 for c in ADDITIVE))
        )
        active = parents.filter(pl.any_horizontal(pl.col(c) != 0 for c in ADDITIVE))
        assert summed.sort("id", "bucket_start").equals(
            active.select(summed.columns).sort("id", "bucket_start")
        ), (parent, child)
        if child == "platform_post":
            continue
        by_child: dict[str, list[dict[str, Any]]] = defaultdict(list)
        kids: dict[str, set[str]] = defaultdict(set)
        for r in children.iter_rows(named=True):
            by_child[r["id"]].append(r)
            kids[r[link]].add(r["id"])
        for r in parents.iter_rows(named=True):
            end = r["bucket_start"] + step
            assert r["followers"] == sum(f_from_rows(by_child[k], end, step) for k in kids[r["id"]])
            start_sum = sum(
                f_from_rows(by_child[k], r["bucket_start"], step) for k in kids[r["id"]]
            )
            assert r["follower_delta"] == r["followers"] - start_sum


@pytest.mark.parametrize("granularity", ["hour", "day", "week"])
def test_followers_match_gauge(
    world: dict[str, Any], built: dict[str, pl.DataFrame], granularity: str
) -> None:
    frame = built[granularity]
    step = STEP[granularity]
    assert frame.filter(pl.col("scope") == "platform_post")["followers"].abs().sum() == 0
    accounts = world["accounts"]
    for scope, col in [
        ("social_account", "social_account_id"),
        ("project_layer", "project_layer_id"),
        ("project", "project_id"),
        ("organization", "org_id"),
    ]:
        rows = frame.filter(pl.col("scope") == scope)
        members = accounts.select(pl.col(col).alias("scope_id"), "social_account_id")
        ends = rows.select(
            pl.col("id").alias("scope_id"), (pl.col("bucket_start") + step).alias("at")
        )
        starts = rows.select(pl.col("id").alias("scope_id"), pl.col("bucket_start").alias("at"))
        f_end = scope_follower_values_at(world["followers"], members, ends, scope_col="scope_id")
        f_start = scope_follower_values_at(
            world["followers"], members, starts, scope_col="scope_id"
        )
        got = rows.select(
            pl.col("id").alias("scope_id"),
            (pl.col("bucket_start") + step).alias("at"),
            "followers",
        ).sort("scope_id", "at")
        assert got.equals(f_end.sort("scope_id", "at"))
        joined = rows.join(
            f_start, left_on=["id", "bucket_start"], right_on=["scope_id", "at"], suffix="_start"
        )
        assert (joined["followers"] - joined["followers_start"]).to_list() == joined[
            "follower_delta"
        ].to_list()
        # snapshot buckets all have rows, and the last row holds the last snapshot sum
        last = rows.group_by("id").agg(pl.col("followers").last()).sort("id")
        final = (
            world["followers"]
            .sort("collected_at", "landing_file", "line")
            .group_by("social_account_id")
            .agg(pl.col("followers").last())
            .join(members, on="social_account_id")
            .group_by(pl.col("scope_id").alias("id"))
            .agg(pl.col("followers").sum())
        )
        expected = last.join(final, on="id", how="left").fill_null(0)
        assert expected["followers"].to_list() == expected["followers_right"].to_list()


@pytest.mark.parametrize("granularity", ["hour", "day", "week"])
def test_bucket_rebuilt_from_its_own_hours_is_identical(
    world: dict[str, Any], built: dict[str, pl.DataFrame], granularity: Granularity
) -> None:
    full = built[granularity]
    starts = full["bucket_start"].unique().sort().to_list()
    for bucket in random.Random(0).sample(starts, 4):
        end = bucket + STEP[granularity]
        part = world["post_hourly"].filter((pl.col("hour") >= bucket) & (pl.col("hour") < end))
        rebuilt = build(world, granularity, post_hourly=part)
        pick = pl.col("bucket_start") == bucket
        assert rebuilt.filter(pick).equals(full.filter(pick))


def test_moving_an_account_moves_its_whole_history(
    world: dict[str, Any], built: dict[str, pl.DataFrame]
) -> None:
    before = built["day"]
    moved = world["accounts"].with_columns(
        pl.when(pl.col("social_account_id") == "acc_1")
        .then(pl.lit("lyr_moved"))
        .otherwise(pl.col("project_layer_id"))
        .alias("project_layer_id")
    )
    after = build(world, "day", accounts=moved)
    account = before.filter(pl.col("scope") == "social_account", pl.col("id") == "acc_1")
    assert (
        after.filter(pl.col("scope") == "project_layer", pl.col("id") == "lyr_moved")
        .drop("scope", "id", "project_layer_id", "social_account_id")
        .equals(account.drop("scope", "id", "project_layer_id", "social_account_id"))
    )
    assert after.filter(pl.col("project_layer_id") == "lyr_moved")[
        "id"
    ].unique().sort().to_list() == sorted(
        {"lyr_moved", "acc_1", *before.filter(pl.col("social_account_id") == "acc_1")["id"]}
    )
    old_layer = account["project_layer_id"][0]
    # the old layer lost exactly acc_1's sums and followers; other scopes are unchanged
    totals = [
        f.filter(pl.col("scope") == "project_layer", pl.col("id") == old_layer)
        .select(pl.col(c).sum() for c in ADDITIVE)
        .row(0)
        for f in (before, after)
    ]
    gone = account.select(pl.col(c).sum() for c in ADDITIVE).row(0)
    assert [b - a for b, a in zip(*totals, strict=True)] == list(gone)
    for scope in ("project", "organization"):
        assert before.filter(pl.col("scope") == scope).equals(
            after.filter(pl.col("scope") == scope)
        )
