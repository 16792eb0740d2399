"""Every benchmark in sequence, then a summary: what `make bench` runs.

    python bench/run_all.py                      # all under data/bench, generated if missing
    python bench/run_all.py --raw /tmp/bench_raw --raw-quarter /tmp/bench_raw_q \\
        --warehouse /tmp/bench_wh --raw-8d /tmp/bench_raw_8d --raw-29d /tmp/bench_raw_29d
    python bench/run_all.py --only rollups,query    # a subset

Steps (each a separate script, each appending to bench/out/<name>.jsonl):

- normalize   bench/normalize.py on the ¼ and the full landing zone (growth from ¼ to full)
- backfill    `python -m pipelines.cli backfill` of the full landing zone into --warehouse, timed
              (skipped when --warehouse already holds a warehouse, unless --rebuild-warehouse)
- rollups     bench/rollup_peer.py: our full rebuild vs the DuckDB-SQL peer, outputs compared
- nightly     bench/nightly.py: one nightly after 7 days (--raw-8d) and after 28 (--raw-29d)
- query       bench/query_latency.py: in-process p50/p99 vs the DuckDB aggregate-on-read peer
- http        bench/http_load.py: loopback load on `metrics serve` (and --http-workers if set)

Landing zones that do not exist are generated first (`metrics generate`, benchmark size:
1,000 accounts × 20 posts polled every 30 minutes; ¼ = 250 accounts; the nightly zones
have a quarter of that daily volume, the same over 8 and 29 days), unless --no-generate.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import OUT, record
from bench.nightly import run_measured

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
STEPS = ("normalize", "backfill", "rollups", "nightly", "query", "http")


def _lines(name: str) -> int:
    path = OUT / f"{name}.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _new_records(name: str, before: int) -> list[dict]:
    path = OUT / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()[before:]]


def _run(*cmd: str, env: dict[str, str] | None = None) -> None:
    print(f"\n$ {' '.join(cmd)}", flush=True)
    done = subprocess.run(cmd, cwd=ROOT, env=env)
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}")


def _script(name: str, *args: str) -> None:
    _run(sys.executable, str(BENCH / name), *args)


def generate(raw: Path, accounts: int, days: int, posts: int, seed: int) -> None:
    if (raw / "catalog").is_dir():
        return
    _run(
        sys.executable,
        "-m",
        "metrics.sample.generate",
        "--out",
        str(raw),
        "--seed",
        str(seed),
        "--accounts",
        str(accounts),
        "--posts-per-account",
        str(posts),
        "--days",
        str(days),
    )


def backfill(raw: Path, warehouse: Path, rebuild: bool) -> None:
    if (warehouse / "manifest.json").exists() and not rebuild:
        print(f"\nbackfill: reusing {warehouse} (pass --rebuild-warehouse to time a new one)")
        return
    if warehouse.exists():
        if not (warehouse / "manifest.json").exists() and any(warehouse.iterdir()):
            raise SystemExit(f"{warehouse} exists and is not a warehouse; not touching it")
        shutil.rmtree(warehouse)
    from metrics.ingest.normalize import landing_dates

    dates = landing_dates(raw)
    with tempfile.TemporaryDirectory(prefix="bench_dagster_") as home:
        env = dict(
            os.environ,
            METRICS_RAW_DIR=str(raw),
            METRICS_WAREHOUSE_DIR=str(warehouse),
            DAGSTER_HOME=home,
        )
        print(f"\nbackfill {raw} -> {warehouse}", flush=True)
        log = Path(home) / "backfill.log"
        measured = run_measured([sys.executable, "-m", "pipelines.cli", "backfill"], env, log)
    record(
        "backfill",
        {
            "raw": str(raw),
            "warehouse": str(warehouse),
            "landing_dates": len(dates),
            "seconds": round(measured["seconds"], 1),
            "cpu_s": round(measured["cpu_s"], 1),
            "peak_rss_mb": measured["peak_rss_mb"],
        },
    )


def summarize(found: dict[str, list[dict]]) -> None:
    print("\n" + "=" * 78 + "\nSummary\n" + "=" * 78)
    for r in found.get("normalize", []):
        print(
            f"normalize  {r['raw']}: {r['json_mb']} MB JSON, normalize {r['normalize_s']} s "
            f"({r['normalize_mb_s']} MB/s, peak {r['normalize_peak_rss_mb']} MB) vs json.loads "
            f"{r['json_loads_mb_s']} MB/s"
        )
    for r in found.get("backfill", []):
        print(
            f"backfill   {r['landing_dates']} landing dates: {r['seconds']} s, "
            f"peak RSS {r['peak_rss_mb']} MB"
        )
    for r in found.get("rollups", []):
        print(
            f"rollups    ours {r['ours_s']} s / {r['ours_peak_rss_mb']} MB, peer "
            f"{r['peer_s']} s / {r['peer_peak_rss_mb']} MB (peer/ours {r['peer_over_ours']}); "
            f"peer matches pipeline: {r['match']}, our rebuild matches: "
            f"{r['rebuild_matches_pipeline']}; rows {r['rows']}"
        )
    nights = found.get("nightly", [])
    for r in nights:
        print(
            f"nightly    after {r['history_days']} days: {r['nightly_s']} s end to end "
            f"(peak {r['nightly_peak_rss_mb']} MB), domain {r['domain_s']} s "
            f"(+ ingest {r['domain_ingest_s']} s), same files as Dagster: "
            f"{r['domain_matches_dagster']}"
        )
    if len(nights) >= 2:
        short, long = nights[0], nights[-1]
        print(
            f"           ratio {long['history_days']}d/{short['history_days']}d: end to end "
            f"{long['nightly_s'] / short['nightly_s']:.2f}, domain "
            f"{long['domain_s'] / max(short['domain_s'], 1e-3):.2f}"
        )
    for r in found.get("query", []):
        print(f"query      mismatches with the peer: {r['mismatches']}")
        for shape, s in r["shapes"].items():
            print(
                f"           {shape:<20} ours p50 {s['ours_p50_ms']:>7} ms p99 "
                f"{s['ours_p99_ms']:>7} ms | peer p50 {s['peer_p50_ms']:>7} ms p99 "
                f"{s['peer_p99_ms']:>7} ms | ×{s['speedup_p50']} at p50"
            )
    for r in found.get("http", []):
        for phase in ("closed_loop", "open_loop"):
            if phase in r:
                p = r[phase]
                print(
                    f"http       {r['workers']} worker(s) {phase:<11} {p['rps']:>7} req/s "
                    f"p50 {p['p50_ms']} ms p99 {p['p99_ms']} ms errors {p['errors']}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Run every benchmark in sequence and print a summary (make bench)."
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT / "data" / "bench",
        help="default home of the paths below (default data/bench)",
    )
    parser.add_argument("--raw", type=Path, help="full landing zone (default ROOT/raw)")
    parser.add_argument("--raw-quarter", type=Path, help="¼ landing zone (default ROOT/raw_q)")
    parser.add_argument("--raw-8d", type=Path, help="8-day landing zone (default ROOT/raw_8d)")
    parser.add_argument("--raw-29d", type=Path, help="29-day zone (default ROOT/raw_29d)")
    parser.add_argument(
        "--warehouse", type=Path, help="warehouse of --raw (default ROOT/warehouse)"
    )
    parser.add_argument("--rebuild-warehouse", action="store_true")
    parser.add_argument("--no-generate", action="store_true", help="fail on a missing zone")
    parser.add_argument("--accounts", type=int, default=1000, help="full size (¼ is a quarter)")
    parser.add_argument("--posts-per-account", type=int, default=20)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument(
        "--nightly-accounts",
        type=int,
        default=None,
        help="accounts of the 8- and 29-day zones (default: a quarter of --accounts, so the "
        "29-day zone is about the size of the full one)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--skip", help="comma-separated steps to leave out")
    parser.add_argument("--query-iterations", type=int, default=1000)
    parser.add_argument("--http-requests", type=int, default=10_000)
    parser.add_argument("--http-workers", type=int, default=0, help="also run with N workers")
    args = parser.parse_args()

    root = args.root.resolve()
    raw = (args.raw or root / "raw").resolve()
    raw_q = (args.raw_quarter or root / "raw_q").resolve()
    raw_8 = (args.raw_8d or root / "raw_8d").resolve()
    raw_29 = (args.raw_29d or root / "raw_29d").resolve()
    warehouse = (args.warehouse or root / "warehouse").resolve()
    steps = [s for s in STEPS if not args.only or s in args.only.split(",")]
    steps = [s for s in steps if not args.skip or s not in args.skip.split(",")]
    unknown = {*(args.only or "").split(","), *(args.skip or "").split(",")} - {"", *STEPS}
    if unknown:
        raise SystemExit(f"unknown steps: {', '.join(sorted(unknown))}")

    needed: list[tuple[Path, int, int]] = []
    full = (args.accounts, args.days)
    night = args.nightly_accounts or max(args.accounts // 4, 1)
    if "normalize" in steps:
        needed += [(raw_q, max(args.accounts // 4, 1), args.days), (raw, *full)]
    if {"backfill", "rollups", "query", "http"} & set(steps):
        needed.append((raw, *full))
    if "nightly" in steps:
        needed += [(raw_8, night, 8), (raw_29, night, 29)]
    for zone, accounts, days in dict.fromkeys(needed):
        if not (zone / "catalog").is_dir():
            if args.no_generate:
                raise SystemExit(f"no landing zone at {zone}")
            generate(zone, accounts, days, args.posts_per_account, args.seed)

    before = {name: _lines(name) for name in STEPS}
    started = time.perf_counter()
    if "normalize" in steps:
        for zone in (raw_q, raw):
            with tempfile.TemporaryDirectory(prefix="bench_norm_") as scratch:
                _script("normalize.py", "--raw", str(zone), "--warehouse", scratch)
    if {"backfill", "rollups", "query", "http"} & set(steps):
        backfill(raw, warehouse, args.rebuild_warehouse and "backfill" in steps)
    if "rollups" in steps:
        _script("rollup_peer.py", "--warehouse", str(warehouse))
    if "nightly" in steps:
        _script("nightly.py", "--raw", str(raw_8), "--history-days", "7")
        _script("nightly.py", "--raw", str(raw_29), "--history-days", "28")
    if "query" in steps:
        _script(
            "query_latency.py",
            "--warehouse",
            str(warehouse),
            "--iterations",
            str(args.query_iterations),
        )
    if "http" in steps:
        _script(
            "http_load.py", "--warehouse", str(warehouse), "--requests", str(args.http_requests)
        )
        if args.http_workers > 1:
            _script(
                "http_load.py",
                "--warehouse",
                str(warehouse),
                "--requests",
                str(args.http_requests),
                "--workers",
                str(args.http_workers),
            )
    found = {name: _new_records(name, n) for name, n in before.items()}
    summarize(found)
    print(f"\n{time.perf_counter() - started:.0f} s; records in {OUT}/")


if __name__ == "__main__":
    main()
