"""The shapes real collectors land beyond the first table of spec §2 (CONTRACT §2, "Real
collectors also land these shapes"), the retired Instagram names, follower bodies without their
count, and the reason classes; hand-written bodies shaped like the platforms' documented
responses, with hand-computed answers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import metrics.ingest
from metrics.ingest.catalog import load_catalog
from metrics.ingest.normalize import NormalizedPartition, normalize_partition
from metrics.model import reasons
from metrics.model.reasons import BY_CODE, REASONS, reason_class
from metrics.sample.defects import REASONS as GENERATED_REASONS
from tests.helpers.landing import envelope, write_catalog, write_lines

DAY = "2026-03-05"
T0 = "2026-03-05T06:00:12Z"
T1 = "2026-03-05T09:30:00Z"
METRICS = ("views", "reach", "impressions", "likes", "comments", "shares", "saves")


def run(raw: Path) -> NormalizedPartition:
    write_catalog(raw, "2026-03-01")
    return normalize_partition(raw, date.fromisoformat(DAY), load_catalog(raw))


def values(row: dict) -> dict:
    return {k: row[k] for k in (*METRICS, "watch_time_ms")}


def insight(name: str, value: object, media: str | None = None) -> dict:
    out = {"name": name, "period": "lifetime", "values": [{"value": value}], "title": name.title()}
    if media is not None:
        out["id"] = f"{media}/insights/{name}/lifetime"
    return out


def quarantine(part: NormalizedPartition) -> list[tuple]:
    return part.tables["quarantine"].select("line", "record", "reason").rows()


# -- X: the single-post lookup ------------------------------------------------------------------


def test_x_single_post_lookup_data_is_one_object(tmp_path: Path) -> None:
    post = {
        "id": "1785000000000000001",
        "text": "hello",
        "created_at": "2026-03-04T13:22:10.000Z",
        "edit_history_tweet_ids": ["1785000000000000001"],
        "public_metrics": {
            "retweet_count": 12,
            "reply_count": 5,
            "like_count": 230,
            "quote_count": 2,
            "bookmark_count": 9,
            "impression_count": 18400,
        },
    }
    bad = {**post, "id": "1785000000000000002", "public_metrics": {"like_count": "many"}}
    write_lines(
        tmp_path,
        f"x/{DAY}/t.jsonl",
        [
            envelope("x", "tweets", "acc_x", T0, {"data": post}),
            envelope("x", "tweets", "acc_x", T0, {"data": bad}),
        ],
    )
    part = run(tmp_path)
    row = part.tables["post_observations"].row(0, named=True)
    assert part.tables["post_observations"].height == 1
    assert row["platform_post_id"] == "pst_x_1785000000000000001"
    assert values(row) == {
        "views": 18400,
        "reach": None,
        "impressions": 18400,
        "likes": 230,
        "comments": 5,
        "shares": 14,
        "saves": 9,
        "watch_time_ms": None,
    }
    # The single post is record 0 of its line; its raw text is the whole post object.
    assert quarantine(part) == [(2, 0, "non_numeric")]
    assert '"text":"hello"' in part.tables["quarantine"]["raw"][0]
    assert part.accounting.lines_used == 2


# -- Instagram: the ?ids= batch lookup ----------------------------------------------------------


def test_instagram_batch_lookup_is_keyed_by_media_id(tmp_path: Path) -> None:
    body = {
        "17900000000000001": {
            "id": "17900000000000001",
            "timestamp": "2026-03-04T10:00:00+0000",
            "media_type": "VIDEO",
            "media_product_type": "REELS",
            "like_count": 40,
            "comments_count": 3,
            "insights": {"data": [insight("views", 900), insight("likes", 41)]},
        },
        # A node without its `id` field: the key is its media id.
        "17900000000000002": {
            "timestamp": "2026-03-04T11:00:00+0000",
            "media_type": "CAROUSEL_ALBUM",
            "media_product_type": "FEED",
            "like_count": 7,
        },
        "17900000000000003": "not a media node",
        "17900000000000004": {"id": "17900000000000004", "like_count": -1},
    }
    write_lines(
        tmp_path,
        f"instagram/{DAY}/b.jsonl",
        [
            envelope(
                "instagram",
                "media",
                "acc_ig",
                T0,
                body,
                {"ids": ",".join(body), "fields": "id,timestamp,like_count,insights"},
            )
        ],
    )
    part = run(tmp_path)
    obs = part.tables["post_observations"].sort("platform_post_id")
    assert obs["platform_post_id"].to_list() == [
        "pst_instagram_17900000000000001",
        "pst_instagram_17900000000000002",
    ]
    assert obs.select("views", "likes", "comments").rows() == [(900, 41, 3), (None, 7, None)]
    sightings = part.tables["post_sightings"].sort("platform_post_id")
    assert sightings.select("media_kind", "media_type", "media_product_type").rows() == [
        ("REELS", "VIDEO", "REELS"),
        ("FEED", "CAROUSEL_ALBUM", "FEED"),
    ]
    # Records are numbered in the map's order; siblings are kept.
    assert quarantine(part) == [(1, 2, "invalid_record"), (1, 3, "negative_counter")]
    assert part.tables["quarantine"]["raw"].to_list()[0] == '"not a media node"'


# -- Instagram: the insights edge fetched on its own --------------------------------------------


def test_media_insights_snapshot_before_media_names_the_post(tmp_path: Path) -> None:
    media_id = "17912345678901234"
    edge = {
        "data": [
            insight("reach", 2006, media_id),
            insight("views", 2500, media_id),
            insight("saved", 6, media_id),
            insight("shares", "4", media_id),
            insight("ig_reels_video_view_total_time", 30017581, media_id),
            insight("ig_reels_avg_watch_time", 12549, media_id),
        ]
    }
    media = {
        "id": media_id,
        "timestamp": "2026-03-04T13:22:10+0000",
        "media_type": "VIDEO",
        "media_product_type": "REELS",
        "like_count": 90,
        "comments_count": 9,
    }
    write_lines(
        tmp_path,
        f"instagram/{DAY}/e.jsonl",
        [
            envelope("instagram", "media_insights", "acc_ig", T0, edge),
            envelope("instagram", "media", "acc_ig", T1, {"data": [media]}),
        ],
    )
    part = run(tmp_path)
    first, second = part.tables["post_observations"].sort("collected_at").rows(named=True)
    # The insights fetch is a snapshot of the insight metrics only: no like or comment fields.
    assert values(first) == {
        "views": 2500,
        "reach": 2006,
        "impressions": None,
        "likes": None,
        "comments": None,
        "shares": 4,
        "saves": 6,
        "watch_time_ms": 30_017_581,
    }
    assert first["platform_post_id"] == f"pst_instagram_{media_id}"
    assert first["social_account_id"] == "acc_ig"
    assert (second["likes"], second["views"]) == (90, None)
    sighting = part.tables["post_sightings"].row(0, named=True)
    assert sighting["first_seen_at"] == datetime(2026, 3, 5, 6, 0, 12, tzinfo=UTC)
    assert sighting["published_at"] == datetime(2026, 3, 4, 13, 22, 10, tzinfo=UTC)
    assert (sighting["media_type"], sighting["media_product_type"]) == ("VIDEO", "REELS")


def test_media_insights_media_id_from_request_and_bad_insights(tmp_path: Path) -> None:
    no_ids = {"data": [insight("views", 10), insight("likes", 2)]}
    mixed = {
        "data": [
            insight("views", 5, "111"),
            insight("likes", -3, "111"),
            insight("views", 8, "222"),
            insight("reach", 1),  # names no media, and the request names none either
        ]
    }
    write_lines(
        tmp_path,
        f"instagram/{DAY}/r.jsonl",
        [
            envelope("instagram", "media_insights", "acc_ig", T0, no_ids, {"media_id": "333"}),
            envelope("instagram", "media_insights", "acc_ig", T0, mixed),
            envelope("instagram", "media_insights", "acc_ig", T0, {"data": []}),
            envelope("instagram", "media_insights", "acc_ig", T0, {"data": {"views": 1}}),
        ],
    )
    part = run(tmp_path)
    obs = part.tables["post_observations"].sort("platform_post_id")
    assert obs.select("platform_post_id", "views", "likes").rows() == [
        ("pst_instagram_222", 8, None),
        ("pst_instagram_333", 10, 2),
    ]
    # Media 111 has a negative counter: its snapshot goes, as its first insight (record 0).
    assert quarantine(part) == [
        (2, 0, "negative_counter"),
        (2, 3, "invalid_record"),
        (4, None, "invalid_body"),
    ]
    acc = part.accounting
    assert (acc.lines_read, acc.lines_used, acc.lines_quarantined) == (4, 3, 1)


# -- Instagram: retired names -------------------------------------------------------------------


def test_plays_is_views_only_when_views_is_absent(tmp_path: Path) -> None:
    def node(mid: str, insights: list[dict]) -> dict:
        return {"id": mid, "timestamp": "2026-03-04T10:00:00+0000", "insights": {"data": insights}}

    body = {
        "data": [
            node("1", [insight("plays", 700), insight("reach", 300)]),
            node("2", [insight("plays", 700), insight("views", 650)]),
            node("3", [insight("views", 650), insight("plays", 700)]),
        ]
    }
    edge = {"data": [insight("plays", 44, "4")]}
    write_lines(
        tmp_path,
        f"instagram/{DAY}/p.jsonl",
        [
            envelope("instagram", "media", "acc_ig", T0, body),
            envelope("instagram", "media_insights", "acc_ig", T0, edge),
        ],
    )
    obs = run(tmp_path).tables["post_observations"].sort("platform_post_id")
    assert obs.select("views", "reach").rows() == [(700, 300), (650, None), (650, None), (44, None)]


def test_retired_instagram_names_are_ignored(tmp_path: Path) -> None:
    retired = [
        insight("impressions", 5000),
        insight("ig_reels_aggregated_all_plays_count", 4000),
        insight("clips_replays_count", 300),
    ]
    body = {
        "data": [
            {"id": "1", "like_count": 3, "insights": {"data": [*retired, insight("reach", 20)]}},
            {"id": "2", "like_count": 4, "insights": {"data": retired}},
        ]
    }
    write_lines(
        tmp_path, f"instagram/{DAY}/o.jsonl", [envelope("instagram", "media", "acc_ig", T0, body)]
    )
    part = run(tmp_path)
    rows = part.tables["post_observations"].sort("platform_post_id").rows(named=True)
    assert [values(r) for r in rows] == [
        {**dict.fromkeys((*METRICS, "watch_time_ms")), "reach": 20, "likes": 3},
        {**dict.fromkeys((*METRICS, "watch_time_ms")), "likes": 4},
    ]
    assert quarantine(part) == []


# -- YouTube: day-only reports ------------------------------------------------------------------


def _report(headers: list[str], rows: list[list]) -> dict:
    return {
        "kind": "youtubeAnalytics#resultTable",
        "columnHeaders": [
            {"name": h, "columnType": "DIMENSION" if h == "day" else "METRIC"} for h in headers
        ],
        "rows": rows,
    }


def test_day_only_report_takes_its_video_from_the_request_filter(tmp_path: Path) -> None:
    headers = ["day", "views", "estimatedMinutesWatched", "likes"]
    rows = [["2026-03-03", 1520, 34, 12], ["2026-03-04", -2, 0, 1]]
    query = {
        "ids": "channel==MINE",
        "startDate": "2026-03-03",
        "endDate": "2026-03-04",
        "metrics": "views,estimatedMinutesWatched,likes",
        "dimensions": "day",
        "filters": "video==dQw4w9WgXcQ",
    }
    several = {**query, "filters": "country==US;video==dQw4w9WgXcQ,abcdefghijk"}
    with_column = {**query, "filters": "video==dQw4w9WgXcQ,abcdefghijk"}
    write_lines(
        tmp_path,
        f"youtube/{DAY}/r.jsonl",
        [
            envelope("youtube", "reports.query", "acc_yt", T0, _report(headers, rows), query),
            envelope("youtube", "reports.query", "acc_yt", T0, _report(headers, rows), several),
            envelope("youtube", "reports.query", "acc_yt", T0, _report(headers, rows)),
            envelope(
                "youtube",
                "reports.query",
                "acc_yt",
                T0,
                _report(["video", *headers], [["abcdefghijk", *rows[0]]]),
                with_column,
            ),
        ],
    )
    part = run(tmp_path)
    periods = part.tables["period_observations"].sort("platform_post_id", "day")
    assert periods.select("platform_post_id", "day", "views", "likes", "watch_time_ms").rows() == [
        ("pst_youtube_abcdefghijk", date(2026, 3, 3), 1520, 12, 34 * 60_000),
        ("pst_youtube_dQw4w9WgXcQ", date(2026, 3, 3), 1520, 12, 34 * 60_000),
        ("pst_youtube_dQw4w9WgXcQ", date(2026, 3, 4), -2, 1, 0),
    ]
    assert quarantine(part) == [(2, None, "ambiguous_report"), (3, None, "invalid_body")]


# -- Followers without their count --------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "endpoint", "account", "body"),
    [
        ("tiktok", "business/get", "acc_tt", {"code": 0, "data": {"username": "tt"}}),
        ("instagram", "user", "acc_ig", {"id": "ig1", "username": "ig"}),
        (
            "youtube",
            "channels.list",
            "acc_yt",
            {"items": [{"id": "UC1", "snippet": {"title": "Channel"}}]},
        ),
        ("youtube", "channels.list", "acc_yt", {"items": [{"id": "UC1", "statistics": {}}]}),
        ("x", "users", "acc_x", {"data": {"id": "x1", "username": "x"}}),
        ("x", "users", "acc_x", {"data": {"id": "x1", "public_metrics": {"tweet_count": 5}}}),
    ],
)
def test_follower_body_without_its_count_has_its_own_reason(
    tmp_path: Path, platform: str, endpoint: str, account: str, body: dict
) -> None:
    write_lines(
        tmp_path, f"{platform}/{DAY}/f.jsonl", [envelope(platform, endpoint, account, T0, body)]
    )
    part = run(tmp_path)
    assert part.tables["follower_observations"].height == 0  # never a zero
    assert quarantine(part) == [(1, None, "missing_follower_count")]


# -- Reasons: body shapes and their classes -----------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "endpoint", "account", "body"),
    [
        ("tiktok", "business/video/list", "acc_tt", {"code": 0, "data": {"videos": "n/a"}}),
        ("tiktok", "business/get", "acc_tt", {"code": 0, "data": [1]}),
        ("instagram", "media", "acc_ig", {"data": {}}),
        ("youtube", "reports.query", "acc_yt", _report(["video", "views"], [])),
        ("youtube", "channels.list", "acc_yt", {"items": []}),
        ("youtube", "videos.list", "acc_yt", {"items": None}),
        ("x", "tweets", "acc_x", {"data": "1"}),
        ("x", "users", "acc_x", {"data": [{"id": "1"}]}),
    ],
)
def test_a_body_of_an_unknown_shape_is_not_a_bad_envelope(
    tmp_path: Path, platform: str, endpoint: str, account: str, body: dict
) -> None:
    write_lines(
        tmp_path, f"{platform}/{DAY}/s.jsonl", [envelope(platform, endpoint, account, T0, body)]
    )
    assert quarantine(run(tmp_path)) == [(1, None, "invalid_body")]


def test_every_reason_has_one_class_and_an_example() -> None:
    assert len(BY_CODE) == len(REASONS)
    assert {r.kind for r in REASONS} == {"file", "envelope", "body", "record", "value"}
    assert all(r.example for r in REASONS)
    # What the generator injects and the envelope/body split of the first table.
    assert set(GENERATED_REASONS) <= set(BY_CODE)
    assert reason_class("invalid_envelope") == "envelope"
    assert reason_class("invalid_body") == "body"
    assert reason_class("non_numeric") == "value"
    with pytest.raises(KeyError, match="not a quarantine reason"):
        reason_class("mystery")


def test_every_reason_the_ingest_code_writes_is_declared() -> None:
    """Each literal reason code in metrics/ingest (a `Reject(...)`, a stray file's
    classification, a direct quarantine row) is in the registry, and the registry holds no
    code that nothing writes."""
    root = Path(metrics.ingest.__file__).parent
    source = "\n".join(p.read_text() for p in sorted(root.rglob("*.py")))
    written = set(re.findall(r'Reject\(\s*"([a-z_]+)"', source))
    written |= set(re.findall(r'"stray",\s*"([a-z_]+)"', source))
    written |= set(re.findall(r'out\.reject\([^)]*?"([a-z_]+)"', source, re.S))
    constants = {
        value
        for name in dir(reasons)
        if name.isupper() and isinstance(value := getattr(reasons, name), str)
    }
    assert written, "the scan found no reason at all"
    assert written | constants <= set(BY_CODE), (written | constants) - set(BY_CODE)
    unused = [r.code for r in REASONS if r.code not in constants and f'"{r.code}"' not in source]
    assert unused == []


# -- posts keep what the platforms say about media ----------------------------------------------


def test_posts_keep_media_type_and_product_type_null_where_unsaid(tmp_path: Path) -> None:
    from metrics.ingest.steps import commit_normalized, ingest_landing_date, rebuild_posts

    raw, warehouse = tmp_path / "raw", tmp_path / "wh"
    ig = {
        "data": [
            {"id": "1", "media_type": "IMAGE", "media_product_type": "FEED", "like_count": 1},
            {"id": "2", "media_type": "VIDEO", "media_product_type": "REELS", "like_count": 1},
            {"id": "3", "media_type": "VIDEO", "media_product_type": "STORY", "like_count": 1},
        ]
    }
    videos = [
        {"item_id": "10", "create_time": 1772668800, "media_type": "PHOTO", "video_views": 1},
        {"item_id": "11", "create_time": 1772668800, "video_views": 1},
    ]
    tweets = {"data": [{"id": "20", "public_metrics": {"like_count": 1}}]}
    report = _report(["day", "video", "views"], [["2026-03-04", "yt1", 5]])
    write_lines(
        raw,
        f"instagram/{DAY}/m.jsonl",
        [
            envelope("instagram", "media", "acc_ig", T0, ig),
            # Seen again later by an insights fetch, which says nothing of the media: kept.
            envelope(
                "instagram", "media_insights", "acc_ig", T1, {"data": [insight("reach", 3, "1")]}
            ),
        ],
    )
    write_lines(
        raw,
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
    write_lines(raw, f"x/{DAY}/t.jsonl", [envelope("x", "tweets", "acc_x", T0, tweets)])
    write_lines(
        raw, f"youtube/{DAY}/r.jsonl", [envelope("youtube", "reports.query", "acc_yt", T0, report)]
    )
    write_catalog(raw, "2026-03-01")
    stats = ingest_landing_date(raw, warehouse, date.fromisoformat(DAY), load_catalog(raw))
    commit_normalized(warehouse, [stats])  # the run's one commit of the staged partitions
    posts = rebuild_posts(warehouse).sort("platform_post_id")
    assert posts.select(
        "platform_post_id", "media_kind", "media_type", "media_product_type"
    ).rows() == [
        ("pst_instagram_1", "FEED", "IMAGE", "FEED"),
        ("pst_instagram_2", "REELS", "VIDEO", "REELS"),
        ("pst_instagram_3", "STORY", "VIDEO", "STORY"),
        ("pst_tiktok_10", "PHOTO", "PHOTO", None),
        ("pst_tiktok_11", "VIDEO", None, None),
        ("pst_x_20", "tweet", None, None),
        ("pst_youtube_yt1", "video", None, None),
    ]
