"""Each rule of spec §5, pinned by a hand-computed answer on a tiny warehouse (`DATA`, in
tests/helpers/tiny.py, says what it holds)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

import metrics
from metrics.ingest.catalog import parse_snapshot
from metrics.serve.errors import QueryError
from metrics.warehouse.storage import write_partition
from tests.helpers.landing import CATALOG
from tests.helpers.tiny import DATA, P1, P2, PB, t
from tests.helpers.warehouse import Warehouse, write_warehouse

ZERO_POST = {"views": 0, "likes": 0, "comments": 0, "shares": 0, "saves": 0}


@pytest.fixture(scope="module")
def store(hand_warehouse) -> metrics.Store:
    return metrics.connect(hand_warehouse(DATA))


def q(store: metrics.Store, scope: str, id: str, **kw) -> dict:
    kw.setdefault("org_id", "org_a")
    kw.setdefault("project_id", "prj_a1")
    return store.query(scope=scope, id=id, **kw)


def err(store: metrics.Store, scope: str, id: str | None, **kw) -> tuple[int, dict]:
    with pytest.raises(QueryError) as info:
        q(store, scope, id, **kw)  # type: ignore[arg-type]  # a missing id, on purpose
    return info.value.status, info.value.body


# --- window -------------------------------------------------------------------------------


def test_defaults_use_now_30_days_by_day_and_the_scope_bundle(store):
    body = q(store, "project", "prj_a1", now="2026-04-03T10:45:00Z")
    assert body["window"] == {
        "since": "2026-03-04T10:00:00Z",
        "until": "2026-04-03T10:00:00Z",
        "granularity": "day",
    }
    assert body["as_of"] == "2026-04-02T09:15:00Z"
    series = body["series"]
    assert len(series) == 31
    assert series[0] == {
        "bucket": "2026-03-04",
        "views": 0,
        "engagement_rate": 0.0,
        "posts_published": 0,
        "partial": True,
    }
    assert series[-1]["bucket"] == "2026-04-03" and series[-1]["partial"] is True
    busy = {row["bucket"]: row for row in series if row["views"] or row["posts_published"]}
    assert busy == {
        "2026-03-30": {
            "bucket": "2026-03-30",
            "views": 0,
            "engagement_rate": 0.0,
            "posts_published": 1,
        },
        "2026-03-31": {
            "bucket": "2026-03-31",
            "views": 200,
            "engagement_rate": 10 / 200,
            "posts_published": 0,
        },
        "2026-04-01": {
            "bucket": "2026-04-01",
            "views": 150,
            "engagement_rate": 8 / 150,
            "posts_published": 2,
        },
        "2026-04-02": {
            "bucket": "2026-04-02",
            "views": 10,
            "engagement_rate": 7 / 10,
            "posts_published": 0,
        },
    }
    assert body["totals"] == {
        "views": 360,
        "engagement_rate": 25 / 360,
        "posts_published": 3,
        "post_count": 2,
    }


def test_both_ends_are_floored_to_the_hour(store):
    body = q(
        store,
        "platform_post",
        P1,
        since="2026-04-01T10:59:59Z",
        until="2026-04-01T12:30:00+00:00",
        granularity="hour",
    )
    assert body["window"]["since"] == "2026-04-01T10:00:00Z"
    assert body["window"]["until"] == "2026-04-01T12:00:00Z"
    assert body["series"] == [
        {
            "bucket": "2026-04-01T10:00:00Z",
            **ZERO_POST,
            "views": 100,
            "likes": 5,
            "comments": 1,
            "engagement_rate": 0.06,
        },
        {"bucket": "2026-04-01T11:00:00Z", **ZERO_POST, "engagement_rate": 0.0},
    ]
    assert body["totals"] == {
        **ZERO_POST,
        "views": 100,
        "likes": 5,
        "comments": 1,
        "engagement_rate": 0.06,
        "post_count": 1,
    }


def test_a_date_is_local_midnight_and_a_naive_time_is_local_time(store):
    body = q(
        store,
        "project",
        "prj_a1",
        metrics=["views"],
        since="2026-04-01",
        until="2026-04-02T12:00",
        tz="America/Los_Angeles",
    )
    assert body["window"] == {
        "since": "2026-04-01T07:00:00Z",
        "until": "2026-04-02T19:00:00Z",
        "granularity": "day",
        "tz": "America/Los_Angeles",
    }
    assert body["series"] == [
        {"bucket": "2026-04-01", "views": 150},
        {"bucket": "2026-04-02", "views": 10, "partial": True},
    ]
    assert body["totals"] == {"views": 160, "post_count": 2}


def test_a_time_with_an_offset_is_taken_as_given(store):
    body = q(
        store,
        "platform_post",
        P1,
        metrics=["views"],
        since="2026-04-01T03:00:00-07:00",
        until=datetime(2026, 4, 1, 5, tzinfo=UTC) + timedelta(hours=7),
        granularity="hour",
    )
    assert body["window"]["since"] == "2026-04-01T10:00:00Z"
    assert [r["bucket"] for r in body["series"]] == ["2026-04-01T10:00:00Z", "2026-04-01T11:00:00Z"]


def test_hour_windows_over_90_days_are_clamped(store):
    body = q(store, "platform_post", P1, since="2026-01-01", until="2026-04-03", granularity="hour")
    assert body["window"]["since"] == "2026-01-03T00:00:00Z"
    assert len(body["series"]) == 90 * 24
    assert body["totals"]["views"] == 180


@pytest.mark.parametrize(
    ("since", "until"),
    [("2026-04-02", "2026-04-01"), ("2026-04-01T10:10:00Z", "2026-04-01T10:50:00Z")],
)
def test_an_empty_window_is_a_422(store, since, until):
    assert err(store, "project", "prj_a1", since=since, until=until) == (
        422,
        {
            "error": {
                "code": "VALIDATION",
                "message": "since must be before until (both are floored to the hour).",
            }
        },
    )


# --- buckets ------------------------------------------------------------------------------


def test_edge_buckets_cut_by_the_window_are_partial_and_count_only_inside_hours(store):
    body = q(store, "platform_post", P1, since="2026-04-01T11:00:00Z", until="2026-04-02T08:00:00Z")
    assert body["series"] == [
        {
            "bucket": "2026-04-01",
            **ZERO_POST,
            "views": 50,
            "shares": 2,
            "engagement_rate": 2 / 50,
            "partial": True,
        },
        {
            "bucket": "2026-04-02",
            **ZERO_POST,
            "views": 30,
            "saves": 3,
            "engagement_rate": 3 / 30,
            "partial": True,
        },
    ]
    assert body["totals"] == {
        **ZERO_POST,
        "views": 80,
        "shares": 2,
        "saves": 3,
        "engagement_rate": 5 / 80,
        "post_count": 1,
    }


def test_weeks_start_on_monday_and_are_labelled_by_it(store):
    body = q(
        store,
        "project",
        "prj_a1",
        metrics=["views", "posts_published"],
        since="2026-03-28",
        until="2026-04-08",
        granularity="week",
    )
    assert body["series"] == [
        {"bucket": "2026-03-23", "views": 0, "posts_published": 0, "partial": True},
        {"bucket": "2026-03-30", "views": 360, "posts_published": 3},
        {"bucket": "2026-04-06", "views": 0, "posts_published": 0, "partial": True},
    ]


def test_local_weeks_follow_local_mondays(store):
    body = q(
        store,
        "project",
        "prj_a1",
        metrics=["views", "posts_published"],
        since="2026-03-30",
        until="2026-04-06",
        granularity="week",
        tz="America/Los_Angeles",
    )
    assert body["series"] == [{"bucket": "2026-03-30", "views": 360, "posts_published": 3}]


def test_hour_labels_carry_the_local_offset(store):
    kw = {"metrics": ["views"], "granularity": "hour"}
    la = q(
        store,
        "platform_post",
        P1,
        since="2026-04-01T03:00",
        until="2026-04-01T05:00",
        tz="America/Los_Angeles",
        **kw,
    )
    assert [r["bucket"] for r in la["series"]] == [
        "2026-04-01T03:00:00-07:00",
        "2026-04-01T04:00:00-07:00",
    ]
    assert la["series"][0]["views"] == 100
    london = q(
        store,
        "platform_post",
        P1,
        since="2026-03-01T10:00:00Z",
        until="2026-03-01T11:00:00Z",
        tz="Europe/London",
        **kw,
    )
    assert london["series"][0]["bucket"] == "2026-03-01T10:00:00+00:00"
    summer = q(
        store,
        "platform_post",
        P1,
        since="2026-04-01T10:00:00Z",
        until="2026-04-01T11:00:00Z",
        tz="Europe/London",
        **kw,
    )
    assert summer["series"][0]["bucket"] == "2026-04-01T11:00:00+01:00"


@pytest.fixture(scope="module")
def dst_store(hand_warehouse) -> metrics.Store:
    """One post with a view in every hour around both 2026 DST changes in Los Angeles."""
    post = "pst_x_1"
    hours = [t("2026-03-06T00:00") + timedelta(hours=i) for i in range(6 * 24)]
    hours += [t("2026-10-29T00:00") + timedelta(hours=i) for i in range(6 * 24)]
    data = Warehouse(
        catalog=CATALOG,
        posts={post: ("acc_x", None)},
        hourly=[(post, h, {"views": 1}) for h in hours],
    )
    return metrics.connect(hand_warehouse(data))


@pytest.mark.parametrize(
    ("since", "until", "hours"),
    [
        ("2026-03-07", "2026-03-10", {"2026-03-07": 24, "2026-03-08": 23, "2026-03-09": 24}),
        ("2026-10-31", "2026-11-03", {"2026-10-31": 24, "2026-11-01": 25, "2026-11-02": 24}),
    ],
)
def test_local_days_have_23_or_25_hours_across_dst(dst_store, since, until, hours):
    body = q(
        dst_store,
        "project",
        "prj_a1",
        metrics=["views"],
        since=since,
        until=until,
        tz="America/Los_Angeles",
    )
    assert {r["bucket"]: r["views"] for r in body["series"]} == hours
    assert not any("partial" in r for r in body["series"])


@pytest.mark.parametrize(
    ("since", "until", "labels"),
    [
        (
            "2026-03-08T00:00",
            "2026-03-08T04:00",
            ["2026-03-08T00:00:00-08:00", "2026-03-08T01:00:00-08:00", "2026-03-08T03:00:00-07:00"],
        ),
        (
            "2026-11-01T00:00",
            "2026-11-01T03:00",
            [
                "2026-11-01T00:00:00-07:00",
                "2026-11-01T01:00:00-07:00",
                "2026-11-01T01:00:00-08:00",
                "2026-11-01T02:00:00-08:00",
            ],
        ),
    ],
)
def test_hour_labels_across_dst(dst_store, since, until, labels):
    body = q(
        dst_store,
        "project",
        "prj_a1",
        metrics=["views"],
        since=since,
        until=until,
        granularity="hour",
        tz="America/Los_Angeles",
    )
    assert [r["bucket"] for r in body["series"]] == labels
    assert all(r["views"] == 1 for r in body["series"])


def test_unknown_zones_and_zones_off_the_whole_hour_are_422(store):
    window = {"since": "2026-03-01", "until": "2026-03-10"}
    assert err(store, "project", "prj_a1", tz="Mars/Olympus", **window)[1]["error"]["message"] == (
        "Unknown time zone: Mars/Olympus."
    )
    assert err(store, "project", "prj_a1", tz="localtime", **window)[0] == 422
    status, body = err(store, "project", "prj_a1", tz="Asia/Kolkata", **window)
    assert status == 422 and body["error"]["message"] == (
        "Time zone Asia/Kolkata is not a whole number of hours from UTC within the window; "
        "hourly data cannot be cut finer."
    )
    # Lord Howe is +11:00 in March and +10:30 from April 5th: only a window reaching it fails.
    assert q(store, "project", "prj_a1", tz="Australia/Lord_Howe", **window)["series"]
    status, _ = err(
        store, "project", "prj_a1", tz="Australia/Lord_Howe", since="2026-04-01", until="2026-04-10"
    )
    assert status == 422
    # Singapore was +07:30 until 1982.
    assert (
        err(
            store, "project", "prj_a1", tz="Asia/Singapore", since="1981-06-01", until="1981-06-02"
        )[0]
        == 422
    )


# --- values -------------------------------------------------------------------------------


def test_engagement_rate_is_a_ratio_of_sums_with_views_at_least_one(store):
    body = q(
        store,
        "platform_post",
        P2,
        metrics=["views", "likes", "engagement_rate"],
        since="2026-04-02T12:00:00Z",
        until="2026-04-02T14:00:00Z",
        granularity="hour",
    )
    assert body["series"] == [
        {"bucket": "2026-04-02T12:00:00Z", "views": -20, "likes": 0, "engagement_rate": 0.0},
        {"bucket": "2026-04-02T13:00:00Z", "views": 0, "likes": 4, "engagement_rate": 4.0},
    ]
    assert body["totals"] == {"views": -20, "likes": 4, "engagement_rate": 4.0, "post_count": 1}


def test_followers_and_follower_delta_by_hour(store):
    body = q(
        store,
        "social_account",
        "acc_tt",
        metrics=["followers", "follower_delta"],
        since="2026-04-01T11:00:00Z",
        until="2026-04-01T14:00:00Z",
        granularity="hour",
    )
    # A snapshot exactly at 12:00 is not yet in F(12:00): F(t) uses snapshots before t.
    assert body["series"] == [
        {"bucket": "2026-04-01T11:00:00Z", "followers": 1000, "follower_delta": 0},
        {"bucket": "2026-04-01T12:00:00Z", "followers": 1020, "follower_delta": 20},
        {"bucket": "2026-04-01T13:00:00Z", "followers": 1020, "follower_delta": 0},
    ]
    assert body["totals"] == {"followers": 1020, "follower_delta": 20, "post_count": 0}


def test_followers_before_the_first_snapshot_are_its_value_and_scopes_sum_accounts(store):
    kw = {"metrics": ["followers", "follower_delta"], "since": "2026-03-30", "until": "2026-04-03"}
    account = q(store, "social_account", "acc_tt", **kw)
    assert [(r["followers"], r["follower_delta"]) for r in account["series"]] == [
        (1000, 0),
        (1000, 0),
        (1020, 20),
        (1050, 30),
    ]
    assert account["totals"] == {"followers": 1050, "follower_delta": 50, "post_count": 1}
    project = q(store, "project", "prj_a1", **kw)  # + acc_ig's 500; acc_yt, acc_x have none
    assert [(r["followers"], r["follower_delta"]) for r in project["series"]] == [
        (1500, 0),
        (1500, 0),
        (1520, 20),
        (1550, 30),
    ]
    assert project["totals"] == {"followers": 1550, "follower_delta": 50, "post_count": 2}


def test_posts_published_counts_publication_and_post_count_counts_activity(store):
    hour = {"metrics": ["posts_published"], "granularity": "hour"}
    assert q(
        store,
        "platform_post",
        P1,
        since="2026-04-01T10:00:00Z",
        until="2026-04-01T11:00:00Z",
        **hour,
    )["totals"] == {"posts_published": 1, "post_count": 1}
    assert q(
        store,
        "platform_post",
        P1,
        since="2026-04-01T11:00:00Z",
        until="2026-04-01T12:00:00Z",
        **hour,
    )["totals"] == {"posts_published": 0, "post_count": 0}
    # acc_ig on April 1st: P4 is published, but neither of its posts moves that day.
    day = q(store, "social_account", "acc_ig", since="2026-04-01", until="2026-04-02")
    assert day["totals"]["posts_published"] == 1 and day["totals"]["post_count"] == 0


@pytest.mark.parametrize(
    ("until", "count"), [("2026-04-02T12:00:00Z", 1), ("2026-04-02T13:00:00Z", 2)]
)
def test_post_count_is_distinct_posts_with_an_increment_inside_the_window(store, until, count):
    body = q(store, "project", "prj_a1", since="2026-04-01T11:00:00Z", until=until)
    assert body["totals"]["post_count"] == count


def test_organization_spans_its_projects_only(store):
    body = q(store, "organization", "org_a", since="2026-04-01", until="2026-04-02")
    assert body["totals"] == {"views": 157, "posts_published": 2, "post_count": 2}


@pytest.mark.parametrize(
    ("scope", "id", "defaults"),
    [
        ("platform_post", P1, ["views", "likes", "comments", "shares", "saves", "engagement_rate"]),
        ("social_account", "acc_tt", ["followers", "follower_delta", "posts_published", "views"]),
        ("project_layer", "lyr_a1_sc", ["views", "engagement_rate", "posts_published"]),
        ("project", "prj_a1", ["views", "engagement_rate", "posts_published"]),
        ("organization", "org_a", ["views", "posts_published"]),
    ],
)
def test_default_metrics_per_scope(store, scope, id, defaults):
    body = q(store, scope, id, since="2026-04-01", until="2026-04-03")
    assert list(body["totals"]) == [*defaults, "post_count"]
    assert [list(r) for r in body["series"]] == [["bucket", *defaults]] * 2


def test_totals_equal_the_sum_of_the_series(store):
    body = q(
        store,
        "project",
        "prj_a1",
        metrics=["views", "likes", "posts_published", "follower_delta"],
        since="2026-03-30T05:00:00Z",
        until="2026-04-02T20:00:00Z",
        tz="Asia/Tokyo",
    )
    for name in ("views", "likes", "posts_published", "follower_delta"):
        assert body["totals"][name] == sum(r[name] for r in body["series"])


# --- errors -------------------------------------------------------------------------------


def _validation(message: str) -> tuple[int, dict]:
    return 422, {"error": {"code": "VALIDATION", "message": message}}


@pytest.mark.parametrize(
    ("scope", "id", "kw", "message"),
    [
        (
            "galaxy",
            "prj_a1",
            {},
            "Unknown scope: galaxy. Use one of platform_post, "
            "social_account, project_layer, project, organization.",
        ),
        (
            "project",
            "prj_a1",
            {"granularity": "month"},
            "Unknown granularity: month. Use hour, day or week.",
        ),
        ("project", None, {}, "Missing id."),
        (
            "project",
            "acc_tt",
            {},
            "id acc_tt does not fit scope project: expected an id starting prj_.",
        ),
        (
            "project",
            "prj_a1",
            {"since": "yesterday"},
            "Unparsable since: 'yesterday'. Use ISO-8601, e.g. 2026-04-01 or 2026-04-01T00:00:00Z.",
        ),
        ("project", "prj_a1", {"metrics": ["views", "bogus"]}, "Unknown metric: bogus."),
        (
            "platform_post",
            P1,
            {"metrics": ["followers"]},
            "followers is not available for scope platform_post.",
        ),
        (
            "platform_post",
            P1,
            {"granularity": "week"},
            "Scope platform_post accepts granularity hour or day.",
        ),
    ],
)
def test_validation_errors(store, scope, id, kw, message):
    assert err(store, scope, id, **kw) == _validation(message)


@pytest.mark.parametrize(
    "paid",
    ["spend", "cpa", "cpc", "cpm", "ctr", "roas", "conversions", "clicks", "installs", "revenue"],
)
def test_paid_metrics_point_to_the_ads_endpoint(store, paid):
    assert err(store, "project", "prj_a1", metrics=[paid]) == _validation(
        f"Unknown metric: {paid}. Use /v1/projects/:projectId/ads-metrics for paid metrics."
    )


def _not_found(message: str) -> tuple[int, dict]:
    return 404, {"error": {"code": "NOT_FOUND", "message": message}}


def test_a_project_of_another_org_is_as_missing_as_no_project(store):
    assert err(store, "project", "prj_b1", project_id="prj_b1") == _not_found(
        "Project prj_b1 not found."
    )
    assert err(store, "project", "prj_zz", project_id="prj_zz") == _not_found(
        "Project prj_zz not found."
    )


@pytest.mark.parametrize(
    ("scope", "foreign", "missing"),
    [
        ("social_account", "acc_b", "acc_zz"),  # org_b's account
        ("social_account", "acc_a2", "acc_zz"),  # org_a's, but in prj_a2
        ("project_layer", "lyr_b1_sc", "lyr_zz"),
        ("platform_post", PB, "pst_tiktok_0"),
        ("organization", "org_b", "org_zz"),
    ],
)
def test_an_entity_elsewhere_is_as_missing_as_no_entity(store, scope, foreign, missing):
    status, body = err(store, scope, foreign)
    assert status == 404
    assert err(store, scope, missing)[1] == {
        "error": {**body["error"], "message": body["error"]["message"].replace(foreign, missing)}
    }


# --- the store ----------------------------------------------------------------------------


def test_a_warehouse_without_data_answers_zeros_or_404(tmp_path):
    assert err(metrics.connect(tmp_path / "nothing"), "project", "prj_a1") == _not_found(
        "Project prj_a1 not found."
    )
    entities, accounts = parse_snapshot(json.dumps(CATALOG).encode(), "test")
    write_partition(tmp_path, "catalog_entities", entities)
    write_partition(tmp_path, "catalog_accounts", accounts)
    body = q(metrics.connect(tmp_path), "project", "prj_a1", since="2026-04-01", until="2026-04-02")
    assert body["as_of"] is None
    assert body["series"] == [
        {"bucket": "2026-04-01", "views": 0, "engagement_rate": 0.0, "posts_published": 0}
    ]


def _files(root) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}


def test_queries_write_nothing(store):
    before = _files(store.warehouse.path)
    q(store, "project", "prj_a1", since="2026-03-01", until="2026-04-10", granularity="hour")
    assert _files(store.warehouse.path) == before


def test_a_new_version_is_picked_up_while_queries_keep_running(tmp_path):
    v2 = Warehouse(
        catalog=DATA.catalog,
        posts=DATA.posts,
        hourly=[*DATA.hourly, (P1, t("2026-04-01T10:00"), {"views": 1000})],
        followers=DATA.followers,
    )
    store = metrics.connect(write_warehouse(tmp_path, DATA))
    window = {"since": "2026-04-01", "until": "2026-04-02", "metrics": ["views"]}
    old = q(store, "platform_post", P1, **window)
    assert old["totals"]["views"] == 150
    answers: list[dict] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            answers.append(q(store, "platform_post", P1, **window))

    with ThreadPoolExecutor(4) as pool:
        for _ in range(4):
            pool.submit(hammer)
        for version in (v2, DATA, v2):
            write_warehouse(tmp_path, version)
            store.refresh()
        stop.set()
    assert {a["totals"]["views"] for a in answers} <= {150, 1150}
    assert q(store, "platform_post", P1, **window)["totals"]["views"] == 1150

    write_warehouse(tmp_path, DATA)  # no refresh(): the next query starts a background reload
    q(store, "platform_post", P1, **window)
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while q(store, "platform_post", P1, **window)["totals"]["views"] != 150:
        assert datetime.now(UTC) < deadline
    assert not store.refresh()
