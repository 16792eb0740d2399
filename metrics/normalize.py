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
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

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
        self.sightings: list[tuple[object, ...]] = []

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
    rows: list[tuple[object, ...]], schema: dict[str, pl.DataType], columns: tuple[str, ...]
) -> pl.DataFrame:
    """Typed frame from row tuples named by `columns`; epoch-second columns become UTC
    timestamps here, in one vectorized step."""
    transposed = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
    data = {c: list(v) for c, v in zip(columns, transposed, strict=True)}
    df = pl.DataFrame(data, schema_overrides=adapters.RAW_TYPES, strict=False)
    ts_cols = [c for c in df.columns if c in adapters.EPOCH_COLUMNS]
    df = df.with_columns(
        [pl.from_epoch(pl.col(c), time_unit="s").dt.replace_time_zone("UTC") for c in ts_cols]
    )
    if "day" in data:
        start = pl.col("day").cast(pl.Datetime("us")).dt.replace_time_zone(PACIFIC)
        df = df.with_columns(
            period_start=start.dt.convert_time_zone("UTC"),
            period_end=start.dt.offset_by("1d").dt.convert_time_zone("UTC"),
        )
    return df.select([pl.col(c).cast(t) for c, t in schema.items()])


# Snapshot rows keep their post's publication time and kind until the sightings are built.
_SNAPSHOT_ROWS = {**POST_OBSERVATIONS, "published_at": UTC_TS, "media_kind": pl.String()}
_SIGHTING_ROWS = {c: _SNAPSHOT_ROWS[c] for c in adapters.SIGHTING_COLUMNS}

_OBSERVATION_SCHEMAS = {
    "posts": (_SNAPSHOT_ROWS, adapters.POST_COLUMNS),
    "periods": (PERIOD_OBSERVATIONS, adapters.PERIOD_COLUMNS),
    "followers": (FOLLOWER_OBSERVATIONS, adapters.FOLLOWER_COLUMNS),
    "sightings": (_SIGHTING_ROWS, adapters.SIGHTING_COLUMNS),
}


@dataclass
class _Chunk:
    """What one worker learned from its share of a landing date's files."""

    frames: dict[str, list[pl.DataFrame]]
    quarantine: pl.DataFrame
    accounting: Accounting


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
    return _Chunk(frames, quarantine, out.accounting)


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


def normalize_partition(
    raw: Path, landing_date: date, catalog: Catalog, pool: Executor | None = None
) -> NormalizedPartition:
    """Normalize every landing file of one landing date; the result is sorted and deterministic.

    With a process `pool` the files are split among the workers in groups of about equal bytes;
    the merged result is the same as a sequential run, because every table is sorted by its key.
    """
    paths = landing_files(raw, landing_date)
    workers = getattr(pool, "_max_workers", 1) if pool is not None else 1
    if pool is None or workers == 1 or len(paths) < 2:
        return _merge(landing_date, [_normalize_files(raw, paths, catalog)])
    groups = _split(paths, workers)
    n = len(groups)
    return _merge(landing_date, list(pool.map(_normalize_files, [raw] * n, groups, [catalog] * n)))


def _sightings(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per post from every row that saw it, sorted by (post, collected_at, file, line):
    the newest sighting names the account, the newest known publication time and kind win,
    and the earliest collected_at is when the post was first seen."""
    return (
        rows.group_by("platform_post_id", maintain_order=True)
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
    accounting = Accounting()
    for chunk in chunks:
        accounting.add(chunk.accounting)
    order = ["platform_post_id", "collected_at", "landing_file", "line"]

    def table(name: str, order: list[str]) -> pl.DataFrame:
        parts = [f for c in chunks for f in c.frames[name]]
        parts = parts or [pl.DataFrame(schema=_OBSERVATION_SCHEMAS[name][0])]
        return pl.concat(parts, rechunk=True).sort(order, maintain_order=True)

    snapshots = table("posts", order)
    seen = pl.concat([snapshots.select(list(_SIGHTING_ROWS)), table("sightings", order)]).sort(
        order, maintain_order=True
    )
    tables = {
        "post_observations": snapshots.select(list(POST_OBSERVATIONS)),
        "period_observations": table(
            "periods", ["platform_post_id", "day", "collected_at", "landing_file", "line"]
        ),
        "follower_observations": table(
            "followers", ["social_account_id", "collected_at", "landing_file", "line"]
        ),
        "post_sightings": _sightings(seen),
        "quarantine": pl.concat([c.quarantine for c in chunks]).sort(
            ["landing_file", "line", "record", "reason", "detail", "raw"], nulls_last=False
        ),
    }
    return NormalizedPartition(landing_date, tables, accounting)


__all__ = [
    "NORMALIZED_TABLES",
    "Accounting",
    "NormalizedPartition",
    "count_landing_lines",
    "landing_dates",
    "landing_files",
    "normalize_partition",
]
