"""The 5,000-bucket rule of spec §5: a longer series is a 422 before any work is done.

The counts below are worked out by hand from the calendar: 2000-01-01 + 5,000 days is
2013-09-09 (13 years with 4 leap days are 4,749 days, then 251 more days of 2013), and the
Monday 2000-01-03 + 5,000 weeks (35,000 days) is 2095-10-31 (95 years with 24 leap days are
34,699 days to 2095-01-03, then 301 more).
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import numpy as np
import pytest

import metrics
from metrics.serve import window as windows
from metrics.serve import zones
from metrics.serve.errors import QueryError
from metrics.serve.index import Index
from tests.helpers.tiny import DATA

DAY_ADVICE = (
    "Narrow since/until to at most 5,000 days (about 13 years), or use granularity=week "
    "(not for platform_post)."
)
WEEK_ADVICE = "Narrow since/until to at most 5,000 weeks (about 95 years)."


@pytest.fixture(scope="module")
def store(hand_warehouse) -> metrics.Store:
    return metrics.connect(hand_warehouse(DATA))


def ask(store: metrics.Store, **kw) -> dict:
    return store.query(org_id="org_a", project_id="prj_a1", scope="project", id="prj_a1", **kw)


def refusal(store: metrics.Store, **kw) -> tuple[int, dict]:
    with pytest.raises(QueryError) as info:
        ask(store, **kw)
    return info.value.status, info.value.body


def too_many(n: str, granularity: str, advice: str) -> tuple[int, dict]:
    message = f"The window holds {n} {granularity} buckets; the limit is 5,000. {advice}"
    return 422, {"error": {"code": "VALIDATION", "message": message}}


def test_the_limit_is_declared_once():
    assert windows.MAX_BUCKETS == 5_000


def test_exactly_5000_day_buckets_pass_and_5001_fail(store):
    body = ask(store, since="2000-01-01", until="2013-09-09")
    assert len(body["series"]) == 5_000
    assert body["series"][0]["bucket"] == "2000-01-01"
    assert body["series"][-1]["bucket"] == "2013-09-08"
    assert refusal(store, since="2000-01-01", until="2013-09-10") == too_many(
        "5,001", "day", DAY_ADVICE
    )


def test_partial_edge_buckets_count(store):
    # 4,999 days and 13 hours long, but touching 5,001 days: 2000-01-01 … 2013-09-09.
    assert refusal(store, since="2000-01-01T12:00:00Z", until="2013-09-09T01:00:00Z") == too_many(
        "5,001", "day", DAY_ADVICE
    )
    # Both edges cut, 5,000 days touched: 2000-01-01 … 2013-09-08.
    body = ask(store, since="2000-01-01T12:00:00Z", until="2013-09-08T13:00:00Z")
    assert len(body["series"]) == 5_000
    assert body["series"][0]["partial"] and body["series"][-1]["partial"]


def test_week_windows(store):
    body = ask(store, since="2000-01-03", until="2095-10-31", granularity="week")
    assert len(body["series"]) == 5_000
    assert body["series"][-1]["bucket"] == "2095-10-24"
    assert refusal(store, since="2000-01-03", until="2095-11-07", granularity="week") == (
        too_many("5,001", "week", WEEK_ADVICE)
    )
    # From a Sunday (the week of Monday 1999-12-27, cut) to an hour into a Monday's week (cut):
    # 1 + 4,998 + 1 weeks pass, 1 + 4,999 + 1 do not.
    body = ask(store, since="2000-01-02", until="2095-10-17T01:00:00Z", granularity="week")
    assert len(body["series"]) == 5_000
    assert body["series"][0]["bucket"] == "1999-12-27" and body["series"][0]["partial"]
    assert body["series"][-1]["bucket"] == "2095-10-17" and body["series"][-1]["partial"]
    assert refusal(
        store, since="2000-01-02", until="2095-10-24T01:00:00Z", granularity="week"
    ) == too_many("5,001", "week", WEEK_ADVICE)


def test_local_days_in_a_dst_zone(store):
    # Local midnights in New York: 5,000 local days, 14 of them 23 hours long (each March
    # 2000-2013) and 13 of them 25 (each November 2000-2012): EST at one end, EDT at the other.
    body = ask(store, since="2000-01-01", until="2013-09-09", tz="America/New_York")
    assert len(body["series"]) == 5_000
    assert body["window"]["since"] == "2000-01-01T05:00:00Z"
    assert body["window"]["until"] == "2013-09-09T04:00:00Z"
    assert refusal(store, since="2000-01-01", until="2013-09-10", tz="America/New_York") == (
        too_many("5,001", "day", DAY_ADVICE)
    )
    # The same instants that are 5,000 UTC days start and end mid-day in Los Angeles
    # (16:00 on 1999-12-31, 17:00 on 2013-09-08): 5,001 local days.
    utc = {"since": "2000-01-01T00:00:00Z", "until": "2013-09-09T00:00:00Z"}
    assert len(ask(store, **utc)["series"]) == 5_000
    assert refusal(store, **utc, tz="America/Los_Angeles") == too_many("5,001", "day", DAY_ADVICE)


def test_the_refusal_comes_before_any_bucket_or_data(store, monkeypatch):
    def untouchable(*args, **kwargs):
        raise AssertionError("work was done for a refused window")

    monkeypatch.setattr(windows, "buckets", untouchable)
    monkeypatch.setattr(Index, "measure", untouchable)
    monkeypatch.setattr(zones, "offsets_between", untouchable)
    # 130 years with 32 leap days are 47,482 days to 2100-01-01; `until` leaves out the last.
    assert refusal(store, since="1970-01-01", until="2099-12-31") == too_many(
        "47,481", "day", DAY_ADVICE
    )


def test_hour_windows_stay_clamped_not_refused(store):
    body = ask(store, since="1970-01-01", until="2099-12-31", granularity="hour")
    assert len(body["series"]) == 90 * 24


@pytest.mark.parametrize(
    "tz", ["UTC", "America/Los_Angeles", "Europe/London", "Australia/Sydney", "America/Santiago"]
)
def test_the_arithmetic_count_is_the_number_of_buckets_built(tz):
    zone = zones.resolve(tz)
    rng = random.Random(tz)
    for _ in range(200):
        start = rng.randrange(0, 4_000_000_000 // 3600) * 3600
        end = start + rng.randrange(1, 24 * 60) * 3600
        for granularity in windows.GRANULARITIES:
            built = windows.buckets(windows.Window(start, end, granularity, tz, zone))
            counted = windows.bucket_count(start, end, granularity, zone)
            assert counted == len(built.labels), (tz, granularity, start, end)


# Zones whose clocks change at or around local midnight (Santiago, Havana, Beirut, Sao Paulo,
# Cairo, Tehran, St Johns at 00:01), Apia, which skipped 2011-12-30, and ordinary ones.
MIDNIGHT_ZONES = [
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Sydney",
    "America/Santiago",
    "America/Havana",
    "Asia/Beirut",
    "America/Sao_Paulo",
    "Africa/Cairo",
    "Asia/Tehran",
    "America/St_Johns",
    "Pacific/Apia",
]


@pytest.mark.parametrize("tz", MIDNIGHT_ZONES)
def test_local_midnights_are_zoneinfos_own(tz):
    """Every local midnight 1970-2040, against `datetime.combine(day, time(), zone)`."""
    zone = zones.resolve(tz)
    first, last = date(1970, 1, 2), date(2040, 1, 1)
    days = [first + timedelta(days=i) for i in range((last - first).days)]
    expected = [int(datetime.combine(d, time(), zone).timestamp()) for d in days]
    epoch_days = np.array([(d - date(1970, 1, 1)).days for d in days], dtype=np.int64)
    start, end = expected[0], expected[-1]
    got = windows._local_midnights(zone, epoch_days * windows.DAY, start, end)
    assert got.tolist() == expected


@pytest.mark.parametrize("tz", MIDNIGHT_ZONES)
def test_day_and_week_buckets_across_dst_match_a_day_by_day_walk(tz):
    zone = zones.resolve(tz)
    rng = random.Random(tz)
    for _ in range(100):
        start = rng.randrange(0, 4_000_000_000 // 3600) * 3600
        end = start + rng.randrange(1, 24 * 400) * 3600
        for step in (1, 7):
            day = datetime.fromtimestamp(start, zone).date()
            if step == 7:
                day -= timedelta(days=day.weekday())
            edges, labels = [], []
            while (edge := int(datetime.combine(day, time(), zone).timestamp())) < end:
                edges.append(edge)
                labels.append(day.isoformat())
                day += timedelta(days=step)
            edges.append(edge)
            got_edges, got_labels = windows._local_days(zone, start, end, step)
            assert (got_edges.tolist(), got_labels) == (edges, labels), (tz, step, start, end)
