"""Instagram Graph API bodies: `media` (with lifetime insights) and `user` (followers)."""

from __future__ import annotations

from typing import Any

import orjson

from metrics.ingest.adapters.protocol import Context, Reject, Sink
from metrics.ingest.adapters.rows import follower_row, list_of_records, post_row
from metrics.ingest.adapters.values import BAD, counts, native_id, published
from metrics.model import scopes

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
        name = item.get("name")
        metric = _IG_INSIGHTS.get(name) if isinstance(name, str) else None
        values = item.get("values")
        if metric is None or not isinstance(values, list) or not values:
            continue
        first = values[0]
        found[metric] = first.get("value") if isinstance(first, dict) else BAD
    return found


def instagram_media(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    if "error" in response:
        return Reject("api_error", f"Instagram error: {orjson.dumps(response['error']).decode()}")
    media_list = list_of_records(response.get("data"), "response.data")
    if isinstance(media_list, Reject):
        return media_list
    for i, media in enumerate(media_list):
        if not isinstance(media, dict) or (native := native_id(media.get("id"))) is None:
            ctx.reject_record(i, media, "invalid_record", "a media object needs an id")
            continue
        published_at = published(media, "timestamp")
        if isinstance(published_at, Reject):
            ctx.reject_record(i, media, published_at.reason, published_at.detail)
            continue
        insights = _ig_insights(media)
        if isinstance(insights, Reject):
            ctx.reject_record(i, media, insights.reason, insights.detail)
            continue
        likes = insights.get("likes")
        comments = insights.get("comments")
        values = counts(
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
        post_id = scopes.post_id("instagram", native)
        post_row(out, ctx, post_id, values, published_at, kind if isinstance(kind, str) else None)
    return None


def instagram_user(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    if "error" in response:
        return Reject("api_error", f"Instagram error: {orjson.dumps(response['error']).decode()}")
    return follower_row(out, ctx, response.get("followers_count"))
