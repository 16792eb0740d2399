"""The typed fast path of every endpoint gives exactly what the plain-JSON path gives.

Each endpoint's `Handler` decodes a body into msgspec structures and maps them; a body the
structures reject goes to `Handler.loose`, which walks plain JSON values. Hypothesis builds
bodies around each endpoint's documented shape, with values of every kind the platforms send or
a collector could break (numeric strings, floats, negatives, numbers past 64 bits, booleans,
nulls, missing fields, records that are not objects), and the two paths must write the same rows
and the same quarantine rows, record by record.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.ingest.adapters import HANDLERS, Columns, Context, Reject, Sink
from metrics.ingest.adapters.protocol import (
    FOLLOWER_COLUMNS,
    PERIOD_COLUMNS,
    POST_COLUMNS,
    SIGHTING_COLUMNS,
)


class _Sink(Sink):
    def __init__(self) -> None:
        self.posts = Columns(POST_COLUMNS)
        self.periods = Columns(PERIOD_COLUMNS)
        self.followers = Columns(FOLLOWER_COLUMNS)
        self.sightings = Columns(SIGHTING_COLUMNS)


def _run(key: tuple[str, str], body: Any, request: Any, typed: bool) -> tuple:
    raw = json.dumps(body).encode()  # stdlib: it writes integers past 64 bits, as files may
    rejects: list[tuple] = []
    ctx = Context(
        "f.jsonl", 1, key[0], "acc_1", 1_772_690_412, lambda *r: rejects.append(r), request, raw
    )
    out = _Sink()
    handler = HANDLERS[key]
    outcome = handler(raw, ctx, out) if typed else handler.loose(orjson.loads(raw), ctx, out)
    tables = {n: getattr(out, n).take() for n in ("posts", "periods", "followers", "sightings")}
    line = (outcome.reason, outcome.detail) if isinstance(outcome, Reject) else None
    return line, rejects, tables


def _same(key: tuple[str, str], body: Any, request: Any = None) -> None:
    assert _run(key, body, request, typed=True) == _run(key, body, request, typed=False)


CLEAN = st.one_of(st.integers(0, 10**7), st.integers(0, 10**7), st.none())
VALUES = st.one_of(
    st.none(),
    st.integers(0, 10**7),
    st.integers(-50, -1),
    st.sampled_from([2**63 - 1, 2**63, 2**64 + 5, -(2**63) - 1]),
    st.sampled_from(["12", "0", "-3", "1.0", "1e3", "n/a", " 7", "", "9223372036854775808"]),
    st.floats(-1e6, 1e20, allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.just([1]),
)
IDS = st.one_of(
    st.sampled_from(["7301234567890123456", "17912345678901234", "a1", ""]),
    st.integers(0, 2**70),
    st.none(),
    st.just({"id": 1}),
)
STAMPS = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "2026-03-04T13:22:10+0000",
            "2026-03-04T13:22:10.000Z",
            "2026-03-04T13:22:10",
            "yesterday",
            "9999-12-31T23:59:59-01:00",
        ]
    ),
    st.integers(0, 2**40),
)


def _record(fields: dict[str, st.SearchStrategy[Any]], clean: bool) -> st.SearchStrategy[Any]:
    """An object with any subset of `fields`; with odd values, now and then something that is
    not an object."""
    if clean:
        # The common record has its id.
        ids = {k: v for k, v in fields.items() if k in ("id", "item_id")}
        rest = {k: v for k, v in fields.items() if k not in ids}
        return st.fixed_dictionaries(ids, optional=rest)
    obj = st.fixed_dictionaries({}, optional=fields)
    return st.one_of(obj, obj, obj, obj, st.sampled_from(["nope", 3, None, []]))


def _tiktok_video(values: st.SearchStrategy[Any], clean: bool) -> st.SearchStrategy[Any]:
    stamps = st.sampled_from([1772668800, "1772668800"]) if clean else VALUES
    fields = {
        "item_id": st.sampled_from(["7301234567890123456", "7"]) if clean else IDS,
        "create_time": st.one_of(stamps, st.sampled_from(["1772668800", "１２"])),
        "media_type": st.one_of(st.sampled_from(["VIDEO", "PHOTO", ""]), st.none(), values),
        "total_time_watched": st.one_of(values, st.floats(0, 1e5), st.just(0.0005)),
        "caption": st.text(max_size=5),
    }
    for name in ("video_views", "reach", "likes", "comments", "shares", "favorites", "favorities"):
        fields[name] = values
    return _record(fields, clean)


def _insight(values: st.SearchStrategy[Any], clean: bool) -> st.SearchStrategy[Any]:
    names = ["views", "plays", "reach", "likes", "comments", "shares", "saved", "impressions"]
    value = st.fixed_dictionaries({}, optional={"value": values})
    fields = {
        "name": st.one_of(
            st.sampled_from(names),
            st.sampled_from(["ig_reels_video_view_total_time", "follows", ""]),
            st.nothing() if clean else values,
        ),
        "period": st.just("lifetime"),
        "values": st.lists(value if clean else st.one_of(value, VALUES), max_size=2),
        "id": st.one_of(
            st.sampled_from(
                ["111/insights/views/lifetime", "222/insights/x/lifetime", "/insights"]
            ),
            st.nothing() if clean else values,
        ),
    }
    return _record(fields, clean)


def _ig_media(values: st.SearchStrategy[Any], clean: bool) -> st.SearchStrategy[Any]:
    insights = st.fixed_dictionaries({"data": st.lists(_insight(values, clean), max_size=4)})
    fields = {
        "id": st.sampled_from(["17912345678901234", "9"]) if clean else IDS,
        "timestamp": st.sampled_from(["2026-03-04T13:22:10+0000"]) if clean else STAMPS,
        "media_type": st.one_of(st.sampled_from(["IMAGE", "VIDEO", "CAROUSEL_ALBUM"]), values),
        "media_product_type": st.one_of(st.sampled_from(["FEED", "REELS", "STORY", ""]), values),
        "like_count": values,
        "comments_count": values,
        "insights": insights if clean else st.one_of(insights, VALUES),
    }
    return _record(fields, clean)


def _tweet(values: st.SearchStrategy[Any], clean: bool) -> st.SearchStrategy[Any]:
    names = (
        "impression_count",
        "like_count",
        "reply_count",
        "retweet_count",
        "quote_count",
        "bookmark_count",
    )
    metrics = st.fixed_dictionaries({}, optional=dict.fromkeys(names, values))
    fields = {
        "id": st.sampled_from(["1785000000000000001", "2"]) if clean else IDS,
        "created_at": st.sampled_from(["2026-03-04T13:22:10.000Z"]) if clean else STAMPS,
        "public_metrics": metrics if clean else st.one_of(metrics, VALUES),
    }
    return _record(fields, clean)


def _lists(make: Any, max_size: int = 4) -> st.SearchStrategy[list[Any]]:
    """A list of records whose values are all of the common kind (the typed path takes the
    body), or of any kind (mostly the plain path)."""
    return st.one_of(
        st.lists(make(CLEAN, True), max_size=max_size),
        st.lists(make(VALUES, False), max_size=max_size),
    )


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(_lists(_tiktok_video), st.sampled_from([0, "0", 40001, None]))
def test_tiktok_videos(videos: list[Any], code: Any) -> None:
    _same(("tiktok", "business/video/list"), {"code": code, "data": {"videos": videos}})


@SETTINGS
@given(_lists(_ig_media), st.booleans())
def test_instagram_media_list_and_batch(media: list[Any], batch: bool) -> None:
    if batch:
        body = {f"1790000000000000{i}": m for i, m in enumerate(media)}
    else:
        body = {"data": media, "paging": {"cursors": {"after": "QVFI"}}}
    _same(("instagram", "media"), body)


@SETTINGS
@given(_lists(_insight, 6), st.one_of(st.none(), st.just({"media_id": "333"})))
def test_instagram_media_insights(items: list[Any], request: Any) -> None:
    _same(("instagram", "media_insights"), {"data": items}, request)


@SETTINGS
@given(
    st.one_of(_lists(_tweet), _tweet(CLEAN, True), _tweet(VALUES, False)),
    st.one_of(st.none(), st.just([{"title": "Not Found Error"}])),
)
def test_x_tweets(data: Any, errors: Any) -> None:
    body: dict[str, Any] = {"data": data}
    if errors is not None:
        body["errors"] = errors
    _same(("x", "tweets"), body)


ROW_VALUE = st.one_of(VALUES, st.sampled_from(["2026-03-03", "2026-02-30", "dQw4w9WgXcQ"]))


@SETTINGS
@given(
    st.permutations(["day", "video", "views", "likes", "estimatedMinutesWatched"]),
    st.integers(1, 5),
    st.lists(st.one_of(st.lists(ROW_VALUE, min_size=0, max_size=6), VALUES), max_size=4),
    st.sampled_from([None, {"filters": "video==dQw4w9WgXcQ"}, {"filters": "video==a,b"}]),
)
def test_youtube_reports(names: list[str], width: int, rows: list[Any], request: Any) -> None:
    headers = [{"name": n, "columnType": "METRIC"} for n in names[:width]]
    _same(("youtube", "reports.query"), {"columnHeaders": headers, "rows": rows}, request)


@SETTINGS
@given(VALUES, st.sampled_from(["tiktok", "instagram", "youtube", "x"]), st.integers(0, 3))
def test_follower_bodies(value: Any, platform: str, shape: int) -> None:
    count = {} if shape == 0 else {"c": value}
    bodies = {
        "tiktok": ("business/get", {"code": 0, "data": {"followers_count": value, **count}}),
        "instagram": ("user", {"id": "1", "followers_count": value} if shape else {"id": "1"}),
        "youtube": (
            "channels.list",
            {"items": [{"statistics": {"subscriberCount": value}} if shape else {"id": "UC"}]},
        ),
        "x": (
            "users",
            {"data": {"public_metrics": {"followers_count": value}} if shape else {"id": "1"}},
        ),
    }
    endpoint, body = bodies[platform]
    _same((platform, endpoint), body)


@SETTINGS
@given(
    st.lists(_tiktok_video(CLEAN, True), max_size=3),
    st.lists(_ig_media(CLEAN, True), max_size=3),
    st.lists(_tweet(CLEAN, True), max_size=3),
)
def test_common_bodies_take_the_typed_path(videos: list, media: list, tweets: list) -> None:
    """The parity above is not two runs of the plain path: common bodies decode typed."""
    for key, body in (
        (("tiktok", "business/video/list"), {"code": 0, "data": {"videos": videos}}),
        (("instagram", "media"), {"data": media}),
        (("instagram", "media"), {f"1{i}": m for i, m in enumerate(media)}),
        (("x", "tweets"), {"data": tweets}),
    ):
        HANDLERS[key].decoder.decode(json.dumps(body).encode())
        _same(key, body)
