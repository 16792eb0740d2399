"""Instagram Graph API bodies: `media` with lifetime insights, and `user`."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np

from metrics.sample.catalog import Account
from metrics.sample.platforms import COMMENTS, LIKES, REACH, SAVES, SHARES, VIEWS, WATCH_MS
from metrics.sample.truth import TRUTH_METRICS

if TYPE_CHECKING:
    from metrics.sample.timeline import AccountSim

_IG_FIELDS = "id,timestamp,media_type,media_product_type,like_count,comments_count,insights"


def follower_body(acc: Account, followers: int, rng: random.Random) -> dict:
    """The native follower-gauge body; `rng` is unused, kept for the common signature."""
    return {"id": acc.native_id, "username": acc.handle, "followers_count": followers}


def poll(
    sim: AccountSim, times: list[int], vals: np.ndarray, pubd: list[int], gauge: list[int]
) -> None:
    """Per poll: one media list whose insights are sometimes partly or wholly missing, then the
    follower gauge; like and comment fields stand in for missing insights."""
    prng, nrng = sim.prng, sim.nrng
    k, n = len(times), len(sim.pub)
    names = (
        "views",
        "reach",
        "likes",
        "comments",
        "shares",
        "saved",
        "ig_reels_video_view_total_time",
    )
    has = np.ones((n, 7), dtype=bool)
    has[:, 6] = [kind[1] == "REELS" for kind in sim.ig_kind]
    present = nrng.random((k, n)) >= 0.06
    present &= ~np.array(sim.no_insights)[None, :]
    known = present[:, :, None] & (nrng.random((k, n, 7)) >= 0.03) & has[None]
    drift = np.where(nrng.random((k, n, 2)) < 0.25, nrng.integers(-3, 4, (k, n, 2)), 0)
    like_field = np.maximum(vals[:, :, LIKES] + drift[:, :, 0], 0)
    comment_field = np.maximum(vals[:, :, COMMENTS] + drift[:, :, 1], 0)

    truth = np.zeros((k, n, len(TRUTH_METRICS)), dtype=np.int64)
    tmask = np.zeros((k, n, len(TRUTH_METRICS)), dtype=bool)
    for dst, src in ((0, VIEWS), (1, REACH), (5, SHARES), (6, SAVES), (7, WATCH_MS)):
        truth[:, :, dst] = vals[:, :, src]
        tmask[:, :, dst] = known[:, :, src]
    truth[:, :, 3] = np.where(known[:, :, 2], vals[:, :, LIKES], like_field)
    truth[:, :, 4] = np.where(known[:, :, 3], vals[:, :, COMMENTS], comment_field)
    tmask[:, :, 3] = True
    tmask[:, :, 4] = True

    known_l, like_l, comment_l = known.tolist(), like_field.tolist(), comment_field.tolist()
    for j, t in enumerate(times):
        c = pubd[j]
        rows = vals[j].tolist()
        kn = known_l[j]
        order = list(range(c - 1, -1, -1))
        recs, eligible = [], []
        for pos, i in enumerate(order):
            v = rows[i]
            mid = sim.native[i]
            media_type, product = sim.ig_kind[i]
            rec = {
                "id": mid,
                "timestamp": sim.ig_ts[i],
                "media_type": media_type,
                "media_product_type": product,
                "caption": sim.caption[i],
                "like_count": like_l[j][i],
                "comments_count": comment_l[j][i],
            }
            flags = kn[i]
            if any(flags):
                rec["insights"] = {
                    "data": [
                        {
                            "name": names[m],
                            "period": "lifetime",
                            "values": [{"value": v[m]}],
                            "id": f"{mid}/insights/{names[m]}/lifetime",
                        }
                        for m in range(7)
                        if flags[m]
                    ]
                }
                eligible.append(pos)
            recs.append(rec)
        response = {
            "data": recs,
            "paging": {"cursors": {"before": "QVFIUm", "after": "QVFIUn"}},
        }
        request = {"fields": _IG_FIELDS}
        env = sim.envelope("media", t, response, request)
        ok, bad = sim.finish("media", t, env, recs, eligible)
        sim.writer.summary.snapshots += len(recs)
        if ok:
            sim.update(truth[j], tmask[j], c, [] if bad is None else [order[bad]])
        sim.poll_followers(t + prng.randint(300, 4000), gauge[j])
