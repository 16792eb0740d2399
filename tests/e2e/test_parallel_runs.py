"""Parallel runs: landing dates backfilled by several runs at once give the sequential tables.

Separate `metrics` processes (separate Dagster runs in one instance) normalize disjoint landing
dates side by side; the steps that rewrite shared partitions take turns through the pools and
the ledger hands every normalized date to whichever hourly step comes next, so no date is lost.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars.testing
import pytest
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from hypothesis import given
from hypothesis import strategies as st

from metrics.ingest.normalize import landing_dates
from pipelines import slot_wait
from pipelines.parallel import split_range
from tests.helpers.pipeline import (
    ROOT,
    base_env,
    cli,
    make_landing,
    project_answers,
    table_contents,
)

pytestmark = pytest.mark.xdist_group("parallel_runs")


@given(
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=12),
)
def test_split_range_covers_every_date_once_in_order(sizes: list[int], parts: int) -> None:
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(len(sizes))]
    ranges = split_range(dict(zip(days, sizes, strict=True)), parts)
    assert len(ranges) == min(parts, len(days))
    covered = [a + timedelta(days=i) for a, b in ranges for i in range((b - a).days + 1)]
    assert covered == days
    assert all(a <= b for a, b in ranges)


def test_split_range_balances_bytes() -> None:
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(4)]
    # 10 + 10 | 10 + 10 is the only even cut; 30 | 5 | 5 puts the big date alone.
    assert split_range(dict(zip(days, [10, 10, 10, 10], strict=True)), 2) == [
        (days[0], days[1]),
        (days[2], days[3]),
    ]
    assert split_range(dict(zip(days, [30, 5, 5, 0], strict=True)), 2) == [
        (days[0], days[0]),
        (days[1], days[3]),
    ]


def _waiting_context(ready_in: float) -> InstanceConcurrencyContext:
    ctx = InstanceConcurrencyContext.__new__(InstanceConcurrencyContext)
    ctx._pending_claims = {"hourly_and_rollups"}
    ctx._pending_timeouts = defaultdict(float, {"hourly_and_rollups": time.time() + ready_in})
    return ctx


def test_a_step_waiting_for_a_slot_sleeps_until_its_next_check() -> None:
    # Dagster's own interval is never above zero, so its loop spins while a step waits. If
    # this starts failing, an upgrade fixed it and pipelines/slot_wait.py can go.
    assert slot_wait.DAGSTER_INTERVAL(_waiting_context(5.0)) == 0
    slot_wait.install()
    patched = InstanceConcurrencyContext.interval_to_next_pending_claim_check
    assert 4.0 < patched(_waiting_context(5.0)) <= 5.0
    assert patched(_waiting_context(-1.0)) == 0.0


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[date], Path]:
    """A landing zone and the warehouse of one sequential backfill over all of it."""
    root = tmp_path_factory.mktemp("parallel")
    raw, _ = make_landing(root, accounts=8, posts_per_account=2, days=3)
    days = landing_dates(raw)
    assert len(days) >= 6
    proc = cli(base_env(raw, root / "sequential", root / "home_seq"), "backfill")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return raw, days, root / "sequential"


def _same_tables(got: Path, want: Path) -> None:
    a, b = table_contents(got), table_contents(want)
    assert a.keys() == b.keys()
    for name in a:
        polars.testing.assert_frame_equal(a[name], b[name])
    assert project_answers(got) == project_answers(want)


def test_three_backfill_processes_at_once_equal_one_sequential_backfill(
    zone: tuple[Path, list[date], Path], tmp_path: Path
) -> None:
    raw, days, sequential = zone
    home = tmp_path / "home"  # new: the three runs also race to create the instance
    env = base_env(raw, tmp_path / "warehouse", home, workers=1)
    thirds = [days[i::3] for i in range(3)]  # interleaved, so every run has early and late dates
    procs = []
    for group in thirds:
        for day in group:
            args = ["backfill", "--since", day.isoformat(), "--until", day.isoformat()]
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "pipelines.cli", *args],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
            if len(procs) % 3 == 0:  # three at a time
                for proc in procs[-3:]:
                    out, _ = proc.communicate(timeout=600)
                    assert proc.returncode == 0, out
    for proc in procs:
        if proc.returncode is None:
            out, _ = proc.communicate(timeout=600)
            assert proc.returncode == 0, out
    with dg.DagsterInstance.from_config(str(home)) as instance:
        statuses = [r.status for r in instance.get_runs()]
    assert statuses == [dg.DagsterRunStatus.SUCCESS] * len(days)
    _same_tables(tmp_path / "warehouse", sequential)


def test_backfill_parallel_two_equals_one_sequential_backfill(
    zone: tuple[Path, list[date], Path], tmp_path: Path
) -> None:
    raw, days, sequential = zone
    home = tmp_path / "home"
    proc = cli(base_env(raw, tmp_path / "warehouse", home), "backfill", "--parallel", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "as 2 parallel runs" in proc.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2
    starts = sorted(r.tags["dagster/asset_partition_range_start"] for r in runs)
    ends = sorted(r.tags["dagster/asset_partition_range_end"] for r in runs)
    assert starts[0] == days[0].isoformat() and ends[-1] == days[-1].isoformat()
    assert date.fromisoformat(ends[0]) + timedelta(days=1) == date.fromisoformat(starts[1])
    _same_tables(tmp_path / "warehouse", sequential)


def test_parallel_must_be_a_positive_number(zone: tuple[Path, list[date], Path], tmp_path: Path):
    raw, _, _ = zone
    proc = cli(base_env(raw, tmp_path / "wh", tmp_path / "home"), "backfill", "--parallel", "0")
    assert proc.returncode == 2 and "--parallel 0" in proc.stderr
