"""A collector batch, the unit of work and of determinism, and what it reports back.

A batch is at most ``BATCH_SIZE`` accounts of one platform; its RNGs are seeded by
``(seed, platform, batch)``, so batches run in any order or process and write the same bytes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from metrics.sample.catalog import Account

BATCH_SIZE = 64

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass
class GenerateSummary:
    """Counts of what was written; ``bad`` maps reason code to quarantinable items."""

    files: int = 0
    lines: int = 0
    bytes: int = 0
    json_bytes: int = 0
    gz_files: int = 0
    late_files: int = 0
    redeliveries: int = 0
    snapshots: int = 0
    period_rows: int = 0
    follower_snapshots: int = 0
    catalogs: int = 0
    bad: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, other: GenerateSummary) -> None:
        for name in (
            "files",
            "lines",
            "bytes",
            "json_bytes",
            "gz_files",
            "late_files",
            "redeliveries",
            "snapshots",
            "period_rows",
            "follower_snapshots",
            "catalogs",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        merged = Counter(self.bad)
        merged.update(other.bad)
        self.bad = dict(sorted(merged.items()))


@dataclass(frozen=True)
class Task:
    platform: str
    batch: int
    accounts: tuple[Account, ...]
    foreign: dict[str, Account]
    seed: int
    start_ms: int
    days: int
    interval_ms: int
    posts_per_account: int
    out: str


@dataclass
class TaskResult:
    platform: str
    batch: int
    summary: GenerateSummary
    posts: list[dict]
    followers: list[dict]
    bad: list[dict]
