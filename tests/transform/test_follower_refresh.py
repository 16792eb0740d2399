"""The follower rule through the nightly refresh, one landing date at a time (spec §3.4).

F(t) is an account's last snapshot before `t`, and before its first snapshot that first value.
So an account whose first snapshot lands days after its posts' activity changes F in rollup
buckets the refresh built days earlier, and each day range it rebuilds must be given the
account's first snapshot after the range (`_followers_for` in metrics/transform/refresh.py):
without it the range sees no snapshot and writes F = 0. Every number below is worked out by
hand from the landing lines.

Accounts acc_tt (TikTok) and acc_ig (Instagram) make up layer lyr_a1_sc of project prj_a1 in
org_a (tests/helpers/landing.py); the layer's other accounts have no data. 2026-03-02 is a
Monday, so the week of Mar 2 holds every day here.

- acc_tt: a video published Mar 2 05:00, polled Mar 2 06:00 (10 views), 18:00 (22), Mar 3 06:00
  (34). Its first follower snapshot, 1000, is collected Mar 4 20:00 and lands late, in the
  Mar 5 folder; the next, 1040, is collected Mar 6 12:00.
- acc_ig: follower snapshots 500, 510, 530 at 08:00 on Mar 2, 3, 4; no posts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.helpers.landing import envelope, write_catalog, write_lines
from tests.helpers.pipeline import run, table, table_digests

pytestmark = pytest.mark.xdist_group("pipeline")

VIDEO = "7301234567890123456"
PUBLISHED = int(datetime(2026, 3, 2, 5, tzinfo=UTC).timestamp())
LAYER = ("project_layer", "lyr_a1_sc")
TT = ("social_account", "acc_tt")
IG = ("social_account", "acc_ig")


def _videos(at: str, views: int) -> dict:
    video = {"item_id": VIDEO, "create_time": PUBLISHED, "video_views": views}
    body = {"code": 0, "message": "OK", "data": {"videos": [video]}}
    return envelope("tiktok", "business/video/list", "acc_tt", at, body)


def _tt_followers(at: str, n: int) -> dict:
    return envelope(
        "tiktok", "business/get", "acc_tt", at, {"code": 0, "data": {"followers_count": n}}
    )


def _ig_followers(at: str, n: int) -> dict:
    body = {"id": "ig1", "username": "@ig", "followers_count": n}
    return envelope("instagram", "user", "acc_ig", at, body)


def _landing(raw: Path) -> None:
    write_catalog(raw, "2026-03-02")
    write_lines(
        raw,
        "tiktok/2026-03-02/videos.jsonl",
        [_videos("2026-03-02T06:00:00Z", 10), _videos("2026-03-02T18:00:00Z", 22)],
    )
    write_lines(raw, "tiktok/2026-03-03/videos.jsonl", [_videos("2026-03-03T06:00:00Z", 34)])
    for day, n in (("02", 500), ("03", 510), ("04", 530)):
        write_lines(
            raw,
            f"instagram/2026-03-{day}/user.jsonl",
            [_ig_followers(f"2026-03-{day}T08:00:00Z", n)],
        )
    write_lines(raw, "tiktok/2026-03-05/user.jsonl", [_tt_followers("2026-03-04T20:00:00Z", 1000)])
    write_lines(raw, "tiktok/2026-03-06/user.jsonl", [_tt_followers("2026-03-06T12:00:00Z", 1040)])


def _gauge(warehouse: Path, granularity: str, key: tuple[str, str]) -> dict[str, tuple[int, int]]:
    """bucket_start (ISO) -> (followers, follower_delta) of every row of one scope."""
    rows = (
        table(warehouse, f"rollup_{granularity}")
        .filter((pl.col("scope") == key[0]) & (pl.col("id") == key[1]))
        .sort("bucket_start")
    )
    return {
        b.strftime("%Y-%m-%dT%H:%M"): (f, d)
        for b, f, d in rows.select("bucket_start", "followers", "follower_delta").iter_rows()
    }


def _day(warehouse: Path, key: tuple[str, str]) -> dict[str, tuple[int, int]]:
    return {k[:10]: v for k, v in _gauge(warehouse, "day", key).items()}


def test_a_first_snapshot_landing_days_later_sets_f_in_the_days_built_before_it(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    _landing(raw)
    stepwise = tmp_path / "stepwise"
    for day in range(2, 5):
        run(raw, stepwise, date(2026, 3, day), date(2026, 3, day))

    # Before Mar 5 acc_tt was never observed: F = 0 in its activity days. The layer is acc_ig
    # alone: 500 before and at its first snapshot, then 510 and 530.
    assert _day(stepwise, TT) == {"2026-03-02": (0, 0), "2026-03-03": (0, 0)}
    assert _day(stepwise, LAYER) == {
        "2026-03-02": (500, 0),
        "2026-03-03": (510, 10),
        "2026-03-04": (530, 20),
    }

    for day in (5, 6):
        run(raw, stepwise, date(2026, 3, day), date(2026, 3, day))

    # acc_tt's first snapshot (1000, Mar 4 20:00) is F before it, so F = 1000 at every edge up
    # to Mar 6 00:00, and F(Mar 7) = 1040. Rows: its two activity days and its two snapshot
    # days (Mar 4 and Mar 6; Mar 5 holds neither).
    assert _day(stepwise, TT) == {
        "2026-03-02": (1000, 0),
        "2026-03-03": (1000, 0),
        "2026-03-04": (1000, 0),
        "2026-03-06": (1040, 40),
    }
    # acc_ig's F at the day edges Mar 3..7: 500, 510, 530, 530, 530.
    assert _day(stepwise, IG) == {
        "2026-03-02": (500, 0),
        "2026-03-03": (510, 10),
        "2026-03-04": (530, 20),
    }
    # The layer is their sum: 1500, 1510, 1530, (no row Mar 5: F stays 1530), 1570.
    layer = {"2026-03-02": (1500, 0), "2026-03-03": (1510, 10), "2026-03-04": (1530, 20)}
    layer["2026-03-06"] = (1570, 40)
    assert _day(stepwise, LAYER) == layer
    assert _day(stepwise, ("project", "prj_a1")) == layer
    assert _day(stepwise, ("organization", "org_a")) == layer

    # Hours: the video's activity hours (Mar 2 05:00 to Mar 3 05:00) all read F = 1000, the
    # snapshot hours step where the snapshots are.
    hours = _gauge(stepwise, "hour", TT)
    activity = {k: v for k, v in hours.items() if k < "2026-03-04"}
    assert len(activity) == 25 and set(activity.values()) == {(1000, 0)}
    assert {k: v for k, v in hours.items() if k >= "2026-03-04"} == {
        "2026-03-04T20:00": (1000, 0),
        "2026-03-06T12:00": (1040, 40),
    }
    # The week of Mar 2: F(Mar 9) − F(Mar 2) per scope.
    assert _gauge(stepwise, "week", TT) == {"2026-03-02T00:00": (1040, 40)}
    assert _gauge(stepwise, "week", LAYER) == {"2026-03-02T00:00": (1570, 70)}

    # The views behind those activity rows: 10 in the publication hour, 1 an hour from 06:00
    # to 18:00, and the 12 of the night spread over 18:00-06:00 (6 on each day).
    views = (
        table(stepwise, "rollup_day")
        .filter((pl.col("scope") == TT[0]) & (pl.col("id") == TT[1]))
        .sort("bucket_start")["views"]
        .to_list()
    )
    assert views == [28, 6, 0, 0]

    # And a day at a time builds what one backfill of the five landing dates builds.
    whole = tmp_path / "whole"
    run(raw, whole, date(2026, 3, 2), date(2026, 3, 6))
    assert table_digests(stepwise) == table_digests(whole)
