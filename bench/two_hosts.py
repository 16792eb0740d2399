"""Two run hosts backfilling half of 8 landing dates each, at once, against one host backfilling
all 8: the same landing zone on the same S3 server, the same Postgres, in one run.

The hosts are tests/helpers/hosts.py's (network, UTS, PID and mount namespaces where the machine
allows it, the servers in a namespace of their own; the output says which isolation it got), as
in tests/e2e/test_two_hosts.py. The sides alternate, `--rounds` times each (one, two, one, two,
...), and every round starts from a new warehouse prefix and a new Postgres database, so no side
inherits the other's tables or run history. Per round: the wall time from the first start to
the last end; the CPU seconds of the runs (wait4 over each run's process tree: the run and its
parsing workers) and, separately, of the S3 server and of Postgres over the same span.

On one machine both hosts share its cores, so this measures what running on two hosts costs
(conflicts, waits for the pooled steps, the second run's own start and shared steps), not the
speed-up of two real machines.

    python bench/two_hosts.py --rounds 2 --work /tmp/bench_two_hosts
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, record
from metrics.ingest.normalize import landing_dates
from metrics.sample import generate
from tests.helpers import hosts
from tests.helpers.processes import cpu_seconds

DATES = 8
TIMEOUT_S = 3600.0


def _round(lab: hosts.Lab, raw: str, days: list[date], side: str, index: int) -> dict:
    """One backfill of `days`: by host A alone, or half on A and half on B at once."""
    name = f"{side}-{index}"
    lab.pg.create_database(name.replace("-", "_"))
    env = hosts.run_env(lab, raw, lab.store.uri(name), name.replace("-", "_"))
    a, b = lab.hosts["host-a"], lab.hosts["host-b"]
    half = len(days) // 2
    if side == "one":
        plan = [(a, days[0], days[-1])]
    else:
        plan = [(a, days[0], days[half - 1]), (b, days[half], days[-1])]
    servers = cpu_seconds(lab.store.pid), cpu_seconds(lab.pg.pid)
    began = time.monotonic()
    jobs = [
        host.start(
            hosts.metrics_command(
                "backfill", "--since", first.isoformat(), "--until", last.isoformat()
            ),
            host.env(env),
        )
        for host, first, last in plan
    ]
    for job in jobs:
        code = job.wait(TIMEOUT_S)
        if code != 0:
            raise SystemExit(f"{job.label} exited {code}:\n{job.output()[-5000:]}")
    wall = time.monotonic() - began
    result = {
        "side": side,
        "round": index,
        "wall_s": round(wall, 1),
        "runs_cpu_s": round(sum(j.cpu_s for j in jobs), 1),
        "s3_cpu_s": round(cpu_seconds(lab.store.pid) - servers[0], 1),
        "postgres_cpu_s": round(cpu_seconds(lab.pg.pid) - servers[1], 1),
        "run_walls_s": [round(j.elapsed(), 1) for j in jobs],
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result), flush=True)
    return result


def _summary(results: list[dict]) -> dict:
    out = {}
    for side in ("one", "two"):
        mine = [r for r in results if r["side"] == side]
        out[side] = {
            key: round(statistics.median(r[key] for r in mine), 1)
            for key in ("wall_s", "runs_cpu_s", "s3_cpu_s", "postgres_cpu_s")
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each side")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_two_hosts"))
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--posts-per-account", type=int, default=5)
    parser.add_argument("--interval-minutes", type=int, default=30)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    zone = args.work / "raw"
    generate.generate(
        zone,
        seed=5,
        accounts=args.accounts,
        posts_per_account=args.posts_per_account,
        days=6,
        interval_minutes=args.interval_minutes,
        start=date(2026, 3, 6),
    )
    days = landing_dates(zone)[:DATES]
    assert len(days) == DATES, days
    wanted = {d.isoformat() for d in days}
    files = sum(1 for p in zone.rglob("*") if p.is_file() and p.parent.name in wanted)
    results = []
    with hosts.lab(args.work / "lab") as lab:
        print(lab.describe(), flush=True)
        raw = lab.store.uri("raw")
        hosts.upload(lab.store, zone, raw)
        for index in range(args.rounds):
            for side in ("one", "two"):
                results.append(_round(lab, raw, days, side, index))
        isolation = lab.describe()
    summary = _summary(results)
    record(
        "two_hosts",
        {
            "isolation": isolation,
            "zone": {
                "accounts": args.accounts,
                "posts_per_account": args.posts_per_account,
                "interval_minutes": args.interval_minutes,
                "landing_dates": [days[0].isoformat(), days[-1].isoformat()],
                "files": files,
            },
            "rounds": results,
            "median": summary,
            "machine": machine(),
        },
    )
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
