"""Landing files -> normalized observation tables, with every line accounted for.

A line goes one of two ways. The columnar path (metrics/ingest/columnar.py) takes the sound lines
of the endpoints it serves (TikTok video lists, X tweets, the follower endpoints): decoded into
strict shapes, checked over columns, their rows built by polars. Every other line, and every
line the columnar path is not sure of, takes the per-line path here: msgspec decodes the
envelope and the body into the adapters' typed structures (metrics/ingest/adapters/), or orjson
into plain values when they do not fit, and the adapters judge it record by record. Anything that
cannot be used becomes a quarantine row carrying its file, line, record index, reason and raw
text, so a bad record never takes its siblings down and nothing disappears.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson
import polars as pl

from metrics.ingest import adapters, columnar, layout
from metrics.ingest.adapters import Reject, Rows
from metrics.ingest.catalog import Catalog
from metrics.ingest.layout import LANDING_SUFFIXES, Entry, UnreadableFile, read_blocks
from metrics.model.platforms import PLATFORMS
from metrics.model.scopes import native_id_expr
from metrics.model.tables import (
    FOLLOWER_OBSERVATIONS,
    FOLLOWER_OBSERVATIONS_TABLE,
    MEDIA,
    NORMALIZED,
    PERIOD_OBSERVATIONS,
    PERIOD_OBSERVATIONS_TABLE,
    POST_OBSERVATIONS,
    POST_OBSERVATIONS_TABLE,
    POST_SIGHTINGS,
    POST_SIGHTINGS_TABLE,
    QUARANTINE,
    QUARANTINE_TABLE,
    UTC_TS,
)
from metrics.objects import ObjectPath, RawRoot

# Snapshot rows held as Python lists before they become a polars chunk (checked between files):
# boxed values cost ~10x the bytes of a column, and 50 k rows keep a large landing date's lists
# ~70 MB smaller than 200 k did for no measurable CPU.
FLUSH_ROWS = 50_000
# The longest line parsed (bytes, decompressed); a longer one is quarantined from a prefix, never
# held whole, so a gzip bomb of one endless line costs a block, not its size. The longest real
# export line (a YouTube report of many videos × days) is a few MB.
MAX_LINE_ENV = "METRICS_MAX_LINE_BYTES"
DEFAULT_MAX_LINE_BYTES = 16 << 20
RAW_PREFIX_BYTES = 4096
PACIFIC = "America/Los_Angeles"

# What a landing partition normalizes into, in writing order (from the registry).
NORMALIZED_TABLES = tuple(t.name for t in NORMALIZED)


@dataclass
class Accounting:
    """Bookkeeping of one landing partition: lines read = used + quarantined, and files found =
    files read + files quarantined (a file with a line-0 row, even if a prefix of it was read)."""

    files_read: int = 0
    files_quarantined: int = 0
    lines_read: int = 0
    lines_used: int = 0
    lines_quarantined: int = 0
    records_quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def files(self) -> int:
        return self.files_read + self.files_quarantined

    @property
    def balanced(self) -> bool:
        return self.lines_read == self.lines_used + self.lines_quarantined

    def add(self, other: Accounting) -> None:
        self.files_read += other.files_read
        self.files_quarantined += other.files_quarantined
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


def partition_entries(
    raw: RawRoot, landing_date: date, today: date | None = None, first: date | None = None
) -> list[Entry]:
    """Every file of the landing zone that belongs to `landing_date` (metrics/ingest/layout.py), in
    path order: platform exports, catalog snapshots and stray files alike. `first` is the first
    landing partition (default: `layout.first_landing_date(raw)`)."""
    return [e for e in layout.walk(raw, today, first=first) if e.landing_date == landing_date]


def landing_files(
    raw: RawRoot, landing_date: date, today: date | None = None, first: date | None = None
) -> list[RawRoot]:
    """The platform exports of `<raw>/<platform>/<date>/` (the files read line by line)."""
    entries = partition_entries(raw, landing_date, today, first)
    return [raw / e.rel for e in entries if e.kind == "data"]


def landing_dates(raw: RawRoot, today: date | None = None, first: date | None = None) -> list[date]:
    """Every landing partition that owns a file: date folders of platforms and the catalog, and
    the dates stray files map to (so a default backfill quarantines them). Never after tomorrow:
    a folder dated later is stray itself, so it cannot stretch a backfill into the future."""
    return sorted({e.landing_date for e in layout.walk(raw, today, first=first)})


def max_line_bytes() -> int:
    """METRICS_MAX_LINE_BYTES, or the default; read per run so a test or an operator can set it."""
    return int(os.environ.get(MAX_LINE_ENV) or DEFAULT_MAX_LINE_BYTES)


@dataclass(frozen=True)
class _TooLong:
    """A line over the limit: its length and its first RAW_PREFIX_BYTES bytes."""

    size: int
    prefix: bytes


def _lines(blocks: Iterator[bytes], limit: int) -> Iterator[bytes | _TooLong]:
    """Lines of a stream of blocks, holding at most one line of up to `limit` bytes (and one
    block) at a time. A line longer than `limit` is skipped to its end and yielded as `_TooLong`.
    A final line without a newline is a line; if the stream fails, that unterminated tail is no
    line but the `tail` of the `UnreadableFile`."""
    pending = b""
    skipped = 0  # > 0: inside an over-long line, this many bytes of it seen
    prefix = b""
    try:
        for block in blocks:
            if skipped:
                end = block.find(b"\n")
                if end < 0:
                    skipped += len(block)
                    continue
                yield _TooLong(skipped + end, prefix)
                skipped = 0
                block = block[end + 1 :]
            data = pending + block if pending else block
            lines = data.split(b"\n")
            pending = lines.pop()
            if len(data) <= limit:
                yield from lines
            else:
                for line in lines:
                    too_long = len(line) > limit
                    yield _TooLong(len(line), line[:RAW_PREFIX_BYTES]) if too_long else line
            if len(pending) > limit:
                skipped, prefix, pending = len(pending), pending[:RAW_PREFIX_BYTES], b""
    except UnreadableFile as exc:
        exc.tail = prefix if skipped else pending[:RAW_PREFIX_BYTES]
        raise
    if skipped:
        yield _TooLong(skipped, prefix)
    elif pending:
        yield pending


_Mark = tuple[tuple[int, ...], Counter[str], Any]


class _Builder(adapters.Sink):
    """Row tuples for one landing partition (one append per record is the cheapest thing
    Python can do per record), turned into columns by `_frame`."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.pending = columnar.Pending(catalog.known_account_platforms)
        self.posts = adapters.Columns(adapters.POST_COLUMNS)
        self.periods = adapters.Columns(adapters.PERIOD_COLUMNS)
        self.followers = adapters.Columns(adapters.FOLLOWER_COLUMNS)
        self.quarantine: Rows = adapters.new_rows(tuple(QUARANTINE))
        self.accounting = Accounting()
        self.sightings = adapters.Columns(adapters.SIGHTING_COLUMNS)

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

    def mark(self) -> _Mark:
        """Where the rows stand, so a file whose content turns out untrustworthy can be undone
        (rows are flushed to frames, and pending lines checked, only between files)."""
        sizes = (len(self.posts), len(self.periods), len(self.followers), len(self.sightings))
        rows = (*sizes, len(self.quarantine["line"]))
        return rows, Counter(self.accounting.reasons), self.pending.mark()

    def rollback(self, mark: _Mark) -> None:
        (posts, periods, followers, sightings, rejected), reasons, pending = mark
        self.pending.rollback(pending)
        self.posts.truncate(posts)
        self.periods.truncate(periods)
        self.followers.truncate(followers)
        self.sightings.truncate(sightings)
        for column in self.quarantine.values():
            del column[rejected:]
        self.accounting.reasons = reasons


@dataclass(frozen=True)
class Recount:
    """What an independent walk finds in one landing partition."""

    files: int
    lines: int


def recount_landing(
    raw: RawRoot, landing_date: date, today: date | None = None, first: date | None = None
) -> Recount:
    """Count a landing partition's files and lines without parsing them: the reconciliation
    check's independent side. It walks with `os.walk` (not metrics.layout.walk) and decides by
    itself which files are read line by line; every other file is one line (its line-0 row).
    Only the layout's vocabulary (platforms, date folders, the partition rule) and the byte
    reader are shared, so a file the main path forgets, or a line it drops, shows up here.
    On an object store the keys are listed afresh and go through the same count."""
    latest = layout.latest_landing_date(today)
    first = first or layout.first_landing_date(raw, today)
    files = lines = 0

    def count(parts: tuple[str, ...], mode: int, mtime_ns: int) -> None:
        nonlocal files, lines
        if layout.partition_of(parts, mtime_ns, latest, first) != landing_date:
            return
        files += 1
        placed = (
            stat.S_ISREG(mode)
            and len(parts) == 3
            and layout.folder_date(parts[1], latest, first) is not None
        )
        if placed and parts[0] == layout.CATALOG_DIR and parts[2] == layout.CATALOG_FILE:
            return  # a catalog snapshot: a file of its partition, no lines
        if placed and parts[0] in PLATFORMS and parts[2].endswith(LANDING_SUFFIXES):
            lines += _count_lines(raw.joinpath(*parts))
        else:
            lines += 1

    if isinstance(raw, ObjectPath):
        for obj in raw.list_objects():
            count(obj.parts, stat.S_IFREG, obj.mtime_ns)
        return Recount(files, lines)

    def lstat(where: str | Path) -> tuple[int, int]:
        st = os.lstat(where)
        return st.st_mode, st.st_mtime_ns

    def unlisted(exc: OSError) -> None:
        where = Path(exc.filename)
        if where != raw:
            count(where.relative_to(raw).parts, *lstat(where))

    for folder, dirs, names in os.walk(raw, onerror=unlisted):
        base = Path(folder).relative_to(raw).parts
        links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        for name in [*names, *links]:
            count((*base, name), *lstat(os.path.join(folder, name)))
    return Recount(files, lines)


def _count_lines(path: RawRoot) -> int:
    """Newlines, plus an unterminated last line; a file that fails counts the lines before the
    failure (of its trusted prefix) plus its line-0 row."""
    seen = [0, True]  # newlines so far, whether the last byte seen is a newline

    def tally(stop: int | None) -> None:
        seen[0], seen[1] = 0, True
        for block in read_blocks(path, stop):
            seen[0] += block.count(b"\n")
            seen[1] = block.endswith(b"\n")

    try:
        tally(None)
    except UnreadableFile as exc:
        if exc.trusted is not None:
            with contextlib.suppress(UnreadableFile):
                tally(exc.trusted)
        return seen[0] + 1
    return seen[0] + (0 if seen[1] else 1)


def count_landing_lines(
    raw: RawRoot, landing_date: date, today: date | None = None, first: date | None = None
) -> int:
    """The independent line count of a landing partition (see `recount_landing`)."""
    return recount_landing(raw, landing_date, today, first).lines


@dataclass(frozen=True, slots=True)
class _FileScope:
    """What every line of one landing file is judged against: the file (relative to `<raw>`),
    the platform folder it landed in, the end of its landing date (epoch seconds), the catalog,
    and the builder its rows go to."""

    rel: str
    folder: str
    landing_end: int
    catalog: Catalog
    out: _Builder


def _normalize_file(
    entry: Entry, raw_root: RawRoot, catalog: Catalog, out: _Builder, limit: int
) -> None:
    """One file of the partition: a stray file or a catalog snapshot is accounted without being
    opened; a platform export is streamed line by line."""
    rel = entry.rel
    acc = Accounting()
    if entry.kind == "catalog":
        # Read by metrics.catalog; whether it was accepted is the `catalog` asset's report.
        acc.files_read = 1
        out.accounting.add(acc)
        return
    if entry.kind != "data":
        acc.files_quarantined = acc.lines_read = acc.lines_quarantined = 1
        out.reject(rel, 0, None, entry.reason, entry.detail, "")
        out.accounting.add(acc)
        return
    path = raw_root / rel
    day = entry.landing_date
    landing_end = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) + 86_400
    scope = _FileScope(rel, rel.split("/", 1)[0], landing_end, catalog, out)
    mark = out.mark()
    try:
        _normalize_lines(read_blocks(path), scope, acc, limit)
    except UnreadableFile as exc:
        failure = exc
        if exc.trusted is not None:
            # A corrupt gzip member may have decoded into wrong bytes: start over, and use only
            # the members before it.
            out.rollback(mark)
            acc = Accounting()
            try:
                _normalize_lines(read_blocks(path, exc.trusted), scope, acc, limit)
            except UnreadableFile as again:
                failure.tail = again.tail
        acc.files_quarantined = 1
        acc.lines_read += 1
        acc.lines_quarantined += 1
        kept = f"; lines 1-{acc.lines_read - 1} before it are used" if acc.lines_read > 1 else ""
        out.reject(rel, 0, None, "unreadable_file", failure.detail + kept, _text(failure.tail))
    else:
        acc.files_read = 1
    out.accounting.add(acc)


# Lines handed to the columnar path at a time (it decodes them at once, checks them later).
COLUMNAR_LINES = 4096


def _normalize_lines(
    blocks: Iterator[bytes], scope: _FileScope, acc: Accounting, limit: int
) -> None:
    """The lines of one file: each that the columnar path decodes waits there for its checks
    (`_take_pending`); every other is judged here, one by one."""
    out = scope.out
    ref = columnar.FileRef(scope.rel, scope.folder, scope.landing_end)
    batch: list[tuple[int, bytes]] = []

    def hand_over() -> None:
        for number, rest in out.pending.take(ref, batch):
            _judge_line(rest, number, scope, acc)
        batch.clear()

    try:
        for index, line in enumerate(_lines(blocks, limit)):
            number = index + 1
            acc.lines_read += 1
            if isinstance(line, _TooLong):
                acc.lines_quarantined += 1
                detail = f"a line of {line.size} bytes exceeds {MAX_LINE_ENV}={limit}"
                out.reject(
                    scope.rel,
                    number,
                    None,
                    "line_too_long",
                    detail + "; raw is its start",
                    _text(line.prefix),
                )
                continue
            batch.append((number, line))
            if len(batch) >= COLUMNAR_LINES:
                hand_over()
    finally:
        # The lines read before a failure are used (a readable prefix of a broken gzip).
        hand_over()


def _judge_line(line: bytes, number: int, scope: _FileScope, acc: Accounting) -> None:
    """The per-line path: the line's rows, or its quarantine row, and its accounting."""
    out = scope.out
    rejects_before = len(out.quarantine["line"])
    outcome = _normalize_line(line, number, scope)
    if isinstance(outcome, Reject):
        acc.lines_quarantined += 1
        out.reject(scope.rel, number, None, outcome.reason, outcome.detail, _text(line))
    else:
        acc.lines_used += 1
        acc.records_quarantined += len(out.quarantine["line"]) - rejects_before


def _take_pending(out: _Builder) -> dict[str, pl.DataFrame]:
    """Run the columnar checks over the pending lines: the frames of the ones they accept, and
    the per-line path for every line they hand back."""
    taken = out.pending.flush()
    acc = Accounting(lines_used=taken.accepted)
    for ref, number, line in taken.handed_back:
        scope = _FileScope(ref.rel, ref.folder, ref.landing_end, out.catalog, out)
        _judge_line(line, number, scope, acc)
    out.accounting.add(acc)
    frames = {}
    if taken.posts is not None:
        frames["posts"] = _frame(taken.posts, _SNAPSHOT_ROWS)
    if taken.followers is not None:
        frames["followers"] = _frame(taken.followers, FOLLOWER_OBSERVATIONS)
    return frames


def _text(line: bytes) -> str:
    return line.decode("utf-8", errors="replace")


class _Envelope(msgspec.Struct):
    """The envelope as the fast path reads it: its fields typed, the body kept as raw bytes for
    its endpoint's typed decoder. Anything that does not fit goes to `_normalize_loose`."""

    platform: str
    endpoint: str
    social_account_id: str
    collected_at: str
    response: msgspec.Raw
    request: Any = None


_ENVELOPE = msgspec.json.Decoder(_Envelope)


def _normalize_line(line: bytes, number: int, scope: _FileScope) -> Reject | None:
    """One line: the typed fast path, or, for a line it does not fit (not an envelope, not
    JSON, a body that is not an object), the plain-JSON path that says what is wrong."""
    try:
        env = _ENVELOPE.decode(line)
    except msgspec.MsgspecError:
        return _normalize_loose(line, number, scope)
    body = bytes(env.response)
    if not (env.platform and env.endpoint and env.social_account_id and env.collected_at):
        return _normalize_loose(line, number, scope)
    if not body.startswith(b"{"):
        return _normalize_loose(line, number, scope)
    routed = _route(env.platform, env.endpoint, env.social_account_id, env.collected_at, scope)
    if isinstance(routed, Reject):
        return routed
    handler, collected = routed
    out = scope.out
    ctx = adapters.Context(
        scope.rel,
        number,
        env.platform,
        env.social_account_id,
        collected,
        out.reject,
        env.request,
        body,
    )
    try:
        return handler(body, ctx, out)
    except orjson.JSONDecodeError:
        # A used value no double holds (1e400): the plain path names it.
        return _normalize_loose(line, number, scope)


def _route(
    platform: str, endpoint: str, account: str, collected_at: str, scope: _FileScope
) -> tuple[adapters.Handler, int] | Reject:
    """The envelope checks both paths share, in order: platform, folder, endpoint, account,
    `collected_at`. Returns the endpoint's handler and `collected_at` in epoch seconds."""
    folder = scope.folder
    if platform not in PLATFORMS:
        return Reject("unknown_platform", f"unknown platform {platform!r}")
    if platform != folder:
        return Reject("platform_mismatch", f"platform {platform!r} landed in folder {folder!r}")
    handler = adapters.HANDLERS.get((platform, endpoint))
    if handler is None:
        return Reject("unknown_endpoint", f"unknown endpoint {endpoint!r} for {platform}")
    known = scope.catalog.known_account_platforms.get(account)
    if known is None:
        return Reject("unknown_account", f"social_account_id {account!r} is in no catalog")
    if known != platform:
        return Reject("platform_mismatch", f"account {account} is a {known} account")
    collected = adapters.parse_timestamp(collected_at)
    if isinstance(collected, Reject):
        return Reject(collected.reason, f"collected_at: {collected.detail}")
    if collected >= scope.landing_end:
        # A file cannot hold what was collected after it landed; left in, it would be `as_of`.
        return Reject(
            "collected_after_landing",
            f"collected_at {collected_at} is after the end of the landing date",
        )
    return handler, collected


def _normalize_loose(line: bytes, number: int, scope: _FileScope) -> Reject | None:
    if not line.strip():
        return Reject("malformed_json", "blank line")
    try:
        env = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if "infinity" in str(exc):
            # Valid JSON that no double holds (1e400): an integer, and far out of range.
            return Reject("integer_out_of_range", f"a number beyond any 64-bit value: {exc}")
        return Reject("malformed_json", f"not valid JSON: {exc}")
    if not isinstance(env, dict):
        return Reject("invalid_envelope", "a line must be one JSON object (the envelope)")
    for name in ("platform", "endpoint", "social_account_id", "collected_at"):
        if not isinstance(env.get(name), str) or not env[name]:
            return Reject("invalid_envelope", f"envelope field `{name}` is missing or not a string")
    if not isinstance(env.get("response"), dict):
        return Reject("invalid_envelope", "envelope field `response` is missing or not an object")
    platform, account = env["platform"], env["social_account_id"]
    routed = _route(platform, env["endpoint"], account, env["collected_at"], scope)
    if isinstance(routed, Reject):
        return routed
    handler, collected = routed
    request = env.get("request")
    ctx = adapters.Context(
        scope.rel, number, platform, account, collected, scope.out.reject, request
    )
    return handler.loose(env["response"], ctx, scope.out)


def _frame(
    data: dict[str, list[Any]] | pl.DataFrame, schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    """Typed frame from column lists (or a raw-layout frame of the columnar path); epoch-second
    columns become UTC timestamps here, in one vectorized step."""
    if isinstance(data, pl.DataFrame):
        df = data
    else:
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
_SNAPSHOT_ROWS = {
    **POST_OBSERVATIONS,
    "published_at": UTC_TS,
    **{c: POST_SIGHTINGS[c] for c in MEDIA},
}
_SIGHTING_ROWS = {c: _SNAPSHOT_ROWS[c] for c in adapters.SIGHTING_COLUMNS}

_OBSERVATION_SCHEMAS = {
    "posts": _SNAPSHOT_ROWS,
    "periods": PERIOD_OBSERVATIONS,
    "followers": FOLLOWER_OBSERVATIONS,
    "sightings": _SIGHTING_ROWS,
}


@dataclass
class _Chunk:
    """What one worker learned from its share of a landing date's files."""

    frames: dict[str, list[pl.DataFrame]]
    quarantine: pl.DataFrame
    accounting: Accounting


def _normalize_files(raw: RawRoot, entries: list[Entry], catalog: Catalog) -> _Chunk:
    out = _Builder(catalog)
    limit = max_line_bytes()
    frames: dict[str, list[pl.DataFrame]] = {name: [] for name in _OBSERVATION_SCHEMAS}

    def flush() -> None:
        # Columnar chunks keep memory flat: Python lists of boxed values cost ~10x the bytes.
        for name, frame in _take_pending(out).items():
            frames[name].append(frame)
        for name, schema in _OBSERVATION_SCHEMAS.items():
            rows: adapters.Columns = getattr(out, name)
            if len(rows):
                frames[name].append(_frame(rows.take(), schema))

    with columnar.no_cycles():
        for entry in entries:
            _normalize_file(entry, raw, catalog, out, limit)
            if len(out.posts) >= FLUSH_ROWS or out.pending.records >= FLUSH_ROWS:
                flush()
        flush()
    quarantine = pl.DataFrame(out.quarantine, schema=QUARANTINE)
    return _Chunk(frames, quarantine, out.accounting)


def _split(entries: list[Entry], parts: int) -> list[list[Entry]]:
    """Contiguous groups of about equal bytes, so workers finish together."""
    target = sum(e.size for e in entries) / parts
    groups: list[list[Entry]] = [[]]
    acc = 0
    for entry in entries:
        if acc >= target * len(groups) and len(groups) < parts:
            groups.append([])
        groups[-1].append(entry)
        acc += entry.size
    return [g for g in groups if g]


def normalize_partition(
    raw: RawRoot,
    landing_date: date,
    catalog: Catalog,
    pool: Executor | None = None,
    today: date | None = None,
    first: date | None = None,
) -> NormalizedPartition:
    """Normalize every file of one landing partition; the result is sorted and deterministic.

    With a process `pool` the files are split among the workers in groups of about equal bytes; the
    merged result is the same as a sequential run, because every table is sorted by its key. `today`
    (UTC, default: now) decides which date folders are in the future, `first` which are before
    the first partition (metrics/ingest/layout.py).
    """
    entries = partition_entries(raw, landing_date, today, first)
    workers = getattr(pool, "_max_workers", 1) if pool is not None else 1
    if pool is None or workers == 1 or len(entries) < 2:
        return _merge(landing_date, [_normalize_files(raw, entries, catalog)])
    groups = _split(entries, workers)
    n = len(groups)
    return _merge(landing_date, list(pool.map(_normalize_files, [raw] * n, groups, [catalog] * n)))


def _sightings(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per post from every row that saw it, sorted by (post, collected_at, file, line):
    the newest sighting names the account, the newest known publication time and media win,
    and the earliest collected_at is when the post was first seen."""
    return (
        rows.group_by("platform_post_id", maintain_order=True)
        .agg(
            pl.col("platform").last(),
            pl.col("social_account_id").last(),
            pl.col("published_at").drop_nulls().last(),
            *(pl.col(c).drop_nulls().last() for c in MEDIA),
            pl.col("collected_at").min().alias("first_seen_at"),
            pl.col("collected_at").last(),
            pl.col("landing_file").last(),
            pl.col("line").last(),
        )
        .with_columns(native_id=native_id_expr("platform_post_id"))
        .select(list(POST_SIGHTINGS))
    )


def _sorted(parts: list[pl.DataFrame], order: list[str]) -> pl.DataFrame:
    """`parts` concatenated and stably sorted by `order` (as `DataFrame.sort(order,
    maintain_order=True)`), emptying `parts`. The permutation comes from the key columns alone,
    then each column is made contiguous, gathered and its source let go, so the peak is the
    input plus about one column: `sort` holds a rechunked copy of the whole input beside the
    sorted one, three copies of the largest table at once, for about the same CPU."""
    frame = pl.concat(parts, rechunk=False)
    parts.clear()
    index = frame.select(pl.arg_sort_by(order, maintain_order=True)).to_series()
    columns = []
    for name in frame.columns:
        columns.append(frame.get_column(name).rechunk().gather(index))
        frame = frame.drop(name)
    return pl.DataFrame(columns)


def _sighting_rows(snapshots: pl.DataFrame) -> pl.DataFrame:
    """The rows of `snapshots` (sorted by post, then collected_at, file, line) that `_sightings`
    can take a value from: each post's first row (its earliest collected_at), its last, and its
    last with each of published_at and the media columns. Whatever other sightings they are
    merged with, the aggregates come out the same, because a stable sort keeps these rows in
    the order they had among all of them; a few rows per post are sorted again instead of a
    copy of every snapshot (the largest frame a worker would otherwise hold twice)."""
    post = pl.col("platform_post_id")
    keep = post.is_first_distinct() | post.is_last_distinct()
    for c in ("published_at", *MEDIA):
        known = pl.col(c).is_not_null()
        keep = keep | (known & pl.when(known).then(post).is_last_distinct())
    return snapshots.filter(keep).select(list(_SIGHTING_ROWS))


def _merge(landing_date: date, chunks: list[_Chunk]) -> NormalizedPartition:
    accounting = Accounting()
    for chunk in chunks:
        accounting.add(chunk.accounting)
    order = ["platform_post_id", "collected_at", "landing_file", "line"]

    def table(name: str, order: list[str]) -> pl.DataFrame:
        # The chunks let go of their frames here, so `_sorted` can free each column it copies.
        parts = [f for c in chunks for f in c.frames.pop(name)]
        return _sorted(parts or [pl.DataFrame(schema=_OBSERVATION_SCHEMAS[name])], order)

    snapshots = table("posts", order)
    seen = pl.concat([_sighting_rows(snapshots), table("sightings", order)]).sort(
        order, maintain_order=True
    )
    tables = {
        POST_OBSERVATIONS_TABLE.name: snapshots.select(list(POST_OBSERVATIONS)),
        PERIOD_OBSERVATIONS_TABLE.name: table(
            "periods", ["platform_post_id", "day", "collected_at", "landing_file", "line"]
        ),
        FOLLOWER_OBSERVATIONS_TABLE.name: table(
            "followers", ["social_account_id", "collected_at", "landing_file", "line"]
        ),
        POST_SIGHTINGS_TABLE.name: _sightings(seen),
        QUARANTINE_TABLE.name: pl.concat([c.quarantine for c in chunks]).sort(
            ["landing_file", "line", "record", "reason", "detail", "raw"], nulls_last=False
        ),
    }
    return NormalizedPartition(landing_date, tables, accounting)


__all__ = [
    "NORMALIZED_TABLES",
    "Accounting",
    "NormalizedPartition",
    "Recount",
    "count_landing_lines",
    "landing_dates",
    "landing_files",
    "max_line_bytes",
    "normalize_partition",
    "partition_entries",
    "recount_landing",
]
