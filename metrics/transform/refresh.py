"""Incremental maintenance of `post_hourly` and the rollups, per run of landing dates: apply.

Design (docs/incremental.md has the long form): recompute only the posts that have new
observations, and rewrite only the bucket partitions they touch. What to recompute and which
partitions to rewrite is decided by the pure functions of `metrics/transform/plan.py` (pinned
by tests/transform/test_refresh_plan.py without a disk); this module is the orchestration
around them:

1. read the plan's inputs (the new observations, the lookback, posts, follower snapshots, the
   catalog, the ledger's owed entries);
2. call the plan;
3. compute the hours and buckets it names;
4. write them under the ledger's protocol: the `post_hourly` days that change are recorded as
   owed to the rollups before their commit, the landing dates are handed on once that commit
   is made, and the rollups' debts are settled only after their commits
   (metrics/warehouse/ledger.py), so a run that dies anywhere is finished by the next one.
   Every commit carries the step's claim (`epoch`), which fences it against a newer claim.

So a nightly run reads the new landing dates plus a fixed lookback, and writes the days it
touches: its cost follows the new data, not the length of the history.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl

from metrics import faults
from metrics.model import tables
from metrics.model.scopes import Granularity
from metrics.model.tables import (
    FOLLOWER_OBSERVATIONS,
    PERIOD_OBSERVATIONS,
    POST_HOURLY,
    POST_OBSERVATIONS,
    ROLLUP,
)
from metrics.transform import plan
from metrics.transform.increments import post_hourly
from metrics.transform.plan import week_of
from metrics.transform.rollups import build_rollups
from metrics.warehouse import ledger, storage
from metrics.warehouse.location import Warehouse

__all__ = [
    "POSTS_PER_SLICE",
    "HourlyResult",
    "RollupResult",
    "refresh_post_hourly",
    "refresh_rollups",
    "week_of",
]

POSTS_PER_SLICE = 2_000
HOURLY = tables.POST_HOURLY_TABLE


# What the step reads that other steps write: read at one moment's versions (`Inputs`).
INPUT_TABLES: tuple[tables.Table, ...] = (
    tables.CATALOG_ENTITIES_TABLE,
    tables.CATALOG_ACCOUNTS_TABLE,
    tables.POSTS_TABLE,
    tables.POST_OBSERVATIONS_TABLE,
    tables.PERIOD_OBSERVATIONS_TABLE,
    tables.FOLLOWER_OBSERVATIONS_TABLE,
)


@dataclass(frozen=True)
class Inputs:
    """The step's inputs at the versions of one moment, taken after the ledger told it what to
    fold (so every folded date's commits are in them). Reading every input at those versions,
    for the hours and the rollups alike, makes the rollups a function of one state, which the
    step then records (`ledger.cut`) for the views step to publish whole: catalog, posts and
    rollups from the same moment, even while other runs commit."""

    warehouse: Warehouse
    versions: storage.Versions

    @classmethod
    def now(cls, warehouse: Warehouse) -> Inputs:
        return cls(warehouse, storage.current_versions(warehouse, INPUT_TABLES))

    def scan(self, table: tables.Table, values: Iterable[str] | None = None) -> pl.LazyFrame:
        return storage.scan(self.warehouse, table, values, versions=self.versions)

    def read(self, table: tables.Table) -> pl.DataFrame:
        return storage.read(self.warehouse, table, versions=self.versions)

    def landing_dates(self, table: tables.Table) -> list[str]:
        return storage.partition_values(self.warehouse, table, "landing_date", self.versions)


@dataclass
class HourlyResult:
    inputs: Inputs
    landing: list[date] = field(default_factory=list)
    posts_recomputed: int = 0
    posts_read_in_full: int = 0
    days_rewritten: list[str] = field(default_factory=list)
    rows_written: int = 0


@dataclass
class RollupResult:
    full_rebuild: bool
    landing: list[date]
    touched_days: list[date]
    partitions_written: dict[str, list[str]]
    rows_by_table: dict[str, int]
    bytes_by_table: dict[str, int]


def _scan_partitions(
    inputs: Inputs, table: tables.Table, keep: Callable[[date], bool]
) -> pl.LazyFrame:
    """The landing partitions of `table` that `keep` accepts, without the hive key."""
    wanted = [v for v in inputs.landing_dates(table) if keep(date.fromisoformat(v))]
    return inputs.scan(table, wanted).select(list(table.schema))


def _scan_landing(inputs: Inputs, table: tables.Table, landing: list[date]) -> pl.LazyFrame:
    """The observations of these landing dates."""
    wanted = set(landing)
    return _scan_partitions(inputs, table, lambda k: k in wanted)


def _scan_from(inputs: Inputs, table: tables.Table, first: date | None) -> pl.LazyFrame:
    """The observations of the landing dates from `first` on (all of them when None)."""
    return _scan_partitions(inputs, table, lambda k: first is None or k >= first)


def _lifetime_hours(observations: pl.DataFrame, posts: pl.DataFrame) -> pl.DataFrame:
    """`post_hourly` of lifetime observations, a slice of posts at a time: posts are independent,
    and the apportionment's intermediate rows are several times the input, so slicing keeps
    the peak memory of a large backfill bounded."""
    ids = observations["platform_post_id"].unique().sort()
    if ids.len() <= POSTS_PER_SLICE:
        return post_hourly(observations, pl.DataFrame(schema=PERIOD_OBSERVATIONS), posts)
    parts = []
    for start in range(0, ids.len(), POSTS_PER_SLICE):
        chunk = ids.slice(start, POSTS_PER_SLICE).implode()
        parts.append(
            post_hourly(
                observations.filter(pl.col("platform_post_id").is_in(chunk)),
                pl.DataFrame(schema=PERIOD_OBSERVATIONS),
                posts.filter(pl.col("platform_post_id").is_in(chunk)),
            )
        )
    return pl.concat(parts)


STEP = "hourly_and_rollups"


def claim(warehouse: Warehouse, run: str | None = None) -> int:
    """Claim the hourly and rollup step for `run`; the epoch its commits carry."""
    return ledger.claim(warehouse, STEP, run or "")


def refresh_post_hourly(
    warehouse: Warehouse, landing: list[date], epoch: int | None = None, run: str | None = None
) -> HourlyResult:
    """Recompute the hours that the observations of `landing` dates can change, together with
    every landing date an earlier run normalized but did not fold in (the ledger's `hourly`),
    under the step's claim `epoch` (taken here when not given).

    The days that change are recorded in the ledger as owed to the rollups before they are
    committed, and the landing dates handed on to the rollups only after, so a run that dies
    anywhere in here leaves the next run enough to finish the job.
    """
    epoch = claim(warehouse, run) if epoch is None else epoch
    folding = ledger.read(warehouse).hourly
    landing = plan.dates([*landing, *folding])
    result = HourlyResult(Inputs.now(warehouse), landing)  # after the ledger: see Inputs
    _fold_hourly(warehouse, result.inputs, landing, result, epoch, run)
    faults.point("hourly.written")

    def hand_on(state: ledger.Ledger, _epoch: int) -> None:
        state.hourly = ledger.without(state.hourly, folding)
        state.rollup_landing.update(dict.fromkeys(landing, epoch))

    ledger.update(warehouse, hand_on)
    return result


def _fold_hourly(
    warehouse: Warehouse,
    inputs: Inputs,
    landing: list[date],
    result: HourlyResult,
    epoch: int,
    run: str | None,
) -> None:
    """Read the inputs of the hourly plan, make it, compute its hours and merge them in."""
    posts = inputs.read(tables.POSTS_TABLE)
    new_snapshots = (
        _scan_landing(inputs, tables.POST_OBSERVATIONS_TABLE, landing)
        .select("platform_post_id", "collected_at")
        .collect()
    )
    new_days = (
        _scan_landing(inputs, tables.PERIOD_OBSERVATIONS_TABLE, landing)
        .select("platform_post_id", "period_start", "period_end")
        .collect()
    )
    if new_snapshots.is_empty() and new_days.is_empty():
        return
    lookback = _lookback(inputs, new_snapshots)
    work = plan.plan_hourly(landing, new_snapshots, lookback, new_days, posts)
    result.posts_read_in_full = work.from_scratch.height
    result.posts_recomputed = work.posts_recomputed

    fresh: list[pl.DataFrame] = []
    anchored = _from_anchor(lookback, work.from_anchor)
    # On a backfill the lookback is the whole of post_observations, and so is what is taken
    # from it: holding both would double the step's peak memory, so the lookback goes first.
    del lookback
    if anchored.height:
        fresh.append(_anchored_hours(anchored, work.from_anchor, posts))
    del anchored
    if work.from_scratch.height:
        fresh.append(_history_hours(inputs, work.from_scratch, posts))
    if work.youtube_spans.height:
        spans = work.youtube_spans
        rows = (
            _scan_from(inputs, tables.PERIOD_OBSERVATIONS_TABLE, work.youtube_from)
            .filter(pl.col("platform_post_id").is_in(spans["platform_post_id"].implode()))
            .collect()
            .join(spans, on="platform_post_id")
            .filter(pl.col("period_start") >= pl.col("start"))
            .select(list(PERIOD_OBSERVATIONS))
        )
        hours = post_hourly(pl.DataFrame(schema=POST_OBSERVATIONS), rows, posts)
        fresh.append(
            hours.join(spans, on="platform_post_id").filter(_in_region()).select(list(POST_HOURLY))
        )
    # Split by day right away and keep only the split (each day is sorted when merged): on a
    # backfill the new rows are the whole of post_hourly, so every extra copy is its size.
    new_rows = pl.concat(fresh)
    fresh.clear()
    split = new_rows.with_columns(day=pl.col("hour").dt.date()).partition_by(
        "day", as_dict=True, include_key=False
    )
    del new_rows
    by_day = {key[0]: split.pop(key) for key in list(split)}  # the one holder of each day
    _rewrite_hourly(warehouse, work.regions, by_day, result, epoch, run)


def _history_hours(inputs: Inputs, from_scratch: pl.DataFrame, posts: pl.DataFrame) -> pl.DataFrame:
    """`post_hourly` of the posts read in full, from every lifetime observation they have; a
    function of its own so that the history is freed as soon as its hours are made."""
    history = (
        _scan_from(inputs, tables.POST_OBSERVATIONS_TABLE, None)
        .filter(pl.col("platform_post_id").is_in(from_scratch["platform_post_id"].implode()))
        .collect()
    )
    return _lifetime_hours(history, posts)


def _from_anchor(lookback: pl.DataFrame, from_anchor: pl.DataFrame) -> pl.DataFrame:
    """The lookback observations that feed the posts recomputed from an anchor: each post's
    from its anchor on (all of them when the anchor is null: the whole history is there)."""
    return (
        lookback.join(from_anchor.select("platform_post_id", "anchor"), on="platform_post_id")
        .filter(pl.col("anchor").is_null() | (pl.col("collected_at") >= pl.col("anchor")))
        .select(list(POST_OBSERVATIONS))
    )


def _anchored_hours(
    anchored: pl.DataFrame, from_anchor: pl.DataFrame, posts: pl.DataFrame
) -> pl.DataFrame:
    """`post_hourly` of the posts recomputed from an anchor, from the cut on: the first value
    the truncated history invents lands before the cut and is dropped."""
    return (
        _lifetime_hours(anchored, posts)
        .join(from_anchor.select("platform_post_id", "cut"), on="platform_post_id")
        .filter(pl.col("hour") >= pl.col("cut"))
        .select(list(POST_HOURLY))
    )


def _lookback(inputs: Inputs, new_snapshots: pl.DataFrame) -> pl.DataFrame:
    """The lifetime observations of the posts with new snapshots, from the lookback start on."""
    start = plan.lookback_start(new_snapshots)
    if start is None:
        return pl.DataFrame(schema=POST_OBSERVATIONS)
    return (
        _scan_from(inputs, tables.POST_OBSERVATIONS_TABLE, start.date())
        .filter(
            pl.col("platform_post_id").is_in(new_snapshots["platform_post_id"].unique().implode())
        )
        .filter(pl.col("collected_at") >= start)
        .collect()
    )


def _in_region() -> pl.Expr:
    return (pl.col("hour") >= pl.col("start")) & (pl.col("hour") < pl.col("end"))


def _rewrite_hourly(
    warehouse: Warehouse,
    regions: pl.DataFrame,
    by_day: dict[date, pl.DataFrame],
    result: HourlyResult,
    epoch: int,
    run: str | None,
) -> None:
    """Merge the new hours (`by_day`, taken from as each day is staged, so it shrinks as the
    days are done) into every day the regions reach; record the days that change as owed to
    the rollups, then commit them all at once."""
    existing = {date.fromisoformat(v) for v in storage.partition_values(warehouse, HOURLY, "day")}
    first = regions["start"].min()
    assert isinstance(first, datetime)  # a Datetime column with at least one row
    first_day = first.date()
    candidates = {d for d in existing if d >= first_day} | set(by_day)
    batch = storage.Batch(warehouse, HOURLY, epoch, run)  # every day rewritten, one commit
    changed: list[date] = []
    for day in sorted(candidates):
        old = storage.read(warehouse, HOURLY, [day.isoformat()], columns=POST_HOURLY)
        keep = (
            old.join(regions, on="platform_post_id", how="left")
            .filter(~(pl.col("start").is_not_null() & _in_region()))
            .select(list(POST_HOURLY))
        )
        add = by_day.pop(day, None)
        if add is None:
            add = pl.DataFrame(schema=POST_HOURLY)
        merged = pl.concat([keep, add]).sort("platform_post_id", "hour")
        if merged.equals(old):
            continue
        changed.append(day)
        if merged.is_empty():
            batch.drop(day.isoformat())
        else:
            batch.put(day.isoformat(), merged)
            result.days_rewritten.append(day.isoformat())
            result.rows_written += merged.height
        faults.point("hourly.day_written")
    if changed:
        _owe_rollups(warehouse, changed, epoch)
        batch.commit()


def _owe_rollups(warehouse: Warehouse, days: list[date], epoch: int) -> None:
    """Record `days` as owed to the rollups: done before their `post_hourly` commit
    (metrics/warehouse/ledger.py), so a crash between the two leaves the debt on record."""

    def owe(state: ledger.Ledger, _epoch: int) -> None:
        state.rollup_days.update(dict.fromkeys(days, epoch))

    ledger.update(warehouse, owe)
    faults.point("hourly.owed")


def _hourly_days(warehouse: Warehouse, days: Iterable[date]) -> pl.DataFrame:
    values = [d.isoformat() for d in sorted(set(days))]
    return storage.read(warehouse, HOURLY, values, columns=POST_HOURLY)


def refresh_rollups(
    warehouse: Warehouse,
    landing: list[date],
    epoch: int | None = None,
    run: str | None = None,
    inputs: Inputs | None = None,
) -> RollupResult:
    """Rewrite the rollup partitions whose buckets can have changed since they were built,
    under the step's claim `epoch` (taken here when not given), from `inputs` (the ones the
    hourly part read; read now when not given). Once settled, the state the rollups were built
    from and the versions they made are recorded as the ledger's `cut`, what the views step
    publishes.

    What changed comes from the ledger, not from this run's memory: the `post_hourly` days and
    landing dates that any run (this one, or one that died) wrote and did not roll up yet.
    """
    epoch = claim(warehouse, run) if epoch is None else epoch
    owed = ledger.read(warehouse)
    inputs = Inputs.now(warehouse) if inputs is None else inputs
    posts = inputs.read(tables.POSTS_TABLE)
    accounts = inputs.read(tables.CATALOG_ACCOUNTS_TABLE)
    followers = inputs.read(tables.FOLLOWER_OBSERVATIONS_TABLE)
    hourly_days = [
        date.fromisoformat(v) for v in storage.partition_values(warehouse, HOURLY, "day")
    ]
    work = plan.plan_rollups(landing, owed, posts, followers, accounts, hourly_days)
    names = [t.name for t in tables.ROLLUPS.values()]
    written: dict[str, list[str]] = {name: [] for name in names}
    rows = dict.fromkeys(names, 0)
    sizes = dict.fromkeys(names, 0)
    stale = {
        e.name: set(storage.partition_values(warehouse, e, str(e.partition_key)))
        for e in tables.ROLLUPS.values()
    }
    followers = followers.select(list(FOLLOWER_OBSERVATIONS))
    with contextlib.ExitStack() as stack:  # one commit per rollup table, after every week
        batches = {n: stack.enter_context(storage.Batch(warehouse, n, epoch, run)) for n in names}
        # A week at a time, and within it the hour and day grains a day at a time, so memory
        # follows one day of post_hourly (a week for the week grain), not the whole history
        # (metrics/transform/rollups.py: a bucket range rebuilds from its own post_hourly plus
        # the follower snapshots that decide F in it, `_followers_for`).
        for week in work.weeks:
            chunk = _RollupChunk(
                week,
                [d for d in work.days if plan.week_of(d) == week],
                [d for d in work.hourly_days if plan.week_of(d) == week],
            )
            for granularity, value, df in chunk.build(warehouse, posts, accounts, followers):
                table = tables.ROLLUPS[granularity].name
                if df.is_empty():
                    if value.isoformat() in stale[table]:
                        batches[table].drop(value.isoformat())
                    continue
                sizes[table] += batches[table].put(value.isoformat(), df)
                written[table].append(value.isoformat())
                rows[table] += df.height
                faults.point("rollups.partition_written")
        if work.full_rebuild:
            for entry in tables.ROLLUPS.values():
                values = work.weeks if entry.partition_key == "week" else work.days
                for gone in sorted(stale[entry.name] - {v.isoformat() for v in values}):
                    batches[entry.name].drop(gone)
    faults.point("rollups.written")

    made = storage.current_versions(warehouse, (HOURLY, *tables.ROLLUPS.values()))

    def settle(state: ledger.Ledger, _epoch: int) -> None:
        state.rollup_days = ledger.without(state.rollup_days, owed.rollup_days)
        state.rollup_landing = ledger.without(state.rollup_landing, owed.rollup_landing)
        state.catalog_hash = work.catalog_hash
        state.cut = {**inputs.versions, **made}

    ledger.update(warehouse, settle)
    return RollupResult(work.full_rebuild, work.landing, work.days, written, rows, sizes)


@dataclass(frozen=True)
class _RollupChunk:
    """One ISO week of a rollup refresh: its touched days and the `post_hourly` days it holds.
    Hour and day partitions are built one touched day at a time from that day's `post_hourly`
    alone; the week partition from the whole week, which its buckets need."""

    week: date
    days: list[date]
    hourly_days: list[date]

    def build(
        self,
        warehouse: Warehouse,
        posts: pl.DataFrame,
        accounts: pl.DataFrame,
        followers: pl.DataFrame,
    ) -> Iterator[tuple[Granularity, date, pl.DataFrame]]:
        """(granularity, partition date, its rows in ROLLUP order) for each partition of the
        chunk, an empty frame for a partition left without rows; one at a time, so only one
        range's sources and rows are held."""
        for day in self.days:
            source = _hourly_days(warehouse, [day] if day in self.hourly_days else [])
            for granularity in ("hour", "day"):
                yield (
                    granularity,
                    day,
                    _range_rows(source, posts, accounts, followers, day, 1, granularity),
                )
        source = _hourly_days(warehouse, self.hourly_days)
        yield (
            "week",
            self.week,
            _range_rows(source, posts, accounts, followers, self.week, 7, "week"),
        )


def _range_rows(
    source: pl.DataFrame,
    posts: pl.DataFrame,
    accounts: pl.DataFrame,
    followers: pl.DataFrame,
    first: date,
    days: int,
    granularity: Granularity,
) -> pl.DataFrame:
    """The rollup rows of the buckets in `days` days from `first`, from `source` (the range's
    `post_hourly`), the posts published in the range or active in it, and the follower
    snapshots that decide F in it (`_followers_for`). Rows of buckets outside the range (a
    post published on another day, an account's first snapshot after it) are dropped: other
    ranges own them."""
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    end = start + timedelta(days=days)
    in_range = posts.filter(
        pl.col("published_at").is_between(start, end, closed="left")
        | pl.col("platform_post_id").is_in(source["platform_post_id"].unique().implode())
    )
    roll = build_rollups(
        source, in_range, accounts, _followers_for(followers, start, end), granularity=granularity
    )
    return roll.filter(pl.col("bucket_start").is_between(start, end, closed="left")).select(
        list(ROLLUP)
    )


def _followers_for(followers: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    """The snapshots that decide F in [start, end): each account's last instant before `start`,
    every one inside, and each account's first instant from `end` on (all rows of an instant,
    so the (file, line) tie-break still applies). F before an account's first kept snapshot is
    that snapshot's value, which is exactly F at `start`; the first instant after the range is
    what an account first seen later contributes to it. Every later snapshot moves only buckets
    from `end` on, which the range does not keep, so leaving them out changes no kept row and
    keeps each range's follower work to its own snapshots."""
    at = pl.col("collected_at")
    before = followers.filter(at < start)
    after = followers.filter(at >= end)
    return pl.concat(
        [
            before.filter(at == at.max().over("social_account_id")),
            followers.filter(at.is_between(start, end, closed="left")),
            after.filter(at == at.min().over("social_account_id")),
        ]
    )
