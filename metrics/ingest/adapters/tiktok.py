"""TikTok Business API bodies: `business/video/list` (video snapshots) and `business/get`."""

from __future__ import annotations

from typing import Any

from metrics.ingest.adapters import bodies as b
from metrics.ingest.adapters.protocol import (
    Context,
    Handler,
    Reject,
    Sink,
    metric_row,
    typed_rows,
)
from metrics.ingest.adapters.rows import Media, follower_row, list_of_records, post_row, text
from metrics.ingest.adapters.values import (
    EPOCH_MAX,
    EPOCH_MIN,
    counts,
    epoch_seconds,
    native_id,
    scaled,
)
from metrics.model import scopes
from metrics.model.reasons import API_ERROR, INVALID_BODY, INVALID_RECORD

_PREFIX = scopes.post_id_prefix("tiktok")
_MEDIA = ("media_kind", "media_type")
_ROWS = typed_rows("tiktok", _MEDIA)
# The names the fast path binds its appends to, in the order it unpacks them.
_METRICS = ("views", "reach", "likes", "comments", "shares", "saves", "watch_time_ms")


def _tiktok_error(code: object, message: object) -> Reject | None:
    if code not in (0, "0"):
        return Reject(API_ERROR, f"TikTok code {code}: {message}")
    return None


def _video(i: int, ctx: Context, out: Sink, fields: tuple[object, ...], reject: Any) -> None:
    """One video from its used fields, in `TikTokVideo` order (both paths share this)."""
    item_id, create_time, media_type, views, reach, likes, comments, shares, saves, watched = fields
    native = native_id(item_id)
    if native is None:
        reject(i, INVALID_RECORD, "a video needs an item_id")
        return
    created = epoch_seconds(create_time, "create_time")
    if isinstance(created, Reject):
        reject(i, created.reason, created.detail)
        return
    row = metric_row(
        views=views,
        reach=reach,
        likes=likes,
        comments=comments,
        shares=shares,
        saves=saves,
        watch_time_ms=scaled(watched, 1000),
    )
    values = counts(row, lifetime=True)
    if isinstance(values, Reject):
        reject(i, values.reason, values.detail)
        return
    said = text(media_type)
    media: Media = ("VIDEO" if said is None else said, said, None)
    post_row(out, ctx, scopes.post_id("tiktok", native), values, created, media)


def _videos_fast(body: b.TikTokVideoList, ctx: Context, out: Sink) -> Reject | None:
    """The common record (counters validated by the decoder, an integral `create_time`, a
    non-negative watch time) becomes its row inline; any other goes through `_video`."""
    error = _tiktok_error(body.code, body.message)
    if error:
        return error
    if body.data is None:
        return Reject(INVALID_BODY, "response.data.videos must be a list")

    def reject(i: int, reason: str, detail: str) -> None:
        ctx.reject_at(i, ("data", "videos", i), reason, detail)

    pid, views, reach, likes, comments, shares, saves_, watch, published, kind, mtype = (
        _ROWS.appenders(out.posts, "platform_post_id", *_METRICS, "published_at", *_MEDIA)
    )
    for i, v in enumerate(body.data.videos):
        saves = v.favorites if v.favorites is not b.UNSET else v.favorities
        created = v.create_time
        if type(created) is str and created.isascii() and created.isdigit():
            created = int(created)
        watched = v.total_time_watched
        ms = None if watched is None else scaled(watched, 1000)
        if (
            type(created) is int
            and EPOCH_MIN <= created <= EPOCH_MAX
            and (ms is None or (type(ms) is int and ms >= 0))
        ):
            said = v.media_type if type(v.media_type) is str else None
            pid(_PREFIX + v.item_id)
            views(v.video_views)
            reach(v.reach)
            likes(v.likes)
            comments(v.comments)
            shares(v.shares)
            saves_(saves)
            watch(ms)
            published(created)
            kind("VIDEO" if said is None else said)
            mtype(said)
            continue
        fields = (
            v.item_id,
            v.create_time,
            v.media_type,
            v.video_views,
            v.reach,
            v.likes,
            v.comments,
            v.shares,
            saves,
            watched,
        )
        _video(i, ctx, out, fields, reject)
    _ROWS.pad(out.posts, ctx)
    return None


def _videos_loose(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    error = _tiktok_error(response.get("code", 0), response.get("message", ""))
    if error:
        return error
    data = response.get("data")
    videos = list_of_records(
        data.get("videos") if isinstance(data, dict) else None, "response.data.videos"
    )
    if isinstance(videos, Reject):
        return videos
    for i, video in enumerate(videos):
        if not isinstance(video, dict):
            ctx.reject_record(i, video, INVALID_RECORD, "a video needs an item_id")
            continue
        get = video.get

        def reject(index: int, reason: str, detail: str, video: object = video) -> None:
            ctx.reject_record(index, video, reason, detail)

        fields = (
            get("item_id"),
            get("create_time"),
            get("media_type"),
            get("video_views"),
            get("reach"),
            get("likes"),
            get("comments"),
            get("shares"),
            get("favorites", get("favorities")),
            get("total_time_watched"),
        )
        _video(i, ctx, out, fields, reject)
    return None


def _account_fast(body: b.TikTokAccount, ctx: Context, out: Sink) -> Reject | None:
    error = _tiktok_error(body.code, body.message)
    if error:
        return error
    if body.data is None:
        return Reject(INVALID_BODY, "response.data must be an object")
    return follower_row(out, ctx, body.data.followers_count)


def _account_loose(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    error = _tiktok_error(response.get("code", 0), response.get("message", ""))
    if error:
        return error
    data = response.get("data")
    if not isinstance(data, dict):
        return Reject(INVALID_BODY, "response.data must be an object")
    return follower_row(out, ctx, data.get("followers_count"))


tiktok_videos = Handler(b.decoder(b.TikTokVideoList), _videos_fast, _videos_loose)
tiktok_account = Handler(b.decoder(b.TikTokAccount), _account_fast, _account_loose)
