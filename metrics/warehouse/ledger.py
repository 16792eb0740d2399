"""The durable progress of the write path: what is still owed to each step after a crash.

A run folds landing dates through three stateful steps: normalize (landing files -> observation
partitions), hourly (observations -> `post_hourly` days) and rollups (`post_hourly`, followers,
posts -> rollup buckets). Each step is a pure function of what it reads, so redoing one is always
safe; what a crash can lose is the knowledge that downstream work is owed. A `post_hourly` day
rewritten by a run that died before its rollups looks, to the next run, exactly like a day that
is up to date.

So every step records what it owes *before* it writes and clears it *after* its writes are
committed, in `state/ledger.json` under the warehouse's state folder (`<warehouse>/state/` for a
local warehouse; a local folder for an object-store one, metrics/warehouse/location.py):

* `normalize`: landing dates being normalized, each with the lock of the process doing it. An
  entry whose owner is dead (its lock is free) was abandoned mid-write; the next run of any
  landing date normalizes it again.
* `hourly`: landing dates normalized but not yet folded into `post_hourly`.
* `rollup_landing`, `rollup_days`: landing dates and `post_hourly` days whose changes are not
  yet in the rollups (days are recorded before they are written, so a crash between the two
  writes is covered).
* `catalog_hash`: the catalog the rollups were built with; absent, the rollups are rebuilt whole.

Over-claiming is harmless (a step redoes work whose result is already in place), under-claiming
is the bug this prevents, so every entry is added before the writes it describes and removed only
after them. The file is replaced atomically under an exclusive `flock`, so concurrent runs never
lose each other's entries; locks die with their process, so nothing here can be left held.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from metrics.warehouse import location
from metrics.warehouse.location import Warehouse

LEDGER_FILE = "state/ledger.json"
LOCK_FILE = "state/ledger.lock"
OWNERS_DIR = "state/owners"


@dataclass
class Ledger:
    normalize: dict[date, str] = field(default_factory=dict)
    hourly: set[date] = field(default_factory=set)
    rollup_landing: set[date] = field(default_factory=set)
    rollup_days: set[date] = field(default_factory=set)
    catalog_hash: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "normalize": {d.isoformat(): o for d, o in sorted(self.normalize.items())},
                "hourly": _isoformat(self.hourly),
                "rollup_landing": _isoformat(self.rollup_landing),
                "rollup_days": _isoformat(self.rollup_days),
                "catalog_hash": self.catalog_hash,
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Ledger:
        raw = json.loads(text)
        return cls(
            normalize={date.fromisoformat(d): o for d, o in raw.get("normalize", {}).items()},
            hourly=_dates(raw.get("hourly", [])),
            rollup_landing=_dates(raw.get("rollup_landing", [])),
            rollup_days=_dates(raw.get("rollup_days", [])),
            catalog_hash=raw.get("catalog_hash"),
        )

    @property
    def settled(self) -> bool:
        """Nothing owed: every step has caught up with its inputs."""
        return not (self.normalize or self.hourly or self.rollup_landing or self.rollup_days)


def _isoformat(days: Iterable[date]) -> list[str]:
    return [d.isoformat() for d in sorted(days)]


def _dates(values: Iterable[str]) -> set[date]:
    return {date.fromisoformat(v) for v in values}


def read(warehouse: Warehouse) -> Ledger:
    path = location.of(warehouse).state_dir / LEDGER_FILE
    return Ledger.from_json(path.read_text()) if path.exists() else Ledger()


@contextmanager
def _locked(warehouse: Warehouse) -> Iterator[None]:
    path = location.of(warehouse).state_dir / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield  # closing the file releases the lock, and so does the death of this process


def update(warehouse: Warehouse, change: Callable[[Ledger], None]) -> Ledger:
    """Read, change and atomically replace the ledger, under the lock."""
    with _locked(warehouse):
        ledger = read(warehouse)
        change(ledger)
        path = location.of(warehouse).state_dir / LEDGER_FILE
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "w") as fh:
            fh.write(ledger.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return ledger


def _alive(warehouse: Warehouse, owner: str) -> bool:
    """An owner is alive while its process holds the lock on its owner file."""
    path = location.of(warehouse).state_dir / OWNERS_DIR / f"{owner}.lock"
    if not path.exists():
        return False
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


@contextmanager
def normalizing(warehouse: Warehouse, dates: Iterable[date]) -> Iterator[list[date]]:
    """Claim `dates` plus every landing date an earlier run abandoned mid-normalize; yield them.

    The caller normalizes what it is given, then calls `normalized`. While it works, its owner
    lock is held, so no other run takes its dates over; if it dies, the lock goes with it and
    the next run adopts its entries. A date that a live run is normalizing right now is left to
    that run (it will hand the date on to the hourly step itself).
    """
    owner = uuid.uuid4().hex
    owners = location.of(warehouse).state_dir / OWNERS_DIR
    owners.mkdir(parents=True, exist_ok=True)
    lock_path = owners / f"{owner}.lock"
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        wanted = set(dates)
        dead: set[str] = set()

        def claim(ledger: Ledger) -> None:
            for day, holder in ledger.normalize.items():
                if holder != owner and not _alive(warehouse, holder):
                    wanted.add(day)
                    dead.add(holder)
            ledger.normalize.update(dict.fromkeys(wanted, owner))

        update(warehouse, claim)
        for holder in dead:
            (owners / f"{holder}.lock").unlink(missing_ok=True)
        try:
            yield sorted(wanted)
        finally:
            lock_path.unlink(missing_ok=True)


def normalized(warehouse: Warehouse, dates: Iterable[date]) -> None:
    """`dates` are fully normalized: the hourly step owes them now."""
    done = set(dates)

    def hand_on(ledger: Ledger) -> None:
        for day in done:
            ledger.normalize.pop(day, None)
        ledger.hourly |= done

    update(warehouse, hand_on)
