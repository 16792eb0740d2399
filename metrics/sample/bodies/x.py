"""X API v2 bodies: `tweets` (with partial errors beside `data`), each poll followed by the
`users` gauge (its body is `metrics.sample.followers`')."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from metrics.sample.platforms import (
    COMMENTS,
    LIKES,
    SAVES,
    SHARES,
    TRUTH_METRICS,
    VIEWS,
    X_SINGLE_LOOKUP,
)

if TYPE_CHECKING:
    from metrics.sample.timeline import AccountSim


def poll(
    sim: AccountSim, times: list[int], vals: np.ndarray, pubd: list[int], gauge: list[int]
) -> None:
    """Per poll: one tweets lookup (impressions stand for views), then the follower gauge."""
    prng = sim.prng
    n = len(sim.pub)
    quotes = np.floor(vals[:, :, SHARES] * sim.quote_frac[None]).astype(np.int64)
    truth = np.zeros((len(times), n, len(TRUTH_METRICS)), dtype=np.int64)
    for dst, src in ((0, VIEWS), (2, VIEWS), (3, LIKES), (4, COMMENTS), (5, SHARES), (6, SAVES)):
        truth[:, :, dst] = vals[:, :, src]
    mask = np.ones((n, len(TRUTH_METRICS)), dtype=bool)
    mask[:, [1, 7]] = False
    quote_rows = quotes.tolist()
    for j, t in enumerate(times):
        c = pubd[j]
        rows = vals[j].tolist()
        q = quote_rows[j]
        order = list(range(c - 1, -1, -1))
        # A post that vanished for a moment comes back as a partial error beside `data`.
        missing = order.pop(prng.randrange(len(order))) if c > 1 and prng.random() < 0.02 else None
        recs = []
        for i in order:
            v = rows[i]
            nid = sim.native[i]
            recs.append(
                {
                    "id": nid,
                    "text": sim.caption[i],
                    "created_at": sim.x_ts[i],
                    "edit_history_tweet_ids": [nid],
                    "public_metrics": {
                        "retweet_count": v[SHARES] - q[i],
                        "reply_count": v[COMMENTS],
                        "like_count": v[LIKES],
                        "quote_count": q[i],
                        "bookmark_count": v[SAVES],
                        "impression_count": v[VIEWS],
                    },
                }
            )
        # Now and then one post is fetched alone, `GET /2/tweets/:id`: `data` is that post.
        single = None
        if len(recs) > 1 and prng.random() < X_SINGLE_LOOKUP:
            at = prng.randrange(len(recs))
            single = (order.pop(at), recs.pop(at))
        response: dict = {"data": recs, "meta": {"result_count": len(recs)}}
        if missing is not None:
            nid = sim.native[missing]
            response["errors"] = [
                {
                    "value": nid,
                    "detail": f"Could not find tweet with ids: [{nid}].",
                    "title": "Not Found Error",
                    "resource_type": "tweet",
                    "parameter": "ids",
                    "resource_id": nid,
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            ]
        request = {"tweet.fields": "created_at,public_metrics"}
        env = sim.envelope("tweets", t, response, request)
        ok, bad = sim.finish("tweets", t, env, recs, list(range(len(recs))))
        sim.writer.summary.snapshots += len(recs)
        if ok:
            skip = [] if bad is None else [order[bad]]
            if missing is not None:
                skip.append(missing)
            if single is not None:
                skip.append(single[0])
            sim.update(truth[j], mask, c, skip)
        if single is not None:
            _single_lookup(sim, t + prng.randint(1000, 9000), truth[j], mask, c, *single)
        sim.poll_followers(t + prng.randint(300, 4000), gauge[j])


def _single_lookup(
    sim: AccountSim,
    t: int,
    truth: np.ndarray,
    mask: np.ndarray,
    c: int,
    post: int,
    rec: dict,
) -> None:
    """`GET /2/tweets/:id` of one post, with the values of the list poll just before it."""
    request = {"id": rec["id"], "tweet.fields": "created_at,public_metrics"}
    env = sim.envelope("tweets", t, {"data": rec}, request)
    ok, bad = sim.finish("tweets", t, env, [rec], [0])
    sim.writer.summary.snapshots += 1
    if ok and bad is None:
        sim.update(truth, mask, c, [i for i in range(c) if i != post])
