"""Control tables: the run state, as small Delta tables rewritten by optimistic commits.

What a run must share with every other run, on any host, lives beside the data it is about:
the ledger of owed work (metrics/warehouse/ledger.py) and the published manifests
(metrics/warehouse/storage.py) are Delta tables under `<warehouse>/control/`, so they are on the
same local disk or object store as the tables, and Delta's commit log orders every change to
them. No lock file, no host-local folder, no server of our own.

A change is read-modify-write: read the table at version `v`, compute its new content, and
commit that content as a MERGE against `v` (matched rows updated, new ones inserted, rows the
new content lacks deleted). A merge reads every row it could match, so any commit that landed
after `v` fails this one with `CommitFailedError` (checked for delta-rs 1.6: a plain overwrite
would NOT see a concurrent append, a merge does); the change is then recomputed from the newer
content and tried again. Two runs can therefore never lose each other's entries, and every
change is ordered after the one it read, on every host (the ledger numbers its changes so: the
epochs of its claims).

Retries are bounded (`ATTEMPTS`, with jittered backoff): a control table that cannot be
changed for that long raises `ControlBusy` naming it, rather than letting a run wait forever.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from metrics.model.tables import Table
from metrics.warehouse import storage
from metrics.warehouse.location import Warehouse

ATTEMPTS = 40
BACKOFF_SECONDS = (0.02, 0.5)  # first and longest wait between attempts, before jitter
# Control tables change a few times per run: a checkpoint every few commits keeps each read to
# one Parquet file plus a handful of log entries (many round trips on an object store).
CONFIGURATION = {"delta.checkpointInterval": "10"}


class ControlBusy(RuntimeError):
    """A control table kept changing under every attempt to change it."""


@dataclass(frozen=True)
class Snapshot:
    """One version of a control table and its rows (and the table, loaded at that version,
    which a change commits against)."""

    version: int
    rows: pl.DataFrame
    table: DeltaTable | None = None


def read(warehouse: Warehouse, entry: Table) -> Snapshot:
    """The newest version of a control table (empty rows before its first change)."""
    dt = storage.create_table(warehouse, entry, CONFIGURATION)
    rows = pl.from_arrow(dt.to_pyarrow_table())
    assert isinstance(rows, pl.DataFrame)
    return Snapshot(dt.version(), rows.select(list(entry.schema)).cast(pl.Schema(entry.schema)), dt)


def _commit(entry: Table, base: Snapshot, rows: pl.DataFrame) -> None:
    """Make `rows` the whole content, as a MERGE against `base.version` on the table's key."""
    dt = base.table
    assert dt is not None and dt.version() == base.version  # as read
    key = " AND ".join(f"t.{c} = s.{c}" for c in entry.row_key)
    source = rows.select(list(entry.schema)).to_arrow().cast(storage.arrow_schema(entry))
    (
        dt.merge(source, key, source_alias="s", target_alias="t")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .when_not_matched_by_source_delete()
        .execute()
    )


def update(
    warehouse: Warehouse,
    entry: Table,
    change: Callable[[Snapshot], pl.DataFrame | None],
) -> Snapshot:
    """Apply `change` (the current snapshot -> the new rows, or None for "nothing to change")
    atomically; return what is now committed. `change` may run several times, each time on a
    newer snapshot, so it must be a function of its argument and of nothing it mutates.
    The new rows are committed as version `snapshot.version + 1`."""
    pause, longest = BACKOFF_SECONDS
    for _ in range(ATTEMPTS):
        base = read(warehouse, entry)
        rows = change(base)
        if rows is None:
            return base
        try:
            _commit(entry, base, rows)
        except CommitFailedError:
            time.sleep(pause * (0.5 + random.random()))
            pause = min(longest, pause * 2)
            continue
        return Snapshot(base.version + 1, rows)  # what was committed (not reloaded)
    raise ControlBusy(
        f"the control table {storage.table_uri(warehouse, entry)} changed under each of "
        f"{ATTEMPTS} attempts to update it; other runs are committing to it without pause. "
        "Try again; if it persists, look for a run stuck in a loop (Dagster UI: Runs)."
    )
