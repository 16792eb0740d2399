"""Hand-made histories where a nightly run must rebuild exactly what a full backfill builds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.helpers.landing import envelope, write_catalog, write_lines
from tests.helpers.pipeline import run, table, table_digests

pytestmark = pytest.mark.xdist_group("pipeline")


def _media(views: int | None, likes: int) -> dict:
    media = {"id": "42", "timestamp": "2026-03-01T05:00:00+0000", "like_count": likes}
    if views is not None:
        media["insights"] = {
            "data": [{"name": "views", "period": "lifetime", "values": [{"value": views}]}]
        }
    return media


def _pull(at: str, views: int | None, likes: int) -> dict:
    return envelope("instagram", "media", "acc_ig", at, {"data": [_media(views, likes)]})


def test_a_metric_missing_at_the_last_pull_is_rebuilt_from_its_own_last_value(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    write_catalog(raw, "2026-03-01")
    write_lines(raw, "instagram/2026-03-01/a.jsonl", [_pull("2026-03-01T06:00:00Z", 5, 1)])
    write_lines(raw, "instagram/2026-03-04/a.jsonl", [_pull("2026-03-04T06:00:00Z", 8, 1)])
    # Views are known at 06:00, missing at 12:00 (no insights), known again the next morning:
    # the nightly's views increment spans 06:00 -> 06:00 the next day, so it reaches back
    # before 12:00, the last pull of any metric.
    write_lines(
        raw,
        "instagram/2026-03-05/a.jsonl",
        [_pull("2026-03-05T06:00:00Z", 10, 1), _pull("2026-03-05T12:00:00Z", None, 2)],
    )
    write_lines(raw, "instagram/2026-03-06/b.jsonl", [_pull("2026-03-06T06:00:00Z", 34, 3)])

    whole = tmp_path / "whole"
    run(raw, whole, date(2026, 3, 1), date(2026, 3, 6))
    stepwise = tmp_path / "stepwise"
    run(raw, stepwise, date(2026, 3, 1), date(2026, 3, 5))
    run(raw, stepwise, date(2026, 3, 6), date(2026, 3, 6))
    assert table_digests(stepwise) == table_digests(whole)

    hours = table(whole, "post_hourly").sort("hour")
    views = dict(zip(hours["hour"], hours["views"], strict=True))
    # 5 at publication (Mar 1 05:00), +3 over 72 h, +2 over 24 h, then +24 over the 24 h from
    # Mar 5 06:00: one unit in each of those hours, 08:00 included.
    assert views[datetime(2026, 3, 1, 5, tzinfo=UTC)] == 5
    assert views[datetime(2026, 3, 5, 8, tzinfo=UTC)] == 1
    assert sum(views.values()) == 34
    assert hours.filter(pl.col("hour") >= datetime(2026, 3, 5, 6, tzinfo=UTC))["views"].sum() == 24
