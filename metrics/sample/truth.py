"""The truth file: what the pipeline's end-to-end numbers must be, from exactly the bytes written.

Truth file (JSON, when ``truth`` is given)::

    {"generator": {"seed", "accounts", "posts_per_account", "days", "start", "interval_minutes"},
     "catalog_move": {"social_account_id", "from_layer", "to_layer", "landing_date"},
     "posts": [{"platform_post_id", "platform", "native_id", "social_account_id",
                "published_at" (ISO Z or null), "views", "reach", "impressions", "likes",
                "comments", "shares", "saves", "watch_time_ms"}],
     "followers": [{"social_account_id", "platform", "followers", "collected_at"}],
     "bad": [{"landing_file", "line", "record", "reason"}]}

``posts`` lists every post that at least one valid record or row mentions. A metric value is
the last valid lifetime value by ``collected_at`` (YouTube: the sum over (video, Pacific day) of
the latest row), i.e. what the post's hourly increments must sum to over all time; a metric
never known, or never reported by the platform, is 0. ``followers`` holds the last valid gauge
per account. ``bad`` lists every line or record the pipeline must quarantine (re-delivered copies
included); ``landing_file`` is relative to ``<out>`` (posix), ``line`` 1-based, ``record`` the
index in the response's post list (null for a whole line).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson

from metrics.sample.platforms import TRUTH_METRICS

if TYPE_CHECKING:
    from metrics.sample.timeline import AccountSim


def account_truth(sim: AccountSim) -> tuple[list[dict], list[dict]]:
    """The truth rows of one simulated account: its posts seen, and its last follower gauge."""
    last = sim.last
    if sim.platform == "youtube":
        last = np.zeros_like(sim.last)
        for (i, _day), (v, lk, cm, sh, minutes) in sim.day_rows.items():
            last[i] += (v, 0, 0, lk, cm, sh, 0, minutes * 60_000)
    rows = []
    for i in np.flatnonzero(sim.seen).tolist():
        row = {
            "platform_post_id": sim.post_ids[i],
            "platform": sim.platform,
            "native_id": sim.native[i],
            "social_account_id": sim.acc.id,
            "published_at": sim.pub_iso[i] if sim.pub_known[i] else None,
        }
        row.update(zip(TRUTH_METRICS, last[i].tolist(), strict=True))
        rows.append(row)
    followers = []
    if sim.last_followers is not None:
        followers.append(
            {
                "social_account_id": sim.acc.id,
                "platform": sim.platform,
                "followers": sim.last_followers[0],
                "collected_at": sim.last_followers[1],
            }
        )
    return rows, followers


def write_truth(
    path: Path,
    generator: dict,
    move: dict,
    posts: list[dict],
    followers: list[dict],
    bad: list[dict],
) -> None:
    """Sorts the rows every batch returned, so the file depends on the seed alone, and writes it."""
    posts.sort(key=lambda r: r["platform_post_id"])
    followers.sort(key=lambda r: r["social_account_id"])
    bad.sort(
        key=lambda r: (r["landing_file"], r["line"], -1 if r["record"] is None else r["record"])
    )
    body = {
        "generator": generator,
        "catalog_move": move,
        "posts": posts,
        "followers": followers,
        "bad": bad,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
