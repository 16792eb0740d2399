"""Top performers (spec §7): the posts of a scope ranked by one metric over a window.

`Store.top_performers` checks the request as `query` does (the same window rules, 422 and 404
bodies and tenant rules) and answers from the index in a few vectorized steps over the scope's
contiguous range of post positions: the posts whose active hours (`index.Activity`) reach into
the window, the filters, each one's sums over the window and whether it moved there at all
(`ranking.Ranking.window`), then the order. Only the ≤ 100 posts returned become Python objects.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metrics.model.measures import ADDITIVE, ENGAGEMENTS, METRICS, PAID_METRICS, POST_METRICS
from metrics.model.platforms import PLATFORMS
from metrics.model.scopes import POST, SCOPES
from metrics.serve import window as windows
from metrics.serve.errors import ValidationError
from metrics.serve.index import Index
from metrics.serve.ranking import NO_TIME
from metrics.serve.window import HOUR

# What a post can be ranked by: its additive metrics, and the ratio of their sums.
RANK_METRICS: tuple[str, ...] = (*POST_METRICS, "engagement_rate")
# The per-item `metrics` block: the platform_post scope's default bundle.
ITEM_METRICS: tuple[str, ...] = POST.default_metrics
PUBLISHED: tuple[str, ...] = ("any", "in_window")
SCOPES_RANKED: tuple[str, ...] = tuple(s for s in SCOPES if s != POST.name)
MAX_LIMIT = 100

_COLUMN = {name: i for i, name in enumerate(ADDITIVE)}
_ENGAGED = [_COLUMN[m] for m in ENGAGEMENTS]
_VIEWS = _COLUMN["views"]


def check_metric(metric: str | None) -> str:
    """The metric to rank by; 422 for one that is unknown, paid or not a post metric."""
    metric = metric or "views"
    if metric in PAID_METRICS:
        raise ValidationError(
            f"Unknown metric: {metric}. Use /v1/projects/:projectId/ads-metrics for paid metrics."
        )
    if metric not in METRICS:
        raise ValidationError(f"Unknown metric: {metric}.")
    if metric not in RANK_METRICS:
        raise ValidationError(
            f"{metric} is not a post metric and cannot rank posts; "
            f"use one of {', '.join(RANK_METRICS)}."
        )
    return metric


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(f"{name} must be an integer, not {value!r}.")
    try:
        return int(value)
    except ValueError:
        raise ValidationError(f"{name} must be an integer, not {value!r}.") from None


def check_options(
    limit: Any, platform: str | None, published: str | None, min_views: Any
) -> tuple[int, str | None, str, int]:
    """(limit, platform, published, min_views) once each is valid; 422 with the fix if not."""
    limit = _integer(10 if limit is None else limit, "limit")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}.")
    if platform is not None and platform not in PLATFORMS:
        raise ValidationError(f"Unknown platform: {platform}. Use one of {', '.join(PLATFORMS)}.")
    published = published or "any"
    if published not in PUBLISHED:
        raise ValidationError(f"Unknown published filter: {published}. Use any or in_window.")
    min_views = _integer(0 if min_views is None else min_views, "min_views")
    return limit, platform, published, min_views


def _rates(sums: np.ndarray) -> np.ndarray:
    """engagement_rate per row, as float64: exact integers divided once, as `query` does."""
    return sums[:, _ENGAGED].sum(axis=1) / np.maximum(sums[:, _VIEWS], 1)


def _order(value: np.ndarray, views: np.ndarray, id_rank: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the first `limit` rows by value desc, views desc, id asc.

    Only rows whose value reaches the limit-th largest can be among them (ties included), so
    those are found in linear time first and only they are sorted.
    """
    if len(value) > limit:
        threshold = np.partition(value, len(value) - limit)[len(value) - limit]
        keep = np.flatnonzero(value >= threshold)
    else:
        keep = np.arange(len(value))
    order = np.lexsort((id_rank[keep], -views[keep], -value[keep]))
    return keep[order[:limit]]


def answer(
    index: Index,
    scope: str,
    id: str,
    metric: str,
    window: windows.Window,
    limit: int,
    platform: str | None,
    published: str,
    min_views: int,
) -> dict[str, Any]:
    """The 200 body for a checked, visible request."""
    ranking, activity = index.ranking, index.activity
    since, until = window.since, window.until
    lo, hi = activity.ranges.get((scope, id), (0, 0))
    first, last = activity.first[lo:hi], activity.last[lo:hi]
    positions = lo + np.flatnonzero((first < until // HOUR) & (last >= since // HOUR))
    if platform is not None:
        positions = positions[ranking.platform[positions] == PLATFORMS.index(platform)]
    if published == "in_window":
        at = ranking.published[positions]
        positions = positions[(at != NO_TIME) & (at >= since) & (at < until)]
    moved, sums = ranking.window(
        positions, since, until, activity.first[positions], activity.last[positions]
    )
    positions, sums = positions[moved], sums[moved]
    kept = sums[:, _VIEWS] >= min_views
    positions, sums = positions[kept], sums[kept]
    value = _rates(sums) if metric == "engagement_rate" else sums[:, _COLUMN[metric]]
    chosen = _order(value, sums[:, _VIEWS], ranking.id_rank[positions], limit)
    items = []
    for rank, row in enumerate(chosen.tolist(), start=1):
        position = int(positions[row])
        totals = {m: int(sums[row, _COLUMN[m]]) for m in ADDITIVE if m in POST_METRICS}
        engaged = sum(totals[m] for m in ENGAGEMENTS)
        rate = engaged / max(totals["views"], 1)  # Python division of exact integers
        published_at = int(ranking.published[position])
        items.append(
            {
                "rank": rank,
                "platform_post_id": ranking.post_ids[position],
                "platform": PLATFORMS[ranking.platform[position]],
                "social_account_id": ranking.accounts[position],
                "project_layer_id": ranking.layers[position],
                "published_at": None if published_at == NO_TIME else windows.iso_z(published_at),
                "value": rate if metric == "engagement_rate" else totals[metric],
                "metrics": {m: rate if m == "engagement_rate" else totals[m] for m in ITEM_METRICS},
            }
        )
    return {
        "scope": scope,
        "id": id,
        "window": window.echo(),
        "metric": metric,
        "as_of": index.as_of,
        "total_candidates": len(positions),
        "items": items,
    }


def daily_views(index: Index, body: dict[str, Any]) -> dict[str, list[int]]:
    """Each item's views per local day of the body's window (the CLI's sparklines); per week
    for a window of more than 5,000 days, and none past 5,000 weeks."""
    w = body["window"]
    for granularity in ("day", "week"):
        try:
            window = windows.resolve(w["since"], w["until"], granularity, w.get("tz", "UTC"), None)
        except ValidationError:
            continue
        edges = windows.buckets(window).edges
        return {
            item["platform_post_id"]: np.diff(
                index.measure((POST.name, item["platform_post_id"]), edges)[0][:, _VIEWS]
            ).tolist()
            for item in body["items"]
        }
    return {}
