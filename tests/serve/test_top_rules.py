"""Each rule of top performers (spec §7), pinned by a hand-computed answer on a tiny warehouse.

In prj_a1 (org_a), over the window [2026-04-01, 2026-04-03) UTC, with views and the engaged
sum (likes + comments + shares + saves) inside the window:

| post | account (layer) | views | engaged | rate | published_at |
|---|---|---|---|---|---|
| Y1 | acc_yt (ugc) | 300 | 1 | 1/300 | unknown |
| I1 | acc_ig (sc) | 150 | 20 saves | 20/150 | 04-02 23:59:59 (in) |
| T1 | acc_tt (sc) | 150 | 8 | 8/150 | 04-01 10:30 (in) |
| T2 | acc_tt (sc) | 150 | 8 | 8/150 | 03-20 (before) |
| X1 | acc_x (ugc) | 75 | 4 | 4/75 = 8/150 | 04-03 00:00 = until (out) |
| X2 | acc_x (ugc) | +10 −10 = 0 | 0 | 0 | 04-01 00:00 = since (in) |
| N1 | acc_x (ugc) | −5 | 3 | 3/1 | unknown |

X3 (acc_x) moved only before the window, D1 (acc_tt) only on 2026-03-08/09 (the Los Angeles
DST day), E1 (acc_yt) only in December 2025. PA2 (prj_a2, org_a) has 500 views, PB (org_b)
999. T1 has 1,000 more views after the window, T2 500 before it.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

import metrics
from metrics.serve.errors import QueryError
from tests.helpers.tiny import _catalog
from tests.helpers.warehouse import Warehouse

Y1, E1 = "pst_youtube_301", "pst_youtube_302"
I1 = "pst_instagram_201"
T1, T2, D1 = "pst_tiktok_101", "pst_tiktok_102", "pst_tiktok_501"
X1, X2, X3, N1 = "pst_x_401", "pst_x_402", "pst_x_403", "pst_x_404"
PA2, PB = "pst_tiktok_2", "pst_tiktok_9"
SINCE, UNTIL = "2026-04-01T00:00:00Z", "2026-04-03T00:00:00Z"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


DATA = Warehouse(
    catalog=_catalog(),
    posts={
        Y1: ("acc_yt", None),
        E1: ("acc_yt", t("2025-12-14T00:00:00")),
        I1: ("acc_ig", t("2026-04-02T23:59:59")),
        T1: ("acc_tt", t("2026-04-01T10:30:00")),
        T2: ("acc_tt", t("2026-03-20T08:00:00")),
        D1: ("acc_tt", t("2026-03-08T07:00:00")),
        X1: ("acc_x", t("2026-04-03T00:00:00")),
        X2: ("acc_x", t("2026-04-01T00:00:00")),
        X3: ("acc_x", t("2026-03-29T00:00:00")),
        N1: ("acc_x", None),
        PA2: ("acc_a2", None),
        PB: ("acc_b", t("2026-04-01T09:00:00")),
    },
    hourly=[
        (Y1, t("2026-04-01T03:00"), {"views": 300, "likes": 1}),
        (E1, t("2025-12-15T00:00"), {"views": 7}),
        (I1, t("2026-04-02T12:00"), {"views": 150, "saves": 20}),
        (T1, t("2026-04-01T10:00"), {"views": 100, "likes": 5, "comments": 1}),
        (T1, t("2026-04-02T05:00"), {"views": 50, "shares": 2}),
        (T1, t("2026-04-03T01:00"), {"views": 1000}),
        (T2, t("2026-03-31T23:00"), {"views": 500}),
        (T2, t("2026-04-01T00:00"), {"views": 150, "likes": 8}),
        (D1, t("2026-03-08T07:00"), {"views": 1000}),
        (D1, t("2026-03-08T08:00"), {"views": 10}),
        (D1, t("2026-03-09T06:00"), {"views": 20}),
        (D1, t("2026-03-09T07:00"), {"views": 5000}),
        (X1, t("2026-04-02T20:00"), {"views": 75, "likes": 4}),
        (X2, t("2026-04-01T05:00"), {"views": 10}),
        (X2, t("2026-04-01T06:00"), {"views": -10}),
        (X3, t("2026-03-30T00:00"), {"views": 5}),
        (N1, t("2026-04-01T08:00"), {"views": -5, "likes": 3}),
        (PA2, t("2026-04-01T10:00"), {"views": 500}),
        (PB, t("2026-04-01T10:00"), {"views": 999}),
    ],
    followers=[("acc_tt", t("2026-04-02T09:15:00"), 1000)],
)


@pytest.fixture(scope="module")
def store(hand_warehouse) -> metrics.Store:
    return metrics.connect(hand_warehouse(DATA))


def top(store: metrics.Store, scope: str = "project", id: str | None = "prj_a1", **kw) -> dict:
    kw.setdefault("org_id", "org_a")
    kw.setdefault("project_id", "prj_a1")
    kw.setdefault("since", SINCE)
    kw.setdefault("until", UNTIL)
    return store.top_performers(scope=scope, id=id, **kw)


def ids(body: dict) -> list[str]:
    return [item["platform_post_id"] for item in body["items"]]


def err(store: metrics.Store, **kw) -> tuple[int, str]:
    with pytest.raises(QueryError) as info:
        top(store, **kw)
    body = info.value.body
    assert body["error"]["code"] == ("VALIDATION" if info.value.status == 422 else "NOT_FOUND")
    return info.value.status, body["error"]["message"]


def test_the_whole_body_ranked_by_views(store):
    body = top(store, limit=3)
    assert body == {
        "scope": "project",
        "id": "prj_a1",
        "window": {"since": SINCE, "until": UNTIL},
        "metric": "views",
        "as_of": "2026-04-02T09:15:00Z",
        "total_candidates": 6,
        "items": [
            {
                "rank": 1,
                "platform_post_id": Y1,
                "platform": "youtube",
                "social_account_id": "acc_yt",
                "project_layer_id": "lyr_a1_ugc",
                "published_at": None,
                "value": 300,
                "metrics": {
                    "views": 300,
                    "likes": 1,
                    "comments": 0,
                    "shares": 0,
                    "saves": 0,
                    "engagement_rate": 1 / 300,
                },
            },
            {
                "rank": 2,
                "platform_post_id": I1,
                "platform": "instagram",
                "social_account_id": "acc_ig",
                "project_layer_id": "lyr_a1_sc",
                "published_at": "2026-04-02T23:59:59Z",
                "value": 150,
                "metrics": {
                    "views": 150,
                    "likes": 0,
                    "comments": 0,
                    "shares": 0,
                    "saves": 20,
                    "engagement_rate": 20 / 150,
                },
            },
            {
                "rank": 3,
                "platform_post_id": T1,
                "platform": "tiktok",
                "social_account_id": "acc_tt",
                "project_layer_id": "lyr_a1_sc",
                "published_at": "2026-04-01T10:30:00Z",
                "value": 150,
                "metrics": {
                    "views": 150,
                    "likes": 5,
                    "comments": 1,
                    "shares": 2,
                    "saves": 0,
                    "engagement_rate": 8 / 150,
                },
            },
        ],
    }


def test_equal_values_go_by_id_and_equal_rates_by_views_then_id(store):
    # Views: I1, T1, T2 all 150 -> id order. Rate: T1, T2 and X1 all 8/150 (X1 as 4/75):
    # T1, T2 on 150 views before X1 on 75, T1 before T2 by id.
    assert ids(top(store)) == [Y1, I1, T1, T2, X1, X2]
    body = top(store, metric="engagement_rate")
    assert ids(body) == [I1, T1, T2, X1, Y1, X2]
    assert [i["value"] for i in body["items"]] == [20 / 150, 8 / 150, 8 / 150, 4 / 75, 1 / 300, 0]
    # saves: I1 alone is non-zero; the zeros go by views, then id.
    assert ids(top(store, metric="saves")) == [I1, Y1, T1, T2, X1, X2]
    assert [i["rank"] for i in top(store)["items"]] == [1, 2, 3, 4, 5, 6]


def test_candidates_are_the_posts_active_in_the_window(store):
    # X2's increments cancel (+10, -10) but are non-zero: a candidate with 0 views. X3 moved
    # only before the window and T1's later 1,000 views are outside it.
    body = top(store)
    assert body["total_candidates"] == 6
    assert X3 not in ids(body) and X2 in ids(body)
    assert {i["platform_post_id"]: i["value"] for i in body["items"]}[T1] == 150
    empty = top(store, since="2026-05-01", until="2026-05-02")
    assert empty["total_candidates"] == 0 and empty["items"] == []


def test_limit_cuts_the_items_not_total_candidates(store):
    body = top(store, limit=2)
    assert ids(body) == [Y1, I1] and body["total_candidates"] == 6
    assert ids(top(store, limit=100)) == [Y1, I1, T1, T2, X1, X2]
    assert len(top(store, limit=1)["items"]) == 1


@pytest.mark.parametrize("limit", [0, 101, -1, "ten", 2.5, True])
def test_a_limit_outside_1_to_100_is_422(store, limit):
    status, message = err(store, limit=limit)
    assert status == 422 and "limit" in message


def test_platform_keeps_one_platform(store):
    assert ids(top(store, platform="tiktok")) == [T1, T2]
    assert top(store, platform="tiktok")["total_candidates"] == 2
    assert ids(top(store, platform="youtube")) == [Y1]
    assert err(store, platform="tiktak") == (
        422,
        "Unknown platform: tiktak. Use one of tiktok, instagram, youtube, x.",
    )


def test_published_in_window_includes_since_and_excludes_until(store):
    # I1 at 23:59:59 before until, X2 exactly at since: in; X1 exactly at until, T2 before
    # the window, Y1 unknown: out.
    body = top(store, published="in_window")
    assert ids(body) == [I1, T1, X2] and body["total_candidates"] == 3
    assert ids(top(store, published="any")) == [Y1, I1, T1, T2, X1, X2]
    assert err(store, published="yes")[0] == 422


def test_min_views_keeps_posts_with_at_least_that_many_views(store):
    assert ids(top(store, min_views=150)) == [Y1, I1, T1, T2]
    assert ids(top(store, min_views=151)) == [Y1]
    assert top(store, min_views=301)["total_candidates"] == 0
    # The default 0 drops N1, whose window views are negative; a negative bound keeps it.
    body = top(store, min_views=-10, metric="engagement_rate")
    assert ids(body)[0] == N1 and body["items"][0]["value"] == 3 / 1
    assert body["total_candidates"] == 7
    assert err(store, min_views="many")[0] == 422


def test_filters_combine(store):
    body = top(store, platform="x", published="in_window", min_views=0)
    assert ids(body) == [X2] and body["total_candidates"] == 1


def test_every_scope_above_the_post(store):
    org = top(store, scope="organization", id="org_a")
    assert ids(org) == [PA2, Y1, I1, T1, T2, X1, X2]  # PB belongs to org_b
    assert ids(top(store, scope="project_layer", id="lyr_a1_ugc")) == [Y1, X1, X2]
    assert ids(top(store, scope="social_account", id="acc_tt")) == [T1, T2]


def test_a_dst_day_in_the_zone_is_23_hours(store):
    # 2026-03-08 in Los Angeles runs from 08:00Z to 07:00Z next day: D1's 10 + 20 views; the
    # UTC day holds its 07:00 and 08:00 hours instead (1,000 + 10).
    la = top(
        store,
        scope="social_account",
        id="acc_tt",
        since="2026-03-08",
        until="2026-03-09",
        tz="America/Los_Angeles",
    )
    assert la["window"] == {
        "since": "2026-03-08T08:00:00Z",
        "until": "2026-03-09T07:00:00Z",
        "tz": "America/Los_Angeles",
    }
    assert [(i["platform_post_id"], i["value"]) for i in la["items"]] == [(D1, 30)]
    utc = top(store, scope="social_account", id="acc_tt", since="2026-03-08", until="2026-03-09")
    assert [(i["platform_post_id"], i["value"]) for i in utc["items"]] == [(D1, 1010)]


def test_defaults_are_views_the_last_30_days_and_ten_items(store):
    body = store.top_performers(
        org_id="org_a",
        project_id="prj_a1",
        scope="project",
        id="prj_a1",
        now="2026-04-03T00:40:00Z",
    )
    assert body["window"] == {"since": "2026-03-04T00:00:00Z", "until": UNTIL}
    assert body["metric"] == "views"
    # In the 30 days: T2 650, Y1 300, I1 150, T1 150, X1 75, X3 5, X2 0; D1's 6,030.
    assert ids(body) == [D1, T2, Y1, I1, T1, X1, X3, X2]


def test_a_window_over_90_days_is_not_clamped(store):
    # There are no hour buckets to bound: E1's December views count.
    body = top(store, since="2025-12-01", until=UNTIL)
    assert body["window"] == {"since": "2025-12-01T00:00:00Z", "until": UNTIL}
    assert ids(body) == [D1, T2, Y1, I1, T1, X1, E1, X3, X2]
    assert [i["value"] for i in body["items"]] == [6030, 650, 300, 150, 150, 75, 7, 5, 0]


def test_a_post_is_not_a_scope_to_rank(store):
    status, message = err(store, scope="platform_post", id=T1)
    assert status == 422 and "platform_post" in message


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("viewz", "Unknown metric: viewz."),
        (
            "spend",
            "Unknown metric: spend. Use /v1/projects/:projectId/ads-metrics for paid metrics.",
        ),
    ],
)
def test_unknown_and_paid_metrics_are_422_in_the_contract_words(store, metric, message):
    assert err(store, metric=metric) == (422, message)


@pytest.mark.parametrize("metric", ["followers", "follower_delta", "posts_published"])
def test_metrics_that_are_not_post_metrics_are_422(store, metric):
    status, message = err(store, metric=metric)
    assert status == 422 and message.startswith(f"{metric} is not a post metric")


@pytest.mark.parametrize(
    "kw",
    [
        {"scope": "channel", "id": "prj_a1"},
        {"id": None},
        {"id": "acc_tt"},  # does not fit scope project
        {"since": "yesterday"},
        {"since": UNTIL, "until": SINCE},
        {"tz": "Mars/Olympus"},
        {"tz": "Asia/Kolkata"},  # +05:30: hourly data cannot be cut at its midnights
    ],
)
def test_the_window_and_request_errors_of_query(store, kw):
    assert err(store, **kw)[0] == 422


@pytest.mark.parametrize(
    "kw",
    [
        {"org_id": "org_b"},  # prj_a1 is not org_b's
        {"project_id": "prj_b1"},  # not org_a's
        {"id": "prj_b1"},  # another org's project as the scope
        {"id": "prj_a2"},  # org_a's, but not the project asked in
        {"scope": "project_layer", "id": "lyr_a2_sc"},
        {"scope": "social_account", "id": "acc_b"},
        {"scope": "organization", "id": "org_b"},
    ],
)
def test_tenant_rules_are_those_of_query(store, kw):
    assert err(store, **kw)[0] == 404


def test_a_404_does_not_tell_foreign_ids_from_missing_ones(store):
    foreign = err(store, scope="social_account", id="acc_b")
    missing = err(store, scope="social_account", id="acc_nope")
    assert foreign[1].replace("acc_b", "X") == missing[1].replace("acc_nope", "X")


def test_daily_views_are_each_items_views_per_local_day(store):
    body = top(store, limit=2)
    assert store.daily_views(body) == {Y1: [300, 0], I1: [0, 150]}


def test_an_empty_warehouse_has_no_candidates(hand_warehouse):
    data = Warehouse(catalog=copy.deepcopy(DATA.catalog))
    body = top(metrics.connect(hand_warehouse(data)))
    assert body["total_candidates"] == 0 and body["items"] == []
