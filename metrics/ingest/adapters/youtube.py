"""YouTube bodies: `videos.list` and `reports.query` (per-day rows) and `channels.list`.

YouTube gives no lifetime snapshots here: a listed or reported video is a sighting, and the
report's per-day values are period rows. A report names its video in a `video` column, or, for
the usual per-video query (`dimensions=day`), in the request's `filters` (`video==<id>`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import orjson

from metrics.ingest.adapters import bodies as b
from metrics.ingest.adapters.protocol import Context, Handler, Reject, Sink, metric_row
from metrics.ingest.adapters.rows import follower_row, list_of_records
from metrics.ingest.adapters.values import counts, native_id, published, published_value, scaled
from metrics.model import scopes
from metrics.model.reasons import AMBIGUOUS_REPORT, API_ERROR, INVALID_BODY, INVALID_RECORD

_METRICS = ("views", "likes", "comments", "shares", "estimatedMinutesWatched")


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
            None,
            None,
        )
    )


def _error(error: object) -> Reject:
    return Reject(API_ERROR, f"YouTube error: {orjson.dumps(error).decode()}")


def _videos_fast(body: b.YouTubeVideoList, ctx: Context, out: Sink) -> Reject | None:
    if body.error is not b.UNSET:
        return _error(orjson.loads(ctx.body)["error"])
    if body.items is None:
        return Reject(INVALID_BODY, "response.items must be a list")
    for i, item in enumerate(body.items):
        native = native_id(item.id)
        if native is None:
            ctx.reject_at(i, ("items", i), INVALID_RECORD, "a video needs an id")
            continue
        raw = item.snippet.publishedAt if item.snippet is not None else None
        published_at = published_value(raw, "publishedAt")
        if isinstance(published_at, Reject):
            ctx.reject_at(i, ("items", i), published_at.reason, published_at.detail)
            continue
        _sighting(out, ctx, scopes.post_id("youtube", native), published_at)
    return None


def _videos_loose(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    if "error" in response:
        return _error(response["error"])
    items = list_of_records(response.get("items"), "response.items")
    if isinstance(items, Reject):
        return items
    for i, item in enumerate(items):
        if not isinstance(item, dict) or (native := native_id(item.get("id"))) is None:
            ctx.reject_record(i, item, INVALID_RECORD, "a video needs an id")
            continue
        snippet = item.get("snippet")
        published_at = published(snippet if isinstance(snippet, dict) else {}, "publishedAt")
        if isinstance(published_at, Reject):
            ctx.reject_record(i, item, published_at.reason, published_at.detail)
            continue
        _sighting(out, ctx, scopes.post_id("youtube", native), published_at)
    return None


def filtered_videos(request: object) -> list[str]:
    """The videos of `request.filters` (`video==a` or `video==a,b`, among other filters joined
    by `;`), in order; none when the request names none."""
    filters = request.get("filters") if isinstance(request, dict) else None
    if not isinstance(filters, str):
        return []
    for part in filters.split(";"):
        key, sep, value = part.partition("==")
        if sep and key.strip() == "video":
            return [v.strip() for v in value.split(",") if v.strip()]
    return []


def _report(
    names: list[object],
    rows: object,
    ctx: Context,
    out: Sink,
    reject: Callable[[int, str, str], None],
) -> Reject | None:
    """Rows zipped by header name (the last of a repeated name wins), never by position."""
    if "day" not in names:
        return Reject(INVALID_BODY, "reports.query needs the dimension `day`")
    pos = {name: k for k, name in enumerate(names)}
    video_at = pos.get("video")
    fixed: str | None = None
    if video_at is None:
        videos = filtered_videos(ctx.request)
        if len(videos) > 1:
            return Reject(
                AMBIGUOUS_REPORT,
                f"rows without a `video` column while request.filters names {len(videos)} "
                "videos: add the `video` dimension or query one video at a time",
            )
        if not videos:
            return Reject(
                INVALID_BODY,
                "reports.query needs the dimension `video` or request.filters `video==<id>`",
            )
        fixed = videos[0]
    if rows is None:
        return None
    if not isinstance(rows, list):
        return Reject(INVALID_BODY, "response.rows must be a list")
    day_at = pos["day"]
    at = [pos.get(m) for m in _METRICS]
    width = len(names)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            reject(i, INVALID_RECORD, "a row must have one value per header")
            continue
        native = fixed if video_at is None else native_id(row[video_at])
        try:
            day = date.fromisoformat(row[day_at])
        except (TypeError, ValueError):
            day = None
        if native is None or day is None:
            reject(i, INVALID_RECORD, "a row needs a `video` id and a `day`")
            continue
        views, likes, comments, shares, minutes = (None if k is None else row[k] for k in at)
        row = metric_row(
            views=views,
            likes=likes,
            comments=comments,
            shares=shares,
            watch_time_ms=scaled(minutes, 60_000),
        )
        values = counts(row, lifetime=False)
        if isinstance(values, Reject):
            reject(i, values.reason, values.detail)
            continue
        post_id = scopes.post_id("youtube", native)
        _sighting(out, ctx, post_id, None)
        out.periods.append(
            (post_id, "youtube", ctx.account, day, ctx.collected_at, ctx.file, ctx.line, *values)
        )
    return None


def _report_fast(body: b.YouTubeReport, ctx: Context, out: Sink) -> Reject | None:
    if body.error is not b.UNSET:
        return _error(orjson.loads(ctx.body)["error"])
    if body.columnHeaders is None:
        return Reject(INVALID_BODY, "response.columnHeaders must be a list")

    def reject(i: int, reason: str, detail: str) -> None:
        ctx.reject_at(i, ("rows", i), reason, detail)

    return _report([h.name for h in body.columnHeaders], body.rows, ctx, out, reject)


def _report_loose(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    if "error" in response:
        return _error(response["error"])
    headers = list_of_records(response.get("columnHeaders"), "response.columnHeaders")
    if isinstance(headers, Reject):
        return headers
    names = [h.get("name") if isinstance(h, dict) else None for h in headers]
    rows = response.get("rows")

    def reject(i: int, reason: str, detail: str) -> None:
        ctx.reject_record(i, rows[i], reason, detail)  # type: ignore[index]

    return _report(names, rows, ctx, out, reject)


def _channel_fast(body: b.YouTubeChannelList, ctx: Context, out: Sink) -> Reject | None:
    if body.error is not b.UNSET:
        return _error(orjson.loads(ctx.body)["error"])
    if not body.items:
        return Reject(INVALID_BODY, "channels.list returned no channel item")
    stats = body.items[0].statistics
    return follower_row(out, ctx, stats.subscriberCount if stats is not None else None)


def _channel_loose(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    if "error" in response:
        return _error(response["error"])
    items = response.get("items")
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        return Reject(INVALID_BODY, "channels.list returned no channel item")
    stats = items[0].get("statistics")
    if stats is not None and not isinstance(stats, dict):
        return Reject(INVALID_BODY, "the channel's statistics must be an object")
    return follower_row(out, ctx, stats.get("subscriberCount") if stats else None)


youtube_videos = Handler(b.decoder(b.YouTubeVideoList), _videos_fast, _videos_loose)
youtube_report = Handler(b.decoder(b.YouTubeReport), _report_fast, _report_loose)
youtube_channel = Handler(b.decoder(b.YouTubeChannelList), _channel_fast, _channel_loose)
