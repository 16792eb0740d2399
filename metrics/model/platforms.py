"""The platforms the landing zone carries (spec §2's order), and the post metrics each reports."""

from __future__ import annotations

from metrics.model.measures import POST_METRICS

PLATFORMS: tuple[str, ...] = ("tiktok", "instagram", "youtube", "x")

# Spec §2's metric mapping, by column: a dash there is a metric the platform never reports, which
# stays 0 in every output. The read function says so (`coverage.unreported_metrics`) and the
# table shows it as "–" rather than a zero that looks measured.
REPORTS: dict[str, frozenset[str]] = {
    "tiktok": frozenset(POST_METRICS) - {"impressions"},
    "instagram": frozenset(POST_METRICS) - {"impressions"},
    "youtube": frozenset(POST_METRICS) - {"reach", "impressions", "saves"},
    "x": frozenset(POST_METRICS) - {"reach", "watch_time_ms"},
}
