"""X API v2 bodies: `tweets` (public metrics, partial errors beside `data`, and the single-post
lookup whose `data` is one object) and `users`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
from metrics.ingest.adapters.rows import follower_row, post_row
from metrics.ingest.adapters.values import (
    BAD,
    INT64_MAX,
    OUT_OF_RANGE,
    Bad,
    count,
    counts,
    native_id,
    parse_timestamp,
    published_value,
)
from metrics.model import scopes
from metrics.model.reasons import API_ERROR, INVALID_BODY, INVALID_RECORD
from metrics.model.tables import MEDIA

_MEDIA = ("tweet", None, None)  # X says no media type of its own on a post
_PREFIX = scopes.post_id_prefix("x")
_NO_METRICS = b.PublicMetrics()
_ROWS = typed_rows("x", (), dict(zip(MEDIA, _MEDIA, strict=True)))
# The names the fast path binds its appends to, in the order it unpacks them.
_METRICS = ("views", "impressions", "likes", "comments", "shares", "saves")


def _sum_known(a: object, b: object) -> object:
    """a + b when both are known; a marker (BAD first) when either is one. The sum itself may
    leave int64 range; `counts` checks it."""
    if a is BAD or b is BAD:
        return BAD
    if isinstance(a, Bad) or isinstance(b, Bad):
        return OUT_OF_RANGE
    if a is None or b is None:
        return None
    # Both are validated counts here (`count` turned anything else into a marker above).
    assert isinstance(a, int) and isinstance(b, int)
    return a + b


def _errors_only(data: object, errors: object) -> Reject | None:
    if data is None and isinstance(errors, list) and errors:
        return Reject(API_ERROR, f"X errors only: {orjson.dumps(errors).decode()[:500]}")
    return None


def _error_records(errors: list[Any], reject: Callable[[int, str, str], None]) -> None:
    for i, err in enumerate(errors):
        title = err.get("title", "error") if isinstance(err, dict) else "error"
        reject(i, API_ERROR, f"X errors[{i}]: {title}")


def _tweet(
    i: int,
    ctx: Context,
    out: Sink,
    fields: tuple[object, ...],
    reject: Callable[[int, str, str], None],
    metrics_ok: bool = True,
) -> None:
    tweet_id, created_at, impressions, likes, replies, retweets, quotes, bookmarks = fields
    native = native_id(tweet_id)
    if native is None:
        reject(i, INVALID_RECORD, "a tweet needs an id")
        return
    published_at = published_value(created_at, "created_at")
    if isinstance(published_at, Reject):
        reject(i, published_at.reason, published_at.detail)
        return
    if not metrics_ok:
        reject(i, INVALID_RECORD, "public_metrics must be an object")
        return
    row = metric_row(
        views=impressions,
        impressions=impressions,
        likes=likes,
        comments=replies,
        shares=_sum_known(count(retweets), count(quotes)),
        saves=bookmarks,
    )
    values = counts(row, lifetime=True)
    if isinstance(values, Reject):
        reject(i, values.reason, values.detail)
        return
    post_row(out, ctx, scopes.post_id("x", native), values, published_at, _MEDIA)


def _tweets_fast(body: b.XTweets, ctx: Context, out: Sink) -> Reject | None:
    data = body.data
    # Partial errors are rare: they are read from the plain body, as the plain path reads them.
    errors = orjson.loads(ctx.body)["errors"] if body.errors else body.errors
    error = _errors_only(data, errors)
    if error:
        return error
    if data is None:
        return Reject(INVALID_BODY, "response.data must be a list or a post")
    single = isinstance(data, b.Tweet)
    if errors:
        _error_records(errors, lambda i, r, d: ctx.reject_record(i, errors[i], r, d))

    def reject(i: int, reason: str, detail: str) -> None:
        ctx.reject_at(i, ("data",) if single else ("data", i), reason, detail)

    pid, views, impressions, likes, comments, shares_, saves, published = _ROWS.appenders(
        out.posts, "platform_post_id", *_METRICS, "published_at"
    )
    for i, t in enumerate([data] if isinstance(data, b.Tweet) else data):
        pm = t.public_metrics or _NO_METRICS
        stamp = t.created_at
        published_at = None if stamp is None else parse_timestamp(stamp)
        retweets, quotes = pm.retweet_count, pm.quote_count
        shares = None if retweets is None or quotes is None else retweets + quotes
        if (published_at is None or type(published_at) is int) and (
            shares is None or shares <= INT64_MAX
        ):
            seen = pm.impression_count
            pid(_PREFIX + t.id)
            views(seen)
            impressions(seen)
            likes(pm.like_count)
            comments(pm.reply_count)
            shares_(shares)
            saves(pm.bookmark_count)
            published(published_at)
            continue
        fields = (
            t.id,
            t.created_at,
            pm.impression_count,
            pm.like_count,
            pm.reply_count,
            pm.retweet_count,
            pm.quote_count,
            pm.bookmark_count,
        )
        _tweet(i, ctx, out, fields, reject)
    _ROWS.pad(out.posts, ctx)
    return None


def _tweets_loose(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    errors = response.get("errors")
    data = response.get("data")
    error = _errors_only(data, errors)
    if error:
        return error
    # The single-post lookup `GET /2/tweets/:id` returns one object: a list of one.
    tweets = [data] if isinstance(data, dict) else data
    if not isinstance(tweets, list):
        return Reject(INVALID_BODY, "response.data must be a list or a post")
    if isinstance(errors, list):
        _error_records(errors, lambda i, r, d: ctx.reject_record(i, errors[i], r, d))
    for i, tweet in enumerate(tweets):
        if not isinstance(tweet, dict):
            ctx.reject_record(i, tweet, INVALID_RECORD, "a tweet needs an id")
            continue
        pm = tweet.get("public_metrics")
        metrics_ok = pm is None or isinstance(pm, dict)

        def reject(index: int, reason: str, detail: str, tweet: object = tweet) -> None:
            ctx.reject_record(index, tweet, reason, detail)

        get = (pm if metrics_ok and pm else {}).get
        fields = (
            tweet.get("id"),
            tweet.get("created_at"),
            get("impression_count"),
            get("like_count"),
            get("reply_count"),
            get("retweet_count"),
            get("quote_count"),
            get("bookmark_count"),
        )
        _tweet(i, ctx, out, fields, reject, metrics_ok)
    return None


def _user_fast(body: b.XUser, ctx: Context, out: Sink) -> Reject | None:
    if body.data is None and body.errors:
        errors = orjson.loads(ctx.body)["errors"]
        return Reject(API_ERROR, f"X errors: {orjson.dumps(errors).decode()[:500]}")
    if body.data is None:
        return Reject(INVALID_BODY, "response.data must be an object")
    pm = body.data.public_metrics
    return follower_row(out, ctx, pm.followers_count if pm is not None else None)


def _user_loose(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    data = response.get("data")
    if data is None and response.get("errors"):
        return Reject(API_ERROR, f"X errors: {orjson.dumps(response['errors']).decode()[:500]}")
    if not isinstance(data, dict):
        return Reject(INVALID_BODY, "response.data must be an object")
    pm = data.get("public_metrics")
    if pm is not None and not isinstance(pm, dict):
        return Reject(INVALID_BODY, "response.data.public_metrics must be an object")
    return follower_row(out, ctx, pm.get("followers_count") if pm else None)


x_tweets = Handler(b.decoder(b.XTweets), _tweets_fast, _tweets_loose)
x_user = Handler(b.decoder(b.XUser), _user_fast, _user_loose)
