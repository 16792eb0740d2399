"""Top performers against a brute-force reference, over hundreds of random requests.

The reference ranks posts straight from the rows the warehouse was written from (`post_hourly`
rows, `posts`, the catalog), in plain Python, post by post and hour by hour, with `zoneinfo`
for local time; it shares no code with `metrics.serve` (no index, no window module, no rollup).
One warehouse is built by the real pipeline from a generated landing zone; another is written
from random hand-made rows with negative views, posts without a publication time and many ties.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import metrics
from metrics.serve.errors import QueryError
from tests.helpers.pipeline import make_landing
from tests.helpers.pipeline import run as run_pipeline
from tests.helpers.warehouse import Warehouse, write_warehouse
from tests.serve.test_query_reference import ZONES, _as_input, _data, _from_pipeline

HOUR = timedelta(hours=1)
RANKABLE = (
    "views",
    "reach",
    "impressions",
    "likes",
    "comments",
    "shares",
    "saves",
    "watch_time_ms",
    "engagement_rate",
)
NOT_RANKABLE = ("followers", "follower_delta", "posts_published", "viewz", "spend")
PLATFORM_NAMES = ("tiktok", "instagram", "youtube", "x")
WHOLE_HOUR_ZONES = ("UTC", "America/Los_Angeles", "Europe/London", "Asia/Tokyo")
ITEM = ("views", "likes", "comments", "shares", "saves", "engagement_rate")


class TopReference:
    """Rankings computed post by post from the rows a warehouse was written from."""

    def __init__(self, data: Warehouse, as_of: str) -> None:
        cat = data.catalog
        self.project_org = {p["id"]: p["org_id"] for p in cat["projects"]}
        layer_project = {lyr["id"]: lyr["project_id"] for lyr in cat["project_layers"]}
        self.account_layer = {a["id"]: a["project_layer_id"] for a in cat["social_accounts"]}
        self.home: dict[tuple[str, str], tuple[str, str | None]] = {}
        for org in (o["id"] for o in cat["organizations"]):
            self.home[("organization", org)] = (org, None)
        for project, org in self.project_org.items():
            self.home[("project", project)] = (org, project)
        for layer, project in layer_project.items():
            self.home[("project_layer", layer)] = (self.project_org[project], project)
        for account, layer in self.account_layer.items():
            project = layer_project[layer]
            self.home[("social_account", account)] = (self.project_org[project], project)
        self.members: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.posts: dict[str, tuple[str, datetime | None]] = {}
        for post, (account, published) in data.posts.items():
            if account not in self.account_layer:
                continue  # an account the newest catalog dropped: its posts are nobody's
            self.posts[post] = (account, published)
            layer = self.account_layer[account]
            project = layer_project[layer]
            self.home[("platform_post", post)] = (self.project_org[project], project)
            for key in (
                ("social_account", account),
                ("project_layer", layer),
                ("project", project),
                ("organization", self.project_org[project]),
            ):
                self.members[key].append(post)
        self.rows: dict[str, dict[datetime, dict[str, int]]] = defaultdict(dict)
        for post, hour, values in data.hourly:
            cell = self.rows[post].setdefault(hour, {})
            for m, v in values.items():
                cell[m] = cell.get(m, 0) + v
        self.as_of = as_of

    def window(self, since, until, tz, now) -> tuple[datetime, datetime] | int:
        zone = ZoneInfo(tz)

        def parse(value) -> datetime:
            dt = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            return (dt if dt.tzinfo else dt.replace(tzinfo=zone)).astimezone(UTC)

        def floor(dt: datetime) -> datetime:
            return dt.replace(minute=0, second=0, microsecond=0)

        end_dt = parse(until if until is not None else now)
        if since is not None:
            start_dt = parse(since)
        else:
            start_dt = (end_dt.astimezone(zone) - timedelta(days=30)).astimezone(UTC)
        start, end = floor(start_dt), floor(end_dt)
        if start >= end:
            return 422
        h = start
        while h < end:
            offset = h.astimezone(zone).utcoffset()
            assert offset is not None
            if offset % HOUR:
                return 422
            h += HOUR
        return start, end

    def answer(self, q: dict[str, Any]) -> dict[str, Any] | int:
        scope, id_, metric, limit = q["scope"], q["id"], q["metric"], q["limit"]
        if scope == "platform_post" or metric not in RANKABLE or not 1 <= limit <= 100:
            return 422
        span = self.window(q["since"], q["until"], q["tz"], q["now"])
        if isinstance(span, int):
            return span
        start, end = span
        org, project = q["org_id"], q["project_id"]
        if self.project_org.get(project) != org:
            return 404
        if scope == "organization" and id_ != org:
            return 404
        if scope != "organization" and self.home.get((scope, id_)) != (org, project):
            return 404
        ranked = []
        for post in self.members.get((scope, id_), []):
            account, published = self.posts[post]
            inside = {h: v for h, v in self.rows.get(post, {}).items() if start <= h < end}
            if not any(any(v.values()) for v in inside.values()):
                continue
            if q["platform"] is not None and post.split("_")[1] != q["platform"]:
                continue
            if q["published"] == "in_window" and not (published and start <= published < end):
                continue
            sums: dict[str, float] = {
                m: sum(v.get(m, 0) for v in inside.values()) for m in RANKABLE[:-1]
            }
            if sums["views"] < q["min_views"]:
                continue
            engaged = sums["likes"] + sums["comments"] + sums["shares"] + sums["saves"]
            sums["engagement_rate"] = engaged / max(sums["views"], 1)
            ranked.append((post, account, published, sums))
        ranked.sort(key=lambda r: (-r[3][metric], -r[3]["views"], r[0]))
        items = [
            {
                "rank": n,
                "platform_post_id": post,
                "platform": post.split("_")[1],
                "social_account_id": account,
                "project_layer_id": self.account_layer[account],
                "published_at": published.strftime("%Y-%m-%dT%H:%M:%SZ") if published else None,
                "value": sums[metric],
                "metrics": {m: sums[m] for m in ITEM},
            }
            for n, (post, account, published, sums) in enumerate(ranked[:limit], start=1)
        ]
        window = {"since": _z(start), "until": _z(end)}
        if q["tz"] != "UTC":
            window["tz"] = q["tz"]
        return {
            "scope": scope,
            "id": id_,
            "window": window,
            "metric": metric,
            "as_of": self.as_of,
            "total_candidates": len(ranked),
            "items": items,
        }


def _z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _random_request(rng: random.Random, ref: TopReference, hours: list[datetime]) -> dict[str, Any]:
    project = rng.choice(sorted(ref.project_org))
    org = ref.project_org[project]
    if rng.random() < 0.04:
        project = rng.choice(sorted(ref.project_org))  # perhaps another org's project
    scope = rng.choice(["organization", "project", "project", "project_layer", "social_account"])
    if rng.random() < 0.02:
        scope = "platform_post"
    mine = sorted(i for (s, i), home in ref.home.items() if s == scope and home[1] == project)
    anywhere = sorted(i for s, i in ref.home if s == scope)
    id_ = rng.choice(mine if mine and rng.random() < 0.9 else anywhere)
    if scope == "organization" and rng.random() < 0.8:
        id_ = org
    metric = rng.choice(RANKABLE)
    if rng.random() < 0.03:
        metric = rng.choice(NOT_RANKABLE)
    limit = rng.choice([1, 2, 3, 5, 10, 10, 20, 100])
    if rng.random() < 0.03:
        limit = rng.choice([0, 101, -3])
    views = sorted(
        sum(v.get("views", 0) for v in ref.rows.get(p, {}).values())
        for p in ref.members.get((scope, id_), [])
    )
    min_views = 0
    if rng.random() < 0.3 and views:
        min_views = rng.choice(views) + rng.choice([-1, 0, 1])  # on and beside real values
    elif rng.random() < 0.1:
        min_views = -rng.randrange(1, 100)
    # Mostly zones on whole hours; Kolkata and Lord Howe (+10:30 part of the year) get 422s.
    tz = rng.choice(ZONES) if rng.random() < 0.15 else rng.choice(WHOLE_HOUR_ZONES)
    zone = ZoneInfo(tz)
    since_t = rng.choice(hours) - timedelta(seconds=rng.randrange(0, 3 * 86400))
    until_t = since_t + timedelta(hours=rng.randrange(1, 24 * 10), minutes=rng.randrange(60))
    if rng.random() < 0.05:
        until_t = since_t - timedelta(hours=rng.randrange(0, 5))  # empty or reversed: 422
    q = {
        "org_id": org,
        "project_id": project,
        "scope": scope,
        "id": id_,
        "metric": metric,
        "since": _as_input(rng, since_t, zone),
        "until": _as_input(rng, until_t, zone),
        "tz": tz,
        "limit": limit,
        "platform": rng.choice([None, None, None, None, *PLATFORM_NAMES]),
        "published": rng.choice(["any", "any", "in_window"]),
        "min_views": min_views,
        "now": None,
    }
    if rng.random() < 0.08:
        q["since"] = q["until"] = None
        q["now"] = _as_input(rng, until_t, zone)
    return q


def _agree(store: metrics.Store, ref: TopReference, seed: int, n: int) -> None:
    """`n` random requests answered alike by the store and the reference; windows start
    within three days before some hour with data."""
    rng = random.Random(seed)
    hours = sorted({h for rows in ref.rows.values() for h in rows})
    outcomes: dict[str, int] = defaultdict(int)
    ranked_by: set[str] = set()
    for _ in range(n):
        q = _random_request(rng, ref, hours)
        expected = ref.answer(q)
        try:
            got: dict[str, Any] | int = store.top_performers(**q)
        except QueryError as exc:
            got = exc.status
        assert got == expected, q
        if isinstance(expected, int):
            outcomes[str(expected)] += 1
        else:
            outcomes["items" if expected["items"] else "empty"] += 1
            outcomes["cut"] += expected["total_candidates"] > q["limit"]
            if expected["items"]:
                ranked_by.add(q["metric"])
    # The draw exercised every outcome: full and empty answers, cut lists, 422s and 404s.
    assert outcomes["items"] > n * 0.3 and outcomes["cut"] > n // 10, outcomes
    assert outcomes["empty"] and outcomes["422"] and outcomes["404"], outcomes
    assert ranked_by == set(RANKABLE)


@pytest.fixture(scope="module")
def pipeline_warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("top_ref")
    raw, _ = make_landing(root)
    dates = sorted(p.name for p in (raw / "tiktok").iterdir())
    warehouse = root / "warehouse"
    run_pipeline(raw, warehouse, date.fromisoformat(dates[0]), date.fromisoformat(dates[-1]))
    return raw, warehouse


def test_600_random_requests_on_a_pipeline_built_warehouse(pipeline_warehouse):
    raw, warehouse = pipeline_warehouse
    data = _from_pipeline(raw, warehouse)
    as_of = json.loads((warehouse / "manifest.json").read_text())["as_of"]
    ref = TopReference(data, as_of)
    assert len({p.split("_")[1] for p in ref.posts}) == 4  # every platform is ranked
    _agree(metrics.connect(warehouse), ref, 13, 600)


def test_300_random_requests_on_a_warehouse_with_ties_and_negative_views(tmp_path):
    data = _data(4)
    store = metrics.connect(write_warehouse(tmp_path, data))
    latest = max(at for _, at, _ in data.followers)
    _agree(store, TopReference(data, _z(latest)), 41, 300)
