"""Platform adapters: each native response body -> column rows, per spec §2.

Each adapter reads only the fields the metric mapping names. A record that cannot be used is
rejected alone, through `Context.reject`, so its siblings in the same response are kept; a
response that cannot be used at all returns a `Reject` and the caller quarantines the line.
Values are parsed exactly: integers stay Python ints (snowflake ids never meet a float), numeric
strings are accepted, and a missing or null metric stays None, meaning "unknown", never zero.
A value that no BIGINT column can hold is rejected as `integer_out_of_range` here, before polars
would turn it into a null (spec §2: never a null).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import orjson
import polars as pl

from metrics.model.measures import POST_METRICS

Rows = dict[str, list[Any]]

POST_COLUMNS = (
    "platform_post_id",
    "platform",
    "social_account_id",
    "collected_at",
    "landing_file",
    "line",
    *POST_METRICS,
    "published_at",
    "media_kind",
)
PERIOD_COLUMNS = (
    "platform_post_id",
    "platform",
    "social_account_id",
    "day",
    "collected_at",
    "landing_file",
    "line",
    *POST_METRICS,
)
FOLLOWER_COLUMNS = (
    "social_account_id",
    "platform",
    "collected_at",
    "landing_file",
    "line",
    "followers",
)
# A post seen without a snapshot (YouTube lists and reports): the sighting columns alone.
SIGHTING_COLUMNS = (
    "platform_post_id",
    "platform",
    "social_account_id",
    "collected_at",
    "landing_file",
    "line",
    "published_at",
    "media_kind",
)

EPOCH_COLUMNS = frozenset({"collected_at", "published_at"})
RAW_TYPES: dict[str, pl.DataType] = {
    **{m: pl.Int64() for m in POST_METRICS},
    "collected_at": pl.Int64(),
    "published_at": pl.Int64(),
    "line": pl.Int64(),
    "followers": pl.Int64(),
    "day": pl.Date(),
}


INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
# Epoch seconds that a timestamp can hold (years 1-9999, as Python's datetime and every reader).
EPOCH_MIN = int(datetime(1, 1, 1, tzinfo=UTC).timestamp())
EPOCH_MAX = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class Reject:
    """Why a line or record cannot be used: a stable reason code and a human detail."""

    reason: str
    detail: str


class _Bad:
    """Marks a value that is present but not a usable number, with the reason to quarantine."""

    def __init__(self, reason: str, says: str) -> None:
        self.reason = reason
        self.says = says

    def __repr__(self) -> str:
        return f"<{self.reason}>"

    def reject(self, what: str, value: object) -> Reject:
        shown = "(a derived value)" if isinstance(value, _Bad) else repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return Reject(self.reason, f"{what} {shown} {self.says}")


BAD = _Bad("non_numeric", "is not a number")
OUT_OF_RANGE = _Bad("integer_out_of_range", "is outside the signed 64-bit range")


def _in_range(value: int) -> int | _Bad:
    return value if INT64_MIN <= value <= INT64_MAX else OUT_OF_RANGE


def new_rows(columns: tuple[str, ...]) -> Rows:
    return {c: [] for c in columns}


@dataclass(frozen=True)
class Context:
    file: str
    line: int
    platform: str
    account: str
    collected_at: int
    reject: Callable[[str, int, int | None, str, str, str], None]

    def reject_record(self, index: int, record: object, reason: str, detail: str) -> None:
        raw = orjson.dumps(record).decode() if record is not None else ""
        self.reject(self.file, self.line, index, reason, detail, raw)


@lru_cache(maxsize=65536)
def parse_timestamp(text: str) -> int | Reject:
    """ISO-8601 with `Z` or an offset (also `+0000`) -> epoch seconds, truncated to the second."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return Reject("invalid_envelope", f"{text!r} is not an ISO-8601 timestamp")
    if parsed.tzinfo is None:
        return Reject("timestamp_without_zone", f"{text!r} has no UTC offset or Z")
    try:
        return int(parsed.astimezone(UTC).timestamp() // 1)
    except OverflowError:
        return Reject("timestamp_out_of_range", f"{text!r} is outside the years 1-9999 in UTC")


def epoch_seconds(value: object, what: str) -> int | Reject | None:
    """Epoch seconds (int or numeric string) that a timestamp column can hold; None if absent."""
    seconds = count(value)
    if isinstance(seconds, _Bad):
        return seconds.reject(what, value)
    if seconds is not None and not EPOCH_MIN <= seconds <= EPOCH_MAX:
        return Reject("timestamp_out_of_range", f"{what} {seconds} is outside the years 1-9999")
    return seconds


def count(value: object) -> int | _Bad | None:
    """A whole number in the signed 64-bit range from a JSON number or numeric string; None when
    absent, OUT_OF_RANGE beyond int64 (`9223372036854775808`, `1e20`, a 30-digit string)."""
    kind = type(value)
    if kind is int:
        return _in_range(value)  # type: ignore[arg-type]
    if value is None:
        return None
    if kind is str:
        try:
            return _in_range(int(value))  # type: ignore[arg-type]
        except ValueError:
            return _integral(_decimal(value))
    if kind is float:
        if not value.is_integer():  # type: ignore[union-attr]
            return BAD
        # orjson hands integers beyond 64 bits over as floats; a float at ±2**63 or beyond
        # cannot be told from one of those, so it is out of range too.
        return int(value) if -(2.0**63) < value < 2.0**63 else OUT_OF_RANGE  # type: ignore[operator]
    if isinstance(value, _Bad):
        return value
    return BAD


def scaled(value: object, factor: int) -> int | _Bad | None:
    """A possibly fractional quantity times `factor`, rounded half-to-even to a whole number."""
    kind = type(value)
    if kind is int:
        return _in_range(value * factor)  # type: ignore[operator]
    if value is None:
        return None
    if kind is float:
        product = value * factor  # type: ignore[operator]
        if not -(2.0**63) < product < 2.0**63:
            return OUT_OF_RANGE
        nearest = round(product)
        if abs(product - nearest) < 1e-6:
            # Clearly integral (the usual 3-decimal seconds): no tie to break, no Decimal needed.
            return int(nearest)
    if kind is float or kind is str:
        dec = _decimal(value)
        if dec is None:
            return BAD
        if dec and dec.adjusted() > 19:
            return OUT_OF_RANGE  # checked before int(): `1e999999999` must not become an int
        return _in_range(int((dec * factor).to_integral_value(rounding=ROUND_HALF_EVEN)))
    return BAD


def _decimal(value: object) -> Decimal | None:
    try:
        dec = Decimal(repr(value) if type(value) is float else str(value).strip())
    except InvalidOperation:
        return None
    return dec if dec.is_finite() else None


def _integral(dec: Decimal | None) -> int | _Bad:
    if dec is None or dec != dec.to_integral_value():
        return BAD
    if dec and dec.adjusted() > 18:
        return OUT_OF_RANGE  # checked before int(): `1e999999999` must not become an int
    return _in_range(int(dec))


def native_id(value: object) -> str | None:
    """Ids stay strings; a JSON integer id is exact in Python, so str() of it is safe."""
    if type(value) is str and value:
        return value  # type: ignore[return-value]
    if type(value) is int:
        return str(value)
    return None


def _counts(values: tuple[object, ...], lifetime: bool) -> tuple[int | None, ...] | Reject:
    """Validate the 8 metric values (POST_METRICS order) in one pass; ints take the fast path."""
    fixed: list[object] | None = None
    for i, value in enumerate(values):
        if type(value) is int:
            if not INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
                return OUT_OF_RANGE.reject(POST_METRICS[i], value)
            if lifetime and value < 0:  # type: ignore[operator]
                return Reject(
                    "negative_counter", f"lifetime {POST_METRICS[i]} is negative ({value})"
                )
            continue
        if value is None:
            continue
        parsed = count(value)
        if isinstance(parsed, _Bad):
            return parsed.reject(POST_METRICS[i], value)
        if lifetime and parsed < 0:  # type: ignore[operator]
            return Reject("negative_counter", f"lifetime {POST_METRICS[i]} is negative ({parsed})")
        fixed = fixed or list(values)
        fixed[i] = parsed
    return tuple(fixed) if fixed is not None else values  # type: ignore[return-value]


class Sink:
    """What an adapter writes to; implemented by the partition builder."""

    posts: list[tuple[object, ...]]
    periods: list[tuple[object, ...]]
    followers: list[tuple[object, ...]]
    sightings: list[tuple[object, ...]]


def _sighting(out: Sink, ctx: Context, post_id: str, published_at: int | None) -> None:
    """A YouTube video seen in a list or a report; snapshots carry their sighting themselves."""
    out.sightings.append(
        (
            post_id,
            "youtube",
            ctx.account,
            ctx.collected_at,
            ctx.file,
            ctx.line,
            published_at,
            "video",
        )
    )


def _post_row(
    out: Sink,
    ctx: Context,
    post_id: str,
    values: tuple[int | None, ...],
    published_at: int | None,
    media_kind: str | None,
) -> None:
    """One snapshot row; its publication time and media kind ride along, so the post's
    sighting is aggregated in polars later (normalize._sightings) instead of per record here."""
    out.posts.append(
        (
            post_id,
            ctx.platform,
            ctx.account,
            ctx.collected_at,
            ctx.file,
            ctx.line,
            *values,
            published_at,
            media_kind,
        )
    )


def _follower_row(out: Sink, ctx: Context, value: object) -> Reject | None:
    parsed = count(value)
    if isinstance(parsed, _Bad):
        return parsed.reject("follower count", value)
    if parsed is None:
        return Reject("invalid_envelope", "the follower count is missing")
    if parsed < 0:  # type: ignore[operator]
        return Reject("negative_counter", f"follower count is negative ({parsed})")
    out.followers.append((ctx.account, ctx.platform, ctx.collected_at, ctx.file, ctx.line, parsed))
    return None


def _list_of_records(value: object, where: str) -> list[Any] | Reject:
    if not isinstance(value, list):
        return Reject("invalid_envelope", f"{where} must be a list")
    return value


def _published(record: dict[str, Any], key: str) -> int | Reject | None:
    raw = record.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str):
        return Reject("invalid_record", f"{key} must be an ISO-8601 string")
    parsed = parse_timestamp(raw)
    if isinstance(parsed, Reject):
        reason = "invalid_record" if parsed.reason == "invalid_envelope" else parsed.reason
        return Reject(reason, f"{key}: {parsed.detail}")
    return parsed


def _tiktok_error(response: dict[str, Any]) -> Reject | None:
    code = response.get("code", 0)
    if code not in (0, "0"):
        return Reject("api_error", f"TikTok code {code}: {response.get('message', '')}")
    return None


def tiktok_videos(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    error = _tiktok_error(response)
    if error:
        return error
    data = response.get("data")
    videos = _list_of_records(
        data.get("videos") if isinstance(data, dict) else None, "response.data.videos"
    )
    if isinstance(videos, Reject):
        return videos
    for i, video in enumerate(videos):
        if not isinstance(video, dict) or (native := native_id(video.get("item_id"))) is None:
            ctx.reject_record(i, video, "invalid_record", "a video needs an item_id")
            continue
        created = epoch_seconds(video.get("create_time"), "create_time")
        if isinstance(created, Reject):
            ctx.reject_record(i, video, created.reason, created.detail)
            continue
        get = video.get
        values = _counts(
            (
                get("video_views"),
                get("reach"),
                None,
                get("likes"),
                get("comments"),
                get("shares"),
                get("favorites", get("favorities")),
                scaled(get("total_time_watched"), 1000),
            ),
            lifetime=True,
        )
        if isinstance(values, Reject):
            ctx.reject_record(i, video, values.reason, values.detail)
            continue
        post_id = f"pst_tiktok_{native}"
        kind = video.get("media_type") if isinstance(video.get("media_type"), str) else "VIDEO"
        _post_row(out, ctx, post_id, values, created, kind)  # type: ignore[arg-type]
    return None


def tiktok_account(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    error = _tiktok_error(response)
    if error:
        return error
    data = response.get("data")
    if not isinstance(data, dict):
        return Reject("invalid_envelope", "response.data must be an object")
    return _follower_row(out, ctx, data.get("followers_count"))


_IG_INSIGHTS = {
    "views": "views",
    "reach": "reach",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "saved": "saves",
    "ig_reels_video_view_total_time": "watch_time_ms",
}


def _ig_insights(media: dict[str, Any]) -> dict[str, object] | Reject:
    insights = media.get("insights")
    if insights is None:
        return {}
    items = insights.get("data") if isinstance(insights, dict) else None
    if not isinstance(items, list):
        return Reject("invalid_record", "insights must be {'data': [...]}")
    try:
        # The well-formed case in one comprehension; anything odd falls through to the checks.
        return {
            _IG_INSIGHTS[item["name"]]: item["values"][0]["value"]
            for item in items
            if item["name"] in _IG_INSIGHTS
        }
    except (KeyError, IndexError, TypeError):
        pass
    found: dict[str, object] = {}
    for item in items:
        if not isinstance(item, dict):
            return Reject("invalid_record", "an insight must be an object")
        metric = _IG_INSIGHTS.get(item.get("name"))  # type: ignore[arg-type]
        values = item.get("values")
        if metric is None or not isinstance(values, list) or not values:
            continue
        first = values[0]
        found[metric] = first.get("value") if isinstance(first, dict) else BAD
    return found


def instagram_media(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    if "error" in response:
        return Reject("api_error", f"Instagram error: {orjson.dumps(response['error']).decode()}")
    media_list = _list_of_records(response.get("data"), "response.data")
    if isinstance(media_list, Reject):
        return media_list
    for i, media in enumerate(media_list):
        if not isinstance(media, dict) or (native := native_id(media.get("id"))) is None:
            ctx.reject_record(i, media, "invalid_record", "a media object needs an id")
            continue
        published = _published(media, "timestamp")
        if isinstance(published, Reject):
            ctx.reject_record(i, media, published.reason, published.detail)
            continue
        insights = _ig_insights(media)
        if isinstance(insights, Reject):
            ctx.reject_record(i, media, insights.reason, insights.detail)
            continue
        likes = insights.get("likes")
        comments = insights.get("comments")
        values = _counts(
            (
                insights.get("views"),
                insights.get("reach"),
                None,
                likes if likes is not None else media.get("like_count"),
                comments if comments is not None else media.get("comments_count"),
                insights.get("shares"),
                insights.get("saves"),
                insights.get("watch_time_ms"),
            ),
            lifetime=True,
        )
        if isinstance(values, Reject):
            ctx.reject_record(i, media, values.reason, values.detail)
            continue
        kind = media.get("media_product_type") or media.get("media_type")
        post_id = f"pst_instagram_{native}"
        _post_row(out, ctx, post_id, values, published, kind if isinstance(kind, str) else None)
    return None


def instagram_user(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    if "error" in response:
        return Reject("api_error", f"Instagram error: {orjson.dumps(response['error']).decode()}")
    return _follower_row(out, ctx, response.get("followers_count"))


def _youtube_error(response: dict[str, Any]) -> Reject | None:
    if "error" in response:
        return Reject("api_error", f"YouTube error: {orjson.dumps(response['error']).decode()}")
    return None


def youtube_videos(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    error = _youtube_error(response)
    if error:
        return error
    items = _list_of_records(response.get("items"), "response.items")
    if isinstance(items, Reject):
        return items
    for i, item in enumerate(items):
        if not isinstance(item, dict) or (native := native_id(item.get("id"))) is None:
            ctx.reject_record(i, item, "invalid_record", "a video needs an id")
            continue
        snippet = item.get("snippet")
        published = _published(snippet if isinstance(snippet, dict) else {}, "publishedAt")
        if isinstance(published, Reject):
            ctx.reject_record(i, item, published.reason, published.detail)
            continue
        _sighting(out, ctx, f"pst_youtube_{native}", published)
    return None


def youtube_report(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    error = _youtube_error(response)
    if error:
        return error
    headers = _list_of_records(response.get("columnHeaders"), "response.columnHeaders")
    if isinstance(headers, Reject):
        return headers
    names = [h.get("name") if isinstance(h, dict) else None for h in headers]
    if "day" not in names or "video" not in names:
        return Reject("invalid_envelope", "reports.query needs the dimensions `day` and `video`")
    rows = response.get("rows")
    if rows is None:
        return None
    rows = _list_of_records(rows, "response.rows")
    if isinstance(rows, Reject):
        return rows
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            ctx.reject_record(i, row, "invalid_record", "a row must have one value per header")
            continue
        by_name = dict(zip(names, row, strict=True))
        native = native_id(by_name["video"])
        try:
            day = date.fromisoformat(by_name["day"])
        except (TypeError, ValueError):
            day = None
        if native is None or day is None:
            ctx.reject_record(i, row, "invalid_record", "a row needs a `video` id and a `day`")
            continue
        get = by_name.get
        values = _counts(
            (
                get("views"),
                None,
                None,
                get("likes"),
                get("comments"),
                get("shares"),
                None,
                scaled(get("estimatedMinutesWatched"), 60_000),
            ),
            lifetime=False,
        )
        if isinstance(values, Reject):
            ctx.reject_record(i, row, values.reason, values.detail)
            continue
        post_id = f"pst_youtube_{native}"
        _sighting(out, ctx, post_id, None)
        out.periods.append(
            (post_id, "youtube", ctx.account, day, ctx.collected_at, ctx.file, ctx.line, *values)
        )
    return None


def youtube_channel(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    error = _youtube_error(response)
    if error:
        return error
    items = response.get("items")
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        return Reject("invalid_envelope", "channels.list returned no channel item")
    stats = items[0].get("statistics")
    if not isinstance(stats, dict):
        return Reject("invalid_envelope", "the channel item has no statistics")
    return _follower_row(out, ctx, stats.get("subscriberCount"))


def _sum_known(a: object, b: object) -> object:
    """a + b when both are known; a marker (BAD first) when either is one. The sum itself may
    leave int64 range; `_counts` checks it."""
    if a is BAD or b is BAD:
        return BAD
    if isinstance(a, _Bad) or isinstance(b, _Bad):
        return OUT_OF_RANGE
    if a is None or b is None:
        return None
    return a + b  # type: ignore[operator]


def x_tweets(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    errors = response.get("errors")
    data = response.get("data")
    if data is None and isinstance(errors, list) and errors:
        return Reject("api_error", f"X errors only: {orjson.dumps(errors).decode()[:500]}")
    tweets = _list_of_records(data, "response.data")
    if isinstance(tweets, Reject):
        return tweets
    if isinstance(errors, list):
        for i, err in enumerate(errors):
            title = err.get("title", "error") if isinstance(err, dict) else "error"
            ctx.reject_record(i, err, "api_error", f"X errors[{i}]: {title}")
    for i, tweet in enumerate(tweets):
        if not isinstance(tweet, dict) or (native := native_id(tweet.get("id"))) is None:
            ctx.reject_record(i, tweet, "invalid_record", "a tweet needs an id")
            continue
        published = _published(tweet, "created_at")
        if isinstance(published, Reject):
            ctx.reject_record(i, tweet, published.reason, published.detail)
            continue
        pm = tweet.get("public_metrics")
        if pm is not None and not isinstance(pm, dict):
            ctx.reject_record(i, tweet, "invalid_record", "public_metrics must be an object")
            continue
        get = (pm or {}).get
        impressions = get("impression_count")
        values = _counts(
            (
                impressions,
                None,
                impressions,
                get("like_count"),
                get("reply_count"),
                _sum_known(count(get("retweet_count")), count(get("quote_count"))),
                get("bookmark_count"),
                None,
            ),
            lifetime=True,
        )
        if isinstance(values, Reject):
            ctx.reject_record(i, tweet, values.reason, values.detail)
            continue
        post_id = f"pst_x_{native}"
        _post_row(out, ctx, post_id, values, published, "tweet")
    return None


def x_user(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    data = response.get("data")
    if data is None and response.get("errors"):
        return Reject("api_error", f"X errors: {orjson.dumps(response['errors']).decode()[:500]}")
    if not isinstance(data, dict) or not isinstance(data.get("public_metrics"), dict):
        return Reject("invalid_envelope", "response.data.public_metrics must be an object")
    return _follower_row(out, ctx, data["public_metrics"].get("followers_count"))


Handler = Callable[[dict[str, Any], Context, Sink], Reject | None]

HANDLERS: dict[tuple[str, str], Handler] = {
    ("tiktok", "business/video/list"): tiktok_videos,
    ("tiktok", "business/get"): tiktok_account,
    ("instagram", "media"): instagram_media,
    ("instagram", "user"): instagram_user,
    ("youtube", "videos.list"): youtube_videos,
    ("youtube", "reports.query"): youtube_report,
    ("youtube", "channels.list"): youtube_channel,
    ("x", "tweets"): x_tweets,
    ("x", "users"): x_user,
}
