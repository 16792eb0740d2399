"""Ingest steps the Dagster assets call: normalize a landing date, rebuild posts and the catalog.

Each step takes paths and returns plain statistics, so it runs the same from a test, the CLI or an
asset. Partitions are rewritten whole, each step's writes to a table as one Delta commit
(metrics/warehouse/storage.py), which is what makes a re-run give identical rows.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from multiprocessing import get_context

import polars as pl

from metrics import faults
from metrics.ingest.catalog import Catalog, load_catalog
from metrics.ingest.normalize import (
    NORMALIZED_TABLES,
    Accounting,
    NormalizedPartition,
    normalize_partition,
    partition_entries,
)
from metrics.model.tables import (
    CATALOG_ACCOUNTS_TABLE,
    CATALOG_ENTITIES_TABLE,
    MEDIA,
    POST_SIGHTINGS,
    POST_SIGHTINGS_TABLE,
    POSTS,
    POSTS_TABLE,
)
from metrics.objects import RawRoot
from metrics.warehouse import ledger, storage
from metrics.warehouse.location import Warehouse


@dataclass(frozen=True)
class IngestStats:
    landing_date: date
    accounting: Accounting
    rows: dict[str, int]
    bytes_written: int
    paths: dict[str, str]
    staged: tuple[storage.Staged, ...]  # the partition files, committed by the caller at once


def _exit_with_parent(parent: int) -> None:
    """A worker whose run was killed would otherwise wait on its queue forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def worker_pool() -> ProcessPoolExecutor:
    """Processes for parsing (METRICS_WORKERS, default: every CPU). Spawned, not forked: a fork
    of a process whose polars thread pool is running can deadlock."""
    workers = int(os.environ.get("METRICS_WORKERS") or os.cpu_count() or 1)
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


def _write(warehouse: Warehouse, part: NormalizedPartition) -> IngestStats:
    """Stage the date's partition of every normalized table (not visible until committed)."""
    rows: dict[str, int] = {}
    paths: dict[str, str] = {}
    staged = []
    written = 0
    for table in NORMALIZED_TABLES:
        df = part.tables[table]
        file = storage.stage(warehouse, table, part.landing_date.isoformat(), df)
        staged.append(file)
        rows[table] = df.height
        paths[table] = storage.table_uri(warehouse, table)
        written += file.action.size
        faults.point("normalize.table_written")
    return IngestStats(part.landing_date, part.accounting, rows, written, paths, tuple(staged))


def commit_normalized(
    warehouse: Warehouse,
    results: list[IngestStats],
    epoch: int | None = None,
    run: str | None = None,
) -> dict[str, int | None]:
    """One commit per normalized table holding every date of the run, fenced by the claim's
    `epoch` (metrics/warehouse/storage.py `Batch`); the versions made."""
    versions: dict[str, int | None] = {}
    for table in NORMALIZED_TABLES:
        with storage.Batch(warehouse, table, epoch, run) as batch:
            for result in results:
                for file in result.staged:
                    if file.table == table:
                        batch.adopt(file)
        versions[table] = batch.version
        faults.point("normalize.table_committed")
    return versions


def ingest_landing_date(
    raw: RawRoot,
    warehouse: Warehouse,
    landing_date: date,
    catalog: Catalog,
    pool: Executor | None = None,
    today: date | None = None,
    first: date | None = None,
) -> IngestStats:
    """Normalize one landing date and stage its partition of every normalized table, for
    `commit_normalized` to publish with the run's other dates in one commit per table. `today`
    (UTC) and `first` (the first partition) fix which files are stray, so a run and its check
    judge alike."""
    return _write(warehouse, normalize_partition(raw, landing_date, catalog, pool, today, first))


def ingest_landing_dates(
    raw: RawRoot,
    warehouse: Warehouse,
    dates: list[date],
    catalog: Catalog,
    pool: Executor,
    today: date | None = None,
    first: date | None = None,
) -> Iterator[IngestStats]:
    """Normalize many landing dates: one date's files are split among the workers; several
    dates go whole to the workers, largest first, so each worker parses, merges and writes its
    own dates and this process stays idle (merging here would leave results piling up)."""
    if len(dates) == 1:
        yield ingest_landing_date(raw, warehouse, dates[0], catalog, pool, today, first)
        return

    def size(day: date) -> int:
        return sum(e.size for e in partition_entries(raw, day, today, first) if e.kind == "data")

    ordered = sorted(dates, key=size, reverse=True)
    n = len(ordered)
    yield from pool.map(
        ingest_landing_date,
        [raw] * n,
        [warehouse] * n,
        ordered,
        [catalog] * n,
        [None] * n,
        [today] * n,
        [first] * n,
    )


LEFT_POLL_SECONDS = 2.0


def normalize_landing_dates(
    raw: RawRoot,
    warehouse: Warehouse,
    dates: list[date],
    catalog: Catalog,
    pool: Executor,
    today: date | None = None,
    first: date | None = None,
    owner: str | None = None,
    alive: ledger.Alive | None = None,
    announce: Callable[[ledger.Normalizing], None] | None = None,
    wait_for_left: float = 0.0,
) -> Iterator[IngestStats]:
    """`ingest_landing_dates` for `dates` and for every date a dead run left half-normalized or
    requested (metrics/warehouse/ledger.py), so that a run of any landing date repairs what a
    crash tore; only once all are committed does the ledger hand them on to the hourly step.
    `owner` is the run (the claim's holder), `alive` tells whether another claim's run still
    runs, and `announce` hears each claim before its dates are parsed (what was adopted, what
    left).

    A date of `dates` that a live run is normalizing is left to it, and waited for, up to
    `wait_for_left` seconds: handed on by that run, it is done; if that run is judged dead
    meanwhile (a run killed on another host is judged so only once its heartbeat is stale),
    this run claims the date and normalizes it, so that a run started right after another
    host's crash still loads its own dates."""
    judge = alive or ledger.claimed_here
    wanted = list(dates)
    deadline = time.monotonic() + wait_for_left
    while wanted:
        with ledger.normalizing(warehouse, wanted, owner, alive) as claim:
            if announce is not None:
                announce(claim)
            results = []
            for result in ingest_landing_dates(
                raw, warehouse, claim.dates, catalog, pool, today, first
            ):
                results.append(result)
                yield result
            commit_normalized(warehouse, results, claim.epoch, claim.owner)
            ledger.normalized(warehouse, claim)
        faults.point("normalize.written")
        wanted = _taken_over(warehouse, claim.left, judge, deadline)


def _taken_over(
    warehouse: Warehouse, left: dict[date, str], alive: ledger.Alive, deadline: float
) -> list[date]:
    """Wait, until `deadline`, for the dates `left` to live runs: those still held by a run now
    judged dead, to claim again (empty once every one was handed on, or at the deadline)."""
    pending = dict(left)
    while pending and time.monotonic() < deadline:
        time.sleep(min(LEFT_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        held = ledger.read(warehouse).normalize
        pending = {d: o for d, o in pending.items() if d in held and held[d].owner == o}
        dead = sorted(d for d, o in pending.items() if not alive(o))
        if dead:
            return dead
    return []


def write_catalog_tables(
    raw: RawRoot, warehouse: Warehouse, catalog: Catalog | None = None, owner: str | None = None
) -> Catalog:
    """Publish the newest catalog (`catalog`, when the caller has loaded it already) as
    `catalog_entities` and `catalog_accounts`, under a claim of the `catalog` step."""
    catalog = catalog or load_catalog(raw)
    epoch = ledger.claim(warehouse, "catalog", owner or "")
    storage.write_partition(
        warehouse, CATALOG_ENTITIES_TABLE, catalog.entities, epoch=epoch, run=owner
    )
    faults.point("catalog.entities_written")
    storage.write_partition(
        warehouse, CATALOG_ACCOUNTS_TABLE, catalog.accounts, epoch=epoch, run=owner
    )
    return catalog


def rebuild_posts(warehouse: Warehouse, owner: str | None = None) -> pl.DataFrame:
    """One row per post from every partition's sightings; the newest sighting names the account.

    Sightings are one row per post per landing date, so this reads a table the size of
    posts × landing dates, never the observations. The claim is taken before the sightings are
    read, so a later claim always read later sightings.
    """
    epoch = ledger.claim(warehouse, "posts", owner or "")
    if not storage.partition_values(warehouse, POST_SIGHTINGS_TABLE, "landing_date"):
        posts = POSTS_TABLE.empty()
    else:
        order = ["collected_at", "landing_file", "line"]
        sightings = storage.scan(warehouse, POST_SIGHTINGS_TABLE).select(
            *POST_SIGHTINGS, "landing_date"
        )
        published = (
            sightings.filter(pl.col("published_at").is_not_null())
            .sort(order)
            .group_by("platform_post_id")
            .agg(
                pl.col("published_at").last(),
                pl.col("landing_date").min().alias("published_known_since"),
            )
        )
        newest = (
            sightings.sort(order)
            .group_by("platform_post_id")
            .agg(
                pl.col("platform").last(),
                pl.col("native_id").last(),
                pl.col("social_account_id").last(),
                *(pl.col(c).drop_nulls().last() for c in MEDIA),
                pl.col("first_seen_at").min(),
                pl.col("collected_at").max().alias("last_seen_at"),
            )
        )
        posts = (
            newest.join(published, on="platform_post_id", how="left")
            .select(list(POSTS))
            .sort("platform_post_id")
            .collect()
        )
    storage.write_partition(warehouse, POSTS_TABLE, posts, epoch=epoch, run=owner)
    faults.point("posts.written")
    return posts
