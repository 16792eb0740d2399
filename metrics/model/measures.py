"""The metrics the platform measures, and which of them add up (spec §5)."""

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

# Every additive rollup column: a bucket's value is the sum of its children's, and a window's
# the sum of its buckets'. The read function keeps its prefix sums in this order.
ADDITIVE: tuple[str, ...] = (*POST_METRICS, "posts_published")

# Account gauges: F(end) and F(end) - F(start) of a span; never summed over time.
GAUGES: tuple[str, ...] = ("followers", "follower_delta")

# `engagement_rate` = sum of these over max(views, 1), from the span's sums.
ENGAGEMENTS: tuple[str, ...] = ("likes", "comments", "shares", "saves")

# The metric names the read function accepts, in the order the endpoint documents them.
METRICS: tuple[str, ...] = (
    *POST_METRICS,
    "engagement_rate",
    *GAUGES,
    "posts_published",
)

# Paid metrics live on another endpoint; asking for one gets a pointer there.
PAID_METRICS: frozenset[str] = frozenset(
    ("spend", "cpa", "cpc", "cpm", "ctr", "roas", "conversions", "clicks", "installs", "revenue")
)
