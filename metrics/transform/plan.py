"""What an incremental run recomputes and rewrites, decided from frames in memory.

Planning is pure: these functions take the new observations, the lookback observations, the
posts, the follower snapshots, the catalog and the ledger's owed entries as frames and values,
and return a plan; they never read or write the warehouse. `metrics/transform/refresh.py` reads
the inputs, calls them, computes what the plan names and writes it under the ledger's protocol.

Words used here and in refresh.py (docs/incremental.md has the long form):

* **lookback**: the lifetime observations of the posts with new snapshots, collected from
  `lookback_start` on (midnight, `LOOKBACK_DAYS` before the earliest new snapshot). It is what
  an anchored rebuild reads. ("Window" is the read path's query window, metrics/serve/window.py.)
* **cut**: the first hour of a post whose increments can change; hours before it are kept.
* **anchor**: the earliest snapshot that rebuilding the hours from the cut needs (for each
  metric known from the cut on, its last known snapshot before the cut).
* **region**: the hours `[start, end)` of a post that the run replaces in `post_hourly`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl

from metrics.model.measures import POST_METRICS
from metrics.model.tables import UTC_TS
from metrics.warehouse.ledger import Ledger

# How many landing dates before the earliest new snapshot the lookback reaches back.
LOOKBACK_DAYS = 2
# Times before and after any data, standing for "from the beginning" and "to the end".
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
THE_END = datetime(2200, 1, 1, tzinfo=UTC)

_REGION = {"platform_post_id": pl.String(), "start": UTC_TS, "end": UTC_TS}


@dataclass(frozen=True)
class HourlyPlan:
    """The `post_hourly` work of one run, one row per post in each frame (sorted by post).

    * `from_scratch` [platform_post_id, start]: read in full (all landing dates, that post
      only) and rebuilt from `start`, its first hour.
    * `from_anchor` [platform_post_id, anchor, cut]: rebuilt from the lookback's snapshots
      from `anchor` on (null: all the lookback holds of it), keeping the hours from `cut` on.
    * `youtube_spans` [platform_post_id, start, end]: per-day rows rebuilt over these hours,
      read from the landing date `youtube_from` on.
    * `regions` [platform_post_id, start, end]: the hours each post replaces in `post_hourly`.
    """

    lookback_start: datetime | None
    from_scratch: pl.DataFrame
    from_anchor: pl.DataFrame
    youtube_spans: pl.DataFrame
    youtube_from: date | None
    regions: pl.DataFrame

    @property
    def is_empty(self) -> bool:
        return self.regions.is_empty()

    @property
    def posts_recomputed(self) -> int:
        return self.from_scratch.height + self.from_anchor.height + self.youtube_spans.height


@dataclass(frozen=True)
class RollupPlan:
    """The rollup partitions one run rewrites, and what it builds them from.

    `days` are the touched days (hour and day partitions), `weeks` the Mondays of their weeks
    (week partitions); `hourly_days` the `post_hourly` days those weeks hold; F comes from each
    account's last follower snapshot before `follower_start` plus every later one. A
    `full_rebuild` touches every day with data and drops the partitions it no longer makes.
    """

    landing: list[date]
    full_rebuild: bool
    catalog_hash: str
    days: list[date]
    weeks: list[date]
    hourly_days: list[date]
    follower_start: datetime


def dates(values: Iterable[date]) -> list[date]:
    return sorted(set(values))


def week_of(day: date) -> date:
    """The Monday that starts `day`'s ISO week, the key of its `rollup_week` partition."""
    return day - timedelta(days=day.weekday())


def catalog_hash(accounts: pl.DataFrame) -> str:
    """The digest of the newest catalog's accounts that the ledger keeps with the rollups."""
    return hashlib.sha256(accounts.sort("social_account_id").write_csv().encode()).hexdigest()


def lookback_start(new_snapshots: pl.DataFrame) -> datetime | None:
    """Midnight UTC, `LOOKBACK_DAYS` before the earliest new lifetime snapshot (late files land
    after collection, so the landing dates from that day on hold every snapshot since then)."""
    if new_snapshots.is_empty():
        return None
    earliest = new_snapshots["collected_at"].min()
    assert isinstance(earliest, datetime)  # a Datetime column, not empty
    return datetime.combine(
        earliest.date() - timedelta(days=LOOKBACK_DAYS), datetime.min.time(), tzinfo=UTC
    )


def youtube_from(new_days: pl.DataFrame) -> date | None:
    """The first landing date to read per-day rows from: every revision of a day lands on or
    after that day began, so the day before the earliest new one reaches them all."""
    if new_days.is_empty():
        return None
    first = new_days["period_start"].min()
    assert isinstance(first, datetime)  # a Datetime column, not empty
    return first.date() - timedelta(days=1)


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
    when one of those metrics has no such snapshot in the lookback.

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


def _winners(observations: pl.DataFrame) -> pl.DataFrame:
    """One snapshot per (post, instant): the later (file, line) wins (spec §3.1). Duplicate
    instants are rare (re-deliveries), so only those rows are sorted."""
    dup = pl.struct("platform_post_id", "collected_at").is_duplicated()
    resolved = (
        observations.filter(dup)
        .sort("platform_post_id", "collected_at", "landing_file", "line")
        .unique(subset=["platform_post_id", "collected_at"], keep="last", maintain_order=True)
    )
    return pl.concat([observations.filter(~dup), resolved])


def _lifetime_bounds(
    lookback: pl.DataFrame, new: pl.DataFrame, posts: pl.DataFrame, start: datetime
) -> pl.DataFrame:
    """Per post with new snapshots: the first hour to rebuild (`cut`), the earliest snapshot the
    rebuild needs (`t_anchor`), or `full` when the lookback does not reach that far back.

    Hours before `cut` cannot change: for each metric, the new snapshots only alter intervals
    from its last known snapshot before them (`t_prev`). Rebuilding the hours from `cut` needs,
    for each metric still known from there on, its last known snapshot before `cut`.
    """
    earliest = new.group_by("platform_post_id").agg(pl.col("collected_at").min().alias("e"))
    # Only the columns the bounds read: on a backfill the lookback is every snapshot, and each
    # frame below is a copy of it, so the account and platform strings would double the peak.
    needed = lookback.select(
        "platform_post_id", "collected_at", "landing_file", "line", *POST_METRICS
    )
    kept = _winners(needed).drop("landing_file", "line").join(earliest, on="platform_post_id")
    del needed
    prev = _per_metric_last_before(kept, "e", "t_prev")
    cut = prev.select(
        "platform_post_id", "t_prev_lacking", _hour_floor("t_prev").fill_null(THE_END).alias("cut")
    )
    anchor = _per_metric_last_before(kept.join(cut, on="platform_post_id"), "cut", "t_anchor")
    info = posts.select("platform_post_id", "first_seen_at", _first_hour())
    return (
        earliest.join(cut, on="platform_post_id", how="left")
        .join(anchor, on="platform_post_id", how="left")
        .join(info, on="platform_post_id", how="left")
        .with_columns(
            complete=pl.col("first_seen_at").is_not_null()
            & (pl.col("first_seen_at") >= pl.lit(start)),
            # No metric known since the new snapshots: nothing to rebuild.
            cut=pl.col("cut").fill_null(THE_END),
            lacking=pl.col("t_prev_lacking").fill_null(False)
            | pl.col("t_anchor_lacking").fill_null(False),
        )
        .with_columns(
            # Whole history in the lookback: rebuild all its hours from it.
            cut=pl.when(pl.col("complete")).then(pl.col("first_hour")).otherwise(pl.col("cut")),
            full=~pl.col("complete") & pl.col("lacking"),
        )
    )


def plan_hourly(
    landing: list[date],
    new_snapshots: pl.DataFrame,
    lookback: pl.DataFrame,
    new_days: pl.DataFrame,
    posts: pl.DataFrame,
) -> HourlyPlan:
    """Decide which hours of which posts the observations of `landing` can change.

    `new_snapshots` [platform_post_id, collected_at] are the lifetime snapshots of `landing`;
    `lookback` the lifetime observations of those posts collected from
    `lookback_start(new_snapshots)` on; `new_days` [platform_post_id, period_start, period_end]
    the per-day rows of `landing`; `posts` the posts table.
    """
    start = lookback_start(new_snapshots)
    from_scratch = pl.DataFrame(schema={"platform_post_id": pl.String(), "start": UTC_TS})
    from_anchor = pl.DataFrame(
        schema={"platform_post_id": pl.String(), "anchor": UTC_TS, "cut": UTC_TS}
    )
    spans = pl.DataFrame(schema=_REGION)
    regions = [pl.DataFrame(schema=_REGION)]

    if start is not None:
        # A publication time learned now moves the first value: rebuild from the start,
        # which the lookback already holds when the whole history is in it.
        republished = list(
            posts.filter(pl.col("published_known_since").is_in(landing))["platform_post_id"]
        )
        bounds = _lifetime_bounds(lookback, new_snapshots, posts, start).with_columns(
            full=pl.col("full")
            | (pl.col("platform_post_id").is_in(republished) & ~pl.col("complete")),
            cut=pl.when(pl.col("platform_post_id").is_in(republished))
            .then(pl.col("first_hour"))
            .otherwise(pl.col("cut")),
        )
        full_ids = bounds.filter("full")["platform_post_id"].implode()
        from_scratch = (
            posts.filter(pl.col("platform_post_id").is_in(full_ids))
            .select("platform_post_id", _first_hour().alias("start"))
            .sort("platform_post_id")
        )
        # From each post's anchor on is all that feeds the hours from its cut: the first value
        # this truncated history invents lands before the cut and is dropped.
        from_anchor = (
            bounds.filter(~pl.col("full"))
            .select(
                "platform_post_id",
                pl.when(~pl.col("complete")).then(pl.col("t_anchor")).alias("anchor"),
                "cut",
            )
            .sort("platform_post_id")
        )
        regions.append(from_scratch.with_columns(end=pl.lit(THE_END)))
        regions.append(from_anchor.select("platform_post_id", start="cut", end=pl.lit(THE_END)))

    if not new_days.is_empty():
        spans = (
            new_days.group_by("platform_post_id")
            .agg(
                pl.col("period_start").min().alias("start"), pl.col("period_end").max().alias("end")
            )
            .sort("platform_post_id")
        )
        regions.append(spans)

    return HourlyPlan(
        lookback_start=start,
        from_scratch=from_scratch,
        from_anchor=from_anchor,
        youtube_spans=spans,
        youtube_from=youtube_from(new_days),
        regions=pl.concat(regions)
        .group_by("platform_post_id")
        .agg(pl.col("start").min(), pl.col("end").max())
        .sort("platform_post_id"),
    )


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
    if (starts["c"] <= starts["f"]).any():
        begin = min(days)
    else:
        earliest = starts["c"].min()
        assert isinstance(earliest, datetime)  # collected_at is a Datetime column, `new` not empty
        begin = earliest.date()
    return {begin + timedelta(days=i) for i in range((max(days) - begin).days + 1)}


def plan_rollups(
    landing: list[date],
    owed: Ledger,
    posts: pl.DataFrame,
    followers: pl.DataFrame,
    accounts: pl.DataFrame,
    hourly_days: Iterable[date],
) -> RollupPlan:
    """Decide which rollup partitions can have changed since they were built.

    What changed comes from the ledger (`owed`), not from a run's memory: the `post_hourly`
    days and landing dates that any run wrote and did not roll up yet, and the catalog the
    rollups were built with. `followers` are every follower snapshot with its `landing_date`,
    `accounts` the newest catalog's accounts, `hourly_days` the days `post_hourly` holds.
    """
    landing = dates([*landing, *owed.rollup_landing])
    hourly = set(hourly_days)
    published_days = set(posts["published_at"].drop_nulls().dt.date().unique().to_list())
    follower_days = set(followers["collected_at"].dt.date().unique().to_list())
    all_days = hourly | published_days | follower_days
    digest = catalog_hash(accounts)
    full = owed.catalog_hash != digest
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
    weeks = {week_of(d) for d in touched}
    return RollupPlan(
        landing=landing,
        full_rebuild=full,
        catalog_hash=digest,
        days=sorted(touched),
        weeks=sorted(weeks),
        hourly_days=sorted({w + timedelta(days=i) for w in weeks for i in range(7)} & hourly),
        follower_start=datetime.combine(
            min(weeks, default=date.max), datetime.min.time(), tzinfo=UTC
        ),
    )
