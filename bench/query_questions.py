"""Spec §7's comparison and breakdown for bench/query_latency.py: their request shapes, and a
DuckDB peer that answers them by aggregating on read, like the peer of the plain queries.

- Comparison (`compare=previous_period`, a project over 30 days by day): the peer answers the
  window and the previous one (from `metrics.serve.compare.previous`, as the plain peer takes
  its window from `metrics.serve.window`) with its one SQL aggregate each, and subtracts.
- Breakdown (`group_by=platform` for a project over 30 days; `group_by=social_account` for an
  organization over 30 days, 500 accounts): one `GROUP BY` over `post_hourly` joined with the
  catalog, beside the groups listed from the catalog (a group without activity is zeros).

Every answer's `previous`, `change` and `breakdown` are compared with ours, exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from metrics.serve import compare as compares
from metrics.serve import window as windows

GROUP_COLUMN = {
    "platform": "platform",
    "project_layer": "project_layer_id",
    "social_account": "social_account_id",
}
NAMES = ("views", "likes", "engagement_rate", "posts_published", "post_count")


def shapes(plain: dict[str, Callable[[random.Random], dict]]) -> dict[str, Callable]:
    """The new shapes, built on the plain ones' id rotation."""

    def organization_30d(rng: random.Random) -> dict:
        kw = plain["org_90d_week"](rng)
        since = plain["project_30d_day"](rng)["since"]
        return {**kw, "since": since, "granularity": "day"}

    return {
        "compare_project_30d_day": lambda rng: {
            **plain["project_30d_day"](rng),
            "compare": "previous_period",
        },
        "breakdown_project_30d_platform": lambda rng: {
            **plain["project_30d_day"](rng),
            "group_by": "platform",
        },
        "breakdown_org_30d_account": lambda rng: {
            **organization_30d(rng),
            "group_by": "social_account",
        },
    }


def change(current: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {
            "abs": current[name] - before[name],
            "pct": (current[name] - before[name]) / before[name] if before[name] != 0 else None,
        }
        for name in current
    }


class Questions:
    """Answers `compare` and `group_by` with the plain peer's connection and SQL."""

    def __init__(self, peer: Any, scope_column: dict[str, str]) -> None:
        self.peer = peer
        self.scope_column = scope_column
        self._sql: dict[tuple[str, str], str] = {}

    def _statement(self, scope_column: str, group: str) -> str:
        key = (scope_column, group)
        if key not in self._sql:
            g = GROUP_COLUMN[group]  # fixed mappings, never the request
            self._sql[key] = f"""
            WITH x AS (
              SELECT {g} AS g, platform_post_id, views, likes, comments, shares, saves,
                     0 AS published
              FROM ph WHERE {scope_column} = $id AND hour >= $since AND hour < $until
              UNION ALL
              SELECT {g}, NULL, 0, 0, 0, 0, 0, 1
              FROM pub WHERE {scope_column} = $id
                AND published_at >= $since AND published_at < $until
            ), groups AS (SELECT DISTINCT {g} AS g FROM lineage WHERE {scope_column} = $id)
            SELECT groups.g, coalesce(sum(views), 0)::BIGINT, coalesce(sum(likes), 0)::BIGINT,
              coalesce(sum(likes + comments + shares + saves), 0)::DOUBLE
                / greatest(coalesce(sum(views), 0), 1),
              coalesce(sum(published), 0)::BIGINT, count(DISTINCT platform_post_id)
            FROM groups LEFT JOIN x USING (g) GROUP BY groups.g"""
        return self._sql[key]

    def query(self, *, compare: str | None = None, group_by: str | None = None, **kw: Any) -> dict:
        answer = self.peer.query(**kw)
        window = windows.resolve(kw["since"], kw["until"], kw["granularity"], kw["tz"], None)
        if compare is not None:
            before = compares.previous(window, compare)
            echo = before.echo()
            previous = self.peer.query(**{**kw, "since": echo["since"], "until": echo["until"]})
            answer["previous"] = {
                "window": {"since": echo["since"], "until": echo["until"]},
                **previous,
            }
            answer["change"] = change(answer["totals"], previous["totals"])
        if group_by is not None:
            params = {
                "id": kw["id"],
                "since": datetime.fromtimestamp(window.since, UTC),
                "until": datetime.fromtimestamp(window.until, UTC),
            }
            sql = self._statement(self.scope_column[kw["scope"]], group_by)
            rows = self.peer.con.execute(sql, params).fetchall()
            metrics = kw["metrics"]
            groups = []
            for key, *values in rows:
                named = dict(zip(NAMES, values, strict=True))
                totals = {m: named[m] for m in metrics}
                totals["post_count"] = named["post_count"]
                groups.append({"key": key, "totals": totals})
            groups.sort(key=lambda row: (-row["totals"][metrics[0]], row["key"]))
            answer["breakdown"] = groups
        return answer


def same(ours: dict, theirs: dict) -> bool:
    """Equal on every part the peer answers."""
    keys = ("series", "totals", "previous", "change", "breakdown")
    return all(ours.get(k) == theirs.get(k) for k in keys)
