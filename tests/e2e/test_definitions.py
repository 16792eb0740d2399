"""The Definitions load, name what the UI shows, and the schedule and sensor request the right
partitions."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

import assets
from pipelines.definitions import defs
from tests.helpers.landing import envelope, write_lines

EXPECTED_ASSETS = {
    "landing_zone": "ingest",
    "catalog": "ingest",
    "post_observations": "normalize",
    "period_observations": "normalize",
    "follower_observations": "normalize",
    "post_sightings": "normalize",
    "quarantine": "normalize",
    "posts": "normalize",
    "post_hourly": "hourly",
    "rollup_hour": "rollups",
    "rollup_day": "rollups",
    "rollup_week": "rollups",
    "warehouse_views": "rollups",
}


def test_definitions_load_with_the_expected_assets_and_groups() -> None:
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == EXPECTED_ASSETS
    assert defs.schedules is not None and defs.sensors is not None
    assert [s.name for s in defs.schedules] == ["nightly_schedule"]
    assert [s.name for s in defs.sensors] == ["landing_files_sensor"]
    assert defs.resolve_job_def("landing_job") is not None


def test_assets_package_is_ours() -> None:
    # A top-level package named `assets` could be shadowed by an installed distribution.
    assert Path(assets.__file__).resolve().parent == Path(__file__).resolve().parents[2] / "assets"


def test_nightly_schedule_requests_yesterday_at_two_utc() -> None:
    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "UTC")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 6, 2, 0, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    requests = schedule.evaluate_tick(context).run_requests
    assert requests is not None
    [request] = requests
    assert request.partition_key == "2026-03-05"


def _tick(cursor: str | None):
    sensor = defs.resolve_sensor_def("landing_files_sensor")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, repository_def=defs.get_repository_def()
        )
        result = sensor.evaluate_tick(context)
    return result


def _touch(path: Path, when: float) -> None:
    os.utime(path, (when, when))


def test_sensor_requests_exactly_the_affected_landing_dates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRICS_RAW_DIR", str(tmp_path))
    line = envelope("tiktok", "business/get", "acc_tt", "2026-03-05T06:00:12Z", {"code": 0})
    now = time.time()
    _touch(write_lines(tmp_path, "tiktok/2026-03-04/a.jsonl", [line]), now - 100)
    _touch(write_lines(tmp_path, "x/2026-03-05/b.jsonl", [line]), now - 90)

    first = _tick(None)
    assert sorted(r.partition_key for r in first.run_requests) == ["2026-03-04", "2026-03-05"]

    second = _tick(first.cursor)
    assert second.run_requests == [] and second.skip_message

    # A late file lands in an old folder, and a file with the same mtime as the cursor's.
    _touch(write_lines(tmp_path, "tiktok/2026-03-01/late.jsonl", [line]), now - 10)
    _touch(write_lines(tmp_path, "x/2026-03-05/c.jsonl", [line]), now - 90)
    third = _tick(second.cursor)
    assert sorted(r.partition_key for r in third.run_requests) == ["2026-03-01", "2026-03-05"]
    assert _tick(third.cursor).run_requests == []
