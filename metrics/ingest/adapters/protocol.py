"""What an adapter and the partition builder agree on: the row layouts, `Sink`, `Reject`, `Context`.

The builder (normalize._Builder) implements `Sink`; an adapter appends plain tuples in the column
order named here, so no dict is built per record, and polars types the columns once per partition
with `RAW_TYPES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import polars as pl

from metrics.model.measures import POST_METRICS

Rows = dict[str, list[Any]]

POST_COLUMNS = (
    "platform_post_id",
    "platform",
    "social_account_id",
    "collected_at",
    "landing_file",
    "line",
    *POST_METRICS,
    "published_at",
    "media_kind",
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
    "published_at",
    "media_kind",
)

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


@dataclass(frozen=True)
class Context:
    file: str
    line: int
    platform: str
    account: str
    collected_at: int
    reject: Callable[[str, int, int | None, str, str, str], None]

    def reject_record(self, index: int, record: object, reason: str, detail: str) -> None:
        raw = orjson.dumps(record).decode() if record is not None else ""
        self.reject(self.file, self.line, index, reason, detail, raw)


class Sink:
    """What an adapter writes to; implemented by the partition builder."""

    posts: list[tuple[object, ...]]
    periods: list[tuple[object, ...]]
    followers: list[tuple[object, ...]]
    sightings: list[tuple[object, ...]]


Handler = Callable[[dict[str, Any], Context, Sink], Reject | None]
