"""`compare` and `group_by` (spec §7) against a brute-force reference, on a pipeline-built
warehouse, over 500 random requests of each kind.

The reference extends the one of `test_query_reference` (plain Python, hour by hour, sharing no
code with the index): the previous window is worked out on the local clock with `zoneinfo` and
answered by the same brute force; a breakdown's groups are sets of the catalog's accounts and
their posts, each answered as a scope of its own.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import metrics
from metrics.model.measures import POST_METRICS
from metrics.serve.errors import QueryError
from tests.helpers.warehouse import Warehouse, write_warehouse
from tests.serve.test_query_reference import (
    DEFAULTS,
    END,
    HOUR,
    START,
    Reference,
    _data,
    _random_query,
    pipeline_built,
)

# Spec §7: each group_by and the scopes it is allowed for (strictly below the scope).
ALLOWED = {
    "platform": {"social_account", "project_layer", "project", "organization"},
    "project_layer": {"project", "organization"},
    "social_account": {"project_layer", "project", "organization"},
}
ADDITIVE = (*POST_METRICS, "posts_published")
ARGS = ("org_id", "project_id", "scope", "id", "metrics", "since", "until", "granularity", "tz")


class Extended(Reference):
    """The reference, plus the previous window and the breakdown."""

    def __init__(self, data: Warehouse, as_of: str | None = None) -> None:
        super().__init__(data, as_of)
        self.post_account = {post: account for post, (account, _) in data.posts.items()}
        self.layers = [
            (lyr["id"], lyr["project_id"], self.project_org[lyr["project_id"]])
            for lyr in data.catalog["project_layers"]
        ]

    def full(self, q: dict[str, Any]) -> dict[str, Any] | int:
        compare, group_by = q.get("compare"), q.get("group_by")
        if compare is not None and compare not in ("previous_period", "previous_year"):
            return 422
        if group_by is not None and q["scope"] not in ALLOWED.get(group_by, ()):
            return 422
        body = self.answer(*[q[k] for k in (*ARGS, "now")])
        if isinstance(body, int):
            return body
        names = q["metrics"] or DEFAULTS[q["scope"]]
        if compare is not None:
            previous = self.previous(q, body["window"], compare)
            if isinstance(previous, int):
                return previous
            body["previous"] = {
                "window": {k: previous["window"][k] for k in ("since", "until")},
                "series": previous["series"],
                "totals": previous["totals"],
            }
            body["change"] = {}
            for name, now_value in body["totals"].items():
                before = previous["totals"][name]
                diff = now_value - before
                body["change"][name] = {"abs": diff, "pct": None if before == 0 else diff / before}
        if group_by is not None:
            body["breakdown"] = self.breakdown(q, body["window"], group_by, names)
        return body

    def previous(self, q: dict[str, Any], window: dict[str, str], compare: str):
        zone = ZoneInfo(q["tz"])
        start = datetime.fromisoformat(window["since"])
        end = datetime.fromisoformat(window["until"])
        local_start = start.astimezone(zone).replace(tzinfo=None)
        local_end = end.astimezone(zone).replace(tzinfo=None)
        if compare == "previous_period":
            since, until = local_start - (local_end - local_start), start
        else:
            since, until = local_start - timedelta(days=364), local_end - timedelta(days=364)
        return self.answer(
            q["org_id"], q["project_id"], q["scope"], q["id"], q["metrics"],
            since, until, q["granularity"], q["tz"], None,
        )  # fmt: skip

    def groups(self, key: tuple[str, str], group_by: str) -> dict[str, set[str]]:
        """Group key -> the accounts of the scope in that group (possibly none)."""
        mine = self.accounts.get(key, set())
        if group_by == "social_account":
            return {a: {a} for a in mine}
        if group_by == "platform":
            return {
                p: {a for a in mine if self.platform[a] == p}
                for p in {self.platform[a] for a in mine}
            }
        scope, id_ = key
        layers = [
            lyr for lyr, prj, org in self.layers if id_ == (prj if scope == "project" else org)
        ]
        return {lyr: {a for a in mine if self.account_path[a][2] == lyr} for lyr in layers}

    def breakdown(self, q, window, group_by, names) -> list[dict[str, Any]]:
        key = (q["scope"], q["id"])
        start = datetime.fromisoformat(window["since"])
        end = datetime.fromisoformat(window["until"])
        hours = [start + i * HOUR for i in range(int((end - start) / HOUR))]
        rows = []
        for group, accounts in self.groups(key, group_by).items():
            posts = {p for p in self.members.get(key, ()) if self.post_account[p] in accounts}
            self.members[("group", group)] = posts
            self.accounts[("group", group)] = accounts
            totals = self.values(("group", group), names, hours, start, end)
            totals["post_count"] = self.active(posts, hours)
            del self.members[("group", group)], self.accounts[("group", group)]
            rows.append({"key": group, "totals": totals})
        return sorted(rows, key=lambda row: (-row["totals"][names[0]], row["key"]))


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> tuple[metrics.Store, Extended, datetime, datetime]:
    warehouse, data, as_of, first, last = pipeline_built(tmp_path_factory.mktemp("compare"))
    return metrics.connect(warehouse), Extended(data, as_of), first, last


def _agree(store, ref, queries) -> Counter:
    seen: Counter = Counter()
    for q in queries:
        expected = ref.full(q)
        try:
            got: dict[str, Any] | int = store.query(**q)
        except QueryError as exc:
            got = exc.status
        assert got == expected, q
        seen[str(expected) if isinstance(expected, int) else "200"] += 1
        if isinstance(expected, dict):
            seen.update(_kinds(expected))
    return seen


def _kinds(body: dict[str, Any]) -> list[str]:
    """What a body exercised, so the test can check the random requests reached every rule."""
    out = []
    if "change" in body:
        out.append("previous non-zero" if any(body["previous"]["totals"].values()) else "")
        out += ["pct null" for c in body["change"].values() if c["pct"] is None][:1]
    for row in body.get("breakdown", ()):
        out.append("empty group" if row["totals"]["post_count"] == 0 else "active group")
    if "breakdown" in body:
        out.append("breakdown")
        for name in body["totals"]:
            if name in ADDITIVE:  # spec §7: the groups' additive metrics sum to the totals
                assert sum(r["totals"][name] for r in body["breakdown"]) == body["totals"][name]
    return out


def _compare_queries(ref, rng, first, last, n) -> list[dict[str, Any]]:
    queries = []
    for _ in range(n):
        compare = rng.choice(["previous_period", "previous_year"])
        if compare == "previous_year" and rng.random() < 0.5:  # the previous window holds data
            q = _random_query(rng, ref, first + timedelta(days=364), last + timedelta(days=364))
        else:
            q = _random_query(rng, ref, first, last)
        q["compare"] = compare if rng.random() > 0.03 else "last_month"
        queries.append(q)
    return queries


def _group_queries(ref, rng, first, last, n) -> list[dict[str, Any]]:
    queries = []
    for _ in range(n):
        q = _random_query(rng, ref, first, last)
        group_by = rng.choice(sorted(ALLOWED))
        if q["scope"] not in ALLOWED[group_by] and rng.random() < 0.8:
            q = {**q, "scope": "project", "id": q["project_id"]}
            if group_by == "social_account" or rng.random() < 0.3:
                q["metrics"] = rng.choice([None, ["followers", "views"], ["engagement_rate"]])
        q["group_by"] = group_by
        queries.append(q)
    return queries


def test_compare_matches_the_reference_on_a_pipeline_warehouse(pipeline):
    store, ref, first, last = pipeline
    seen = _agree(store, ref, _compare_queries(ref, random.Random(13), first, last, 500))
    assert seen["200"] > 300 and seen["422"] and seen["404"], seen
    assert seen["previous non-zero"] > 50 and seen["pct null"] > 50, seen


def test_group_by_matches_the_reference_on_a_pipeline_warehouse(pipeline):
    store, ref, first, last = pipeline
    seen = _agree(store, ref, _group_queries(ref, random.Random(14), first, last, 500))
    assert seen["200"] > 300 and seen["422"] and seen["404"], seen
    assert seen["empty group"] > 50 and seen["active group"] > 50, seen


@pytest.mark.parametrize("seed", [1, 2])
def test_compare_and_group_by_on_hand_made_data(tmp_path, seed):
    """Two months of dense random data, where both windows of a comparison hold activity."""
    data = _data(seed)
    store = metrics.connect(write_warehouse(tmp_path, data))
    ref = Extended(data)
    rng = random.Random(seed * 77)
    queries = _compare_queries(ref, rng, START, END, 100) + _group_queries(
        ref, rng, START, END, 100
    )
    for q in queries[:60]:
        q["group_by"] = rng.choice([None, "platform", "social_account", "project_layer"])
    seen = _agree(store, ref, queries)
    assert seen["200"] > 100 and seen["previous non-zero"] > 20, seen
