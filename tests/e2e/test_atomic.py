"""A writer killed mid-write leaves the previous files readable, and the next run is clean."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from metrics.ingest.normalize import landing_dates
from metrics.warehouse import storage
from tests.helpers.pipeline import make_landing, table_digests, run

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import sys, polars as pl
from pathlib import Path
from metrics.warehouse import storage
n = 3_000_000
df = pl.DataFrame({"k": pl.arange(0, n, eager=True), "v": pl.arange(0, n, eager=True) * 7})
print("writing", flush=True)
while True:
    storage.write_parquet_atomic(df, Path(sys.argv[1]))
"""


def test_killed_writer_never_exposes_half_a_file(tmp_path: Path) -> None:
    path = tmp_path / "t" / "day=2026-03-01" / "part-0.parquet"
    before = pl.DataFrame({"k": [1, 2, 3], "v": [7, 14, 21]})
    storage.write_parquet_atomic(before, path)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + 60
    while not list(path.parent.glob(".*.tmp")):  # kill while a temp file is being written
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = pl.read_parquet(path)  # whatever is in place is a whole file
    assert after.equals(before) or after.height == 3_000_000
    assert [p.name for p in path.parent.glob("*.parquet")] == ["part-0.parquet"]
    storage.write_parquet_atomic(before, path)
    assert not list(path.parent.glob(".*.tmp"))
    assert pl.read_parquet(path).equals(before)


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
    # Every table still reads, and holds what it held before (a re-run writes the same bytes).
    for table in ("post_observations", "post_hourly", "rollup_day", "quarantine"):
        assert storage.scan(warehouse, table).collect().height > 0
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
