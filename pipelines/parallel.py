"""`metrics backfill --parallel N`: a range of landing dates as N runs at once, one process each.

Landing dates are independent until the steps that rewrite shared partitions, so the range is cut
into N contiguous sub-ranges of about equal landing bytes, each backfilled by its own `metrics
backfill --since A --until B` process (its own Dagster run, in the same instance). Their
normalize steps run side by side and write disjoint landing-date partitions; `catalog`, `posts`,
`hourly_and_rollups` and `warehouse_views` are in the `warehouse_writer` / `duckdb_writer` pools
(limit 1), so those steps take turns across the runs, and the ledger
(metrics/warehouse/ledger.py) makes the first run to reach the hourly step fold in every date
any run has finished normalizing: nothing is lost, whichever order they finish in. The tables
equal one sequential backfill's (tests/e2e/test_parallel_runs.py).

Each child gets `METRICS_WORKERS = CPUs // N` (unless set), so N runs do not oversubscribe the
machine. Output is relayed line by line, prefixed with the child's range; SIGINT/SIGTERM are
passed on (each child then fails its run and frees its slots). The exit status is 0 when every
run succeeded, else the first failing child's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import date, timedelta
from types import FrameType

from metrics import config
from metrics.ingest import layout
from metrics.objects import RawRoot

WORKERS_ENV = "METRICS_WORKERS"


def landing_bytes(raw: RawRoot, first: date, last: date) -> dict[date, int]:
    """Bytes landed for each date first..last (0 for a date without files)."""
    sizes = {first + timedelta(days=i): 0 for i in range((last - first).days + 1)}
    for entry in layout.walk(raw):
        if entry.landing_date in sizes:
            sizes[entry.landing_date] += entry.size
    return sizes


def split_range(sizes: dict[date, int], parts: int) -> list[tuple[date, date]]:
    """At most `parts` contiguous (first, last) ranges covering every date of `sizes`, cut where
    the running total of bytes (each date at least 1) crosses the next equal share."""
    days = sorted(sizes)
    parts = max(1, min(parts, len(days)))
    weights = [max(1, sizes[d]) for d in days]
    total = sum(weights)
    ranges: list[tuple[date, date]] = []
    start = 0
    running = 0
    for i, weight in enumerate(weights):
        running += weight
        left_days = len(days) - i - 1
        left_parts = parts - len(ranges) - 1
        due = running * parts >= total * (len(ranges) + 1)
        if left_parts > 0 and (due or left_days == left_parts):
            ranges.append((days[start], days[i]))
            start = i + 1
    ranges.append((days[start], days[-1]))
    return ranges


def _relay(proc: subprocess.Popen[str], prefix: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        print(f"{prefix} {line}", end="", flush=True)


def run_parallel(first: date, last: date, parts: int) -> int:
    """Backfill first..last as up to `parts` concurrent runs; the exit status (see module)."""
    ranges = split_range(landing_bytes(config.raw_dir(), first, last), parts)
    env = dict(os.environ)
    if not env.get(WORKERS_ENV):
        env[WORKERS_ENV] = str(max(1, (os.cpu_count() or 1) // len(ranges)))
    print(
        f"backfilling {first} .. {last} as {len(ranges)} parallel runs: "
        + ", ".join(f"{a}..{b}" for a, b in ranges),
        flush=True,
    )
    procs: list[subprocess.Popen[str]] = []
    relays: list[threading.Thread] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for a, b in ranges:
            command = ["backfill", "--since", a.isoformat(), "--until", b.isoformat()]
            proc = subprocess.Popen(
                [sys.executable, "-m", "pipelines.cli", *command],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            procs.append(proc)
            relay = threading.Thread(target=_relay, args=(proc, f"[{a}..{b}]"), daemon=True)
            relay.start()
            relays.append(relay)
        codes = [proc.wait() for proc in procs]
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    for relay in relays:
        relay.join()
    failed = [(r, c) for r, c in zip(ranges, codes, strict=True) if c != 0]
    for (a, b), code in failed:
        print(f"run {a}..{b} failed (exit {code})", file=sys.stderr, flush=True)
    return failed[0][1] if failed else 0
