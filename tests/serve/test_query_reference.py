"""The read function against a brute-force reference, over hundreds of random queries.

The reference works straight from what the fixture wrote (post_hourly rows, follower
snapshots, posts and the catalog) in plain Python, hour by hour, with `zoneinfo` for local
time; it shares no code with `metrics.serve.query`, `metrics.serve.window` or the rollups. A
bucket is the run of consecutive window hours with the same label, and it is partial when the
hour just outside the window would carry the same label.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

import metrics
from metrics.model.measures import POST_METRICS
from metrics.serve.errors import QueryError
from tests.helpers.pipeline import make_landing, table
from tests.helpers.pipeline import run as run_pipeline
from tests.helpers.warehouse import Warehouse, write_warehouse

START = datetime(2026, 2, 23, tzinfo=UTC)
END = datetime(2026, 4, 20, tzinfo=UTC)
HOUR = timedelta(hours=1)
ALL_METRICS = (*POST_METRICS, "engagement_rate", "followers", "follower_delta", "posts_published")
DEFAULTS = {
    "platform_post": ["views", "likes", "comments", "shares", "saves", "engagement_rate"],
    "social_account": ["followers", "follower_delta", "posts_published", "views"],
    "project_layer": ["views", "engagement_rate", "posts_published"],
    "project": ["views", "engagement_rate", "posts_published"],
    "organization": ["views", "posts_published"],
}
# Spec §2's mapping table: the post metrics each platform never reports (its dashes).
NEVER_REPORTED = {
    "tiktok": {"impressions"},
    "instagram": {"impressions"},
    "youtube": {"reach", "impressions", "saves"},
    "x": {"reach", "watch_time_ms"},
}
# DST in March/April 2026: Los Angeles on the 8th, London on the 29th, Lord Howe (+11:00 to
# +10:30) on April 5th; Tokyo never; Kolkata is +05:30 throughout.
ZONES = (
    "UTC",
    "America/Los_Angeles",
    "Europe/London",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
)


def _catalog() -> dict[str, Any]:
    orgs = {"org_a": ["prj_a1", "prj_a2"], "org_b": ["prj_b1"]}
    catalog: dict[str, list[dict[str, str]]] = {
        "organizations": [{"id": o, "name": o} for o in orgs],
        "projects": [{"id": p, "org_id": o, "name": p} for o, ps in orgs.items() for p in ps],
        "project_layers": [],
        "social_accounts": [],
    }
    for project in [p["id"] for p in catalog["projects"]]:
        for kind in ("social_content", "managed_ugc"):
            layer = f"lyr_{project[4:]}_{kind[:3]}"
            catalog["project_layers"].append(
                {"id": layer, "project_id": project, "kind": kind, "name": kind}
            )
            for n in range(2):
                catalog["social_accounts"].append(
                    {
                        "id": f"acc_{layer[4:]}_{n}",
                        "project_layer_id": layer,
                        "platform": "tiktok",
                        "native_id": f"{layer}{n}",
                        "handle": f"@{layer}{n}",
                    }
                )
    return catalog


def _random_instant(rng: random.Random, lo: datetime = START, hi: datetime = END) -> datetime:
    return lo + timedelta(seconds=rng.randrange(int((hi - lo).total_seconds())))


def _data(seed: int) -> Warehouse:
    rng = random.Random(seed)
    catalog = _catalog()
    accounts = [a["id"] for a in catalog["social_accounts"]]
    data = Warehouse(catalog=catalog)
    for a_i, account in enumerate([*accounts, "acc_gone"]):
        for n in range(3):
            post = f"pst_tiktok_{7301234567890123456 + a_i * 10 + n}"
            published = None if (a_i, n) == (0, 2) else _random_instant(rng, START, END)
            data.posts[post] = (account, published)
            if (a_i, n) == (1, 1):
                continue  # a post without any activity
            first = published or START
            for _ in range(rng.randrange(5, 40)):
                hour = _random_instant(rng, first, END).replace(minute=0, second=0)
                values = {m: rng.randrange(0, 500) for m in rng.sample(POST_METRICS, 4)}
                if rng.random() < 0.1:
                    values["views"] = -rng.randrange(1, 50)
                data.hourly.append((post, hour, values))
    for account in [*accounts[:-1], "acc_gone"]:  # the last account has no snapshot at all
        for _ in range(rng.randrange(1, 8)):
            at = _random_instant(rng, START - timedelta(days=5), END)
            if rng.random() < 0.3:
                at = at.replace(minute=0, second=0)  # exactly on a bucket edge
            data.followers.append((account, at, rng.randrange(0, 100_000)))
            if rng.random() < 0.1:  # a second snapshot of the same instant: the later wins
                data.followers.append((account, at, rng.randrange(0, 100_000)))
            if rng.random() < 0.3:  # another one within the same hour
                later = at + timedelta(seconds=rng.randrange(1, 3600 - at.minute * 60))
                data.followers.append((account, later, rng.randrange(0, 100_000)))
    return data


class Reference:
    """Answers computed hour by hour from the rows the fixture wrote."""

    def __init__(self, data: Warehouse, as_of: str | None = None) -> None:
        cat = data.catalog
        self.project_org = {p["id"]: p["org_id"] for p in cat["projects"]}
        layer_project = {lyr["id"]: lyr["project_id"] for lyr in cat["project_layers"]}
        self.account_path: dict[str, tuple[str, str, str]] = {}
        self.platform = {a["id"]: a["platform"] for a in cat["social_accounts"]}
        for a in cat["social_accounts"]:
            project = layer_project[a["project_layer_id"]]
            self.account_path[a["id"]] = (self.project_org[project], project, a["project_layer_id"])
        self.home: dict[tuple[str, str], tuple[str, str | None]] = {}
        self.members: dict[tuple[str, str], set[str]] = defaultdict(set)  # entity -> posts
        self.accounts: dict[tuple[str, str], set[str]] = defaultdict(set)  # entity -> accounts
        for org in {o["id"] for o in cat["organizations"]}:
            self.home[("organization", org)] = (org, None)
        for project, org in self.project_org.items():
            self.home[("project", project)] = (org, project)
        for layer, project in layer_project.items():
            self.home[("project_layer", layer)] = (self.project_org[project], project)
        for account, (org, project, _) in self.account_path.items():
            self.home[("social_account", account)] = (org, project)
            for key in self._ancestors(account):
                self.accounts[key].add(account)
        self.published = {}
        for post, (account, published) in data.posts.items():
            if account in self.account_path:
                org, project, _ = self.account_path[account]
                self.home[("platform_post", post)] = (org, project)
                for key in [("platform_post", post), *self._ancestors(account)]:
                    self.members[key].add(post)
            self.published[post] = published
        self.hourly: dict[tuple[str, datetime], dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(POST_METRICS, 0)
        )
        for post, hour, values in data.hourly:
            for m, v in values.items():
                self.hourly[(post, hour)][m] += v
        self.post_hours: dict[str, set[datetime]] = defaultdict(set)  # hours with a row
        for post, hour in self.hourly:
            self.post_hours[post].add(hour)
        self.snapshots: dict[str, list[tuple[datetime, int, int]]] = defaultdict(list)
        for line, (account, at, value) in enumerate(data.followers, start=1):
            self.snapshots[account].append((at, line, value))
        for rows in self.snapshots.values():
            rows.sort()
        latest = max(at for rows in self.snapshots.values() for at, _, _ in rows)
        self.as_of = as_of or latest.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _ancestors(self, account: str) -> list[tuple[str, str]]:
        org, project, layer = self.account_path[account]
        return [
            ("social_account", account),
            ("project_layer", layer),
            ("project", project),
            ("organization", org),
        ]

    def followers(self, key: tuple[str, str], t: datetime) -> int:
        total = 0
        for account in self.accounts.get(key, ()):
            rows = self.snapshots.get(account, [])
            before = [v for at, _, v in rows if at < t]
            if before:
                total += before[-1]
            elif rows:
                first = rows[0][0]
                total += [v for at, _, v in rows if at == first][-1]
        return total

    def sums(self, key: tuple[str, str], hours: list[datetime]) -> dict[str, int]:
        out = dict.fromkeys([*POST_METRICS, "posts_published"], 0)
        span = set(hours)
        for post in self.members.get(key, ()):
            for h in self.post_hours[post] & span:
                for m, v in self.hourly[(post, h)].items():
                    out[m] += v
            published = self.published[post]
            if published and published.replace(minute=0, second=0, microsecond=0) in span:
                out["posts_published"] += 1
        return out

    def active(self, posts: set[str], hours: list[datetime]) -> int:
        """How many of `posts` have a non-zero increment in one of `hours`."""
        span = set(hours)
        return sum(
            any(any(self.hourly[(p, h)].values()) for h in self.post_hours[p] & span) for p in posts
        )

    def values(self, key, names, hours, start, end) -> dict[str, Any]:
        s = self.sums(key, hours)
        f_start, f_end = self.followers(key, start), self.followers(key, end)
        out: dict[str, Any] = {}
        for n in names:
            if n == "engagement_rate":
                engaged = s["likes"] + s["comments"] + s["shares"] + s["saves"]
                out[n] = engaged / max(s["views"], 1)
            elif n == "followers":
                out[n] = f_end
            elif n == "follower_delta":
                out[n] = f_end - f_start
            else:
                out[n] = s[n]
        return out

    def answer(self, org, project, scope, id_, names, since, until, granularity, tz, now):
        """The body, or the status of the error the contract demands."""
        if scope == "platform_post" and (
            granularity == "week" or {"followers", "follower_delta"} & set(names or ())
        ):
            return 422
        zone = ZoneInfo(tz)

        def parse(value) -> datetime:
            dt = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            return (dt if dt.tzinfo else dt.replace(tzinfo=zone)).astimezone(UTC)

        def floor(dt: datetime) -> datetime:
            return dt.replace(minute=0, second=0, microsecond=0)

        def days_before(dt: datetime, days: int) -> datetime:
            return (dt.astimezone(zone) - timedelta(days=days)).astimezone(UTC)

        until_dt = parse(until if until is not None else now)
        since_dt = parse(since) if since is not None else days_before(until_dt, 30)
        start, end = floor(since_dt), floor(until_dt)
        if start >= end:
            return 422
        if granularity == "hour":
            start = max(start, floor(days_before(end, 90)))
        hours = []
        h = start
        while h < end:
            hours.append(h)
            h += HOUR
        if any(_offset(h, zone) % HOUR for h in hours):
            return 422
        if self.project_org.get(project) != org:
            return 404
        if scope == "organization" and id_ != org:
            return 404
        if scope != "organization" and self.home.get((scope, id_)) != (org, project):
            return 404
        names = names or DEFAULTS[scope]

        def label(h: datetime) -> str:
            local = h.astimezone(zone)
            if granularity == "hour":
                return h.strftime("%Y-%m-%dT%H:%M:%SZ") if tz == "UTC" else local.isoformat()
            day = local.date()
            if granularity == "week":
                day -= timedelta(days=day.weekday())
            return day.isoformat()

        key = (scope, id_)
        runs: list[list[datetime]] = []
        for h in hours:
            if runs and label(runs[-1][0]) == label(h):
                runs[-1].append(h)
            else:
                runs.append([h])
        series = []
        for run in runs:
            row: dict[str, Any] = {"bucket": label(run[0])}
            row.update(self.values(key, names, run, run[0], run[-1] + HOUR))
            series.append(row)
        if label(start - HOUR) == label(start):
            series[0]["partial"] = True
        if label(end) == label(end - HOUR):
            series[-1]["partial"] = True
        totals = self.values(key, names, hours, start, end)
        totals["post_count"] = self.active(self.members.get(key, set()), hours)
        as_of = datetime.fromisoformat(self.as_of) if self.as_of else None
        after = [label(run[0]) for run in runs if as_of is None or run[-1] + HOUR > as_of]
        if scope == "platform_post":
            platforms = {id_.split("_")[1]}
        else:
            platforms = {self.platform[a] for a in self.accounts.get(key, ())}
        coverage = {
            "buckets_after_as_of": len(after),
            "first_bucket_after_as_of": after[0] if after else None,
            "unreported_metrics": [
                n
                for n in names
                if n in POST_METRICS and all(n in NEVER_REPORTED[p] for p in platforms)
            ],
        }
        window = {
            "since": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "until": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "granularity": granularity,
        }
        if tz != "UTC":
            window["tz"] = tz
        return {
            "scope": scope,
            "id": id_,
            "window": window,
            "as_of": self.as_of,
            "coverage": coverage,
            "series": series,
            "totals": totals,
        }


def _offset(t: datetime, zone: ZoneInfo) -> timedelta:
    offset = t.astimezone(zone).utcoffset()
    assert offset is not None  # an aware datetime in a ZoneInfo always has one
    return offset


def _as_input(rng: random.Random, t: datetime, zone: ZoneInfo) -> str | datetime:
    """The same instant written the ways a client might write it."""
    form = rng.randrange(4)
    if form == 0:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == 1:
        return t.astimezone(zone).isoformat()
    if form == 2:
        return t.astimezone(zone)
    return t.astimezone(zone).replace(tzinfo=None).isoformat()  # naive: local in tz


def _random_query(
    rng: random.Random, ref: Reference, first: datetime, last: datetime
) -> dict[str, Any]:
    """A query, mostly about an entity of its own project, with a window around [first, last)."""
    project = rng.choice(sorted(ref.project_org))
    org = ref.project_org[project]
    if rng.random() < 0.05:
        project = rng.choice(sorted(ref.project_org))  # perhaps another org's project
    scope = rng.choice(list(DEFAULTS))
    mine = sorted(i for (s, i), home in ref.home.items() if s == scope and home[1] == project)
    anywhere = sorted(i for s, i in ref.home if s == scope)
    id_ = rng.choice(mine if mine and rng.random() < 0.85 else anywhere)
    if scope == "organization" and rng.random() < 0.7:
        id_ = org
    names = None
    if rng.random() < 0.7:
        allowed = [
            m
            for m in ALL_METRICS
            if scope != "platform_post" or m not in ("followers", "follower_delta")
        ]
        names = rng.sample(allowed, rng.randrange(1, 5))
    granularity = rng.choice(["hour", "day", "day", "week"])
    if scope == "platform_post" and granularity == "week":
        granularity = "day"
    tz = rng.choice(ZONES)
    zone = ZoneInfo(tz)
    span = timedelta(hours=rng.randrange(1, 24 * (6 if granularity == "hour" else 50)))
    if granularity == "hour" and rng.random() < 0.03:
        span = timedelta(days=rng.randrange(91, 100))  # clamped to 90 days
    since_t = _random_instant(rng, first - timedelta(days=20), last + timedelta(days=5))
    until_t = since_t + span
    query = {
        "org_id": org,
        "project_id": project,
        "scope": scope,
        "id": id_,
        "metrics": names,
        "since": _as_input(rng, since_t, zone),
        "until": _as_input(rng, until_t, zone),
        "granularity": granularity,
        "tz": tz,
        "now": None,
    }
    if rng.random() < 0.1:
        query["since"] = None
        query["until"] = None
        query["now"] = _as_input(rng, until_t, zone)
    return query


def _agree(store: metrics.Store, ref: Reference, seed: int, first: datetime, last: datetime):
    """300 random queries answered alike by both; returns what kinds of answers were seen."""
    rng = random.Random(seed)
    outcomes: dict[str, int] = defaultdict(int)
    answered: set[tuple[str, str]] = set()
    for _ in range(300):
        q = _random_query(rng, ref, first, last)
        expected = ref.answer(
            *(
                q[k]
                for k in (
                    "org_id",
                    "project_id",
                    "scope",
                    "id",
                    "metrics",
                    "since",
                    "until",
                    "granularity",
                    "tz",
                    "now",
                )
            )
        )
        try:
            got: dict[str, Any] | int = store.query(**q)
        except QueryError as exc:
            got = exc.status
        assert got == expected, q
        outcomes[str(expected) if isinstance(expected, int) else "200"] += 1
        if isinstance(expected, dict):
            answered.add((q["tz"], q["granularity"]))
            outcomes["after as_of"] += expected["coverage"]["buckets_after_as_of"] > 0
            outcomes["unreported"] += bool(expected["coverage"]["unreported_metrics"])
    assert outcomes["200"] > 180 and outcomes["422"] and outcomes["404"], outcomes
    assert outcomes["after as_of"] and outcomes["unreported"], outcomes
    whole_hour_zones = [z for z in ZONES if z != "Asia/Kolkata"]
    assert answered == {(z, g) for z in whole_hour_zones for g in ("hour", "day", "week")}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_queries_match_the_reference(tmp_path, seed):
    data = _data(seed)
    store = metrics.connect(write_warehouse(tmp_path, data))
    _agree(store, Reference(data), seed * 1000, START, END)


def _from_pipeline(raw: Path, warehouse: Path) -> Warehouse:
    """What a pipeline run wrote, in the reference's shape (newest catalog from the landing)."""
    newest = max((raw / "catalog").iterdir())
    data = Warehouse(catalog=json.loads((newest / "catalog.json").read_text()))
    for pid, account, published in (
        table(warehouse, "posts")
        .select("platform_post_id", "social_account_id", "published_at")
        .iter_rows()
    ):
        data.posts[pid] = (account, published)
    for row in table(warehouse, "post_hourly").iter_rows(named=True):
        values = {m: row[m] for m in POST_METRICS if row[m]}
        data.hourly.append((row["platform_post_id"], row["hour"], values))
    followers = (
        table(warehouse, "follower_observations")
        .filter(pl.col("followers").is_not_null())
        .sort("collected_at", "landing_file", "line")  # the later (file, line) wins a tie
    )
    data.followers = list(
        followers.select("social_account_id", "collected_at", "followers").iter_rows()
    )
    return data


def pipeline_built(root: Path) -> tuple[Path, Warehouse, str, datetime, datetime]:
    """A generated landing zone run through the pipeline: (warehouse, what it holds in the
    reference's shape, as_of, first and last active hour)."""
    raw, _ = make_landing(root)
    dates = sorted(p.name for p in (raw / "tiktok").iterdir())
    warehouse = root / "warehouse"
    run_pipeline(raw, warehouse, date.fromisoformat(dates[0]), date.fromisoformat(dates[-1]))
    data = _from_pipeline(raw, warehouse)
    as_of = json.loads((warehouse / "manifest.json").read_text())["as_of"]
    first = min(h for _, h, _ in data.hourly)
    last = max(h for _, h, _ in data.hourly)
    return warehouse, data, as_of, first, last


def test_a_pipeline_built_warehouse_matches_the_reference(tmp_path):
    warehouse, data, as_of, first, last = pipeline_built(tmp_path)
    _agree(metrics.connect(warehouse), Reference(data, as_of), 7, first, last)
