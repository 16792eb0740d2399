"""Incremental maintenance of `post_hourly` and the rollups, per run of landing dates.

Design (docs/incremental.md has the long form): recompute only the posts that have new
observations, and rewrite only the bucket partitions they touch.

* A lifetime increment depends only on two consecutive snapshots, so new snapshots of post p
  whose earliest is `e` can only change hours from `floor_hour(t_prev)` on, where `t_prev` is
  the last snapshot before `e`. Rebuilding those hours exactly needs the snapshots back to the
  last one before that hour (`t_anchor`). We read a short window of recent landing dates; a post
  whose anchor is not in it (a gap of weeks, a late first snapshot) is read in full, alone.
* A YouTube per-day row only changes the hours of its own Pacific day.
* `post_hourly` day partitions are rewritten only where the rows of the recomputed hours differ.
* Rollup buckets are rewritten where post_hourly changed, where a new follower snapshot moves F,
  and where a newly known publication time lands; a catalog change rebuilds them all.
* What each step still owes the next is kept in the ledger (metrics/warehouse/ledger.py), written
  before the writes it describes, so a run that dies anywhere is finished by the next one.

So a nightly run reads the new landing dates plus a fixed lookback, and writes the days it
touches: its cost follows the new data, not the length of the history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from metrics import faults
from metrics.model.measures import POST_METRICS
from metrics.model.tables import (
    CATALOG_ACCOUNTS,
    FOLLOWER_OBSERVATIONS,
    PERIOD_OBSERVATIONS,
    POST_HOURLY,
    POST_OBSERVATIONS,
    POSTS,
    ROLLUP,
)
from metrics.transform.increments import post_hourly
from metrics.transform.rollups import build_rollups
from metrics.warehouse import ledger, storage

# How many landing dates before the earliest new snapshot the window reaches back.
LOOKBACK_DAYS = 2
# Times before and after any data, standing for "from the beginning" and "to the end".
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
THE_END = datetime(2200, 1, 1, tzinfo=UTC)
POSTS_PER_SLICE = 5_000
ROLLUP_TABLES = {"hour": "rollup_hour", "day": "rollup_day", "week": "rollup_week"}
ROLLUP_KEYS = {"hour": "day", "day": "day", "week": "week"}


@dataclass
class HourlyResult:
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


def _dates(values: Iterable[date]) -> list[date]:
    return sorted(set(values))


def _read(
    warehouse: Path,
    table: str,
    schema: dict[str, pl.DataType],
    since: date | None,
    landing: list[date] | None = None,
) -> pl.LazyFrame:
    """Scan only the landing partitions needed; an absent table reads as empty."""
    keys = [
        date.fromisoformat(v) for v in storage.partition_values(warehouse, table, "landing_date")
    ]
    if landing is not None:
        keys = [k for k in keys if k in set(landing)]
    elif since is not None:
        keys = [k for k in keys if k >= since]
    if not keys:
        return pl.LazyFrame(schema=schema)
    files = [
        str(storage.partition_path(warehouse, table, "landing_date", k.isoformat())) for k in keys
    ]
    return pl.scan_parquet(files).select(list(schema))


def _posts(warehouse: Path) -> pl.DataFrame:
    path = storage.partition_path(warehouse, "posts", None, None)
    return pl.read_parquet(path) if path.exists() else pl.DataFrame(schema=POSTS)


def _hour_floor(col: str) -> pl.Expr:
    return pl.col(col).dt.truncate("1h")


def _first_hour() -> pl.Expr:
    """The earliest hour a post can have increments in: its publication or its first snapshot,
    so rebuilding a post from scratch only touches the days from there on."""
    return (
        pl.min_horizontal("published_at", "first_seen_at")
        .dt.truncate("1h")
        .fill_null(pl.lit(BEGINNING))
        .alias("first_hour")
    )


def _per_metric_last_before(winners: pl.DataFrame, bound: str, name: str) -> pl.DataFrame:
    """For each post, the earliest over its metrics of "the last snapshot before `bound` where
    that metric is known", counting only metrics known at or after `bound`; `<name>_lacking`
    when one of those metrics has no such snapshot in the window.

    Metrics are known at different snapshots (an Instagram insight can be missing at a pull),
    and an increment spans two snapshots that know *that* metric, so the bounds are per metric.
    One group-by computes all eight.
    """
    before = pl.col("collected_at") < pl.col(bound)
    aggs = []
    for metric in POST_METRICS:
        known = pl.col(metric).is_not_null()
        aggs.append(pl.col("collected_at").filter(known & before).max().alias(f"_b_{metric}"))
        aggs.append((known & ~before).any().alias(f"_n_{metric}"))
    per = winners.group_by("platform_post_id").agg(aggs)
    last = [pl.when(pl.col(f"_n_{m}")).then(pl.col(f"_b_{m}")) for m in POST_METRICS]
    lacking = [pl.col(f"_n_{m}") & pl.col(f"_b_{m}").is_null() for m in POST_METRICS]
    return per.select(
        "platform_post_id",
        pl.min_horizontal(last).alias(name),
        pl.any_horizontal(lacking).alias(f"{name}_lacking"),
    )


def _winners(window: pl.DataFrame) -> pl.DataFrame:
    """One snapshot per (post, instant): the later (file, line) wins (spec §3.1). Duplicate
    instants are rare (re-deliveries), so only those rows are sorted."""
    dup = pl.struct("platform_post_id", "collected_at").is_duplicated()
    resolved = (
        window.filter(dup)
        .sort("platform_post_id", "collected_at", "landing_file", "line")
        .unique(subset=["platform_post_id", "collected_at"], keep="last", maintain_order=True)
    )
    return pl.concat([window.filter(~dup), resolved])


def _lifetime_plan(
    window: pl.DataFrame, new: pl.DataFrame, posts: pl.DataFrame, window_start: datetime
) -> pl.DataFrame:
    """Per post with new snapshots: the first hour to rebuild (`cut`), the earliest snapshot the
    rebuild needs (`t_anchor`), or `full` when the window does not reach that far back.

    Hours before `cut` cannot change: for each metric, the new snapshots only alter intervals
    from its last known snapshot before them (`t_prev`). Rebuilding the hours from `cut` needs,
    for each metric still known from there on, its last known snapshot before `cut`.
    """
    earliest = new.group_by("platform_post_id").agg(pl.col("collected_at").min().alias("e"))
    winners = _winners(window).join(earliest, on="platform_post_id")
    prev = _per_metric_last_before(winners, "e", "t_prev")
    cut = prev.select(
        "platform_post_id", "t_prev_lacking", _hour_floor("t_prev").fill_null(THE_END).alias("cut")
    )
    anchor = _per_metric_last_before(winners.join(cut, on="platform_post_id"), "cut", "t_anchor")
    info = posts.select("platform_post_id", "first_seen_at", _first_hour())
    return (
        earliest.join(cut, on="platform_post_id", how="left")
        .join(anchor, on="platform_post_id", how="left")
        .join(info, on="platform_post_id", how="left")
        .with_columns(
            complete=pl.col("first_seen_at").is_not_null()
            & (pl.col("first_seen_at") >= pl.lit(window_start)),
            # No metric known since the new snapshots: nothing to rebuild.
            cut=pl.col("cut").fill_null(THE_END),
            lacking=pl.col("t_prev_lacking").fill_null(False)
            | pl.col("t_anchor_lacking").fill_null(False),
        )
        .with_columns(
            # Whole history in the window: rebuild all its hours from it.
            cut=pl.when(pl.col("complete")).then(pl.col("first_hour")).otherwise(pl.col("cut")),
            full=~pl.col("complete") & pl.col("lacking"),
        )
    )


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


def refresh_post_hourly(warehouse: Path, landing: list[date]) -> HourlyResult:
    """Recompute the hours that the observations of `landing` dates can change, together with
    every landing date an earlier run normalized but did not fold in (the ledger's `hourly`).

    Days are recorded in the ledger as owed to the rollups before each is written, and the
    landing dates handed on to the rollups only once every day is written, so a run that dies
    anywhere in here leaves the next run enough to finish the job.
    """
    landing = _dates([*landing, *ledger.read(warehouse).hourly])
    result = HourlyResult(landing=landing)
    _fold_hourly(warehouse, landing, result)
    faults.point("hourly.written")

    def hand_on(state: ledger.Ledger) -> None:
        state.hourly -= set(landing)
        state.rollup_landing |= set(landing)

    ledger.update(warehouse, hand_on)
    return result


def _fold_hourly(warehouse: Path, landing: list[date], result: HourlyResult) -> None:
    posts = _posts(warehouse)
    new_life = (
        _read(warehouse, "post_observations", POST_OBSERVATIONS, None, landing)
        .select("platform_post_id", "collected_at")
        .collect()
    )
    new_per = (
        _read(warehouse, "period_observations", PERIOD_OBSERVATIONS, None, landing)
        .select("platform_post_id", "period_start", "period_end")
        .collect()
    )
    # Newly known publication times move a first value into another hour.
    republished = set(
        posts.filter(pl.col("published_known_since").is_in(landing))["platform_post_id"]
    )
    if new_life.is_empty() and new_per.is_empty():
        return

    region: list[pl.DataFrame] = []  # (post, from, to) hours to replace, per post
    fresh: list[pl.DataFrame] = []

    if not new_life.is_empty():
        window_start = datetime.combine(
            new_life["collected_at"].min().date() - timedelta(days=LOOKBACK_DAYS),
            datetime.min.time(),
            tzinfo=UTC,
        )
        life_posts = new_life["platform_post_id"].unique()
        window = (
            _read(warehouse, "post_observations", POST_OBSERVATIONS, window_start.date())
            .filter(pl.col("platform_post_id").is_in(life_posts.implode()))
            .filter(pl.col("collected_at") >= window_start)
            .collect()
        )
        plan = _lifetime_plan(window, new_life, posts, window_start).with_columns(
            # A publication time learned now moves the first value: rebuild from the start,
            # which the window already holds when the whole history is in it.
            full=pl.col("full")
            | (pl.col("platform_post_id").is_in(list(republished)) & ~pl.col("complete")),
            cut=pl.when(pl.col("platform_post_id").is_in(list(republished)))
            .then(pl.col("first_hour"))
            .otherwise(pl.col("cut")),
        )
        full_ids = plan.filter("full")["platform_post_id"]
        windowed = plan.filter(~pl.col("full"))
        result.posts_read_in_full = full_ids.len()
        if full_ids.len():
            history = (
                _read(warehouse, "post_observations", POST_OBSERVATIONS, None)
                .filter(pl.col("platform_post_id").is_in(full_ids.implode()))
                .collect()
            )
            fresh.append(_lifetime_hours(history, posts))
            region.append(
                posts.filter(pl.col("platform_post_id").is_in(full_ids.implode())).select(
                    "platform_post_id", _first_hour().alias("start"), end=pl.lit(THE_END)
                )
            )
        if windowed.height:
            # From each post's anchor on is all that feeds the hours from its cut: the first
            # value this truncated history invents lands before the cut and is dropped.
            part = (
                window.join(
                    windowed.select("platform_post_id", "t_anchor", "complete"),
                    on="platform_post_id",
                )
                .filter(
                    pl.col("complete")
                    | pl.col("t_anchor").is_null()
                    | (pl.col("collected_at") >= pl.col("t_anchor"))
                )
                .select(list(POST_OBSERVATIONS))
            )
            hours = _lifetime_hours(part, posts)
            cuts = windowed.select("platform_post_id", "cut")
            fresh.append(
                hours.join(cuts, on="platform_post_id")
                .filter(pl.col("hour") >= pl.col("cut"))
                .select(list(POST_HOURLY))
            )
            region.append(cuts.rename({"cut": "start"}).with_columns(end=pl.lit(THE_END)))
        result.posts_recomputed += plan.height

    if not new_per.is_empty():
        spans = new_per.group_by("platform_post_id").agg(
            pl.col("period_start").min().alias("start"), pl.col("period_end").max().alias("end")
        )
        # Every revision of a day lands on or after that day began, so this reaches them all.
        since = spans["start"].min().date() - timedelta(days=1)
        rows = (
            _read(warehouse, "period_observations", PERIOD_OBSERVATIONS, since)
            .filter(pl.col("platform_post_id").is_in(spans["platform_post_id"].implode()))
            .collect()
            .join(spans, on="platform_post_id")
            .filter(pl.col("period_start") >= pl.col("start"))
            .select(list(PERIOD_OBSERVATIONS))
        )
        hours = post_hourly(pl.DataFrame(schema=POST_OBSERVATIONS), rows, posts)
        fresh.append(
            hours.join(spans, on="platform_post_id")
            .filter((pl.col("hour") >= pl.col("start")) & (pl.col("hour") < pl.col("end")))
            .select(list(POST_HOURLY))
        )
        region.append(spans)
        result.posts_recomputed += spans.height

    regions = (
        pl.concat(region)
        .group_by("platform_post_id")
        .agg(pl.col("start").min(), pl.col("end").max())
    )
    new_rows = pl.concat(fresh).sort("platform_post_id", "hour")
    _rewrite_hourly(warehouse, regions, new_rows, result)


def _in_region() -> pl.Expr:
    return (pl.col("hour") >= pl.col("start")) & (pl.col("hour") < pl.col("end"))


def _rewrite_hourly(
    warehouse: Path, regions: pl.DataFrame, new_rows: pl.DataFrame, result: HourlyResult
) -> None:
    existing = {
        date.fromisoformat(v) for v in storage.partition_values(warehouse, "post_hourly", "day")
    }
    first_day = regions["start"].min().date()
    candidates = {d for d in existing if d >= first_day}
    candidates |= set(new_rows["hour"].dt.date().unique().to_list())
    by_day = new_rows.with_columns(day=pl.col("hour").dt.date()).partition_by(
        "day", as_dict=True, include_key=False
    )
    for day in sorted(candidates):
        path = storage.partition_path(warehouse, "post_hourly", "day", day.isoformat())
        old = pl.read_parquet(path) if path.exists() else pl.DataFrame(schema=POST_HOURLY)
        keep = (
            old.join(regions, on="platform_post_id", how="left")
            .filter(~(pl.col("start").is_not_null() & _in_region()))
            .select(list(POST_HOURLY))
        )
        add = by_day.get((day,), pl.DataFrame(schema=POST_HOURLY))
        merged = pl.concat([keep, add]).sort("platform_post_id", "hour")
        if merged.equals(old):
            continue
        ledger.update(warehouse, lambda state, day=day: state.rollup_days.add(day))
        if merged.is_empty():
            storage.remove_partitions(warehouse, "post_hourly", "day", [day.isoformat()])
        else:
            storage.write_partition(warehouse, "post_hourly", merged, "day", day.isoformat())
            result.days_rewritten.append(day.isoformat())
            result.rows_written += merged.height
        faults.point("hourly.day_written")


def _catalog_hash(accounts: pl.DataFrame) -> str:
    return hashlib.sha256(accounts.sort("social_account_id").write_csv().encode()).hexdigest()


def week_of(day: date) -> date:
    """The Monday that starts `day`'s ISO week, the key of its `rollup_week` partition."""
    return day - timedelta(days=day.weekday())


def _hourly_days(warehouse: Path, days: Iterable[date]) -> pl.DataFrame:
    files = [
        str(p)
        for d in sorted(set(days))
        if (p := storage.partition_path(warehouse, "post_hourly", "day", d.isoformat())).exists()
    ]
    return pl.read_parquet(files) if files else pl.DataFrame(schema=POST_HOURLY)


def _follower_touched_days(
    followers: pl.DataFrame, landing: list[date], days: set[date]
) -> set[date]:
    """Days whose F can change: from each account's earliest new snapshot to the last day, or
    from the very first day when that snapshot is the account's first (F before it is its value).
    """
    new = followers.filter(pl.col("landing_date").is_in(landing))
    if new.is_empty() or not days:
        return set()
    first = followers.group_by("social_account_id").agg(pl.col("collected_at").min().alias("f"))
    starts = (
        new.group_by("social_account_id")
        .agg(pl.col("collected_at").min().alias("c"))
        .join(first, on="social_account_id")
    )
    begin = min(days) if (starts["c"] <= starts["f"]).any() else starts["c"].min().date()
    return {begin + timedelta(days=i) for i in range((max(days) - begin).days + 1)}


def refresh_rollups(warehouse: Path, landing: list[date]) -> RollupResult:
    """Rewrite the rollup partitions whose buckets can have changed since they were built.

    What changed comes from the ledger, not from this run's memory: the `post_hourly` days and
    landing dates that any run (this one, or one that died) wrote and did not roll up yet.
    """
    owed = ledger.read(warehouse)
    landing = _dates([*landing, *owed.rollup_landing])
    posts = _posts(warehouse)
    accounts_path = storage.partition_path(warehouse, "catalog_accounts", None, None)
    accounts = (
        pl.read_parquet(accounts_path)
        if accounts_path.exists()
        else pl.DataFrame(schema=CATALOG_ACCOUNTS)
    )
    followers = _followers_with_landing(warehouse)
    hourly_days = {
        date.fromisoformat(v) for v in storage.partition_values(warehouse, "post_hourly", "day")
    }
    published_days = set(posts["published_at"].drop_nulls().dt.date().unique().to_list())
    follower_days = set(followers["collected_at"].dt.date().unique().to_list())
    all_days = hourly_days | published_days | follower_days
    catalog_hash = _catalog_hash(accounts)
    full = owed.catalog_hash != catalog_hash
    if full:
        touched = set(all_days)
    else:
        touched = set(owed.rollup_days)
        touched |= set(
            posts.filter(pl.col("published_known_since").is_in(landing))["published_at"]
            .drop_nulls()
            .dt.date()
            .to_list()
        )
        touched |= _follower_touched_days(followers, landing, all_days)
    written: dict[str, list[str]] = {t: [] for t in ROLLUP_TABLES.values()}
    rows = dict.fromkeys(ROLLUP_TABLES.values(), 0)
    sizes = dict.fromkeys(ROLLUP_TABLES.values(), 0)
    weeks = {week_of(d) for d in touched}
    # Hour and day buckets need only the touched days; week buckets need their whole weeks.
    week_source = _hourly_days(
        warehouse, {w + timedelta(days=i) for w in weeks for i in range(7)} & hourly_days
    )
    day_source = week_source.filter(pl.col("hour").dt.date().is_in(sorted(touched)))
    start = datetime.combine(min(weeks, default=date.max), datetime.min.time(), tzinfo=UTC)
    obs = _followers_from(followers.select(list(FOLLOWER_OBSERVATIONS)), start)
    in_range = posts.filter(
        (pl.col("published_at") >= start)
        | pl.col("platform_post_id").is_in(week_source["platform_post_id"].unique().implode())
    )
    for granularity, table in ROLLUP_TABLES.items():
        key = ROLLUP_KEYS[granularity]
        values = sorted(weeks) if granularity == "week" else sorted(touched)
        source = week_source if granularity == "week" else day_source
        roll = build_rollups(source, in_range, accounts, obs, granularity=granularity)
        roll = roll.with_columns(_p=pl.col("bucket_start").dt.date())
        parts = roll.partition_by("_p", as_dict=True, include_key=False)
        stale = set(storage.partition_values(warehouse, table, key))
        for value in values:
            df = parts.get((value,), pl.DataFrame(schema=ROLLUP)).select(list(ROLLUP))
            if df.is_empty():
                if value.isoformat() in stale:
                    storage.remove_partitions(warehouse, table, key, [value.isoformat()])
                continue
            _, size = storage.write_partition(warehouse, table, df, key, value.isoformat())
            written[table].append(value.isoformat())
            rows[table] += df.height
            sizes[table] += size
            faults.point("rollups.partition_written")
        if full:
            gone = stale - {v.isoformat() for v in values}
            storage.remove_partitions(warehouse, table, key, sorted(gone))
    faults.point("rollups.written")

    def settle(state: ledger.Ledger) -> None:
        state.rollup_days -= owed.rollup_days
        state.rollup_landing -= set(landing)
        state.catalog_hash = catalog_hash

    ledger.update(warehouse, settle)
    return RollupResult(full, landing, sorted(touched), written, rows, sizes)


def _followers_from(followers: pl.DataFrame, start: datetime) -> pl.DataFrame:
    """The snapshots that decide F from `start` on: every one after it, and each account's last
    one before it (all rows of that instant, so the (file, line) tie-break still applies).
    F before an account's first kept snapshot is that snapshot's value, which is exactly F at
    `start`; so rollups of buckets from `start` on come out the same as from the whole history.
    """
    before = followers.filter(pl.col("collected_at") < start)
    anchors = before.filter(
        pl.col("collected_at") == pl.col("collected_at").max().over("social_account_id")
    )
    return pl.concat([anchors, followers.filter(pl.col("collected_at") >= start)])


def _followers_with_landing(warehouse: Path) -> pl.DataFrame:
    """Every follower snapshot with its landing date (the hive key), to tell new ones apart."""
    if not storage.partition_values(warehouse, "follower_observations", "landing_date"):
        return pl.DataFrame(schema={**FOLLOWER_OBSERVATIONS, "landing_date": pl.Date()})
    return (
        storage.scan(warehouse, "follower_observations")
        .select(*FOLLOWER_OBSERVATIONS, "landing_date")
        .collect()
    )
