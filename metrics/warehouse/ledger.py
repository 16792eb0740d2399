"""The durable progress of the write path: what is still owed to each step after a crash.

A run folds landing dates through three stateful steps: normalize (landing files -> observation
partitions), hourly (observations -> `post_hourly` days) and rollups (`post_hourly`, followers,
posts -> rollup buckets). Each step is a pure function of what it reads, so redoing one is always
safe; what a crash can lose is the knowledge that downstream work is owed. A `post_hourly` day
rewritten by a run that died before its rollups looks, to the next run, exactly like a day that
is up to date.

So every step records what it owes *before* it writes and clears it *after* its writes are
committed, in the `ledger` control table inside the warehouse (metrics/warehouse/control.py),
which every run on every host shares:

* `requested`: landing dates a run was asked to load, recorded before the run exists in the
  Dagster instance (the CLI) or at its first step (runs of the UI, a schedule or a sensor). A run
  that dies before it claims them for normalize leaves them here, and the next run of any
  landing date adopts them as it adopts a dead run's claims, so a nightly killed at its very
  start still gets loaded by the next one.
* `normalize`: landing dates being normalized, each with its claim (the run that holds it and
  the claim's epoch). A claim whose run is dead (`alive` says so: the Dagster instance's run
  status, metrics/warehouse is told by its caller) was abandoned mid-write; the next run of any
  landing date claims it anew and normalizes it again.
* `hourly`: landing dates normalized but not yet folded into `post_hourly`.
* `rollup_landing`, `rollup_day`: landing dates and `post_hourly` days whose changes are not yet
  in the rollups (days are recorded before they are committed, so a crash between the two
  commits is covered).
* `step`: the newest claim of each shared step (`catalog`, `posts`, `hourly_and_rollups`).
* `catalog`: the catalog the rollups were built with; absent, the rollups are rebuilt whole.
* `cut`: the table versions of the last rollup refresh, its inputs and what it made: one
  state, which the views step publishes (metrics/warehouse/manifest.py `to_publish`).

Every entry carries the epoch of the claim that wrote it: a number every committed change takes
one above the last (and at least the time in milliseconds, so it keeps increasing even if the
ledger is deleted and starts again), so epochs are unique and increasing across hosts. A step
removes an entry only if it still carries the epoch the step read, so an entry re-added
meanwhile (a landing date normalized again while the hourly step folded its older partitions)
stays owed. The same epochs fence the data tables: each commit of a claim carries it as a Delta
application transaction per partition (metrics/warehouse/storage.py `Batch`), so a writer whose
claim was taken over cannot overwrite the newer writer's rows.

Over-claiming is harmless (a step redoes work whose result is already in place), under-claiming
is the bug this prevents, so every entry is added before the writes it describes and removed only
after them.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from metrics.model.tables import LEDGER_TABLE
from metrics.warehouse import control
from metrics.warehouse.location import Warehouse

# Is the run that made a claim still running? Told by the caller (assets ask the Dagster
# instance); without one, only claims made by this process count as alive.
Alive = Callable[[str], bool]

_LIVE: set[str] = set()  # owners whose claims this process holds right now


@dataclass(frozen=True)
class Claim:
    owner: str
    epoch: int


@dataclass
class Ledger:
    """One version of the ledger; the dict values are the epochs of the claims behind them."""

    requested: dict[date, Claim] = field(default_factory=dict)
    normalize: dict[date, Claim] = field(default_factory=dict)
    hourly: dict[date, int] = field(default_factory=dict)
    rollup_landing: dict[date, int] = field(default_factory=dict)
    rollup_days: dict[date, int] = field(default_factory=dict)
    steps: dict[str, Claim] = field(default_factory=dict)
    catalog_hash: str | None = None
    cut: dict[str, int] = field(default_factory=dict)
    last_epoch: int = 0  # the epoch of the newest change
    version: int = -1

    @property
    def settled(self) -> bool:
        """Nothing owed: every step has caught up with its inputs."""
        return not (
            self.requested
            or self.normalize
            or self.hourly
            or self.rollup_landing
            or self.rollup_days
        )

    def describe(self) -> str:
        """What is owed, for a message or a failed assertion."""
        owed = {
            "requested": {d.isoformat(): c.owner for d, c in sorted(self.requested.items())},
            "normalize": {d.isoformat(): c.owner for d, c in sorted(self.normalize.items())},
            "hourly": sorted(d.isoformat() for d in self.hourly),
            "rollup_landing": sorted(d.isoformat() for d in self.rollup_landing),
            "rollup_days": sorted(d.isoformat() for d in self.rollup_days),
        }
        return f"ledger version {self.version}: {owed}"

    @classmethod
    def from_rows(cls, rows: pl.DataFrame, version: int) -> Ledger:
        ledger = cls(version=version)
        for kind, key, owner, epoch, value in rows.select(list(LEDGER_TABLE.schema)).iter_rows():
            if kind == "requested":
                ledger.requested[date.fromisoformat(key)] = Claim(owner, epoch)
            elif kind == "normalize":
                ledger.normalize[date.fromisoformat(key)] = Claim(owner, epoch)
            elif kind == "hourly":
                ledger.hourly[date.fromisoformat(key)] = epoch
            elif kind == "rollup_landing":
                ledger.rollup_landing[date.fromisoformat(key)] = epoch
            elif kind == "rollup_day":
                ledger.rollup_days[date.fromisoformat(key)] = epoch
            elif kind == "step":
                ledger.steps[key] = Claim(owner, epoch)
            elif kind == "catalog":
                ledger.catalog_hash = value
            elif kind == "epoch":
                ledger.last_epoch = epoch
            elif kind == "cut":
                ledger.cut = json.loads(value)
        return ledger

    def to_rows(self) -> pl.DataFrame:
        rows: list[tuple[str, str, str, int, str]] = []
        rows += [
            ("requested", d.isoformat(), c.owner, c.epoch, "") for d, c in self.requested.items()
        ]
        rows += [
            ("normalize", d.isoformat(), c.owner, c.epoch, "") for d, c in self.normalize.items()
        ]
        rows += [("hourly", d.isoformat(), "", e, "") for d, e in self.hourly.items()]
        rows += [
            ("rollup_landing", d.isoformat(), "", e, "") for d, e in self.rollup_landing.items()
        ]
        rows += [("rollup_day", d.isoformat(), "", e, "") for d, e in self.rollup_days.items()]
        rows += [("step", s, c.owner, c.epoch, "") for s, c in self.steps.items()]
        if self.catalog_hash is not None:
            rows.append(("catalog", "", "", 0, self.catalog_hash))
        if self.cut:
            rows.append(("cut", "", "", 0, json.dumps(self.cut, sort_keys=True)))
        rows.append(("epoch", "", "", self.last_epoch, ""))
        return pl.DataFrame(rows, schema=LEDGER_TABLE.schema, orient="row").sort("kind", "key")


def read(warehouse: Warehouse) -> Ledger:
    snapshot = control.read(warehouse, LEDGER_TABLE)
    return Ledger.from_rows(snapshot.rows, snapshot.version)


def update(warehouse: Warehouse, change: Callable[[Ledger, int], None]) -> Ledger:
    """Change the ledger atomically: `change(ledger, epoch)` edits a fresh copy read from the
    newest version, where `epoch` is this change's epoch (one above the last committed one, at
    least the time in milliseconds). It may run more than once (on conflict, on a newer
    version), so it must depend only on its arguments. Returns the ledger as committed
    (unchanged, and no commit, when `change` changed nothing)."""

    def apply(base: control.Snapshot) -> pl.DataFrame | None:
        ledger = Ledger.from_rows(base.rows, base.version)
        before = ledger.to_rows()
        epoch = max(ledger.last_epoch + 1, time.time_ns() // 1_000_000)
        change(ledger, epoch)
        if ledger.to_rows().equals(before):
            return None
        ledger.last_epoch = epoch
        return ledger.to_rows()

    done = control.update(warehouse, LEDGER_TABLE, apply)
    return Ledger.from_rows(done.rows, done.version)


def claim(warehouse: Warehouse, step: str, owner: str) -> int:
    """Record that `owner` runs `step` now; return the claim's epoch, which fences the step's
    commits: a later claim of the same step supersedes it."""

    def take(ledger: Ledger, epoch: int) -> None:
        ledger.steps[step] = Claim(owner, epoch)

    return update(warehouse, take).steps[step].epoch


def request(warehouse: Warehouse, dates: Iterable[date], owner: str) -> None:
    """Record that run `owner` is to load `dates` (before it writes anything of them): if it
    dies before claiming them for normalize, the next run adopts them. Asking again for dates
    already requested by the same run changes nothing."""
    wanted = set(dates)

    def ask(ledger: Ledger, epoch: int) -> None:
        for day in wanted:
            held = ledger.requested.get(day)
            if held is None or held.owner != owner:
                ledger.requested[day] = Claim(owner, epoch)

    update(warehouse, ask)


def claimed_here(owner: str) -> bool:
    """The default `alive`: whether this process holds `owner`'s claims right now (callers
    without a Dagster instance: tests, benchmarks)."""
    return owner in _LIVE


def _process_owner() -> str:
    return f"process-{os.getpid()}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Normalizing:
    """What a run normalizes under one claim: `dates` (its own and those adopted from dead
    claims), `left` (its own dates a live run is normalizing now), and the claim's `epoch`."""

    dates: list[date]
    left: dict[date, str]
    adopted: list[date]
    epoch: int
    owner: str


@contextmanager
def normalizing(
    warehouse: Warehouse,
    dates: Iterable[date],
    owner: str | None = None,
    alive: Alive | None = None,
) -> Iterator[Normalizing]:
    """Claim `dates` plus every landing date a dead run left half-normalized or requested and
    never claimed; yield the claim.

    A date whose claim belongs to a live run is left to that run (it hands the date on to the
    hourly step itself), and so is a date a live run requested; every other one is claimed under
    one new epoch, and its request is settled. The caller normalizes `dates`, commits with the
    epoch, then calls `normalized`. Without `owner`/`alive` (tests, benchmarks) the owner is
    this process and only this process's claims count as alive.
    """
    own = owner or _process_owner()
    is_alive = alive or claimed_here
    wanted = set(dates)
    _LIVE.add(own)
    try:
        found: dict[str, Normalizing] = {}

        def take(ledger: Ledger, epoch: int) -> None:
            left = {
                d: c.owner
                for d, c in ledger.normalize.items()
                if d in wanted and c.owner != own and is_alive(c.owner)
            }
            abandoned = [*ledger.normalize.items(), *ledger.requested.items()]
            adopted = sorted(
                {
                    d
                    for d, c in abandoned
                    if d not in wanted and c.owner != own and not is_alive(c.owner)
                }
            )
            todo = sorted((wanted - set(left)) | set(adopted))
            for day in todo:
                ledger.normalize[day] = Claim(own, epoch)
            for day in [*todo, *left]:
                ledger.requested.pop(day, None)
            found["claim"] = Normalizing(todo, left, adopted, epoch, own)

        update(warehouse, take)
        yield found["claim"]
    finally:
        _LIVE.discard(own)


def normalized(warehouse: Warehouse, claim: Normalizing) -> None:
    """The claim's dates are fully normalized: the hourly step owes them now. A date whose
    claim was taken over meanwhile is left to the run that took it (it hands it on)."""

    def hand_on(ledger: Ledger, _epoch: int) -> None:
        for day in claim.dates:
            held = ledger.normalize.get(day)
            if held is not None and held.epoch == claim.epoch:
                del ledger.normalize[day]
                ledger.hourly[day] = claim.epoch

    update(warehouse, hand_on)


def without(owed: dict[date, int], done: dict[date, int]) -> dict[date, int]:
    """`owed` minus the entries a step finished: those still carrying the epoch it read."""
    return {d: e for d, e in owed.items() if done.get(d) != e}
