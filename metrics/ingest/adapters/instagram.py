"""Instagram Graph API bodies: `media` (a media list with lifetime insights, or the `?ids=` batch
lookup keyed by media id), `media_insights` (the insights edge of one media, fetched on its own)
and `user` (followers)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import orjson

from metrics.ingest.adapters import bodies as b
from metrics.ingest.adapters.protocol import (
    Context,
    Handler,
    Reject,
    Sink,
    metric_row,
    typed_rows,
)
from metrics.ingest.adapters.rows import NO_MEDIA, follower_row, post_row, text
from metrics.ingest.adapters.values import (
    BAD,
    counts,
    native_id,
    parse_timestamp,
    published_value,
)
from metrics.model import scopes
from metrics.model.measures import POST_METRICS
from metrics.model.platforms import REPORTS
from metrics.model.reasons import API_ERROR, INVALID_BODY, INVALID_RECORD
from metrics.model.tables import MEDIA

# Insight name -> metric. `plays` is the retired name of `views` (used only when `views` is
# absent); the other retired names (`impressions`, `ig_reels_aggregated_all_plays_count`,
# `clips_replays_count`) and every other insight are ignored.
_IG_INSIGHTS = {
    "views": "views",
    "plays": "plays",
    "reach": "reach",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "saved": "saves",
    "ig_reels_video_view_total_time": "watch_time_ms",
}
_RETIRED_VIEWS = "plays"

Reject3 = Callable[[int, str, str], None]
_ABSENT = object()  # an insight without values: it says nothing
_PREFIX = scopes.post_id_prefix("instagram")
# Where each insight goes in the fast path's list: its metric's place in POST_METRICS, and the
# retired `plays` one past the end (used only without `views`).
_PLAYS = len(POST_METRICS)
_SLOT = {
    name: POST_METRICS.index(metric) if metric in POST_METRICS else _PLAYS
    for name, metric in _IG_INSIGHTS.items()
}
_VIEWS, _LIKES, _COMMENTS = (POST_METRICS.index(m) for m in ("views", "likes", "comments"))
# The metrics Instagram reports, in POST_METRICS order: what the fast path appends after the id.
_REPORTED = tuple(m for m in POST_METRICS if m in REPORTS["instagram"])
_REPORTED_AT = tuple(POST_METRICS.index(m) for m in _REPORTED)
_ROWS = typed_rows("instagram", MEDIA)


def _error(response_error: object) -> Reject:
    return Reject(API_ERROR, f"Instagram error: {orjson.dumps(response_error).decode()}")


def _with_plays(found: dict[str, object]) -> dict[str, object]:
    """`plays` stands for `views` in a snapshot that has no `views` insight (contract §2)."""
    if _RETIRED_VIEWS in found:
        plays = found.pop(_RETIRED_VIEWS)
        if "views" not in found:
            found["views"] = plays
    return found


def _insights_fast(insights: b.Insights | None) -> dict[str, object]:
    if insights is None:
        return {}
    found: dict[str, object] = {}
    for item in insights.data:
        metric = _IG_INSIGHTS.get(item.name or "")
        if metric is not None and item.values:
            found[metric] = item.values[0].value
    return _with_plays(found)


def _insights_loose(media: dict[str, Any]) -> dict[str, object] | Reject:
    insights = media.get("insights")
    if insights is None:
        return {}
    items = insights.get("data") if isinstance(insights, dict) else None
    if not isinstance(items, list):
        return Reject(INVALID_RECORD, "insights must be {'data': [...]}")
    found: dict[str, object] = {}
    for item in items:
        if not isinstance(item, dict):
            return Reject(INVALID_RECORD, "an insight must be an object")
        name = item.get("name")
        metric = _IG_INSIGHTS.get(name) if isinstance(name, str) else None
        values = item.get("values")
        if metric is None or not isinstance(values, list) or not values:
            continue
        first = values[0]
        found[metric] = first.get("value") if isinstance(first, dict) else BAD
    return _with_plays(found)


def _media(
    i: int,
    ctx: Context,
    out: Sink,
    native_raw: object,
    fields: tuple[object, ...],
    insights: dict[str, object] | Reject,
    reject: Reject3,
) -> None:
    """One media node from its used fields (both paths and both body shapes share this)."""
    timestamp, media_type, product, like_count, comments_count = fields
    native = native_id(native_raw)
    if native is None:
        reject(i, INVALID_RECORD, "a media object needs an id")
        return
    published_at = published_value(timestamp, "timestamp")
    if isinstance(published_at, Reject):
        reject(i, published_at.reason, published_at.detail)
        return
    if isinstance(insights, Reject):
        reject(i, insights.reason, insights.detail)
        return
    said = {m: v for m, v in insights.items() if m in POST_METRICS}
    if said.get("likes") is None:
        said["likes"] = like_count
    if said.get("comments") is None:
        said["comments"] = comments_count
    values = counts(metric_row(**said), lifetime=True)
    if isinstance(values, Reject):
        reject(i, values.reason, values.detail)
        return
    kind = product or media_type
    media = (kind if isinstance(kind, str) else None, text(media_type), text(product))
    post_row(out, ctx, scopes.post_id("instagram", native), values, published_at, media)


def _nodes_fast(
    nodes: Iterable[tuple[str | None, b.InstagramMedia]],
    ctx: Context,
    out: Sink,
    where: tuple[str, ...],
) -> None:
    """Typed media nodes, each with its fallback id (the batch lookup's key) or None. The common
    node (an id, a zoned `timestamp` or none) becomes its row inline; any other goes through
    `_media`."""
    pid, published, kind, mtype, product, *metric_appends = _ROWS.appenders(
        out.posts, "platform_post_id", "published_at", *MEDIA, *_REPORTED
    )
    reported = tuple(zip(metric_appends, _REPORTED_AT, strict=True))
    slot = _SLOT.get
    for i, (key, m) in enumerate(nodes):
        native = m.id if m.id is not None else key
        stamp = m.timestamp
        published_at = None if stamp is None else parse_timestamp(stamp)
        if native and (published_at is None or type(published_at) is int):
            # POST_METRICS in order, then the retired `plays`
            found: list[object] = [None] * (_PLAYS + 1)
            said = [False] * (_PLAYS + 1)
            if m.insights is not None:
                for item in m.insights.data:
                    at = slot(item.name or "")
                    if at is not None and item.values:
                        found[at] = item.values[0].value
                        said[at] = True
                if said[_PLAYS] and not said[_VIEWS]:
                    found[_VIEWS] = found[_PLAYS]  # the retired `plays` stands for views
            if found[_LIKES] is None:
                found[_LIKES] = m.like_count
            if found[_COMMENTS] is None:
                found[_COMMENTS] = m.comments_count
            said_type, said_product = m.media_type, m.media_product_type
            said_kind = said_product or said_type
            pid(_PREFIX + native)
            for add, at in reported:
                add(found[at])
            published(published_at)
            kind(said_kind if type(said_kind) is str else None)
            mtype(said_type if type(said_type) is str else None)
            product(said_product if type(said_product) is str else None)
            continue

        def reject(index: int, reason: str, detail: str, key: str | None = key) -> None:
            ctx.reject_at(index, (*where, index if key is None else key), reason, detail)

        fields = (m.timestamp, m.media_type, m.media_product_type, m.like_count, m.comments_count)
        _media(i, ctx, out, native, fields, _insights_fast(m.insights), reject)
    _ROWS.pad(out.posts, ctx)


def _nodes_loose(nodes: Iterable[tuple[str | None, object]], ctx: Context, out: Sink) -> None:
    for i, (key, media) in enumerate(nodes):
        if not isinstance(media, dict):
            ctx.reject_record(i, media, INVALID_RECORD, "a media object needs an id")
            continue

        def reject(index: int, reason: str, detail: str, media: object = media) -> None:
            ctx.reject_record(index, media, reason, detail)

        get = media.get
        fields = (
            get("timestamp"),
            get("media_type"),
            get("media_product_type"),
            get("like_count"),
            get("comments_count"),
        )
        native_raw = get("id") if get("id") is not None or key is None else key
        _media(i, ctx, out, native_raw, fields, _insights_loose(media), reject)


_BATCH = b.decoder(dict[str, b.InstagramMedia])


def _media_fast(body: b.InstagramMediaList, ctx: Context, out: Sink) -> Reject | None:
    if body.error is not b.UNSET:
        return _error(orjson.loads(ctx.body)["error"])
    if isinstance(body.data, b.UnsetType):
        # The batch lookup `GET /?ids=a,b`: an object keyed by media id, no `data` wrapper.
        try:
            batch = _BATCH.decode(ctx.body)
        except msgspec.ValidationError:
            return _media_loose(orjson.loads(ctx.body), ctx, out)
        _nodes_fast(batch.items(), ctx, out, ())
        return None
    if body.data is None:
        return Reject(INVALID_BODY, "response.data must be a list")
    _nodes_fast(((None, m) for m in body.data), ctx, out, ("data",))
    return None


def _media_loose(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    if "error" in response:
        return _error(response["error"])
    if "data" not in response:
        _nodes_loose(response.items(), ctx, out)
        return None
    data = response["data"]
    if not isinstance(data, list):
        return Reject(INVALID_BODY, "response.data must be a list")
    _nodes_loose(((None, m) for m in data), ctx, out)
    return None


def _media_of(insight_id: object, request: object) -> str | None:
    """The media an insight belongs to: its `id` (`<media id>/insights/<name>/<period>`), else
    the collector's `request.media_id`."""
    if isinstance(insight_id, str) and "/insights" in insight_id:
        head = insight_id.split("/insights", 1)[0]
        if head:
            return head
    return native_id(request.get("media_id")) if isinstance(request, dict) else None


def _insights_edge(
    items: list[tuple[object, object, object] | None], ctx: Context, out: Sink, reject: Reject3
) -> Reject | None:
    """(name, id, first value) per insight (None: not an object) -> one snapshot of the insight
    metrics per media, in the order the media first appear; its publication time and media are
    not said here (null). A bad value rejects its media's snapshot, as the media's first
    insight (the record index)."""
    groups: dict[str, tuple[int, dict[str, object]]] = {}
    for i, item in enumerate(items):
        if item is None:
            reject(i, INVALID_RECORD, "an insight must be an object")
            continue
        name, insight_id, value = item
        media = _media_of(insight_id, ctx.request)
        if media is None:
            reject(i, INVALID_RECORD, "an insight names no media: no `id` and no request.media_id")
            continue
        first, found = groups.setdefault(media, (i, {}))
        metric = _IG_INSIGHTS.get(name) if isinstance(name, str) else None
        if metric is not None and value is not _ABSENT:
            found[metric] = value
    for media, (first, found) in groups.items():
        _with_plays(found)
        values = counts(metric_row(**found), lifetime=True)
        if isinstance(values, Reject):
            reject(first, values.reason, values.detail)
            continue
        post_row(out, ctx, scopes.post_id("instagram", media), values, None, NO_MEDIA)
    return None


def _edge_fast(body: b.InstagramInsights, ctx: Context, out: Sink) -> Reject | None:
    if body.error is not b.UNSET:
        return _error(orjson.loads(ctx.body)["error"])

    def reject(i: int, reason: str, detail: str) -> None:
        ctx.reject_at(i, ("data", i), reason, detail)

    items: list[tuple[object, object, object] | None] = [
        (item.name, item.id, item.values[0].value if item.values else _ABSENT) for item in body.data
    ]
    return _insights_edge(items, ctx, out, reject)


def _edge_loose(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    if "error" in response:
        return _error(response["error"])
    data = response.get("data")
    if not isinstance(data, list):
        return Reject(INVALID_BODY, "response.data must be a list of insights")
    items: list[tuple[object, object, object] | None] = []
    for item in data:
        if not isinstance(item, dict):
            items.append(None)
            continue
        values = item.get("values")
        first = values[0] if isinstance(values, list) and values else _ABSENT
        if first is not _ABSENT:
            first = first.get("value") if isinstance(first, dict) else BAD
        items.append((item.get("name"), item.get("id"), first))

    def reject(i: int, reason: str, detail: str) -> None:
        ctx.reject_record(i, data[i], reason, detail)

    return _insights_edge(items, ctx, out, reject)


def _user_fast(body: b.InstagramUser, ctx: Context, out: Sink) -> Reject | None:
    if body.error is not b.UNSET:
        return _error(orjson.loads(ctx.body)["error"])
    return follower_row(out, ctx, body.followers_count)


def _user_loose(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    if "error" in response:
        return _error(response["error"])
    return follower_row(out, ctx, response.get("followers_count"))


instagram_media = Handler(b.decoder(b.InstagramMediaList), _media_fast, _media_loose)
instagram_media_insights = Handler(b.decoder(b.InstagramInsights), _edge_fast, _edge_loose)
instagram_user = Handler(b.decoder(b.InstagramUser), _user_fast, _user_loose)
