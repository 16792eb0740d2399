"""Figures for the capacity plan (docs/deployment.md), each step in a fresh child process.

    python bench/capacity.py --raw /tmp/bench_raw --work /tmp/bench_capacity

1. `steps`: normalize (catalog, every landing date with the worker pool, posts), then post_hourly,
   then the rollups, each in its own process over the same warehouse: wall seconds, CPU seconds
   (the process and its parsing workers) and peak RSS, and per million post snapshots.
2. `index`: `metrics.connect` of that warehouse: rollup rows, bytes of the in-memory arrays per
   rollup row, and the RSS the load added, per rollup row.
3. `parallel`: `metrics backfill` of the whole zone as one run, against `metrics backfill
   --parallel 2` (two runs at once), each into a new warehouse and DAGSTER_HOME, same session.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import record, run_child
from bench.nightly import run_measured


def _usage() -> tuple[float, float]:
    """(CPU seconds of this process and its finished children, largest peak RSS in MB)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return cpu, max(me.ru_maxrss, kids.ru_maxrss) / 1024


def step(name: str, raw: Path, warehouse: Path) -> dict:
    from metrics.ingest import steps as ingest
    from metrics.ingest.catalog import load_catalog
    from metrics.ingest.normalize import landing_dates
    from metrics.transform.refresh import refresh_post_hourly, refresh_rollups

    dates = landing_dates(raw)
    start = time.perf_counter()
    if name == "normalize":
        catalog = ingest.write_catalog_tables(raw, warehouse)
        with ingest.worker_pool() as pool:
            for _ in ingest.normalize_landing_dates(raw, warehouse, dates, catalog, pool):
                pass
        ingest.rebuild_posts(warehouse)
        catalog = load_catalog(raw)
    elif name == "hourly":
        refresh_post_hourly(warehouse, dates)
    elif name == "rollups":
        refresh_rollups(warehouse, dates)
    else:
        raise SystemExit(f"unknown step {name}")
    seconds = time.perf_counter() - start
    cpu, peak = _usage()
    return {"step": name, "seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "peak_mb": peak}


def index(warehouse: Path) -> dict:
    import numpy as np

    from metrics.serve import index as idx

    def rss_mb() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    import metrics  # noqa: F401  (imports counted before the load)

    before = rss_mb()
    start = time.perf_counter()
    loaded = idx.load(warehouse)
    seconds = time.perf_counter() - start
    after = rss_mb()
    rows = sum(len(g.starts) for g, _, _ in loaded.grains)
    arrays = sum(
        a.nbytes
        for g, _, _ in loaded.grains
        for a in (g.starts, g.cum, g.followers, g.delta)
        if isinstance(a, np.ndarray)
    )
    keys = sum(len(g.ranges) for g, _, _ in loaded.grains)
    return {
        "rollup_rows": rows,
        "series_keys": keys,
        "array_bytes_per_row": round(arrays / rows, 1),
        "rss_added_mb": round(after - before, 1),
        "rss_bytes_per_row": round((after - before) * 1024 * 1024 / rows, 1),
        "load_s": round(seconds, 2),
    }


def snapshots(warehouse: Path) -> int:
    from metrics.warehouse import storage

    return storage.scan(warehouse, "post_observations").select("line").collect().height


def backfill(raw: Path, root: Path, parallel: int) -> dict:
    warehouse = root / f"wh_parallel{parallel}"
    shutil.rmtree(warehouse, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="bench_dagster_") as home:
        env = dict(
            os.environ,
            METRICS_RAW_DIR=str(raw),
            METRICS_WAREHOUSE_DIR=str(warehouse),
            DAGSTER_HOME=home,
        )
        cmd = [sys.executable, "-m", "pipelines.cli", "backfill"]
        if parallel > 1:
            cmd += ["--parallel", str(parallel)]
        measured = run_measured(cmd, env, Path(home) / "backfill.log")
    return {
        "runs": parallel,
        "seconds": round(measured["seconds"], 1),
        "cpu_s": round(measured["cpu_s"], 1),
        "peak_rss_mb": measured["peak_rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (replaced)")
    parser.add_argument("--child", choices=["normalize", "hourly", "rollups", "index"])
    parser.add_argument("--only", choices=["steps", "parallel"], help="one part only")
    args = parser.parse_args()
    warehouse = args.work / "wh_steps"
    if args.child == "index":
        print(json.dumps(index(warehouse)))
        return
    if args.child:
        print(json.dumps(step(args.child, args.raw, warehouse)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    result: dict = {"raw": str(args.raw)}
    if args.only in (None, "steps"):
        shutil.rmtree(warehouse, ignore_errors=True)
        base = ["--raw", str(args.raw), "--work", str(args.work), "--child"]
        steps = [
            run_child("capacity.py", *base, name) for name in ("normalize", "hourly", "rollups")
        ]
        n = snapshots(warehouse)
        for s in steps:
            s["cpu_s_per_m_snapshots"] = round(s["cpu_s"] / n * 1e6, 2)
        result |= {"snapshots": n, "steps": steps}
        result["index"] = run_child("capacity.py", *base, "index")
    if args.only in (None, "parallel"):
        result["backfill"] = [backfill(args.raw, args.work, p) for p in (1, 2)]
    record("capacity", result)


if __name__ == "__main__":
    main()
