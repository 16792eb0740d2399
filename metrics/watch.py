"""Which landing files are new since a cursor: the sensor's logic, kept free of Dagster.

Files are never modified after landing, so a file's (mtime, path) orders arrivals. The cursor
keeps the newest mtime seen and the paths seen at exactly that mtime; a late file lands in an
old date folder with a new mtime, so it is noticed like any other.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


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


def _landing_files(raw: Path) -> list[tuple[int, str, str]]:
    """(mtime_ns, relative path, landing date folder) of every file under a date folder."""
    out = []
    if not raw.is_dir():
        return out
    for top in os.scandir(raw):
        if not top.is_dir():
            continue
        for day in os.scandir(top.path):
            if not day.is_dir():
                continue
            for entry in os.scandir(day.path):
                if entry.is_file() and not entry.name.startswith("."):
                    rel = f"{top.name}/{day.name}/{entry.name}"
                    out.append((entry.stat().st_mtime_ns, rel, day.name))
    return out


def new_landing_files(raw: Path, cursor: Cursor) -> tuple[dict[str, list[str]], Cursor]:
    """New files grouped by landing date, and the cursor that remembers them."""
    fresh = [
        f
        for f in _landing_files(raw)
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
