"""Delta Lake warehouse against the hive-Parquet layout it replaced, measured in the same run.

Three sides over the same landing zone, one after the other so they never share the 2 cores:
- `before`: the tree of the commit before Delta (a git worktree, `--before-tree`), hive Parquet
  under `<warehouse>/parquet/`, run with that tree first on `PYTHONPATH`;
- `local`: this tree, Delta tables on a local disk;
- `s3`: this tree, Delta tables on a real S3 server on loopback (SeaweedFS `weed mini`, the
  test fixture's server; run state in a local folder).
Each side: `metrics backfill` of every landing date through Dagster (wall, CPU, peak RSS of the
whole process tree via wait4), then `metrics nightly --date <last date>` on that warehouse, then
in a fresh process `metrics.connect` (seconds, RSS growth) and query latency (p50/p99 over
rotating ids, project and post scope, day granularity).

    python bench/delta_warehouse.py --raw /tmp/bench_raw --before-tree /work/wt-before
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine
from bench.nightly import run_measured

ROOT = Path(__file__).resolve().parents[1]

READ = r"""
import json, os, resource, statistics, sys, time
def rss():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
import metrics
from metrics.warehouse import storage
base = rss()
t0 = time.perf_counter()
store = metrics.connect(sys.argv[1])
connect_s = time.perf_counter() - t0
grown = rss() - base
projects = store.list("projects")
posts = store.list("posts", limit=200)
asks = [("project", p["id"], p["org_id"], p["id"]) for p in projects]
asks += [("platform_post", p["id"], p["org_id"], p["project_id"]) for p in posts]
times = []
for i in range(int(sys.argv[2])):
    scope, id, org, project = asks[i % len(asks)]
    t = time.perf_counter()
    store.query(org_id=org, project_id=project, scope=scope, id=id, granularity="day",
                since="2026-02-20", until="2026-03-12")
    times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"connect_s": round(connect_s, 2), "connect_rss_mb": round(grown),
                  "p50_ms": round(times[len(times) // 2] * 1000, 3),
                  "p99_ms": round(times[int(len(times) * 0.99)] * 1000, 3)}))
"""


def measure_side(name: str, raw: Path, warehouse: str, env: dict[str, str], queries: int) -> dict:
    from metrics.ingest.normalize import landing_dates

    last = landing_dates(raw)[-1]
    with tempfile.TemporaryDirectory(prefix=f"bench_delta_{name}_") as home:
        (Path(home) / "dagster.yaml").write_text((ROOT / "pipelines/dagster.yaml").read_text())
        env = dict(
            env,
            METRICS_RAW_DIR=str(raw),
            METRICS_WAREHOUSE_DIR=warehouse,
            DAGSTER_HOME=home,
        )
        cli = [sys.executable, "-m", "pipelines.cli"]
        print(f"{name}: backfill -> {warehouse}", flush=True)
        back = run_measured([*cli, "backfill"], env, Path(home) / "backfill.log")
        print(f"{name}: nightly {last}", flush=True)
        night = run_measured(
            [*cli, "nightly", "--date", last.isoformat()], env, Path(home) / "nightly.log"
        )
        import subprocess

        done = subprocess.run(
            [sys.executable, "-c", READ, warehouse, str(queries)],
            env=env,
            cwd=env.get("BENCH_CWD", str(ROOT)),
            check=True,
            capture_output=True,
            text=True,
        )
        read = json.loads(done.stdout.strip().splitlines()[-1])
    out = {
        "side": name,
        "backfill_s": round(back["seconds"], 1),
        "backfill_cpu_s": round(back["cpu_s"], 1),
        "backfill_peak_rss_mb": back["peak_rss_mb"],
        "nightly_s": round(night["seconds"], 1),
        "nightly_cpu_s": round(night["cpu_s"], 1),
        "nightly_peak_rss_mb": night["peak_rss_mb"],
        **read,
    }
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, required=True, help="the benchmark landing zone")
    parser.add_argument("--before-tree", type=Path, help="a worktree of the commit before Delta")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench_delta")
    parser.add_argument("--sides", default="before,local,s3")
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    sides = args.sides.split(",")
    results = []
    args.work.mkdir(parents=True, exist_ok=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "METRICS_"))}
    for side in sides:
        if side == "before":
            assert args.before_tree, "--before-tree is needed for the before side"
            tree = str(args.before_tree.resolve())
            env = dict(base_env, PYTHONPATH=tree, BENCH_CWD=tree)
            # the tree's own modules win over this checkout's editable install
            warehouse = str(args.work / "before")
            results.append(measure_in(tree, side, args.raw, warehouse, env, args.queries))
        elif side == "local":
            results.append(
                measure_side(side, args.raw, str(args.work / "local"), dict(base_env), args.queries)
            )
        elif side == "s3":
            from tests.helpers.object_store import running_object_store

            with running_object_store(args.work / "s3server", bucket="bench-delta") as store:
                env = dict(base_env, **store.env)
                results.append(
                    measure_side(side, args.raw, store.uri("warehouse"), env, args.queries)
                )
    print(json.dumps({"machine": machine(), "results": results}, indent=1))


def measure_in(tree: str, side: str, raw: Path, warehouse: str, env: dict, queries: int) -> dict:
    """The before side runs its own pipelines.cli: the subprocesses start in its tree."""
    import bench.nightly as nightly

    old = nightly.ROOT
    nightly.ROOT = Path(tree)
    try:
        return measure_side(side, raw, warehouse, env, queries)
    finally:
        nightly.ROOT = old


if __name__ == "__main__":
    main()
