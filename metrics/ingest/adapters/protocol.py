"""What an adapter and the partition builder agree on: the row layouts, `Sink`, `Reject`, `Context`.

The builder (normalize._Builder) implements `Sink`; an adapter appends plain tuples in the column
order named here, so no dict is built per record, and polars types the columns once per partition
with `RAW_TYPES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson
import polars as pl

from metrics.model.measures import POST_METRICS
from metrics.model.platforms import REPORTS
from metrics.model.tables import MEDIA

# What a sighting says about the post: publication time and the media columns of the registry.
MEDIA_COLUMNS = ("published_at", *MEDIA)

Rows = dict[str, list[Any]]

POST_COLUMNS = (
    "platform_post_id",
    "platform",
    "social_account_id",
    "collected_at",
    "landing_file",
    "line",
    *POST_METRICS,
    *MEDIA_COLUMNS,
)
PERIOD_COLUMNS = (
    "platform_post_id",
    "platform",
    "social_account_id",
    "day",
    "collected_at",
    "landing_file",
    "line",
    *POST_METRICS,
)
FOLLOWER_COLUMNS = (
    "social_account_id",
    "platform",
    "collected_at",
    "landing_file",
    "line",
    "followers",
)
# A post seen without a snapshot (YouTube lists and reports): the sighting columns alone.
SIGHTING_COLUMNS = (
    "platform_post_id",
    "platform",
    "social_account_id",
    "collected_at",
    "landing_file",
    "line",
    *MEDIA_COLUMNS,
)

PROVENANCE = ("platform", "social_account_id", "collected_at", "landing_file", "line")

EPOCH_COLUMNS = frozenset({"collected_at", "published_at"})
RAW_TYPES: dict[str, pl.DataType] = {
    **{m: pl.Int64() for m in POST_METRICS},
    "collected_at": pl.Int64(),
    "published_at": pl.Int64(),
    "line": pl.Int64(),
    "followers": pl.Int64(),
    "day": pl.Date(),
}


@dataclass(frozen=True)
class Reject:
    """Why a line or record cannot be used: a stable reason code and a human detail."""

    reason: str
    detail: str


def new_rows(columns: tuple[str, ...]) -> Rows:
    return {c: [] for c in columns}


@dataclass(slots=True)
class Context:
    """One envelope's provenance, its `request` (the collector's own parameters) and the raw
    bytes of its `response`, from which a rejected record's text is taken."""

    file: str
    line: int
    platform: str
    account: str
    collected_at: int
    reject: Callable[[str, int, int | None, str, str, str], None]
    request: object = None
    body: bytes = b""

    def reject_record(self, index: int, record: object, reason: str, detail: str) -> None:
        raw = orjson.dumps(record).decode() if record is not None else ""
        self.reject(self.file, self.line, index, reason, detail, raw)

    def reject_at(self, index: int, path: tuple[str | int, ...], reason: str, detail: str) -> None:
        """Reject the record at `path` of the response: a typed decoder kept only the fields in
        use, so the record's whole text is read back from the body (rare: only on a reject)."""
        try:
            node: Any = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            # A number no double holds in a field nobody reads: keep the whole body's text.
            self.reject(self.file, self.line, index, reason, detail, self.body.decode())
            return
        for step in path:
            node = node[step]
        self.reject_record(index, node, reason, detail)


class Columns:
    """Rows kept as one list per column, so that polars takes each column whole (transposing
    row tuples costs more than the parsing). `append` adds one row; a typed fast path appends
    to `lists` directly."""

    __slots__ = ("lists", "names")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.lists: list[list[Any]] = [[] for _ in names]

    def append(self, row: tuple[object, ...]) -> None:
        for column, value in zip(self.lists, row, strict=True):
            column.append(value)

    def __len__(self) -> int:
        return len(self.lists[0])

    def pad(self, values: dict[int, object]) -> None:
        """Bring the columns at these positions up to the first column's length with their
        value: a fast path appends only the columns that vary within one response, since every
        row of a response shares its provenance (and some columns a platform never fills)."""
        size = len(self.lists[0])
        for at, value in values.items():
            column = self.lists[at]
            column.extend([value] * (size - len(column)))

    def truncate(self, size: int) -> None:
        for column in self.lists:
            del column[size:]

    def at(self, *names: str) -> tuple[int, ...]:
        return tuple(self.names.index(n) for n in names)

    def take(self) -> dict[str, list[Any]]:
        """The columns by name; this object starts empty again."""
        data = dict(zip(self.names, self.lists, strict=True))
        self.lists = [[] for _ in self.names]
        return data


def provenance(ctx: Context) -> tuple[object, ...]:
    """The PROVENANCE values of a row from this envelope."""
    return (ctx.platform, ctx.account, ctx.collected_at, ctx.file, ctx.line)


_PROVENANCE_AT = tuple(POST_COLUMNS.index(c) for c in PROVENANCE)


@dataclass(frozen=True)
class TypedRows:
    """Where a platform's typed fast path writes its post rows: `vary` are the positions it
    appends one by one (the post id, the metrics the platform reports in POST_METRICS order,
    the publication time, the media columns it says); every other column holds one value for a
    whole response (its provenance, or `fixed`), so `pad` fills them once per response."""

    vary: tuple[int, ...]
    fixed: tuple[tuple[int, object], ...]

    def pad(self, posts: Columns, ctx: Context) -> None:
        posts.pad({**dict(zip(_PROVENANCE_AT, provenance(ctx), strict=True)), **dict(self.fixed)})

    def appenders(self, posts: Columns, *names: str) -> tuple[Callable[[object], None], ...]:
        """The `append` of each named column of `posts`, bound once per response. Binding by
        name keeps a fast path right whatever order POST_METRICS has; naming a column the
        platform does not vary (a metric it never reports) is an error, not a silent shift."""
        at = {POST_COLUMNS[k]: k for k in self.vary}
        unknown = [n for n in names if n not in at]
        if unknown or len(names) != len(at):
            raise ValueError(f"a fast path must append exactly {sorted(at)}, not {list(names)}")
        return tuple(posts.lists[at[n]].append for n in names)


def typed_rows(
    platform: str, media: tuple[str, ...], fixed: Mapping[str, object] | None = None
) -> TypedRows:
    """The fast path's layout, derived from REPORTS: a metric a platform gains or loses changes
    its `vary` (and so the fast path's unpacking fails loudly) without a second list to keep.
    `fixed` names the constant of a column that is neither varied nor null (X's media kind)."""
    said = ("platform_post_id", *(m for m in POST_METRICS if m in REPORTS[platform]))
    vary = (*said, "published_at", *media)
    rest = [c for c in POST_COLUMNS if c not in vary and c not in PROVENANCE]
    values = dict(fixed or {})
    return TypedRows(
        tuple(POST_COLUMNS.index(c) for c in vary),
        tuple((POST_COLUMNS.index(c), values.get(c)) for c in rest),
    )


class Sink:
    """What an adapter writes to; implemented by the partition builder."""

    posts: Columns
    periods: Columns
    followers: Columns
    sightings: Columns


def metric_row(**values: object) -> tuple[object, ...]:
    """One value per POST_METRICS metric, in its order, from the metrics a record says by name
    (None for the rest): an adapter names what it maps, the order comes from metrics.model."""
    unknown = set(values) - set(POST_METRICS)
    if unknown:
        raise ValueError(f"not post metrics: {sorted(unknown)}; see metrics.model.measures")
    return tuple(values.get(m) for m in POST_METRICS)


Loose = Callable[[dict[str, Any], Context, Sink], Reject | None]
Fast = Callable[[Any, Context, Sink], Reject | None]


@dataclass(frozen=True)
class Handler:
    """One endpoint's body: `decoder` builds its typed structures (metrics/ingest/adapters/
    bodies.py), which hold only the fields in use and are strict about shape, and `fast` maps
    them. A body that does not fit them (a record that is not an object, an odd insight) goes
    to `loose`, which walks plain JSON values and rejects what is wrong record by record, so
    both give the same rows and the same quarantine on every body `decoder` accepts."""

    decoder: msgspec.json.Decoder[Any]
    fast: Fast
    loose: Loose

    def __call__(self, body: bytes, ctx: Context, out: Sink) -> Reject | None:
        try:
            typed = self.decoder.decode(body)
        except msgspec.ValidationError:
            return self.loose(orjson.loads(body), ctx, out)
        return self.fast(typed, ctx, out)
