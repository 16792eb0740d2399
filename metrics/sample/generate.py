"""Deterministic, streaming sample landing zone (spec §2) with a machine-readable truth.

Why this exists: the pipeline has to be exercised on realistic, messy input at scale (late and
re-delivered files, gzip, counters that dip, revised per-day rows, every kind of bad line), and
its end-to-end numbers must be checkable without trusting the pipeline itself. The generator
therefore writes the raw exports *and* a truth file computed from exactly the bytes it wrote.

Determinism: every account draws from its own RNG seeded by ``(seed, account index)`` and every
collector batch (a fixed group of at most ``BATCH_SIZE`` accounts of one platform) from RNGs seeded
by ``(seed, platform, batch)``. Batches are independent work units, so a process pool changes
speed, never bytes.

Layout (``<out>`` is the landing-zone root)::

    catalog/<YYYY-MM-DD>/catalog.json                              # `start`, then a newer snapshot
    <platform>/<landing date>/<slug>-<YYYYMMDD>T<HH>-c<NN>.jsonl[.gz]
    <platform>/<landing date>/<slug>-<YYYYMMDD>T<HH>-c<NN>-resent.jsonl[.gz]   # exact re-delivery

``<YYYYMMDD>T<HH>`` is the UTC collection hour of the lines inside, ``c<NN>`` the collector batch,
``<slug>`` the endpoint (``video_list``, ``business_get``, ``media``, ``user``, ``videos_list``,
``reports_query``, ``channels_list``, ``tweets``, ``users``). The landing date is the collection
day, except for late files (1–3 days later) and re-deliveries (same bytes, 0–2 days after the
original landed).

The truth file's format is in `metrics.sample.truth`, the reason codes of the bad inputs in
`metrics.sample.defects`. Modules by concern: `catalog` (the entity tree and the account move),
`timeline` (each account's posts, curves and polls), `bodies` (one module per platform's
response shapes), `defects`, `writer` (files, gzip, late and re-delivered files), `workers`
(batches in a process pool) and `truth`; this module keeps `generate()` and the command line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

from metrics import config
from metrics.sample.batch import BATCH_SIZE, GenerateSummary, Task, TaskResult
from metrics.sample.catalog import build_catalog, move_one_account
from metrics.sample.defects import REASONS
from metrics.sample.platforms import ENDPOINTS, PLATFORMS, TRUTH_METRICS
from metrics.sample.truth import write_truth
from metrics.sample.workers import run_batches

__all__ = [
    "ENDPOINTS",
    "PLATFORMS",
    "REASONS",
    "TRUTH_METRICS",
    "GenerateSummary",
    "add_arguments",
    "generate",
    "main",
    "run",
]


def generate(
    out: Path,
    *,
    seed: int = 7,
    accounts: int = 12,
    posts_per_account: int = 5,
    days: int = 3,
    start: date = date(2026, 3, 2),
    interval_minutes: int = 30,
    truth: Path | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
    overwrite: bool = False,
) -> GenerateSummary:
    """Write a landing zone under `out` (and the truth file); byte-identical for a given seed.

    `workers` only changes speed. `overwrite` removes an earlier landing zone's `catalog/` and
    platform folders first; without it their presence is refused, because mixing two runs would
    silently break the truth. Other files under `out` are left alone.
    """
    if accounts < len(PLATFORMS):
        raise ValueError("accounts must be at least 4 (one per platform)")
    if posts_per_account < 1 or days < 1 or interval_minutes < 1:
        raise ValueError("posts_per_account, days and interval_minutes must be positive")
    began = time.perf_counter()
    say = progress or (lambda _msg: None)
    out = Path(out)
    earlier = [out / name for name in ("catalog", *PLATFORMS) if (out / name).exists()]
    if earlier and not overwrite:
        raise FileExistsError(
            f"{out} already holds a landing zone (use overwrite=True / --overwrite)"
        )
    for folder in earlier:
        shutil.rmtree(folder)
    out.mkdir(parents=True, exist_ok=True)

    summary = GenerateSummary()
    catalog, accs = build_catalog(seed, accounts)
    newer, move = move_one_account(catalog, seed)
    move["landing_date"] = (start + timedelta(days=days // 2 if days >= 3 else 1)).isoformat()
    for landing, body in ((start.isoformat(), catalog), (move["landing_date"], newer)):
        folder = out / "catalog" / landing
        folder.mkdir(parents=True, exist_ok=True)
        payload = orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"
        (folder / "catalog.json").write_bytes(payload)
        summary.catalogs += 1
        summary.files += 1
        summary.bytes += len(payload)
    say(f"catalog: {accounts} accounts, {len(catalog['project_layers'])} layers, 2 snapshots")

    foreign = {p: next(a for a in accs if a.platform == p) for p in PLATFORMS}
    start_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()) * 1000
    tasks = []
    for platform in PLATFORMS:
        mine = [a for a in accs if a.platform == platform]
        for b in range(0, len(mine), BATCH_SIZE):
            tasks.append(
                Task(
                    platform=platform,
                    batch=b // BATCH_SIZE,
                    accounts=tuple(mine[b : b + BATCH_SIZE]),
                    foreign=foreign,
                    seed=seed,
                    start_ms=start_ms,
                    days=days,
                    interval_ms=interval_minutes * 60_000,
                    posts_per_account=posts_per_account,
                    out=str(out),
                )
            )
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    results: dict[tuple[str, int], TaskResult] = {}

    def done(result: TaskResult) -> None:
        results[(result.platform, result.batch)] = result
        s = result.summary
        say(
            f"[{len(results)}/{len(tasks)}] {result.platform} c{result.batch:02d}: "
            f"{s.files} files, {s.lines} lines, {s.bytes / 1e6:.1f} MB"
        )

    run_batches(tasks, n_workers, done)

    posts, followers, bad = [], [], []
    for task in tasks:
        result = results[(task.platform, task.batch)]
        summary.add(result.summary)
        posts.extend(result.posts)
        followers.extend(result.followers)
        bad.extend(result.bad)
    if truth is not None:
        generator = {
            "seed": seed,
            "accounts": accounts,
            "posts_per_account": posts_per_account,
            "days": days,
            "start": start.isoformat(),
            "interval_minutes": interval_minutes,
        }
        write_truth(Path(truth), generator, move, posts, followers, bad)
    summary.seconds = round(time.perf_counter() - began, 3)
    say(
        f"done: {summary.files} files, {summary.lines} lines, {summary.bytes / 1e6:.1f} MB "
        f"on disk, {summary.snapshots} post snapshots in {summary.seconds:.1f}s"
    )
    return summary


def add_arguments(parser: argparse.ArgumentParser, out_required: bool = True) -> None:
    """Shared by `python -m metrics.sample.generate` and the `metrics generate` subcommand (whose
    --out defaults to --raw)."""
    where = "landing-zone root to write" + ("" if out_required else " (default: --raw)")
    parser.add_argument("--out", type=Path, required=out_required, help=where)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=12)
    parser.add_argument("--posts-per-account", type=int, default=5)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--start", type=config.iso_date, default=date(2026, 3, 2))
    parser.add_argument("--interval-minutes", type=int, default=30)
    parser.add_argument("--truth", type=Path, default=None, help="also write the truth JSON here")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: CPUs)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier landing zone under --out"
    )


def run(args: argparse.Namespace) -> int:
    """Runs the generator from parsed arguments; progress goes to stderr, the summary to stdout."""
    summary = generate(
        args.out,
        seed=args.seed,
        accounts=args.accounts,
        posts_per_account=args.posts_per_account,
        days=args.days,
        start=args.start,
        interval_minutes=args.interval_minutes,
        truth=args.truth,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
        workers=args.workers,
        overwrite=args.overwrite,
    )
    sys.stdout.write(orjson.dumps(asdict(summary), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="metrics generate", description="Write a deterministic sample landing zone."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
