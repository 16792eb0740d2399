"""TikTok Business API bodies: `business/video/list` snapshots, each poll followed by the
`business/get` gauge (its body is `metrics.sample.followers`')."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from metrics.sample.platforms import (
    COMMENTS,
    LIKES,
    REACH,
    SAVES,
    SHARES,
    TRUTH_METRICS,
    VIEWS,
    WATCH_MS,
)

if TYPE_CHECKING:
    from metrics.sample.timeline import AccountSim


def poll(
    sim: AccountSim, times: list[int], vals: np.ndarray, pubd: list[int], gauge: list[int]
) -> None:
    """Per poll: one video list (newest first) with lifetime counters, then the follower gauge."""
    prng = sim.prng
    n = len(sim.pub)
    truth = np.zeros((len(times), n, len(TRUTH_METRICS)), dtype=np.int64)
    for dst, src in (
        (0, VIEWS),
        (1, REACH),
        (3, LIKES),
        (4, COMMENTS),
        (5, SHARES),
        (6, SAVES),
        (7, WATCH_MS),
    ):
        truth[:, :, dst] = vals[:, :, src]
    mask = np.ones((n, len(TRUTH_METRICS)), dtype=bool)
    mask[:, 2] = False
    ints = ("video_views", "reach", "likes", "comments", "shares")
    for j, t in enumerate(times):
        c = pubd[j]
        rows = vals[j].tolist()
        ct = sim.ct_str if prng.random() < 0.3 else sim.ct_int
        fav = "favorities" if prng.random() < 0.25 else "favorites"
        recs = []
        order = list(range(c - 1, -1, -1))
        for i in order:
            v = rows[i]
            tt = v[WATCH_MS] / 1000
            rec = {
                "item_id": sim.native[i],
                "create_time": ct[i],
                "media_type": "VIDEO",
                "caption": sim.caption[i],
                "video_duration": sim.duration[i],
                "video_views": v[VIEWS],
                "reach": v[REACH],
                "likes": v[LIKES],
                "comments": v[COMMENTS],
                "shares": v[SHARES],
                fav: v[SAVES],
                "total_time_watched": tt,
                "average_time_watched": round(tt / v[VIEWS], 3) if v[VIEWS] else 0.0,
            }
            if prng.random() < 0.01:
                key = prng.choice(ints)
                rec[key] = str(rec[key])
            recs.append(rec)
        response = {
            "code": 0,
            "message": "OK",
            "request_id": f"{prng.getrandbits(64):016x}",
            "data": {"videos": recs, "has_more": False, "cursor": t},
        }
        request = {"business_id": sim.acc.native_id, "max_count": 20}
        env = sim.envelope("business/video/list", t, response, request)
        ok, bad = sim.finish("business/video/list", t, env, recs, list(range(len(recs))))
        sim.writer.summary.snapshots += len(recs)
        if ok:
            sim.update(truth[j], mask, c, [] if bad is None else [order[bad]])
        sim.poll_followers(t + prng.randint(300, 4000), gauge[j])
