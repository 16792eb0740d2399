"""One nightly run after N days of history: does its cost follow the new data, not the history?

    python bench/nightly.py --raw /tmp/bench_raw_8d  --history-days 7
    python bench/nightly.py --raw /tmp/bench_raw_29d --history-days 28

The landing zone needs at least N+1 landing dates. With `first` its earliest landing date:

1. `python -m pipelines.cli backfill --since first --until first+N-1` into a fresh warehouse
   and Dagster home (temp folders; timed for information only);
2. a hard-linked snapshot of that warehouse is put aside (every write is an atomic rename, so
   the links are never written through);
3. timed: `python -m pipelines.cli nightly --date first+N`, the exact nightly job through
   Dagster, end to end in its own process (wall time, CPU time, peak RSS via wait4);
4. timed: the domain part alone on the snapshot, in its own process, without Dagster's fixed
   overhead: ingest of that landing date (catalog, normalize, posts), then
   `refresh_post_hourly` + `refresh_rollups`. Its post_hourly and rollup files are checked to
   be byte-identical to the Dagster run's.

Run it on two landing zones generated with the same daily volume (`--days 8` and `--days 29`):
the nightly's time should stay about the same.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import record

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ("post_hourly", "rollup_hour", "rollup_day", "rollup_week")


def _env(raw: Path, warehouse: Path, dagster_home: Path, first: date) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        METRICS_RAW_DIR=str(raw),
        METRICS_WAREHOUSE_DIR=str(warehouse),
        DAGSTER_HOME=str(dagster_home),
    )
    if first < date.fromisoformat(env.get("METRICS_FIRST_LANDING_DATE", "2026-01-01")):
        env["METRICS_FIRST_LANDING_DATE"] = first.isoformat()
    return env


def run_measured(cmd: list[str], env: dict[str, str], log: Path) -> dict:
    """Run `cmd` to completion; wall seconds, CPU seconds and peak RSS of the child (wait4).

    ru_maxrss is the largest resident set of the child or of any descendant it waited for.
    """
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.stderr.write(log.read_text()[-5000:])
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}; log in {log}")
    return {
        "seconds": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
    }


def link_copy(source: Path, target: Path) -> None:
    try:
        shutil.copytree(source, target, copy_function=os.link)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)


def domain_pass(raw: Path, warehouse: Path, day: date) -> dict:
    """What the nightly's assets do for `day`, minus Dagster, timed step by step."""
    import resource

    from metrics.ingest import steps as ingest
    from metrics.ingest.catalog import load_catalog
    from metrics.transform.refresh import refresh_post_hourly, refresh_rollups

    t0 = time.perf_counter()
    ingest.write_catalog_tables(raw, warehouse)
    catalog = load_catalog(raw)
    with ingest.worker_pool() as pool:
        ingest.ingest_landing_date(raw, warehouse, day, catalog, pool)
    ingest.rebuild_posts(warehouse)
    t1 = time.perf_counter()
    hourly = refresh_post_hourly(warehouse, [day])
    t2 = time.perf_counter()
    rolled = refresh_rollups(warehouse, [day])
    t3 = time.perf_counter()
    rss = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return {
        "ingest_s": t1 - t0,
        "hourly_s": t2 - t1,
        "rollups_s": t3 - t2,
        "domain_s": t3 - t1,
        "peak_rss_mb": round(rss / 1024),
        "posts_recomputed": hourly.posts_recomputed,
        "posts_read_in_full": hourly.posts_read_in_full,
        "post_hourly_days_rewritten": len(hourly.days_rewritten),
        "rollup_partitions_written": {t: len(v) for t, v in rolled.partitions_written.items()},
        "rollup_full_rebuild": rolled.full_rebuild,
    }


def same_outputs(a: Path, b: Path) -> bool:
    """Both warehouses hold the same post_hourly and rollup rows (read through the Delta log)."""
    from metrics.warehouse import storage

    for table in OUTPUTS:
        left, right = storage.read(a, table), storage.read(b, table)
        if not left.sort(left.columns).equals(right.sort(right.columns)):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Backfill N landing dates (untimed), then time one nightly run through "
        "Dagster and its domain part alone; record bench/out/nightly.jsonl."
    )
    parser.add_argument("--raw", type=Path, required=True, help="landing zone (≥ N+1 dates)")
    parser.add_argument("--history-days", type=int, default=7, help="N, days backfilled first")
    parser.add_argument(
        "--work", type=Path, default=None, help="scratch folder (default: a new temp folder)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--side", choices=["domain"], help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--date", type=date.fromisoformat, help=argparse.SUPPRESS)
    args = parser.parse_args()
    raw = args.raw.resolve()

    if args.side == "domain":
        print(json.dumps(domain_pass(raw, args.warehouse, args.date)))
        return

    from metrics.ingest.normalize import landing_dates

    dates = landing_dates(raw)
    n = args.history_days
    if not dates:
        raise SystemExit(f"no landing dates under {raw}")
    first = dates[0]
    last_history, night = first + timedelta(days=n - 1), first + timedelta(days=n)
    if night not in dates:
        raise SystemExit(
            f"{raw} has landing dates {dates[0]}..{dates[-1]}; "
            f"--history-days {n} needs data landed on {night}"
        )
    work = (args.work or Path(tempfile.mkdtemp(prefix="bench_nightly_"))).resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    warehouse, dagster_home = work / "warehouse", work / "dagster_home"
    env = _env(raw, warehouse, dagster_home, first)
    py = sys.executable
    try:
        print(f"backfill {first} .. {last_history} (untimed)", flush=True)
        backfill = run_measured(
            [
                py,
                "-m",
                "pipelines.cli",
                "backfill",
                "--since",
                str(first),
                "--until",
                str(last_history),
            ],
            env,
            work / "backfill.log",
        )
        snapshot = work / "warehouse_before_nightly"
        link_copy(warehouse, snapshot)
        print(f"nightly {night}", flush=True)
        nightly = run_measured(
            [py, "-m", "pipelines.cli", "nightly", "--date", str(night)], env, work / "nightly.log"
        )
        print("domain part alone", flush=True)
        done = subprocess.run(
            [
                py,
                str(Path(__file__).resolve()),
                "--side",
                "domain",
                "--raw",
                str(raw),
                "--warehouse",
                str(snapshot),
                "--date",
                str(night),
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit("the domain pass failed")
        domain = json.loads(done.stdout.strip().splitlines()[-1])
        identical = same_outputs(warehouse, snapshot)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    record(
        "nightly",
        {
            "raw": str(raw),
            "history_days": n,
            "history": f"{first}..{last_history}",
            "nightly_date": night.isoformat(),
            "backfill_s": round(backfill["seconds"], 1),
            "nightly_s": round(nightly["seconds"], 2),
            "nightly_cpu_s": round(nightly["cpu_s"], 2),
            "nightly_peak_rss_mb": nightly["peak_rss_mb"],
            "domain_ingest_s": round(domain["ingest_s"], 2),
            "domain_hourly_s": round(domain["hourly_s"], 2),
            "domain_rollups_s": round(domain["rollups_s"], 2),
            "domain_s": round(domain["domain_s"], 2),
            "domain_peak_rss_mb": domain["peak_rss_mb"],
            "posts_recomputed": domain["posts_recomputed"],
            "posts_read_in_full": domain["posts_read_in_full"],
            "post_hourly_days_rewritten": domain["post_hourly_days_rewritten"],
            "rollup_partitions_written": domain["rollup_partitions_written"],
            "rollup_full_rebuild": domain["rollup_full_rebuild"],
            "domain_matches_dagster": identical,
        },
    )


if __name__ == "__main__":
    main()
