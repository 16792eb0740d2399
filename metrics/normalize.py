"""Landing files -> normalized observation tables, with every line accounted for.

Parsing is one orjson pass per line; platform adapters (metrics/adapters.py) pull the used fields
into plain column lists, and polars does the typed, columnar rest. Anything that cannot be used
becomes a quarantine row carrying its file, line, record index, reason and raw text, so a bad
record never takes its siblings down and nothing disappears.
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from metrics import adapters
from metrics.adapters import Reject, Rows
from metrics.catalog import Catalog
from metrics.schema import (
    FOLLOWER_OBSERVATIONS,
    PERIOD_OBSERVATIONS,
    PLATFORMS,
    POST_OBSERVATIONS,
    POST_SIGHTINGS,
    QUARANTINE,
    UTC_TS,
)

LANDING_SUFFIXES = (".jsonl", ".jsonl.gz")
FLUSH_ROWS = 200_000
PACIFIC = "America/Los_Angeles"

NORMALIZED_TABLES = (
    "post_observations",
    "period_observations",
    "follower_observations",
    "post_sightings",
    "quarantine",
)


@dataclass
class Accounting:
    """Line bookkeeping of one landing partition: read = used + quarantined, always."""

    files: int = 0
    lines_read: int = 0
    lines_used: int = 0
    lines_quarantined: int = 0
    records_quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def balanced(self) -> bool:
        return self.lines_read == self.lines_used + self.lines_quarantined

    def add(self, other: Accounting) -> None:
        self.files += other.files
        self.lines_read += other.lines_read
        self.lines_used += other.lines_used
        self.lines_quarantined += other.lines_quarantined
        self.records_quarantined += other.records_quarantined
        self.reasons.update(other.reasons)


@dataclass(frozen=True)
class NormalizedPartition:
    landing_date: date
    tables: dict[str, pl.DataFrame]
    accounting: Accounting


def landing_files(raw: Path, landing_date: date) -> list[Path]:
    """Every file under `<raw>/<folder>/<date>/` except the catalog, in path order."""
    day = landing_date.isoformat()
    if not raw.is_dir():
        return []
    out: list[Path] = []
    for folder in sorted(p for p in raw.iterdir() if p.is_dir() and p.name != "catalog"):
        day_dir = folder / day
        if day_dir.is_dir():
            out.extend(sorted(p for p in day_dir.iterdir() if p.is_file()))
    return out


def landing_dates(raw: Path) -> list[date]:
    """All landing dates present in the landing zone (platform folders and catalog)."""
    found: set[date] = set()
    if not raw.is_dir():
        return []
    for folder in raw.iterdir():
        if not folder.is_dir():
            continue
        for sub in folder.iterdir():
            try:
                found.add(date.fromisoformat(sub.name))
            except ValueError:
                continue
    return sorted(found)


class _Builder(adapters.Sink):
    """Row tuples for one landing partition (one append per record is the cheapest thing
    Python can do per record), turned into columns by `_frame`."""

    def __init__(self) -> None:
        self.posts: list[tuple[object, ...]] = []
        self.periods: list[tuple[object, ...]] = []
        self.followers: list[tuple[object, ...]] = []
        self.quarantine: Rows = adapters.new_rows(tuple(QUARANTINE))
        self.accounting = Accounting()
        # post id -> [newest order, platform, native, account, kind, published, its order,
        #             earliest collected_at, kind's order]; an order is (collected_at, file, line)
        self._sightings: dict[str, list[Any]] = {}

    def reject(
        self, file: str, line: int, record: int | None, reason: str, detail: str, raw: str
    ) -> None:
        q = self.quarantine
        q["landing_file"].append(file)
        q["line"].append(line)
        q["record"].append(record)
        q["reason"].append(reason)
        q["detail"].append(detail)
        q["raw"].append(raw)
        self.accounting.reasons[reason] += 1

    def sighting(
        self,
        post_id: str,
        platform: str,
        native: str,
        account: str,
        published_at: int | None,
        media_kind: str | None,
        ctx: adapters.Context,
    ) -> None:
        """Keep, per post, the newest sighting and the newest *known* publication time."""
        order = (ctx.collected_at, ctx.file, ctx.line)
        seen = self._sightings.get(post_id)
        if seen is None:
            self._sightings[post_id] = [
                order,
                platform,
                native,
                account,
                media_kind,
                published_at,
                order if published_at is not None else None,
                ctx.collected_at,
                order if media_kind is not None else None,
            ]
            return
        # Inline fold: the hot path, once per record.
        if ctx.collected_at < seen[7]:
            seen[7] = ctx.collected_at
        if order > seen[0]:
            seen[0], seen[3] = order, account
        if published_at is not None and (seen[6] is None or order > seen[6]):
            seen[5], seen[6] = published_at, order
        if media_kind is not None and (seen[8] is None or order > seen[8]):
            seen[4], seen[8] = media_kind, order

    @staticmethod
    def _fold(mine: list[Any], theirs: list[Any]) -> None:
        """Combine two sightings of one post; symmetric, so the order of folding never matters:
        the newest sighting names the account, the newest known values win, first is the min."""
        mine[7] = min(mine[7], theirs[7])
        if theirs[0] > mine[0]:
            mine[0], mine[3] = theirs[0], theirs[3]
        if theirs[6] is not None and (mine[6] is None or theirs[6] > mine[6]):
            mine[5], mine[6] = theirs[5], theirs[6]
        if theirs[8] is not None and (mine[8] is None or theirs[8] > mine[8]):
            mine[4], mine[8] = theirs[4], theirs[8]

    def sightings_state(self) -> dict[str, list[Any]]:
        return self._sightings

    def merge_sightings(self, other: dict[str, list[Any]]) -> None:
        """Fold another worker's sightings in with the same rules as `sighting`."""
        for post_id, theirs in other.items():
            mine = self._sightings.get(post_id)
            if mine is None:
                self._sightings[post_id] = list(theirs)
            else:
                self._fold(mine, theirs)

    def sightings(self) -> Rows:
        rows = adapters.new_rows(adapters.SIGHTING_COLUMNS)
        for post_id, (order, platform, native, account, kind, published, _, first, _k) in sorted(
            self._sightings.items()
        ):
            rows["platform_post_id"].append(post_id)
            rows["platform"].append(platform)
            rows["native_id"].append(native)
            rows["social_account_id"].append(account)
            rows["published_at"].append(published)
            rows["media_kind"].append(kind)
            rows["first_seen_at"].append(first)
            rows["collected_at"].append(order[0])
            rows["landing_file"].append(order[1])
            rows["line"].append(order[2])
        return rows


def _read_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def count_landing_lines(raw: Path, landing_date: date) -> int:
    """Count the lines of a landing date's files without parsing them: the reconciliation check's
    independent side. A file that is not JSONL, or cannot be read, counts as one line."""
    total = 0
    for path in landing_files(raw, landing_date):
        if not path.name.endswith(LANDING_SUFFIXES):
            total += 1
            continue
        try:
            data = path.read_bytes()
            if path.name.endswith(".gz"):
                data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile):
            total += 1
            continue
        total += data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
    return total


def _normalize_file(path: Path, raw_root: Path, catalog: Catalog, out: _Builder) -> None:
    rel = path.relative_to(raw_root).as_posix()
    folder = rel.split("/", 1)[0]
    acc = Accounting(files=1)
    if not path.name.endswith(LANDING_SUFFIXES):
        acc.lines_read = acc.lines_quarantined = 1
        out.reject(rel, 0, None, "unsupported_file", "expected *.jsonl or *.jsonl.gz", "")
        out.accounting.add(acc)
        return
    try:
        lines = _read_lines(path)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        acc.lines_read = acc.lines_quarantined = 1
        out.reject(rel, 0, None, "unreadable_file", f"cannot read file: {exc}", "")
        out.accounting.add(acc)
        return
    for index, line in enumerate(lines):
        number = index + 1
        acc.lines_read += 1
        rejects_before = len(out.quarantine["line"])
        outcome = _normalize_line(line, rel, number, folder, catalog, out)
        if isinstance(outcome, Reject):
            acc.lines_quarantined += 1
            out.reject(rel, number, None, outcome.reason, outcome.detail, _text(line))
        else:
            acc.lines_used += 1
            acc.records_quarantined += len(out.quarantine["line"]) - rejects_before
    out.accounting.add(acc)


def _text(line: bytes) -> str:
    return line.decode("utf-8", errors="replace")


def _normalize_line(
    line: bytes, rel: str, number: int, folder: str, catalog: Catalog, out: _Builder
) -> Reject | None:
    if not line.strip():
        return Reject("malformed_json", "blank line")
    try:
        env = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Reject("malformed_json", f"not valid JSON: {exc}")
    if not isinstance(env, dict):
        return Reject("invalid_envelope", "a line must be one JSON object (the envelope)")
    for name in ("platform", "endpoint", "social_account_id", "collected_at"):
        if not isinstance(env.get(name), str) or not env[name]:
            return Reject("invalid_envelope", f"envelope field `{name}` is missing or not a string")
    if not isinstance(env.get("response"), dict):
        return Reject("invalid_envelope", "envelope field `response` is missing or not an object")
    platform, endpoint, account = env["platform"], env["endpoint"], env["social_account_id"]
    if platform not in PLATFORMS:
        return Reject("unknown_platform", f"unknown platform {platform!r}")
    if platform != folder:
        return Reject("platform_mismatch", f"platform {platform!r} landed in folder {folder!r}")
    handler = adapters.HANDLERS.get((platform, endpoint))
    if handler is None:
        return Reject("unknown_endpoint", f"unknown endpoint {endpoint!r} for {platform}")
    known = catalog.known_account_platforms.get(account)
    if known is None:
        return Reject("unknown_account", f"social_account_id {account!r} is in no catalog")
    if known != platform:
        return Reject("platform_mismatch", f"account {account} is a {known} account")
    collected = adapters.parse_timestamp(env["collected_at"])
    if isinstance(collected, Reject):
        return Reject(collected.reason, f"collected_at: {collected.detail}")
    ctx = adapters.Context(rel, number, platform, account, collected, out.reject)
    return handler(env["response"], ctx, out)


def _frame(
    rows: Rows | list[tuple[object, ...]],
    schema: dict[str, pl.DataType],
    columns: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Typed frame from columns (or row tuples named by `columns`); epoch-second columns become
    UTC timestamps here, in one vectorized step."""
    if isinstance(rows, list):
        transposed = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
        rows = {c: list(v) for c, v in zip(columns, transposed, strict=True)}
    df = pl.DataFrame(rows, schema_overrides=adapters.RAW_TYPES, strict=False)
    ts_cols = [c for c in df.columns if c in adapters.EPOCH_COLUMNS]
    df = df.with_columns(
        [pl.from_epoch(pl.col(c), time_unit="s").dt.replace_time_zone("UTC") for c in ts_cols]
    )
    if "day" in rows:
        start = pl.col("day").cast(pl.Datetime("us")).dt.replace_time_zone(PACIFIC)
        df = df.with_columns(
            period_start=start.dt.convert_time_zone("UTC"),
            period_end=start.dt.offset_by("1d").dt.convert_time_zone("UTC"),
        )
    return df.select([pl.col(c).cast(t) for c, t in schema.items()])


# Snapshot rows keep their post's publication time and kind until the sightings are built.
_SNAPSHOT_ROWS = {**POST_OBSERVATIONS, "published_at": UTC_TS, "media_kind": pl.String()}

_OBSERVATION_SCHEMAS = {
    "posts": (_SNAPSHOT_ROWS, adapters.POST_COLUMNS),
    "periods": (PERIOD_OBSERVATIONS, adapters.PERIOD_COLUMNS),
    "followers": (FOLLOWER_OBSERVATIONS, adapters.FOLLOWER_COLUMNS),
}


@dataclass
class _Chunk:
    """What one worker learned from its share of a landing date's files."""

    frames: dict[str, list[pl.DataFrame]]
    quarantine: pl.DataFrame
    accounting: Accounting
    sightings: dict[str, list[Any]]


def _normalize_files(raw: Path, paths: list[Path], catalog: Catalog) -> _Chunk:
    out = _Builder()
    frames: dict[str, list[pl.DataFrame]] = {name: [] for name in _OBSERVATION_SCHEMAS}

    def flush() -> None:
        # Columnar chunks keep memory flat: Python tuples of boxed values cost ~10x the bytes.
        for name, (schema, columns) in _OBSERVATION_SCHEMAS.items():
            rows: list[tuple[object, ...]] = getattr(out, name)
            if rows:
                frames[name].append(_frame(rows, schema, columns))
                setattr(out, name, [])

    for path in paths:
        _normalize_file(path, raw, catalog, out)
        if len(out.posts) >= FLUSH_ROWS:
            flush()
    flush()
    quarantine = pl.DataFrame(out.quarantine, schema=QUARANTINE)
    return _Chunk(frames, quarantine, out.accounting, out.sightings_state())


def _split(paths: list[Path], parts: int) -> list[list[Path]]:
    """Contiguous groups of about equal bytes, so workers finish together."""
    sizes = [p.stat().st_size for p in paths]
    target = sum(sizes) / parts
    groups: list[list[Path]] = [[]]
    acc = 0
    for path, size in zip(paths, sizes, strict=True):
        if acc >= target * len(groups) and len(groups) < parts:
            groups.append([])
        groups[-1].append(path)
        acc += size
    return [g for g in groups if g]


def submit_partition(
    raw: Path, landing_date: date, catalog: Catalog, pool: Executor | None = None
) -> Callable[[], NormalizedPartition]:
    """Start normalizing one landing date; call the result to wait for it and merge.

    With a process `pool` the date's files are split in groups of about equal bytes, so several
    dates submitted back to back keep every worker busy until the last one; the merged result
    is the same as a sequential run, because every table is sorted by its key at the end.
    """
    paths = landing_files(raw, landing_date)
    workers = getattr(pool, "_max_workers", 1) if pool is not None else 1
    if pool is None or workers == 1 or len(paths) < 2:
        chunk = _normalize_files(raw, paths, catalog)
        return lambda: _merge(landing_date, [chunk])
    futures = [
        pool.submit(_normalize_files, raw, group, catalog) for group in _split(paths, workers)
    ]
    return lambda: _merge(landing_date, [f.result() for f in futures])


def normalize_partition(
    raw: Path, landing_date: date, catalog: Catalog, pool: Executor | None = None
) -> NormalizedPartition:
    """Normalize every landing file of one landing date; the result is sorted and deterministic."""
    return submit_partition(raw, landing_date, catalog, pool)()


def _lifetime_sightings(snapshots: pl.DataFrame) -> pl.DataFrame:
    """Per post, from its snapshots sorted by (post, collected_at, file, line): the newest
    sighting names the account, the newest known publication time and kind win, and the
    earliest collected_at is when it was first seen (the same rules as `_Builder.sighting`)."""
    return (
        snapshots.group_by("platform_post_id", maintain_order=True)
        .agg(
            pl.col("platform").last(),
            pl.col("social_account_id").last(),
            pl.col("published_at").drop_nulls().last(),
            pl.col("media_kind").drop_nulls().last(),
            pl.col("collected_at").min().alias("first_seen_at"),
            pl.col("collected_at").last(),
            pl.col("landing_file").last(),
            pl.col("line").last(),
        )
        .with_columns(
            native_id=pl.col("platform_post_id").str.slice(pl.col("platform").str.len_chars() + 5)
        )
        .select(list(POST_SIGHTINGS))
    )


def _merge(landing_date: date, chunks: list[_Chunk]) -> NormalizedPartition:
    builder = _Builder()
    for chunk in chunks:
        builder.accounting.add(chunk.accounting)
        builder.merge_sightings(chunk.sightings)

    def table(name: str, order: list[str]) -> pl.DataFrame:
        parts = [f for c in chunks for f in c.frames[name]]
        parts = parts or [pl.DataFrame(schema=_OBSERVATION_SCHEMAS[name][0])]
        return pl.concat(parts, rechunk=True).sort(order, maintain_order=True)

    snapshots = table("posts", ["platform_post_id", "collected_at", "landing_file", "line"])
    sightings = pl.concat(
        [_lifetime_sightings(snapshots), _frame(builder.sightings(), POST_SIGHTINGS)]
    ).sort("platform_post_id")
    tables = {
        "post_observations": snapshots.select(list(POST_OBSERVATIONS)),
        "period_observations": table(
            "periods", ["platform_post_id", "day", "collected_at", "landing_file", "line"]
        ),
        "follower_observations": table(
            "followers", ["social_account_id", "collected_at", "landing_file", "line"]
        ),
        "post_sightings": sightings,
        "quarantine": pl.concat([c.quarantine for c in chunks]).sort(
            ["landing_file", "line", "record", "reason", "detail", "raw"], nulls_last=False
        ),
    }
    return NormalizedPartition(landing_date, tables, builder.accounting)


__all__ = [
    "NORMALIZED_TABLES",
    "Accounting",
    "NormalizedPartition",
    "count_landing_lines",
    "landing_dates",
    "landing_files",
    "normalize_partition",
    "submit_partition",
]
