"""The DuckDB peer for top performers (spec §7), used by bench/query_latency.py.

It answers from the tables `query_latency.Peer` already holds in DuckDB (`ph`: post_hourly
joined once with the newest catalog, sorted by scope then time; `lineage`: every post with its
ancestors and `published_at`): one bound-parameter SQL statement per request that sums each
post's rows inside the window, keeps those with at least `min_views` views, counts them with a
window function and returns the first `limit` in the contract's order. A post is a candidate
when it has a `post_hourly` row in the window, since that table holds only hours with a
non-zero increment. It ranks by views (the default metric, so value and views are one sort
key). Only the window itself comes from `metrics.serve.window`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from metrics.serve import window as windows

ITEM = ("views", "likes", "comments", "shares", "saves")
# name -> (query shape whose ids and window end it reuses, window cut through activity?)
SHAPES = {
    "top_project_30d": ("project_30d_day", False),
    "top_org_90d": ("org_90d_week", False),
    "top_project_cut": ("project_30d_day", True),
    "top_org_cut": ("org_90d_week", True),
}


def request(kw: dict[str, Any], cut: bool) -> dict[str, Any]:
    """A top-performers request over the same scope and id as a query request, and its window
    or (`cut`) one from 13:00 four days before its end to 05:00 the day before: both edges
    fall inside the posts' activity, so every post needs the search at one edge or both."""
    keep = ("org_id", "project_id", "scope", "id", "since", "until")
    out = {**{k: kw[k] for k in keep}, "metric": "views", "limit": 10}
    if cut:
        end = date.fromisoformat(kw["until"])
        out["since"] = f"{end - timedelta(days=4)}T13:00:00Z"
        out["until"] = f"{end - timedelta(days=1)}T05:00:00Z"
    return out


class TopPeer:
    def __init__(self, con: Any, scope_column: dict[str, str]) -> None:
        self.con = con
        self.scope_column = scope_column
        self._sql: dict[str, str] = {}

    def _statement(self, scope: str) -> str:
        if scope not in self._sql:
            col = self.scope_column[scope]  # from a fixed mapping, never from the request
            self._sql[scope] = f"""
            WITH s AS (
              SELECT platform_post_id, sum(views)::BIGINT AS views, sum(likes)::BIGINT AS likes,
                     sum(comments)::BIGINT AS comments, sum(shares)::BIGINT AS shares,
                     sum(saves)::BIGINT AS saves
              FROM ph WHERE {col} = $id AND hour >= $since AND hour < $until
              GROUP BY platform_post_id
            ), f AS (SELECT *, count(*) OVER () AS total FROM s WHERE views >= $min_views)
            SELECT f.platform_post_id, split_part(f.platform_post_id, '_', 2),
                   l.social_account_id, l.project_layer_id,
                   strftime(l.published_at, '%Y-%m-%dT%H:%M:%SZ'),
                   views, likes, comments, shares, saves,
                   (likes + comments + shares + saves)::DOUBLE / greatest(views, 1), total
            FROM f JOIN lineage l USING (platform_post_id)
            ORDER BY views DESC, platform_post_id  -- metric views: value = views
            LIMIT $limit"""
        return self._sql[scope]

    def top(
        self, *, scope: str, id: str, since: str, until: str, limit: int, **_: Any
    ) -> dict[str, Any]:
        window = windows.resolve(since, until, None, "UTC", None)
        params = {
            "id": id,
            "since": datetime.fromtimestamp(window.since, UTC),
            "until": datetime.fromtimestamp(window.until, UTC),
            "min_views": 0,
            "limit": limit,
        }
        rows = self.con.execute(self._statement(scope), params).fetchall()
        items = []
        for rank, row in enumerate(rows, start=1):
            post, platform, account, layer, published, *sums, rate, _total = row
            values = dict(zip(ITEM, sums, strict=True))
            items.append(
                {
                    "rank": rank,
                    "platform_post_id": post,
                    "platform": platform,
                    "social_account_id": account,
                    "project_layer_id": layer,
                    "published_at": published,
                    "value": values["views"],
                    "metrics": {**values, "engagement_rate": rate},
                }
            )
        return {"total_candidates": rows[0][-1] if rows else 0, "items": items}
