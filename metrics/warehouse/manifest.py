"""The published warehouse versions: the `manifests` control table and `manifest.json`.

A run finishes by publishing the table versions it finished with (CONTRACT §4). Every
publication is one row of the `manifests` control table (metrics/warehouse/control.py), whose
Delta log orders them: the row's `version` is one above the previous row's, and two hosts
publishing at once cannot take the same number (their commits conflict and one recomputes).
That table is the history time travel (`metrics query --version`) and the vacuum's retention
read; nothing is kept on a run host.

`manifest.json`, at the warehouse root, is a copy of the newest row for readers: it is what the
contract names, what plain tools read, and what a long-lived reader watches to reload. It is
replaced whole (an atomic rename locally, one PUT on an object store) and then checked: if a
newer row was published meanwhile, the newest row is written again, so the file always ends up
naming the newest publication, whichever of two concurrent publishers writes last.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import polars as pl

from metrics.model.tables import MANIFESTS_TABLE
from metrics.warehouse import control, ledger, location, storage
from metrics.warehouse.location import Warehouse

MANIFEST_FILE = "manifest.json"
_CONVERGE_ATTEMPTS = 10


def _body(row: dict[str, Any]) -> dict[str, Any]:
    """A manifests row as `manifest.json` holds it."""
    return {
        "version": int(row["version"]),
        "tables": json.loads(row["tables"]),
        "as_of": row["as_of"],
        "published_at": row["published_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "run_id": row["run_id"],
    }


def _newest(rows: pl.DataFrame) -> dict[str, Any] | None:
    if rows.is_empty():
        return None
    return _body(rows.sort("version").row(-1, named=True))


def history(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Every kept publication, oldest first."""
    rows = control.read(warehouse, MANIFESTS_TABLE).rows.sort("version")
    return [_body(row) for row in rows.iter_rows(named=True)]


def read(warehouse: Warehouse, number: int | None = None) -> dict[str, Any]:
    """`manifest.json` (what readers answer from), or the kept publication `number`; `{}`
    before the first publication (or for a number not kept)."""
    if number is None:
        text = location.of(warehouse).read_text(MANIFEST_FILE)
        return json.loads(text) if text else {}
    found = [m for m in history(warehouse) if m["version"] == number]
    return found[0] if found else {}


def numbers(warehouse: Warehouse) -> list[int]:
    """The warehouse versions whose publication is kept, oldest first."""
    return [m["version"] for m in history(warehouse)]


def to_publish(warehouse: Warehouse) -> dict[str, int]:
    """The versions to publish: the last rollup refresh's cut (its inputs and what it made,
    one state, `ledger.cut`) over the newest version of every other table. Publishing the
    newest of everything could pair one run's rollups with another run's newer catalog or
    posts while the two runs overlap."""
    return {**storage.current_versions(warehouse), **ledger.read(warehouse).cut}


def publish(
    warehouse: Warehouse,
    versions: storage.Versions | None = None,
    run: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Publish `versions` (default: the newest of every table) as the next warehouse version,
    then point `manifest.json` at the newest publication. Publishing the versions the newest
    row already names publishes nothing: same state, same number."""
    loc = location.of(warehouse)
    versions = dict(storage.current_versions(loc) if versions is None else versions)
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    as_of = storage.as_of(loc, versions)

    # A warehouse published before the manifests table existed continues its numbering.
    before = int(read(loc).get("version") or 0)

    def append(base: control.Snapshot) -> pl.DataFrame | None:
        newest = _newest(base.rows)
        if newest is not None and newest["tables"] == versions:
            return None
        row = {
            "version": (newest["version"] if newest else before) + 1,
            "tables": json.dumps(versions, sort_keys=True),
            "as_of": as_of,
            "published_at": stamp,
            "run_id": run,
        }
        return pl.concat([base.rows, pl.DataFrame([row], schema=MANIFESTS_TABLE.schema)])

    done = control.update(loc, MANIFESTS_TABLE, append)
    newest = _newest(done.rows)
    assert newest is not None  # a row was there or has just been added
    point(loc, newest)
    return newest


def point(warehouse: Warehouse, manifest: dict[str, Any]) -> None:
    """Write `manifest` as `manifest.json`, then make sure the file names the newest
    publication: a concurrent publisher's older copy written after ours is replaced."""
    loc = location.of(warehouse)
    for _ in range(_CONVERGE_ATTEMPTS):
        if int(read(loc).get("version") or 0) >= manifest["version"]:
            return
        loc.write_text(MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True))
        manifest = _newest(control.read(loc, MANIFESTS_TABLE).rows) or manifest


def drop(warehouse: Warehouse, gone: list[int]) -> None:
    """Forget the publications `gone` (past the retention; never the newest)."""
    if not gone:
        return
    drop_set = set(gone)

    def without(base: control.Snapshot) -> pl.DataFrame | None:
        newest = _newest(base.rows)
        keep = base.rows.filter(
            ~pl.col("version").is_in(sorted(drop_set - {newest["version"] if newest else -1}))
        )
        return None if keep.height == base.rows.height else keep

    control.update(warehouse, MANIFESTS_TABLE, without)
