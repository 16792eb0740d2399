"""Files: one per collection hour and endpoint, some gzipped, some late, some re-delivered.

Lines are buffered per (hour, endpoint) and written in time order as each simulated day ends, so
memory stays bounded by a day of one batch. Every bad line's truth entry is recorded per copy
written, re-deliveries included, since the pipeline must quarantine each copy.
"""

from __future__ import annotations

import gzip
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from metrics.sample.batch import HOUR_MS, GenerateSummary, Task

_SLUG = {
    "business/video/list": "video_list",
    "business/get": "business_get",
    "media": "media",
    "media_insights": "media_insights",
    "user": "user",
    "videos.list": "videos_list",
    "reports.query": "reports_query",
    "channels.list": "channels_list",
    "tweets": "tweets",
    "users": "users",
}

# Per-file rates.
_GZIP_RATE = 0.2
_LATE_RATE = 0.03
_RESEND_RATE = 0.006


class Writer:
    """Buffers one collection hour per endpoint, then writes it as one file and forgets it."""

    def __init__(self, task: Task, rng: random.Random) -> None:
        self.out = Path(task.out)
        self.platform = task.platform
        self.batch = task.batch
        self.rng = rng
        self.buckets: dict[tuple[int, str], list[tuple]] = defaultdict(list)
        self.summary = GenerateSummary()
        self.bad: list[dict] = []
        self.file_no = 0
        # The first batch of every platform surely holds a late file and a re-delivery.
        self.force_late = rng.randrange(12) if task.batch == 0 else -1
        self.force_resend = rng.randrange(12) if task.batch == 0 else -1
        self.made_dirs: set[Path] = set()

    def add(self, endpoint: str, t_ms: int, order: tuple, raw: bytes, bad: tuple | None) -> None:
        self.buckets[(t_ms // HOUR_MS, endpoint)].append((t_ms, order, raw, bad))

    def flush(self, before_hour: int | None = None) -> None:
        keys = sorted(k for k in self.buckets if before_hour is None or k[0] < before_hour)
        for key in keys:
            self._write(key[0], key[1], self.buckets.pop(key))

    def _put(self, landing: date, name: str, payload: bytes) -> str:
        folder = self.out / self.platform / landing.isoformat()
        if folder not in self.made_dirs:
            folder.mkdir(parents=True, exist_ok=True)
            self.made_dirs.add(folder)
        (folder / name).write_bytes(payload)
        return f"{self.platform}/{landing.isoformat()}/{name}"

    def _write(self, hour: int, endpoint: str, items: list[tuple]) -> None:
        rng = self.rng
        items.sort(key=lambda it: (it[0], it[1]))
        data = b"\n".join(it[2] for it in items) + b"\n"
        collected = datetime.fromtimestamp(hour * 3600, UTC)
        stem = f"{_SLUG[endpoint]}-{collected:%Y%m%dT%H}-c{self.batch:02d}"
        gz = rng.random() < _GZIP_RATE
        late = self.file_no == self.force_late or rng.random() < _LATE_RATE
        resend = self.file_no == self.force_resend or rng.random() < _RESEND_RATE
        landing = collected.date() + timedelta(days=rng.randint(1, 3) if late else 0)
        ext = ".jsonl.gz" if gz else ".jsonl"
        payload = gzip.compress(data, compresslevel=1, mtime=0) if gz else data
        copies = [(landing, stem + ext)]
        if resend:
            copies.append((landing + timedelta(days=rng.randint(0, 2)), f"{stem}-resent{ext}"))
        bad_lines = [(n, it[3]) for n, it in enumerate(items, 1) if it[3] is not None]
        s = self.summary
        for landing_day, name in copies:
            rel = self._put(landing_day, name, payload)
            for line, (record, reason) in bad_lines:
                self.bad.append(
                    {"landing_file": rel, "line": line, "record": record, "reason": reason}
                )
            s.files += 1
            s.lines += len(items)
            s.bytes += len(payload)
            s.json_bytes += len(data)
            s.gz_files += gz
        s.late_files += late
        s.redeliveries += resend
        self.file_no += 1
