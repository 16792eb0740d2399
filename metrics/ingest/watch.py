"""Which landing files are new since a cursor: the sensor's logic, kept free of Dagster.

Files are never modified after landing, so a file's (mtime, path) orders arrivals. The cursor
keeps the newest mtime seen and the paths seen at exactly that mtime; a late file lands in an
old date folder with a new mtime, so it is noticed like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from metrics.ingest import layout
from metrics.objects import RawRoot


@dataclass(frozen=True)
class Cursor:
    mtime_ns: int = -1
    at_mtime: frozenset[str] = frozenset()

    def dumps(self) -> str:
        return json.dumps({"mtime_ns": self.mtime_ns, "at_mtime": sorted(self.at_mtime)})

    @classmethod
    def loads(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(int(data["mtime_ns"]), frozenset(data["at_mtime"]))


def _landing_files(raw: RawRoot, first: date | None) -> list[tuple[int, str, str]]:
    """(mtime_ns, relative path, landing partition) of every file of the landing zone, stray
    ones included: a file in the wrong place starts the run that quarantines it."""
    entries = layout.walk(raw, first=first)
    return [(e.mtime_ns, e.rel, e.landing_date.isoformat()) for e in entries]


def new_landing_files(
    raw: RawRoot, cursor: Cursor, first: date | None = None
) -> tuple[dict[str, list[str]], Cursor]:
    """New files grouped by landing date, and the cursor that remembers them. `first` is the
    first partition of the loaded definitions, so every date named is one of its partitions."""
    fresh = [
        f
        for f in _landing_files(raw, first)
        if f[0] > cursor.mtime_ns or (f[0] == cursor.mtime_ns and f[1] not in cursor.at_mtime)
    ]
    if not fresh:
        return {}, cursor
    by_date: dict[str, list[str]] = {}
    for _, rel, day in sorted(fresh, key=lambda f: f[1]):
        by_date.setdefault(day, []).append(rel)
    newest = max(f[0] for f in fresh)
    seen = {f[1] for f in fresh if f[0] == newest}
    if newest == cursor.mtime_ns:
        seen |= cursor.at_mtime
    return by_date, Cursor(newest, frozenset(seen))
