"""Where normalization's CPU goes, beside the floors it is measured against, in one process:

    python bench/parse_floor.py --raw /tmp/bench_raw_q

Issue 11 asks for twice the rate of a `json.loads` loop on 2 cores, i.e. a whole pass that costs
no more CPU per byte than the loop does on one. This script prices each part of the pass in CPU
seconds, so the gap can be read part by part rather than guessed:

- the floors over Instagram's `media` files (the largest share of the bytes): the stdlib
  `json.loads` loop, orjson, msgspec decoding envelope and body into the project's own typed
  structures (metrics/ingest/adapters/bodies.py) and nothing else, and that decode plus the
  least row building any Python design can do (one append per used field, no checks);
- our parse of the same files (`_normalize_files`: routing, the checks, quarantine);
- over every landing date of the zone: the loop, our parse, the merge (concatenate, sort,
  sightings), the staging of the Parquet files, and what a spawned worker pays to import its
  modules before it parses a byte.

Each figure is the best of `--repeat` runs (CPU seconds, `time.process_time`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import record
from metrics.ingest import steps
from metrics.ingest.adapters import bodies
from metrics.ingest.adapters.instagram import _SLOT
from metrics.ingest.catalog import load_catalog
from metrics.ingest.layout import read_blocks
from metrics.ingest.normalize import _merge, _normalize_files, landing_dates, partition_entries
from metrics.objects import RawRoot


def read_lines(path: RawRoot) -> list[bytes]:
    """The lines of a landing file, gunzipped, as the parse sees them."""
    return [line for line in b"".join(read_blocks(path)).split(b"\n") if line]


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


class _Envelope(msgspec.Struct):
    platform: str
    endpoint: str
    social_account_id: str
    collected_at: str
    response: bodies.InstagramMediaList


def _least_rows(lines: list[bytes]) -> int:
    """Decode into the typed structures and append each used field once: no checks at all, so
    no Python design of the parse can cost less per record."""
    decode = msgspec.json.Decoder(_Envelope).decode
    slots = len(set(_SLOT.values()))
    # id, one per insight slot, likes, timestamp, media type, account, line
    columns: list[list[object]] = [[] for _ in range(slots + 6)]
    add = [c.append for c in columns]
    for number, line in enumerate(lines):
        try:
            env = decode(line)
        except msgspec.MsgspecError:
            continue
        data = env.response.data
        if not isinstance(data, list):
            continue
        for media in data:
            found: list[object] = [None] * slots
            if media.insights is not None:
                for item in media.insights.data:
                    at = _SLOT.get(item.name or "")
                    if at is not None and item.values:
                        found[at] = item.values[0].value
            row = (
                media.id,
                *found,
                media.like_count,
                media.timestamp,
                media.media_type,
                env.social_account_id,
                number,
            )
            for column, value in zip(add, row, strict=True):
                column(value)
    return len(columns[0])


def _loop(lines: list[bytes], loads: Callable[[bytes], object]) -> None:
    for line in lines:
        with contextlib.suppress(ValueError):
            loads(line)


def _import_cost() -> float:
    """CPU seconds a spawned worker spends importing what it runs (a fresh interpreter)."""
    code = (
        "import time; t = time.process_time(); import metrics.ingest.steps; "
        "print(time.process_time() - t)"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, check=True, capture_output=True, text=True
    )
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    raw, repeat = args.raw, args.repeat
    catalog = load_catalog(raw)
    dates = landing_dates(raw)
    entries = {d: partition_entries(raw, d) for d in dates}
    media = [e for d in dates for e in entries[d] if e.rel.startswith("instagram/")]
    media = [e for e in media if e.kind == "data" and e.rel.rsplit("/", 1)[-1].startswith("media-")]
    media_lines = [line for e in media for line in read_lines(raw / e.rel)]
    all_lines = [
        line
        for d in dates
        for e in entries[d]
        if e.kind == "data"
        for line in read_lines(raw / e.rel)
    ]
    floors = {
        "json_loads": _best(lambda: _loop(media_lines, json.loads), repeat),
        "orjson": _best(lambda: _loop(media_lines, orjson.loads), repeat),
        "msgspec_typed_decode": _best(
            lambda: _loop(media_lines, msgspec.json.Decoder(_Envelope).decode), repeat
        ),
        "typed_decode_and_least_rows": _best(lambda: _least_rows(media_lines), repeat),
        "ours": _best(lambda: _normalize_files(raw, media, catalog), repeat),
    }
    chunks = {}

    def parse_all() -> None:
        for d in dates:
            chunks[d] = _normalize_files(raw, entries[d], catalog)

    merged = {}

    def merge_all() -> None:
        for d in dates:
            merged[d] = _merge(d, [chunks[d]])

    work = Path(tempfile.mkdtemp(prefix="parse_floor_"))

    def stage_all() -> None:
        shutil.rmtree(work, ignore_errors=True)
        for part in merged.values():
            steps._write(work, part)

    zone = {
        "json_loads": _best(lambda: _loop(all_lines, json.loads), repeat),
        "parse": _best(parse_all, repeat),
        "merge": _best(merge_all, repeat),
        "stage": _best(stage_all, repeat),
        "worker_import": min(_import_cost() for _ in range(repeat)),
    }
    shutil.rmtree(work, ignore_errors=True)
    media_mb = sum(map(len, media_lines)) / 1e6
    zone_mb = sum(map(len, all_lines)) / 1e6
    record(
        "parse_floor",
        {
            "raw": str(raw),
            "instagram_media_mb": round(media_mb, 1),
            "instagram_media_cpu_s": {k: round(v, 3) for k, v in floors.items()},
            "instagram_media_over_json_loads": {
                k: round(v / floors["json_loads"], 2) for k, v in floors.items()
            },
            "zone_mb": round(zone_mb, 1),
            "zone_cpu_s": {k: round(v, 3) for k, v in zone.items()},
            "zone_over_json_loads": {k: round(v / zone["json_loads"], 2) for k, v in zone.items()},
        },
    )


if __name__ == "__main__":
    main()
