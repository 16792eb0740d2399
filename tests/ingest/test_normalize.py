"""Each platform rule of spec §2, on hand-written landing files with hand-computed answers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from metrics.ingest.catalog import load_catalog
from metrics.ingest.normalize import count_landing_lines, normalize_partition
from tests.helpers.landing import envelope, write_catalog, write_lines

DAY = "2026-03-05"
T0 = "2026-03-05T06:00:12Z"


def run(raw: Path, day: str = DAY):
    write_catalog(raw, "2026-03-01")
    return normalize_partition(raw, date.fromisoformat(day), load_catalog(raw))


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def only_row(df: pl.DataFrame) -> dict:
    assert df.height == 1, df
    return df.row(0, named=True)


def metrics_of(row: dict) -> dict:
    keys = ("views", "reach", "impressions", "likes", "comments", "shares", "saves")
    return {k: row[k] for k in (*keys, "watch_time_ms")}


def test_tiktok_mapping_units_and_snowflake_ids(tmp_path: Path) -> None:
    video = {
        "item_id": "7301234567890123456",
        "create_time": "1772668800",
        "video_views": 15230,
        "reach": "11002",
        "likes": 812,
        "comments": 41,
        "shares": 17,
        "favorities": 55,
        "total_time_watched": 71344.512,
    }
    body = {"code": 0, "message": "OK", "data": {"videos": [video]}}
    write_lines(
        tmp_path,
        f"tiktok/{DAY}/a.jsonl",
        [envelope("tiktok", "business/video/list", "acc_tt", T0, body)],
    )
    part = run(tmp_path)
    row = only_row(part.tables["post_observations"])
    assert row["platform_post_id"] == "pst_tiktok_7301234567890123456"
    assert row["collected_at"] == ts(T0)
    assert metrics_of(row) == {
        "views": 15230,
        "reach": 11002,
        "impressions": None,
        "likes": 812,
        "comments": 41,
        "shares": 17,
        "saves": 55,
        "watch_time_ms": 71_344_512,
    }
    sighting = only_row(part.tables["post_sightings"])
    assert sighting["native_id"] == "7301234567890123456"
    assert sighting["published_at"] == datetime(2026, 3, 5, 0, 0, tzinfo=UTC)


def test_tiktok_integer_snowflake_and_int_create_time_stay_exact(tmp_path: Path) -> None:
    # 7301234567890123457 is not representable as a float64; it must survive as text.
    line = (
        '{"platform":"tiktok","endpoint":"business/video/list","social_account_id":"acc_tt",'
        '"collected_at":"2026-03-05T06:00:12Z","response":{"code":0,"data":{"videos":'
        '[{"item_id":7301234567890123457,"create_time":1772668800,"video_views":"7",'
        '"favorites":3}]}}}'
    )
    write_lines(tmp_path, f"tiktok/{DAY}/a.jsonl", [line])
    row = only_row(run(tmp_path).tables["post_observations"])
    assert row["platform_post_id"] == "pst_tiktok_7301234567890123457"
    assert (row["views"], row["saves"]) == (7, 3)


def test_instagram_insights_win_over_fields_and_ms_watch_time(tmp_path: Path) -> None:
    def insight(name: str, value: object) -> dict:
        return {"name": name, "period": "lifetime", "values": [{"value": value}]}

    media = {
        "id": "17912345678901234",
        "timestamp": "2026-03-05T13:22:10+0000",
        "media_type": "VIDEO",
        "media_product_type": "REELS",
        "like_count": 90,
        "comments_count": 9,
        "insights": {
            "data": [
                insight("views", 2500),
                insight("reach", "2006"),
                insight("likes", 100),
                insight("shares", 4),
                insight("saved", 6),
                insight("ig_reels_video_view_total_time", 30017581),
            ]
        },
    }
    write_lines(
        tmp_path,
        f"instagram/{DAY}/m.jsonl",
        [envelope("instagram", "media", "acc_ig", T0, {"data": [media]})],
    )
    part = run(tmp_path)
    row = only_row(part.tables["post_observations"])
    # likes: the insight (100) wins over like_count (90); comments: no insight, so the field.
    assert metrics_of(row) == {
        "views": 2500,
        "reach": 2006,
        "impressions": None,
        "likes": 100,
        "comments": 9,
        "shares": 4,
        "saves": 6,
        "watch_time_ms": 30_017_581,
    }
    sighting = only_row(part.tables["post_sightings"])
    assert sighting["published_at"] == datetime(2026, 3, 5, 13, 22, 10, tzinfo=UTC)
    assert sighting["media_kind"] == "REELS"


def test_instagram_missing_insights_are_unknown_not_zero(tmp_path: Path) -> None:
    media = {"id": "1", "timestamp": "2026-03-05T13:22:10+0000", "like_count": 0}
    write_lines(
        tmp_path,
        f"instagram/{DAY}/m.jsonl",
        [envelope("instagram", "media", "acc_ig", T0, {"data": [media]})],
    )
    row = only_row(run(tmp_path).tables["post_observations"])
    assert row["likes"] == 0  # a real zero from the field
    assert row["comments"] is None  # absent: unknown
    assert row["views"] is None and row["watch_time_ms"] is None


def test_x_mapping_and_errors_beside_data(tmp_path: Path) -> None:
    tweet = {
        "id": "1765432109876543210",
        "created_at": "2026-03-05T13:22:10.000Z",
        "public_metrics": {
            "impression_count": 1000,
            "like_count": 50,
            "reply_count": 5,
            "retweet_count": 7,
            "quote_count": 3,
            "bookmark_count": 2,
        },
    }
    error = {"resource_id": "99", "title": "Not Found Error", "detail": "gone"}
    write_lines(
        tmp_path,
        f"x/{DAY}/t.jsonl",
        [envelope("x", "tweets", "acc_x", T0, {"data": [tweet], "errors": [error]})],
    )
    part = run(tmp_path)
    row = only_row(part.tables["post_observations"])
    assert row["platform_post_id"] == "pst_x_1765432109876543210"
    assert metrics_of(row) == {
        "views": 1000,
        "reach": None,
        "impressions": 1000,
        "likes": 50,
        "comments": 5,
        "shares": 10,
        "saves": 2,
        "watch_time_ms": None,
    }
    q = only_row(part.tables["quarantine"])
    assert (q["reason"], q["line"], q["record"]) == ("api_error", 1, 0)
    assert '"resource_id":"99"' in q["raw"]
    acc = part.accounting
    assert (acc.lines_read, acc.lines_used, acc.lines_quarantined) == (1, 1, 0)


def test_youtube_report_zips_by_header_name_and_minutes(tmp_path: Path) -> None:
    headers = [
        {"name": "views", "columnType": "METRIC", "dataType": "INTEGER"},
        {"name": "video", "columnType": "DIMENSION", "dataType": "STRING"},
        {"name": "estimatedMinutesWatched", "columnType": "METRIC", "dataType": "INTEGER"},
        {"name": "day", "columnType": "DIMENSION", "dataType": "STRING"},
        {"name": "likes", "columnType": "METRIC", "dataType": "INTEGER"},
    ]
    report = {
        "kind": "youtubeAnalytics#resultTable",
        "columnHeaders": headers,
        "rows": [[120, "dQw4w9WgXcQ", 7, "2026-03-08", -2]],
    }
    write_lines(
        tmp_path,
        f"youtube/{DAY}/r.jsonl",
        [envelope("youtube", "reports.query", "acc_yt", T0, report)],
    )
    row = only_row(run(tmp_path).tables["period_observations"])
    assert row["platform_post_id"] == "pst_youtube_dQw4w9WgXcQ"
    assert row["day"] == date(2026, 3, 8)
    # 2026-03-08 is the spring-forward day in Los Angeles: 08:00Z to 07:00Z next day, 23 hours.
    assert row["period_start"] == datetime(2026, 3, 8, 8, tzinfo=UTC)
    assert row["period_end"] == datetime(2026, 3, 9, 7, tzinfo=UTC)
    assert (row["views"], row["likes"], row["watch_time_ms"]) == (120, -2, 420_000)
    assert row["comments"] is None


def test_youtube_rows_absent_is_a_used_line_with_no_rows(tmp_path: Path) -> None:
    report = {"columnHeaders": [{"name": "day"}, {"name": "video"}, {"name": "views"}]}
    write_lines(
        tmp_path,
        f"youtube/{DAY}/r.jsonl",
        [envelope("youtube", "reports.query", "acc_yt", T0, report)],
    )
    part = run(tmp_path)
    assert part.tables["period_observations"].height == 0
    assert (part.accounting.lines_used, part.accounting.lines_quarantined) == (1, 0)


def test_youtube_videos_and_channels(tmp_path: Path) -> None:
    videos = {"items": [{"id": "abc", "snippet": {"publishedAt": "2026-03-04T10:00:00Z"}}]}
    channel = {"items": [{"id": "UC1", "statistics": {"subscriberCount": "12300"}}]}
    write_lines(
        tmp_path,
        f"youtube/{DAY}/v.jsonl",
        [
            envelope("youtube", "videos.list", "acc_yt", T0, videos),
            envelope("youtube", "channels.list", "acc_yt", T0, channel),
        ],
    )
    part = run(tmp_path)
    assert only_row(part.tables["post_sightings"])["published_at"] == datetime(
        2026, 3, 4, 10, tzinfo=UTC
    )
    assert only_row(part.tables["follower_observations"])["followers"] == 12300


@pytest.mark.parametrize(
    ("platform", "endpoint", "account", "body", "expected"),
    [
        ("tiktok", "business/get", "acc_tt", {"code": 0, "data": {"followers_count": "77"}}, 77),
        ("instagram", "user", "acc_ig", {"id": "1", "username": "u", "followers_count": 5}, 5),
        ("x", "users", "acc_x", {"data": {"id": "1", "public_metrics": {"followers_count": 9}}}, 9),
    ],
)
def test_follower_gauges(tmp_path, platform, endpoint, account, body, expected) -> None:
    write_lines(
        tmp_path, f"{platform}/{DAY}/f.jsonl", [envelope(platform, endpoint, account, T0, body)]
    )
    assert only_row(run(tmp_path).tables["follower_observations"])["followers"] == expected


def test_collected_at_offsets_and_fractions_truncate_to_seconds(tmp_path: Path) -> None:
    body = {"code": 0, "data": {"followers_count": 1}}
    stamps = ["2026-03-05T06:00:12.999Z", "2026-03-05T08:00:12+02:00", "2026-03-05T06:00:12+0000"]
    write_lines(
        tmp_path,
        f"tiktok/{DAY}/f.jsonl",
        [envelope("tiktok", "business/get", "acc_tt", s, body) for s in stamps],
    )
    got = run(tmp_path).tables["follower_observations"]["collected_at"].to_list()
    assert got == [ts(T0)] * 3


BAD_LINES = [
    ("{not json", "malformed_json"),
    ("", "malformed_json"),
    ('["a", "list"]', "invalid_envelope"),
    (envelope("tiktok", "business/get", "acc_tt", T0, None), "invalid_envelope"),
    (
        {
            "platform": "tiktok",
            "endpoint": "business/get",
            "social_account_id": "acc_tt",
            "response": {},
        },
        "invalid_envelope",
    ),
    (envelope("myspace", "business/get", "acc_tt", T0, {}), "unknown_platform"),
    (envelope("tiktok", "business/nope", "acc_tt", T0, {}), "unknown_endpoint"),
    (envelope("x", "users", "acc_x", T0, {}), "platform_mismatch"),
    (envelope("tiktok", "business/get", "acc_ig", T0, {}), "platform_mismatch"),
    (envelope("tiktok", "business/get", "acc_nobody", T0, {}), "unknown_account"),
    (
        envelope("tiktok", "business/get", "acc_tt", T0, {"code": 40001, "message": "bad token"}),
        "api_error",
    ),
    (
        envelope(
            "tiktok", "business/get", "acc_tt", T0, {"code": 0, "data": {"followers_count": "x"}}
        ),
        "non_numeric",
    ),
    (
        envelope(
            "tiktok", "business/get", "acc_tt", T0, {"code": 0, "data": {"followers_count": -1}}
        ),
        "negative_counter",
    ),
    (
        envelope("tiktok", "business/get", "acc_tt", "2026-03-05T06:00:12", {"code": 0}),
        "timestamp_without_zone",
    ),
]


def test_every_bad_line_kind_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    good = envelope(
        "tiktok", "business/get", "acc_tt", T0, {"code": 0, "data": {"followers_count": 3}}
    )
    lines = [good, *(line for line, _ in BAD_LINES), good]
    write_lines(tmp_path, f"tiktok/{DAY}/bad.jsonl", lines)
    part = run(tmp_path)
    q = part.tables["quarantine"]
    assert q["line"].to_list() == list(range(2, 2 + len(BAD_LINES)))
    assert q["reason"].to_list() == [reason for _, reason in BAD_LINES]
    assert q["record"].null_count() == len(BAD_LINES)
    assert q["raw"][0] == "{not json"
    assert part.tables["follower_observations"]["line"].to_list() == [1, len(lines)]
    acc = part.accounting
    assert (acc.lines_read, acc.lines_used, acc.lines_quarantined) == (
        len(lines),
        2,
        len(BAD_LINES),
    )
    assert count_landing_lines(tmp_path, date.fromisoformat(DAY)) == len(lines)


def test_bad_records_never_reject_their_siblings(tmp_path: Path) -> None:
    ok = {"item_id": "1", "create_time": 1772668800, "video_views": 5}
    videos = [
        ok,
        {"item_id": "2", "video_views": "n/a"},
        {"item_id": "3", "likes": -4},
        {"video_views": 1},
        {**ok, "item_id": "4"},
    ]
    media = [
        {"id": "10", "timestamp": "2026-03-05T13:22:10", "like_count": 1},
        {"id": "11", "timestamp": "2026-03-05T13:22:10+0000", "like_count": 2},
    ]
    write_lines(
        tmp_path,
        f"tiktok/{DAY}/v.jsonl",
        [
            envelope(
                "tiktok",
                "business/video/list",
                "acc_tt",
                T0,
                {"code": 0, "data": {"videos": videos}},
            )
        ],
    )
    write_lines(
        tmp_path,
        f"instagram/{DAY}/m.jsonl.gz",
        [envelope("instagram", "media", "acc_ig", T0, {"data": media})],
    )
    part = run(tmp_path)
    kept = part.tables["post_observations"]["platform_post_id"].to_list()
    assert kept == ["pst_instagram_11", "pst_tiktok_1", "pst_tiktok_4"]
    q = part.tables["quarantine"].select("landing_file", "record", "reason").rows()
    assert q == [
        (f"instagram/{DAY}/m.jsonl.gz", 0, "timestamp_without_zone"),
        (f"tiktok/{DAY}/v.jsonl", 1, "non_numeric"),
        (f"tiktok/{DAY}/v.jsonl", 2, "negative_counter"),
        (f"tiktok/{DAY}/v.jsonl", 3, "invalid_record"),
    ]
    acc = part.accounting
    assert (acc.lines_read, acc.lines_used, acc.lines_quarantined, acc.records_quarantined) == (
        2,
        2,
        0,
        4,
    )


def test_files_that_are_not_jsonl_are_accounted(tmp_path: Path) -> None:
    (tmp_path / "tiktok" / DAY).mkdir(parents=True)
    (tmp_path / "tiktok" / DAY / "notes.txt").write_text("hello")
    (tmp_path / "tiktok" / DAY / "broken.jsonl.gz").write_bytes(b"not gzip")
    part = run(tmp_path)
    reasons = part.tables["quarantine"]["reason"].to_list()
    assert reasons == ["unreadable_file", "unsupported_file"]
    assert part.accounting.balanced and part.accounting.lines_read == 2
