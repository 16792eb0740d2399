"""X API v2 bodies: `tweets` (public metrics, partial errors beside `data`) and `users`."""

from __future__ import annotations

from typing import Any

import orjson

from metrics.ingest.adapters.protocol import Context, Reject, Sink
from metrics.ingest.adapters.rows import follower_row, list_of_records, post_row
from metrics.ingest.adapters.values import (
    BAD,
    OUT_OF_RANGE,
    Bad,
    count,
    counts,
    native_id,
    published,
)
from metrics.model import scopes


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


def x_tweets(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    errors = response.get("errors")
    data = response.get("data")
    if data is None and isinstance(errors, list) and errors:
        return Reject("api_error", f"X errors only: {orjson.dumps(errors).decode()[:500]}")
    tweets = list_of_records(data, "response.data")
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
        published_at = published(tweet, "created_at")
        if isinstance(published_at, Reject):
            ctx.reject_record(i, tweet, published_at.reason, published_at.detail)
            continue
        pm = tweet.get("public_metrics")
        if pm is not None and not isinstance(pm, dict):
            ctx.reject_record(i, tweet, "invalid_record", "public_metrics must be an object")
            continue
        get = (pm or {}).get
        impressions = get("impression_count")
        values = counts(
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
        post_id = scopes.post_id("x", native)
        post_row(out, ctx, post_id, values, published_at, "tweet")
    return None


def x_user(response: dict[str, Any], ctx: Context, out: Sink) -> Reject | None:
    data = response.get("data")
    if data is None and response.get("errors"):
        return Reject("api_error", f"X errors: {orjson.dumps(response['errors']).decode()[:500]}")
    if not isinstance(data, dict) or not isinstance(data.get("public_metrics"), dict):
        return Reject("invalid_envelope", "response.data.public_metrics must be an object")
    return follower_row(out, ctx, data["public_metrics"].get("followers_count"))
