"""Spec §7's comparison, breakdown and export rules on the tiny warehouse, answers by hand.

tests/helpers/tiny.py: in prj_a1, P1 (TikTok, acc_tt, layer lyr_a1_sc) moves Apr 1 10:00
(views 100, likes 5, comments 1), Apr 1 23:00 (views 50, shares 2) and Apr 2 07:00 (views 30,
saves 3); P2 (Instagram, acc_ig, lyr_a1_sc) Mar 31 00:00 (views 200, likes 10), Apr 2 12:00
(views −20) and 13:00 (likes 4); P4 never moves. acc_yt and acc_x (lyr_a1_ugc) have no posts.
prj_a2 (org_a) holds PA2 (acc_a2, lyr_a2_sc: views 7 on Apr 1 10:00). Followers: acc_tt 1000 on
Mar 31 12:00, … 1050 on Apr 2 09:15; acc_ig 500 on Apr 1 05:00.
"""

from __future__ import annotations

import pytest

import metrics
from metrics.serve import export
from tests.helpers.tiny import DATA


@pytest.fixture(scope="module")
def store(hand_warehouse) -> metrics.Store:
    return metrics.connect(hand_warehouse(DATA))


def ask(store: metrics.Store, **kw) -> dict:
    return store.query(org_id="org_a", project_id="prj_a1", **kw)


def refused(store: metrics.Store, **kw) -> tuple[int, str]:
    with pytest.raises(metrics.ValidationError) as caught:
        ask(store, **kw)
    return caught.value.status, caught.value.message


def test_previous_period_with_a_zero_base(store):
    body = ask(
        store, scope="project", id="prj_a1", metrics=["views", "shares"],
        since="2026-04-01", until="2026-04-03", compare="previous_period",
    )  # fmt: skip
    assert body["previous"] == {
        "window": {"since": "2026-03-30T00:00:00Z", "until": "2026-04-01T00:00:00Z"},
        "series": [
            {"bucket": "2026-03-30", "views": 0, "shares": 0},
            {"bucket": "2026-03-31", "views": 200, "shares": 0},  # P2
        ],
        "totals": {"views": 200, "shares": 0, "post_count": 1},
    }
    assert body["totals"] == {"views": 160, "shares": 2, "post_count": 2}  # 180 - 20; P1, P2
    assert body["change"] == {
        "views": {"abs": -40, "pct": -0.2},
        "shares": {"abs": 2, "pct": None},  # previous 0: no percentage
        "post_count": {"abs": 1, "pct": 1.0},
    }


def test_previous_year_is_364_days_back_so_weekdays_line_up(store):
    body = ask(
        store, scope="project_layer", id="lyr_a1_sc", metrics=["engagement_rate", "views"],
        since="2026-04-01", until="2026-04-03", compare="previous_year",
    )  # fmt: skip
    # 2026-04-01 and 2025-04-02 are both Wednesdays; nothing was loaded a year before.
    assert body["previous"]["window"] == {
        "since": "2025-04-02T00:00:00Z",
        "until": "2025-04-04T00:00:00Z",
    }
    assert [row["bucket"] for row in body["previous"]["series"]] == ["2025-04-02", "2025-04-03"]
    # engaged 5 + 1 + 2 + 3 (P1) + 4 (P2) = 15 over views 160
    assert body["change"] == {
        "engagement_rate": {"abs": 15 / 160, "pct": None},
        "views": {"abs": 160, "pct": None},
        "post_count": {"abs": 2, "pct": None},
    }


def test_previous_windows_across_dst_keep_whole_local_days(store):
    # 2026-03-09 .. 03-16 in Los Angeles is 7 whole PDT days; the week before holds the change
    # to DST (Mar 8), so it is 167 hours, and its buckets are the 7 whole local days before.
    body = ask(
        store, scope="project", id="prj_a1", metrics=["views"], since="2026-03-09",
        until="2026-03-16", tz="America/Los_Angeles", compare="previous_period",
    )  # fmt: skip
    assert body["window"]["since"] == "2026-03-09T07:00:00Z"
    assert body["previous"]["window"] == {
        "since": "2026-03-02T08:00:00Z",
        "until": "2026-03-09T07:00:00Z",
    }
    series = body["previous"]["series"]
    assert [r["bucket"] for r in series] == [f"2026-03-0{d}" for d in range(2, 9)]
    assert not any("partial" in r for r in series)
    # By the hour: 168 buckets in the window, 167 in the week before (02:00 on Mar 8 is skipped).
    hourly = ask(
        store, scope="project", id="prj_a1", metrics=["views"], since="2026-03-09",
        until="2026-03-16", tz="America/Los_Angeles", granularity="hour",
        compare="previous_period",
    )  # fmt: skip
    assert hourly["previous"]["window"] == body["previous"]["window"]
    assert (len(hourly["series"]), len(hourly["previous"]["series"])) == (168, 167)
    assert hourly["previous"]["series"][0]["bucket"] == "2026-03-02T00:00:00-08:00"
    assert hourly["previous"]["series"][-1]["bucket"] == "2026-03-08T23:00:00-07:00"
    # The elapsed-time reading the spec does not use, asked as a window of its own: 168 hours
    # before 2026-03-09T07:00Z start at 23:00 PST on Mar 1, a one-hour partial first day.
    elapsed = ask(
        store, scope="project", id="prj_a1", metrics=["views"], since="2026-03-02T07:00:00Z",
        until="2026-03-09T07:00:00Z", tz="America/Los_Angeles",
    )  # fmt: skip
    assert [r["bucket"] for r in elapsed["series"]] == [f"2026-03-0{d}" for d in range(1, 9)]
    assert elapsed["series"][0]["partial"] is True
    # The other way round: a window holding the change (167 h) gets the 168 h week before it.
    other = ask(
        store, scope="project", id="prj_a1", metrics=["views"], since="2026-03-08",
        until="2026-03-15", tz="America/Los_Angeles", compare="previous_period",
    )  # fmt: skip
    assert other["window"]["since"] == "2026-03-08T08:00:00Z"
    assert other["window"]["until"] == "2026-03-15T07:00:00Z"
    assert other["previous"]["window"] == {
        "since": "2026-03-01T08:00:00Z",
        "until": "2026-03-08T08:00:00Z",
    }
    # A year earlier DST began on 2025-03-09, so 2025-03-10 .. 03-17 is PDT too.
    body = ask(
        store, scope="project", id="prj_a1", metrics=["views"], since="2026-03-09",
        until="2026-03-16", tz="America/Los_Angeles", compare="previous_year",
    )  # fmt: skip
    assert body["previous"]["window"] == {
        "since": "2025-03-10T07:00:00Z",
        "until": "2025-03-17T07:00:00Z",
    }


@pytest.mark.parametrize(
    ("compare", "previous"),
    [
        ("previous_period", ("2025-10-12T00:00:00Z", "2026-01-10T00:00:00Z")),
        ("previous_year", ("2025-01-11T00:00:00Z", "2025-04-11T00:00:00Z")),
    ],
)
def test_the_90_day_hour_clamp_holds_for_both_windows(store, compare, previous):
    body = ask(
        store, scope="project", id="prj_a1", metrics=["views"], granularity="hour",
        since="2026-01-01", until="2026-04-10", compare=compare,
    )  # fmt: skip
    assert (body["window"]["since"], body["window"]["until"]) == (
        "2026-01-10T00:00:00Z",  # clamped: 90 days before until
        "2026-04-10T00:00:00Z",
    )
    assert tuple(body["previous"]["window"].values()) == previous
    assert len(body["series"]) == len(body["previous"]["series"]) == 90 * 24


def test_breakdown_by_platform_lists_every_platform_with_an_account(store):
    body = ask(
        store, scope="project", id="prj_a1", metrics=["views", "followers"],
        since="2026-04-01", until="2026-04-03", group_by="platform",
    )  # fmt: skip
    # Followers at Apr 3: acc_tt 1050, acc_ig 500; acc_x and acc_yt have no snapshot (0).
    assert body["breakdown"] == [
        {"key": "tiktok", "totals": {"views": 180, "followers": 1050, "post_count": 1}},
        {"key": "x", "totals": {"views": 0, "followers": 0, "post_count": 0}},
        {"key": "youtube", "totals": {"views": 0, "followers": 0, "post_count": 0}},
        {"key": "instagram", "totals": {"views": -20, "followers": 500, "post_count": 1}},
    ]
    assert body["totals"] == {"views": 160, "followers": 1550, "post_count": 2}


def test_breakdown_by_layer_of_an_organization_includes_empty_layers(store):
    body = ask(
        store, scope="organization", id="org_a", metrics=["posts_published"],
        since="2026-04-01", until="2026-04-03", group_by="project_layer",
    )  # fmt: skip
    # P1 (Apr 1 10:30) and P4 (Apr 1 15:00) are published in lyr_a1_sc; PA2 has no date.
    assert body["breakdown"] == [
        {"key": "lyr_a1_sc", "totals": {"posts_published": 2, "post_count": 2}},
        {"key": "lyr_a1_ugc", "totals": {"posts_published": 0, "post_count": 0}},
        {"key": "lyr_a2_sc", "totals": {"posts_published": 0, "post_count": 1}},
    ]
    assert body["totals"] == {"posts_published": 2, "post_count": 3}


def test_breakdown_by_account_orders_by_the_first_metric_a_ratio_of_sums(store):
    body = ask(
        store, scope="project_layer", id="lyr_a1_sc", metrics=["engagement_rate", "views"],
        since="2026-04-01", until="2026-04-03", group_by="social_account",
    )  # fmt: skip
    assert body["breakdown"] == [
        # P2: 4 likes over views -20, so over max(-20, 1) = 1
        {"key": "acc_ig", "totals": {"engagement_rate": 4.0, "views": -20, "post_count": 1}},
        {"key": "acc_tt", "totals": {"engagement_rate": 11 / 180, "views": 180, "post_count": 1}},
    ]


def test_a_breakdown_outside_the_window_is_all_zeros_in_key_order(store):
    body = ask(
        store, scope="project", id="prj_a1", metrics=["views"],
        since="2026-05-01", until="2026-05-02", group_by="project_layer",
    )  # fmt: skip
    assert body["breakdown"] == [
        {"key": "lyr_a1_sc", "totals": {"views": 0, "post_count": 0}},
        {"key": "lyr_a1_ugc", "totals": {"views": 0, "post_count": 0}},
    ]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (
            {
                "scope": "platform_post",
                "id": "pst_tiktok_7301234567890123456",
                "group_by": "platform",
            },
            "group_by=platform needs a scope above platform_post",
        ),
        (
            {"scope": "project_layer", "id": "lyr_a1_sc", "group_by": "project_layer"},
            "group_by=project_layer needs a scope above project_layer",
        ),
        (
            {"scope": "social_account", "id": "acc_tt", "group_by": "social_account"},
            "for scope social_account, use platform",
        ),
        (
            {"scope": "project", "id": "prj_a1", "group_by": "layer"},
            "Unknown group_by: layer. Use one of platform, project_layer, social_account.",
        ),
        (
            {"scope": "project", "id": "prj_a1", "compare": "last_month"},
            "Unknown compare: last_month. Use previous_period or previous_year.",
        ),
    ],
)
def test_refusals(store, kw, message):
    status, text = refused(store, **kw)
    assert status == 422 and message in text


def test_a_previous_window_that_breaks_a_rule_is_a_422_saying_so(store):
    # Lord Howe moves from +10:30 to +11:00 on 2026-10-04: the week after is whole hours, the
    # previous period holds the half-hour offset.
    ask(store, scope="project", id="prj_a1", since="2026-10-05", until="2026-10-12",
        tz="Australia/Lord_Howe")  # fmt: skip
    status, text = refused(
        store, scope="project", id="prj_a1", since="2026-10-05", until="2026-10-12",
        tz="Australia/Lord_Howe", compare="previous_period",
    )  # fmt: skip
    assert status == 422
    assert text.startswith("The previous_period window: Time zone Australia/Lord_Howe")


def test_the_tenant_rules_still_apply(store):
    with pytest.raises(metrics.NotFoundError):
        store.query(
            org_id="org_b", project_id="prj_a1", scope="project", id="prj_a1",
            compare="previous_period", group_by="platform",
        )  # fmt: skip


def test_csv_of_the_series(store):
    body = ask(
        store, scope="platform_post", id="pst_tiktok_7301234567890123456", granularity="day",
        metrics=["views", "engagement_rate"], since="2026-04-01T06:00:00Z", until="2026-04-03",
    )  # fmt: skip
    assert export.series_csv(body) == (
        "bucket,views,engagement_rate,partial\r\n"
        f"2026-04-01,150,{8 / 150!r},true\r\n"  # 06:00 on: P1's 100 + 50; 5 + 1 + 2 engaged
        "2026-04-02,30,0.1,\r\n"  # 3 saves over 30 views
    )


@pytest.mark.parametrize(
    ("accept", "csv"),
    [
        ("text/csv", True),
        ("text/csv;q=0.9, application/json", False),
        ("application/json;q=0.5, text/csv", True),
        ("text/*", True),
        ("*/*", False),
        ("", False),
        (None, False),
        ("text/csv;q=0", False),
    ],
)
def test_accept_negotiation(accept, csv):
    assert export.wants_csv(accept) is csv
