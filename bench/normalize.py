"""Normalize a landing zone, beside a plain `json.loads` loop over the same files.

    python bench/normalize.py --raw /tmp/bench_raw [--warehouse /tmp/bench_wh]

Each side runs in its own process so its peak RSS is its own. MB/s is uncompressed JSON bytes
per second of wall time (both sides read, gunzip and split the same files). `s_per_gb` is the
same wall time per GB of JSON; with `METRICS_WORKERS=1` it is the per-core cost. The loop is run
again after normalize, so a machine shared with other work shows up as a spread between the two
loop runs (`json_loads_s` is their mean), not as a ratio drawn from one lucky run.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import peak_rss_mb, record, run_child, worker_peak_rss_mb


def _files(raw: Path) -> list[Path]:
    from metrics.ingest.normalize import landing_dates, landing_files

    return [Path(str(f)) for d in landing_dates(raw) for f in landing_files(raw, d)]


def json_loads_pass(raw: Path) -> dict:
    """The floor any Python pipeline pays: decode every line and nothing else."""
    files = _files(raw)
    start = time.perf_counter()
    size = lines = 0
    for path in files:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        size += len(data)
        for line in data.split(b"\n"):
            if line:
                with contextlib.suppress(ValueError):
                    json.loads(line)
                lines += 1
    return {"seconds": time.perf_counter() - start, "bytes": size, "lines": lines}


def normalize_pass(raw: Path, warehouse: Path) -> dict:
    from metrics.ingest.catalog import load_catalog
    from metrics.ingest.normalize import landing_dates
    from metrics.ingest.steps import ingest_landing_dates, worker_pool

    landing_dates(raw)
    start = time.perf_counter()
    catalog = load_catalog(raw)
    rows = lines = 0
    with worker_pool() as pool:
        for stats in ingest_landing_dates(raw, warehouse, landing_dates(raw), catalog, pool):
            rows += stats.rows["post_observations"]
            lines += stats.accounting.lines_read
    return {"seconds": time.perf_counter() - start, "post_observations": rows, "lines": lines}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, default=Path("/tmp/bench_wh"))
    parser.add_argument("--side", choices=["json", "normalize"])
    args = parser.parse_args()
    if args.side == "json":
        out = json_loads_pass(args.raw)
    elif args.side == "normalize":
        out = normalize_pass(args.raw, args.warehouse)
    if args.side:
        workers = int(os.environ.get("METRICS_WORKERS") or os.cpu_count() or 1)
        # CPU seconds of this side, its workers included: on a machine shared with other work,
        # wall time follows the neighbours, CPU time follows the work.
        used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        out["cpu_s"] = sum(u.ru_utime + u.ru_stime for u in used)
        peaks = {"peak_rss_mb": round(peak_rss_mb())}
        if args.side == "normalize":
            # The pool has exited by now, so RUSAGE_CHILDREN holds the largest worker's peak.
            worker = round(worker_peak_rss_mb())
            peaks = {
                "parent_peak_rss_mb": peaks["peak_rss_mb"],
                "worker_peak_rss_mb": worker,
                "workers": workers,
                "peak_rss_mb": peaks["peak_rss_mb"] + workers * worker,
            }
        print(json.dumps({**out, **peaks}))
        return
    floor = run_child("normalize.py", "--raw", str(args.raw), "--side", "json")
    ours = run_child(
        "normalize.py",
        "--raw",
        str(args.raw),
        "--warehouse",
        str(args.warehouse),
        "--side",
        "normalize",
    )
    again = run_child("normalize.py", "--raw", str(args.raw), "--side", "json")
    loop_runs = [floor["seconds"], again["seconds"]]
    floor["seconds"] = sum(loop_runs) / 2
    mb = floor["bytes"] / 1e6
    record(
        "normalize",
        {
            "raw": str(args.raw),
            "json_mb": round(mb, 1),
            "lines": floor["lines"],
            "post_observations": ours["post_observations"],
            "json_loads_runs_s": [round(x, 2) for x in loop_runs],
            "json_loads_s": round(floor["seconds"], 2),
            "json_loads_s_per_gb": round(floor["seconds"] / (mb / 1000), 2),
            "normalize_s_per_gb": round(ours["seconds"] / (mb / 1000), 2),
            "normalize_over_loop": round(floor["seconds"] / ours["seconds"], 2),
            "json_loads_cpu_s_per_gb": round(
                (floor["cpu_s"] + again["cpu_s"]) / 2 / (mb / 1000), 2
            ),
            "normalize_cpu_s_per_gb": round(ours["cpu_s"] / (mb / 1000), 2),
            "json_loads_mb_s": round(mb / floor["seconds"], 1),
            "json_loads_peak_rss_mb": floor["peak_rss_mb"],
            "normalize_s": round(ours["seconds"], 2),
            "normalize_mb_s": round(mb / ours["seconds"], 1),
            "normalize_peak_rss_mb": ours["peak_rss_mb"],
            "normalize_parent_peak_rss_mb": ours["parent_peak_rss_mb"],
            "normalize_worker_peak_rss_mb": ours["worker_peak_rss_mb"],
            "workers": ours["workers"],
        },
    )


if __name__ == "__main__":
    main()
