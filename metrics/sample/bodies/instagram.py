"""Instagram Graph API bodies: `media` with lifetime insights, each poll followed by the
`user` gauge (its body is `metrics.sample.followers`')."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from metrics.sample.platforms import (
    COMMENTS,
    IG_BATCH_LOOKUP,
    IG_SEPARATE_INSIGHTS,
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

_IG_FIELDS = "id,timestamp,media_type,media_product_type,like_count,comments_count,insights"
_NAMES = (
    "views",
    "reach",
    "likes",
    "comments",
    "shares",
    "saved",
    "ig_reels_video_view_total_time",
)
_SERIES = (VIEWS, REACH, LIKES, COMMENTS, SHARES, SAVES, WATCH_MS)


def poll(
    sim: AccountSim, times: list[int], vals: np.ndarray, pubd: list[int], gauge: list[int]
) -> None:
    """Per poll: one media list whose insights are sometimes partly or wholly missing, then the
    follower gauge; like and comment fields stand in for missing insights."""
    prng, nrng = sim.prng, sim.nrng
    k, n = len(times), len(sim.pub)
    names = _NAMES
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
    fields_mask = np.zeros(len(TRUTH_METRICS), dtype=bool)
    fields_mask[[3, 4]] = True
    for j, t in enumerate(times):
        c = pubd[j]
        rows = vals[j].tolist()
        kn = known_l[j]
        order = list(range(c - 1, -1, -1))
        u = prng.random()
        batch = u < IG_BATCH_LOOKUP
        separate = not batch and u < IG_BATCH_LOOKUP + IG_SEPARATE_INSIGHTS
        recs, eligible, edges = [], [], []
        for pos, i in enumerate(order):
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
                items = _insights(sim, mid, rows[i], flags, names)
                if separate:
                    edges.append((i, items))
                else:
                    rec["insights"] = {"data": items}
                    eligible.append(pos)
            recs.append(rec)
        if batch:
            # `GET /?ids=a,b&fields=…`: the same nodes, keyed by media id, no `data` wrapper.
            response: dict = {rec["id"]: rec for rec in recs}
            request = {"ids": ",".join(response), "fields": _IG_FIELDS}
        else:
            response = {
                "data": recs,
                "paging": {"cursors": {"before": "QVFIUm", "after": "QVFIUn"}},
            }
            request = {"fields": _IG_FIELDS.replace(",insights", "") if separate else _IG_FIELDS}
        env = sim.envelope("media", t, response, request)
        ok, bad = sim.finish("media", t, env, recs, eligible)
        sim.writer.summary.snapshots += len(recs)
        if ok:
            skip = [] if bad is None else [order[bad]]
            if separate:
                # Without insights the media line knows likes and comments from its fields only.
                said = truth[j].copy()
                said[:, 3], said[:, 4] = like_field[j], comment_field[j]
                sim.update(said, fields_mask[None, :], c, skip)
            else:
                sim.update(truth[j], tmask[j], c, skip)
        for k, (i, items) in enumerate(edges):
            _insights_edge(sim, t + 1000 + k * prng.randint(200, 900), i, items, vals[j, i], c)
        sim.poll_followers(t + prng.randint(300, 4000), gauge[j])


_TRUTH_OF_INSIGHT = (0, 1, 3, 4, 5, 6, 7)  # names[m] -> its TRUTH_METRICS position


def _insights(sim: AccountSim, mid: str, v: list[int], flags: list[bool], names: tuple) -> list:
    """The lifetime insights of one media; now and then `views` under its retired name `plays`,
    or beside an ignored retired `impressions`."""
    prng = sim.prng
    items = []
    for m in range(7):
        if not flags[m]:
            continue
        name = "plays" if m == 0 and prng.random() < 0.08 else names[m]
        items.append(
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": v[m]}],
                "id": f"{mid}/insights/{name}/lifetime",
            }
        )
    if prng.random() < 0.05:
        items.append(
            {
                "name": "impressions",
                "period": "lifetime",
                "values": [{"value": v[0] + prng.randint(0, 500)}],
                "id": f"{mid}/insights/impressions/lifetime",
            }
        )
    return items


def _insights_edge(sim: AccountSim, t: int, i: int, items: list, v: np.ndarray, c: int) -> None:
    """`GET /{media-id}/insights` of media `i`, fetched on its own; a share of collectors keep
    the media id in the request only (the insights then carry no `id`)."""
    mid = sim.native[i]
    if sim.prng.random() < 0.3:
        items = [{k: val for k, val in item.items() if k != "id"} for item in items]
    metrics = ",".join(item["name"] for item in items)
    env = sim.envelope("media_insights", t, {"data": items}, {"media_id": mid, "metric": metrics})
    ok, _ = sim.finish("media_insights", t, env)
    sim.writer.summary.snapshots += 1
    if not ok:
        return
    truth = np.zeros((len(sim.pub), len(TRUTH_METRICS)), dtype=np.int64)
    mask = np.zeros_like(truth, dtype=bool)
    index = {"plays": 0, **{name: m for m, name in enumerate(_NAMES)}}
    for item in items:
        m = index.get(item["name"])
        if m is None:
            continue
        truth[i, _TRUTH_OF_INSIGHT[m]] = int(v[_SERIES[m]])
        mask[i, _TRUTH_OF_INSIGHT[m]] = True
    sim.update(truth, mask, c, [k for k in range(c) if k != i], published=False)
