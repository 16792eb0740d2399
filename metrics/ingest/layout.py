"""Where spec §2 puts files in the landing zone, and which landing partition owns each file.

Declared once, for the normalizer, the catalog loader and the reconciliation's independent count.
Every non-directory under `<raw>` belongs to exactly one landing partition: a file where §2 puts
files is *read*; anything else (a sub-folder, a loose file, a folder that is not a `YYYY-MM-DD`
date or is dated after tomorrow, an unknown top-level folder, another file type, a symbolic link,
a FIFO) is *stray* and is quarantined as one line-0 row by the run of its partition.

Which partition owns a stray file: its date folder (the second path component, when the path is
at least three deep) if that is a valid `YYYY-MM-DD` date from the first landing partition
(`first_landing_date`) to tomorrow (UTC); otherwise the UTC date of the file's own
modification time (`lstat`, never the link target), clamped into that range. A date folder
before the first partition is stray too (`before_first_landing_date`, with the fix in its
detail), so one old folder neither breaks a backfill nor vanishes. A file that arrives today in
a wrong place is therefore quarantined by today's run, once, and a backfill over every
`landing_dates()` date covers it.
"""

from __future__ import annotations

import os
import re
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from metrics.config import FIRST_LANDING_ENV, configured_first_landing_date
from metrics.model.platforms import PLATFORMS
from metrics.objects import ObjectPath, RawRoot

CATALOG_DIR = "catalog"
CATALOG_FILE = "catalog.json"
LANDING_SUFFIXES = (".jsonl", ".jsonl.gz")
# Decompressed bytes per read: the unit in which files stream, so memory follows the longest
# line, never the file (a 1 MB gzip can hold a gigabyte).
READ_BLOCK = 1 << 20
_DATE_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")


def latest_landing_date(today: date | None = None) -> date:
    """Tomorrow (UTC): the newest partition that exists (`end_offset=1`); a file cannot have
    landed later than that."""
    return (today or datetime.now(UTC).date()) + timedelta(days=1)


def _date_name(name: str) -> date | None:
    """The date a folder name spells: strictly `YYYY-MM-DD` (not `20260309`, not `2026-3-9`,
    both of which `date.fromisoformat` would take or reject inconsistently)."""
    if not _DATE_FOLDER.fullmatch(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def first_landing_date(raw: RawRoot, today: date | None = None) -> date:
    """The first landing partition: where Dagster's partitions start, and before which a date
    folder is stray (`before_first_landing_date`). Derived once (assets/partitions.py, at code
    location load) and passed to every walk of a run, so the UI, the run and its checks agree.

    `METRICS_FIRST_LANDING_DATE` when set; else the oldest catalog snapshot date, i.e. the
    oldest `catalog/<YYYY-MM-DD>/` folder holding a `catalog.json` and not dated after tomorrow,
    since data is attributed through a catalog and a landing zone begins with its first one (a
    mis-dated platform folder, `tiktok/1970-01-01/`, is quarantined rather than stretching the
    partitions over decades); else, for a landing zone without a catalog (missing, empty, or
    not delivered yet), yesterday (UTC): the nightly's date, so the schedule's first run exists
    and its check says what is missing.

    Cheap enough for every code-location load: it lists `catalog/` and checks one file per date
    folder, never the platforms' files.
    """
    configured = configured_first_landing_date()
    if configured is not None:
        return configured
    latest = latest_landing_date(today)
    found = [day for day in _catalog_dates(raw) if day <= latest]
    return min(found) if found else latest - timedelta(days=2)  # latest is tomorrow


def _catalog_dates(raw: RawRoot) -> list[date]:
    """The dates of `catalog/<YYYY-MM-DD>/catalog.json` snapshots (local: regular files only)."""
    if isinstance(raw, ObjectPath):
        return [
            day
            for obj in (raw / CATALOG_DIR).list_objects()
            if len(obj.parts) == 2
            and obj.parts[1] == CATALOG_FILE
            and (day := _date_name(obj.parts[0])) is not None
        ]
    found: list[date] = []
    try:
        with os.scandir(raw / CATALOG_DIR) as it:
            for entry in it:
                day = _date_name(entry.name)
                snapshot = Path(entry.path) / CATALOG_FILE
                if (
                    day is not None
                    and entry.is_dir(follow_symlinks=False)
                    and snapshot.is_file()
                    and not snapshot.is_symlink()
                ):
                    found.append(day)
    except OSError:
        pass  # no landing zone or no catalog folder: nothing landed yet
    return found


def folder_date(name: str, latest: date, first: date) -> date | None:
    """The landing date a date folder's name stands for, if it is one from `first` to
    `latest`."""
    day = _date_name(name)
    return day if day is not None and first <= day <= latest else None


def partition_of(parts: tuple[str, ...], mtime_ns: int, latest: date, first: date) -> date:
    """The landing partition of any file at `parts` (relative to `<raw>`): its date folder when
    it has a valid one, else the UTC date of its mtime, clamped into `first`..`latest`."""
    if len(parts) >= 3:
        day = folder_date(parts[1], latest, first)
        if day is not None:
            return day
    try:
        mdate = datetime.fromtimestamp(mtime_ns // 1_000_000_000, UTC).date()
    except (OverflowError, OSError, ValueError):
        mdate = latest
    return max(min(mdate, latest), first)


@dataclass(frozen=True)
class Entry:
    """One file of the landing zone: `kind` is `data` (a platform export to read line by line),
    `catalog` (a snapshot for metrics.catalog) or `stray` (quarantined whole, `reason`/`detail`)."""

    rel: str
    landing_date: date
    kind: str
    size: int
    mtime_ns: int
    reason: str = ""
    detail: str = ""


def _classify(parts: tuple[str, ...], mode: int, latest: date, first: date) -> tuple[str, str, str]:
    """(kind, reason, detail) of a non-directory at `parts`; the first problem found wins, in
    the order: what it is, where it is, what its name says."""
    if stat.S_ISLNK(mode):
        return "stray", "symbolic_link", "a symbolic link (never followed)"
    if not stat.S_ISREG(mode):
        return "stray", "unsupported_file", "not a regular file"
    top, name = parts[0], parts[-1]
    if len(parts) == 1:
        return "stray", "unexpected_path", "a loose file in the landing zone's root"
    if top != CATALOG_DIR and top not in PLATFORMS:
        return "stray", "unexpected_path", f"folder {top!r} is not a platform or {CATALOG_DIR!r}"
    if len(parts) == 2:
        return "stray", "unexpected_path", f"a loose file in {top}/, outside any date folder"
    day_name = parts[1]
    day = _date_name(day_name)
    if day is None:
        return "stray", "unexpected_path", f"folder {day_name!r} is not a YYYY-MM-DD date"
    if day > latest:
        return "stray", "future_landing_date", f"date folder {day_name} is after {latest}"
    if first > day:
        return (
            "stray",
            "before_first_landing_date",
            f"date folder {day_name} is before the first landing partition {first}; set "
            f"{FIRST_LANDING_ENV}={day_name} (or earlier) and backfill to load it",
        )
    if len(parts) > 3:
        return "stray", "unexpected_path", f"inside sub-folder {parts[2]!r} of a date folder"
    if top == CATALOG_DIR:
        if name == CATALOG_FILE:
            return "catalog", "", ""
        return "stray", "unexpected_path", f"a catalog date folder holds only {CATALOG_FILE}"
    if not name.endswith(LANDING_SUFFIXES):
        return "stray", "unsupported_file", "expected *.jsonl or *.jsonl.gz"
    return "data", "", ""


def walk(
    raw: RawRoot, today: date | None = None, top: str | None = None, first: date | None = None
) -> list[Entry]:
    """Every non-directory under `raw` (or under `raw/top`), classified, in path order, against
    the partitions `first` (default: `first_landing_date(raw, today)`) to tomorrow.

    Directories are entered with `os.scandir` and `follow_symlinks=False`: a link is an entry of
    its own, never opened and never descended, so nothing outside the landing zone is read. A
    folder that cannot be listed is one stray entry (`unreadable_file`), not a silent gap.
    On an object store (metrics/objects.py) the keys under the prefix are listed instead,
    each a regular file with its LastModified as mtime, and classified by the same rules.
    """
    latest = latest_landing_date(today)
    first = first or first_landing_date(raw, today)
    if isinstance(raw, ObjectPath):
        return _walk_objects(raw, latest, top, first)
    out: list[Entry] = []

    def add(parts: tuple[str, ...], st: os.stat_result, kind: str, why: str, detail: str) -> None:
        day = partition_of(parts, st.st_mtime_ns, latest, first)
        out.append(Entry("/".join(parts), day, kind, st.st_size, st.st_mtime_ns, why, detail))

    def visit(path: str, parts: tuple[str, ...]) -> None:
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if parts:
                st = os.lstat(path)
                add(parts, st, "stray", "unreadable_file", f"cannot list folder: {exc.strerror}")
            return
        for entry in entries:
            sub = (*parts, entry.name)
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                visit(entry.path, sub)
            else:
                add(sub, st, *_classify(sub, st.st_mode, latest, first))

    start = raw / top if top else raw
    if start.is_dir() and not start.is_symlink():
        visit(str(start), (top,) if top else ())
    elif top and start.is_symlink():
        add((top,), os.lstat(start), "stray", "symbolic_link", "a symbolic link (never followed)")
    out.sort(key=lambda e: e.rel)
    return out


def _walk_objects(raw: ObjectPath, latest: date, top: str | None, first: date) -> list[Entry]:
    base = (top,) if top else ()
    out = []
    for obj in (raw / top if top else raw).list_objects():
        parts = (*base, *obj.parts)
        kind, why, detail = _classify(parts, stat.S_IFREG, latest, first)
        day = partition_of(parts, obj.mtime_ns, latest, first)
        out.append(Entry("/".join(parts), day, kind, obj.size, obj.mtime_ns, why, detail))
    out.sort(key=lambda e: e.rel)
    return out


class UnreadableFile(Exception):
    """A file that could not be read whole; `detail` says why.

    `trusted` is None when every byte read before the failure is right (a truncated gzip, a
    read error); otherwise it is the offset (in decompressed bytes) where a corrupt gzip member
    began: deflate data that fails its check may already have produced wrong bytes, so only the
    members before it (each verified by its CRC) can be used. `tail` is set by line splitters:
    the start of the unterminated last line, which is not a line of its own.
    """

    def __init__(self, detail: str, trusted: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.trusted = trusted
        self.tail = b""


def read_blocks(path: Path | ObjectPath, stop: int | None = None) -> Iterator[bytes]:
    """The decompressed bytes of a landing file in blocks of at most READ_BLOCK bytes.

    Gzip is inflated incrementally (several members, as `gzip` allows, and zero padding after
    the last); a truncated or corrupt stream ends the blocks with `UnreadableFile`, after every
    block that decoded. With `stop` (an earlier failure's `trusted`), only the first `stop` bytes
    are yielded, then `UnreadableFile` again. The normalizer and the independent recount both read
    through here, so they agree byte for byte on the usable prefix of a broken file.
    """
    done = 0
    for block in _blocks(path):
        if stop is not None and done + len(block) >= stop:
            if stop > done:
                yield block[: stop - done]
            raise UnreadableFile("corrupt gzip member", None)
        done += len(block)
        yield block


def _blocks(path: Path | ObjectPath) -> Iterator[bytes]:
    member_start = 0
    done = 0
    try:
        with path.open("rb") as f:
            if not path.name.endswith(".gz"):
                while block := f.read(READ_BLOCK):
                    yield block
                return
            inflate = zlib.decompressobj(wbits=31)
            data = f.read(READ_BLOCK)
            while data:
                block = inflate.decompress(data, READ_BLOCK)
                if block:
                    done += len(block)
                    yield block
                if not inflate.eof:
                    data = inflate.unconsumed_tail or f.read(READ_BLOCK)
                    if not data:
                        # Input ends inside the stream: what zlib still holds, then the verdict.
                        if block := inflate.flush():
                            done += len(block)
                            yield block
                        if not inflate.eof:
                            raise UnreadableFile("truncated gzip: the stream ends early")
                        data = inflate.unused_data
                    continue
                # One member done: the next starts at the first non-zero byte (zero padding).
                data = inflate.unused_data.lstrip(b"\0")
                while not data and (more := f.read(READ_BLOCK)):
                    data = more.lstrip(b"\0")
                inflate = zlib.decompressobj(wbits=31)
                member_start = done
    except zlib.error as exc:
        raise UnreadableFile(f"corrupt gzip: {exc}", member_start) from exc
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or exc}") from exc
