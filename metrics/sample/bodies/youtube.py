"""YouTube bodies: the `channels.list` gauge at each poll (its body is
`metrics.sample.followers`'), `videos.list`, and `reports.query` per Pacific day.

A report's recent days are still incomplete and a rare correction is a negative day value, so the
truth for YouTube is the sum of the latest row per (video, day).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from metrics.sample.platforms import COMMENTS, LIKES, SHARES, VIEWS, WATCH_MS, YT_DAY_ONLY

if TYPE_CHECKING:
    from metrics.sample.timeline import AccountSim

_PACIFIC = ZoneInfo("America/Los_Angeles")


def poll(
    sim: AccountSim, k0: int, times: list[int], vals: np.ndarray, pubd: list[int], gauge: list[int]
) -> None:
    """Per poll: the channel gauge, now and then a video list, and now and then a report."""
    prng = sim.prng
    for j, t in enumerate(times):
        k = k0 + j
        c = pubd[j]
        sim.poll_followers(t + prng.randint(100, 2000), gauge[j])
        if (k + sim.list_phase) % sim.list_every == 0 and prng.random() < 0.8:
            _videos_list(sim, t + prng.randint(2000, 5000), vals[j].tolist(), c)
        if (k + sim.report_phase) % sim.report_every == 0 and prng.random() < 0.85:
            _report(sim, t + prng.randint(5000, 9000))


def _videos_list(sim: AccountSim, t: int, rows: list[list[int]], c: int) -> None:
    order = list(range(c - 1, -1, -1))
    items = [
        {
            "kind": "youtube#video",
            "id": sim.native[i],
            "snippet": {
                "publishedAt": sim.pub_iso[i],
                "channelId": sim.acc.native_id,
                "title": sim.caption[i],
            },
            "statistics": {
                "viewCount": str(rows[i][VIEWS]),
                "likeCount": str(rows[i][LIKES]),
                "favoriteCount": "0",
                "commentCount": str(rows[i][COMMENTS]),
            },
        }
        for i in order
    ]
    response = {
        "kind": "youtube#videoListResponse",
        "items": items,
        "pageInfo": {"totalResults": len(items)},
    }
    env = sim.envelope("videos.list", t, response, {"part": "snippet,statistics"})
    ok, _ = sim.finish("videos.list", t, env)
    if ok:
        sim.seen[:c] = True
        sim.pub_known[:c] = True


def _report(sim: AccountSim, t: int) -> None:
    """Per Pacific day rows for the last ~3 days; recent days are still incomplete."""
    prng, nrng = sim.prng, sim.nrng
    today = datetime.fromtimestamp(t / 1000, _PACIFIC).date()
    n_days = 4 if prng.random() < 0.2 else 3
    days = [today - timedelta(days=d) for d in range(n_days, 0, -1)]
    bounds = []
    for d in days:
        lo = datetime(d.year, d.month, d.day, tzinfo=_PACIFIC).timestamp()
        nxt = d + timedelta(days=1)
        hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=_PACIFIC).timestamp()
        bounds.append((lo, hi))
    edges = np.array([b[0] for b in bounds] + [bounds[-1][1]])
    cum = np.floor(sim.curve(edges)[:, :, None] * sim.ratio[None])
    final = np.diff(cum, axis=0)  # (days, posts, metrics)
    age_h = (t / 1000 - edges[1:]) / 3600.0
    done = np.where(
        age_h[:, None] < 24,
        nrng.uniform(0.55, 0.9, (len(days), len(sim.pub))),
        np.where(age_h[:, None] < 48, nrng.uniform(0.9, 1.0, (len(days), len(sim.pub))), 1.0),
    )
    got = np.floor(final * done[:, :, None]).astype(np.int64)
    views, likes, comments, shares = (got[:, :, m] for m in (VIEWS, LIKES, COMMENTS, SHARES))
    minutes = got[:, :, WATCH_MS] // 60_000
    # Rare corrections arrive as negative per-day values.
    fix = nrng.random(views.shape) < 0.004
    views = np.where(fix, -nrng.integers(1, 20, views.shape), views)
    exists = sim.pub_f[None, :] < edges[1:, None]

    headers = [
        {"name": "day", "columnType": "DIMENSION", "dataType": "STRING"},
        {"name": "video", "columnType": "DIMENSION", "dataType": "STRING"},
    ] + [
        {"name": m, "columnType": "METRIC", "dataType": "INTEGER"}
        for m in ("views", "likes", "comments", "shares", "estimatedMinutesWatched")
    ]
    prng.shuffle(headers)
    position = [h["name"] for h in headers]
    cols = {
        "views": views.tolist(),
        "likes": likes.tolist(),
        "comments": comments.tolist(),
        "shares": shares.tolist(),
        "estimatedMinutesWatched": minutes.tolist(),
    }
    ex = exists.tolist()
    rows: list[list[Any]] = []
    keys: list[tuple[int, int, list[int]]] = []
    for di, d in enumerate(days):
        label = d.isoformat()
        for i in range(len(sim.pub)):
            if not ex[di][i]:
                continue
            cell: dict[str, Any] = {"day": label, "video": sim.native[i]}
            for name, table in cols.items():
                cell[name] = table[di][i]
            rows.append([cell[name] for name in position])
            keys.append((i, d.toordinal(), [cell[m] for m in cols]))
    if rows and prng.random() < YT_DAY_ONLY:
        _day_only_reports(sim, t, days, headers, rows, keys)
        return
    response: dict = {"kind": "youtubeAnalytics#resultTable", "columnHeaders": headers}
    if rows and prng.random() >= 0.04:
        response["rows"] = rows
    else:
        keys = []
    request = {
        "ids": "channel==MINE",
        "startDate": days[0].isoformat(),
        "endDate": days[-1].isoformat(),
        "metrics": "views,likes,comments,shares,estimatedMinutesWatched",
        "dimensions": "day,video",
        "sort": "day",
    }
    env = sim.envelope("reports.query", t, response, request)
    ok, _ = sim.finish("reports.query", t, env)
    sim.writer.summary.period_rows += len(keys)
    if ok:
        for i, day_no, values in keys:
            sim.day_rows[(i, day_no)] = values
            sim.seen[i] = True


def _day_only_reports(
    sim: AccountSim,
    t: int,
    days: list,
    headers: list[dict],
    rows: list[list[Any]],
    keys: list[tuple[int, int, list[int]]],
) -> None:
    """The usual per-video query: `dimensions=day`, the video in `filters` (`video==<id>`), one
    report per video, each without a `video` column."""
    at = [h["name"] for h in headers].index("video")
    kept = [h for h in headers if h["name"] != "video"]
    per_video: dict[int, list[tuple[list[Any], tuple[int, int, list[int]]]]] = {}
    for row, key in zip(rows, keys, strict=True):
        per_video.setdefault(key[0], []).append(([v for k, v in enumerate(row) if k != at], key))
    for n, (i, entries) in enumerate(per_video.items()):
        when = t + n * 1000
        request = {
            "ids": "channel==MINE",
            "startDate": days[0].isoformat(),
            "endDate": days[-1].isoformat(),
            "metrics": "views,likes,comments,shares,estimatedMinutesWatched",
            "dimensions": "day",
            "filters": f"video=={sim.native[i]}",
            "sort": "day",
        }
        response = {
            "kind": "youtubeAnalytics#resultTable",
            "columnHeaders": kept,
            "rows": [row for row, _ in entries],
        }
        env = sim.envelope("reports.query", when, response, request)
        ok, _ = sim.finish("reports.query", when, env)
        sim.writer.summary.period_rows += len(entries)
        if ok:
            for _, (post, day_no, values) in entries:
                sim.day_rows[(post, day_no)] = values
                sim.seen[post] = True
