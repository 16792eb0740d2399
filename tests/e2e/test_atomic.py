"""A writer killed mid-commit leaves the previous versions readable, and the next run is clean."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from metrics.ingest.normalize import landing_dates
from metrics.model.tables import Column, Table
from metrics.warehouse import manifest, storage
from tests.helpers.pipeline import make_landing, run, table_digests

ROOT = Path(__file__).resolve().parents[2]

# A two-partition table outside the registry: each commit writes generation `g` to both days.
WRITER = """
import sys, polars as pl
from metrics.model.tables import Column, Table
from metrics.warehouse import storage
from tests.e2e.test_atomic import TWO_DAYS
n = 1_000_000
print("writing", flush=True)
g = 1
while True:
    with storage.Batch(sys.argv[1], TWO_DAYS) as batch:
        for day in ("2026-03-01", "2026-03-02"):
            batch.put(day, pl.DataFrame({"k": pl.arange(0, n, eager=True), "g": [g] * n}))
    g += 1
"""

TWO_DAYS = Table(
    "two_days",
    "test",
    "a row per k per generation",
    (Column("k", pl.Int64(), "key"), Column("g", pl.Int64(), "generation")),
    "transform",
    partition=Column("day", pl.Date(), "day"),
)


def test_killed_writer_never_exposes_half_a_commit(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    with storage.Batch(warehouse, TWO_DAYS) as batch:
        for day in ("2026-03-01", "2026-03-02"):
            batch.put(day, pl.DataFrame({"k": [1, 2, 3], "g": [0, 0, 0]}))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(warehouse)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    time.sleep(random.uniform(1.0, 4.0))  # somewhere in a stage, a commit, or between them
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    committed = storage.open_table(warehouse, TWO_DAYS)
    assert committed is not None
    # Version 0 is the table's creation, empty; every version with rows reads whole.
    for version in range(1, committed.version() + 1):
        frame = storage.read(warehouse, TWO_DAYS, versions={"two_days": version})
        per_day = frame.group_by("day").agg(pl.col("g").unique(), pl.len())
        assert per_day.height == 2
        gens = {tuple(g) for g in per_day["g"].to_list()}
        assert len(gens) == 1 and len(next(iter(gens))) == 1  # both days, one generation
        assert set(per_day["len"]) == ({3} if version == 1 else {1_000_000})
    with storage.Batch(warehouse, TWO_DAYS) as batch:  # the next writer commits cleanly
        batch.put("2026-03-01", pl.DataFrame({"k": [9], "g": [-1]}))
    after = storage.read(warehouse, TWO_DAYS).sort("day")
    assert after.filter(pl.col("day") == date(2026, 3, 1))["g"].to_list() == [-1]
    assert after.filter(pl.col("day") == date(2026, 3, 2))["g"].n_unique() == 1


@pytest.mark.xdist_group("pipeline")
def test_killed_run_leaves_the_previous_warehouse(tmp_path: Path) -> None:
    raw, _ = make_landing(tmp_path)
    warehouse = tmp_path / "warehouse"
    days = landing_dates(raw)
    run(raw, warehouse, days[0], days[-1])
    before = table_digests(warehouse)
    env = {
        "PATH": "/usr/bin:/bin",
        "DAGSTER_HOME": str(tmp_path / "dh"),
        "METRICS_RAW_DIR": str(raw),
        "METRICS_WAREHOUSE_DIR": str(warehouse),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "backfill"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # kill it once it is materializing, mid-run
        if b"lines =" in line:
            break
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its parsing workers, all at once
    proc.wait()
    # The published versions still read, whole, as before; so does the newest commit of every
    # table (a killed run commits a table whole or not at all, and a re-run commits the same rows).
    published = manifest.read(warehouse)["tables"]
    for table in ("post_observations", "post_hourly", "rollup_day", "quarantine"):
        assert storage.scan(warehouse, table, versions=published).collect().height > 0
    assert table_digests(warehouse, published) == before
    assert table_digests(warehouse) == before
    run(raw, warehouse, days[0], days[-1])
    assert table_digests(warehouse) == before


def test_parsing_workers_exit_when_their_run_is_killed() -> None:
    code = (
        "from metrics.ingest.steps import worker_pool\nimport time\npool = worker_pool()\n"
        "list(pool.map(abs, [1, 2, 3]))\nprint('up', flush=True)\ntime.sleep(120)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    kids = subprocess.run(
        ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert kids
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{k}").exists() for k in kids):
        assert time.monotonic() < deadline, "orphaned parsing workers kept running"
        time.sleep(0.2)
