"""What every part of the generator shares about the platforms: names, endpoints, the internal
metric series each body module maps onto its own field names, and id and timestamp formats."""

from __future__ import annotations

import random
import time

from metrics.model.measures import POST_METRICS

PLATFORMS: tuple[str, ...] = ("tiktok", "instagram", "youtube", "x")

ENDPOINTS: dict[str, tuple[str, ...]] = {
    "tiktok": ("business/video/list", "business/get"),
    "instagram": ("media", "media_insights", "user"),
    "youtube": ("videos.list", "reports.query", "channels.list"),
    "x": ("tweets", "users"),
}
# Shares of the polls that use the other shapes real collectors land (CONTRACT §2).
X_SINGLE_LOOKUP = 0.1  # one post fetched alone, `GET /2/tweets/:id` (`data` is one object)
IG_BATCH_LOOKUP = 0.1  # the media fetched by `GET /?ids=…` (a map keyed by media id)
IG_SEPARATE_INSIGHTS = 0.15  # the media list without insights, then `/{media-id}/insights`
YT_DAY_ONLY = 0.25  # one `dimensions=day` report per video, the video in `filters`

FOLLOWER_ENDPOINT = {
    "tiktok": "business/get",
    "instagram": "user",
    "youtube": "channels.list",
    "x": "users",
}

# Internal per-post series, shared by all platforms: views, reach, likes, comments, shares,
# saves, watch time in ms. Each platform maps them onto its own field names.
VIEWS, REACH, LIKES, COMMENTS, SHARES, SAVES, WATCH_MS = range(7)
N_SERIES = 7
# The truth's metrics, in the order of the simulation's truth arrays and of the truth file.
TRUTH_METRICS: tuple[str, ...] = POST_METRICS


def iso(ms: int, style: int = 0) -> str:
    """Collector timestamps vary by client library: mostly `Z`, some millis, some `+00:00`."""
    s, milli = divmod(ms, 1000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))
    if style == 1:
        return f"{base}.{milli:03d}Z"
    if style == 2:
        return base + "+00:00"
    return base + "Z"


def trunc3(n: int) -> int:
    """YouTube abbreviates public subscriber counts to 3 significant figures (floor)."""
    if n < 1000:
        return n
    scale = 10 ** (len(str(n)) - 3)
    return n // scale * scale


def b64id(rng: random.Random, length: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(length))
