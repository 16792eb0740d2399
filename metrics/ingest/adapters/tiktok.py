"""TikTok Business API bodies: `business/video/list` (video snapshots) and `business/get`."""

from __future__ import annotations

from typing import Any

from metrics.ingest.adapters.protocol import Context, Reject, Sink
from metrics.ingest.adapters.rows import follower_row, list_of_records, post_row
from metrics.ingest.adapters.values import counts, epoch_seconds, native_id, scaled
from metrics.model import scopes


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
    videos = list_of_records(
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
        values = counts(
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
        post_id = scopes.post_id("tiktok", native)
        kind = video.get("media_type") if isinstance(video.get("media_type"), str) else "VIDEO"
        post_row(out, ctx, post_id, values, created, kind)
    return None


def tiktok_account(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    error = _tiktok_error(response)
    if error:
        return error
    data = response.get("data")
    if not isinstance(data, dict):
        return Reject("invalid_envelope", "response.data must be an object")
    return follower_row(out, ctx, data.get("followers_count"))
