"""YouTube bodies: `videos.list` and `reports.query` (per-day rows) and `channels.list`.

YouTube gives no lifetime snapshots here: a listed or reported video is a sighting, and the
report's per-day values are period rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from metrics.ingest.adapters.protocol import Context, Reject, Sink
from metrics.ingest.adapters.rows import follower_row, list_of_records
from metrics.ingest.adapters.values import counts, native_id, published, scaled
from metrics.model import scopes


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


def _youtube_error(response: dict[str, Any]) -> Reject | None:
    if "error" in response:
        return Reject("api_error", f"YouTube error: {orjson.dumps(response['error']).decode()}")
    return None


def youtube_videos(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    error = _youtube_error(response)
    if error:
        return error
    items = list_of_records(response.get("items"), "response.items")
    if isinstance(items, Reject):
        return items
    for i, item in enumerate(items):
        if not isinstance(item, dict) or (native := native_id(item.get("id"))) is None:
            ctx.reject_record(i, item, "invalid_record", "a video needs an id")
            continue
        snippet = item.get("snippet")
        published_at = published(snippet if isinstance(snippet, dict) else {}, "publishedAt")
        if isinstance(published_at, Reject):
            ctx.reject_record(i, item, published_at.reason, published_at.detail)
            continue
        _sighting(out, ctx, scopes.post_id("youtube", native), published_at)
    return None


def youtube_report(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    error = _youtube_error(response)
    if error:
        return error
    headers = list_of_records(response.get("columnHeaders"), "response.columnHeaders")
    if isinstance(headers, Reject):
        return headers
    names = [h.get("name") if isinstance(h, dict) else None for h in headers]
    if "day" not in names or "video" not in names:
        return Reject("invalid_envelope", "reports.query needs the dimensions `day` and `video`")
    rows = response.get("rows")
    if rows is None:
        return None
    rows = list_of_records(rows, "response.rows")
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
        values = counts(
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
        post_id = scopes.post_id("youtube", native)
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
    return follower_row(out, ctx, stats.get("subscriberCount"))
