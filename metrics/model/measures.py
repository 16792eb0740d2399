"""The metrics the platform measures."""

from __future__ import annotations

# Additive post metrics, in the order of spec §2's mapping table.
POST_METRICS: tuple[str, ...] = (
    "views",
    "reach",
    "impressions",
    "likes",
    "comments",
    "shares",
    "saves",
    "watch_time_ms",
)
