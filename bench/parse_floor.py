"""Where normalization's CPU goes, beside the floors and the vector readers, in one process:

    python bench/parse_floor.py --raw /tmp/bench_raw_q [--repeat 2]

Twice the rate of a `json.loads` loop on 2 cores means a whole pass that costs no more CPU per
byte than the loop does on one. This script prices, in CPU seconds (`time.process_time`, best of
`--repeat`), each way of reading the three largest endpoints (Instagram `media`, TikTok
`business/video/list`, X `tweets`: 86 % of the bytes) over the same lines:

- floors: the stdlib `json.loads` loop, orjson, and msgspec decoding into typed structures alone;
- DuckDB's JSON functions over a table of the lines (one thread): `from_json` into the fields in
  use, records unnested, every leaf kept as JSON text so its type can be told
  (`json_type`: BIGINT / UBIGINT / DOUBLE); and, apart, what exactness would add: `json_valid`,
  the `json_keys` of every record to find a repeated key (DuckDB reads the first, msgspec and
  so the per-line path the last), and the scan for the trailing commas and NaN DuckDB accepts;
- `pyarrow.json.read_json` and polars `str.json_decode` with an explicit schema, over the lines
  they can take (either fails a whole block on one bad line, so only sound lines are given);
- the per-line path alone (`normalize._normalize_files` with the columnar path handing every
  line back) and ours (the columnar path for the endpoints it takes, the per-line path for the
  rest);

then, over every landing date of the zone: the loop, our parse, the per-line parse, the merge
(concatenate, sort, sightings), the staging of the Parquet files, and what a spawned worker pays
to import its modules before it parses a byte.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.json as pj

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import record
from metrics.ingest import columnar, steps
from metrics.ingest.adapters import bodies
from metrics.ingest.catalog import Catalog, load_catalog
from metrics.ingest.layout import Entry, read_blocks
from metrics.ingest.normalize import _merge, _normalize_files, landing_dates, partition_entries
from metrics.objects import RawRoot

ENVELOPE = ("platform", "endpoint", "social_account_id", "collected_at")


def _json(*names: str) -> dict[str, str]:
    """DuckDB `from_json` fields kept as JSON text, so each value's JSON type can be told."""
    return dict.fromkeys(names, "JSON")


# Each endpoint: its files' prefix, its typed body, the DuckDB structure of the fields in use
# (leaves as JSON), the path of its records, and the Arrow schema of the same fields.
_INSIGHT = pa.struct(
    [("name", pa.string()), ("values", pa.list_(pa.struct([("value", pa.int64())])))]
)
ENDPOINTS: dict[str, dict[str, Any]] = {
    "instagram_media": {
        "prefix": "instagram/",
        "file": "media-",
        "body": bodies.InstagramMediaList,
        "duckdb": 'STRUCT(data STRUCT(id JSON, "timestamp" JSON, media_type JSON, '
        "media_product_type JSON, like_count JSON, comments_count JSON, insights STRUCT(data "
        'STRUCT(name JSON, "values" STRUCT(value JSON)[])[]))[], error JSON)',
        "records": "$.response.data[*]",
        "arrow": pa.struct(
            [
                (
                    "data",
                    pa.list_(
                        pa.struct(
                            [
                                ("id", pa.string()),
                                ("timestamp", pa.string()),
                                ("media_type", pa.string()),
                                ("media_product_type", pa.string()),
                                ("like_count", pa.int64()),
                                ("comments_count", pa.int64()),
                                ("insights", pa.struct([("data", pa.list_(_INSIGHT))])),
                            ]
                        )
                    ),
                )
            ]
        ),
    },
    "tiktok_videos": {
        "prefix": "tiktok/",
        "file": "video_list-",
        "body": bodies.TikTokVideoList,
        "duckdb": {
            "code": "JSON",
            "data": {
                "videos": [
                    _json(
                        "item_id",
                        "create_time",
                        "media_type",
                        "video_views",
                        "reach",
                        "likes",
                        "comments",
                        "shares",
                        "favorites",
                        "favorities",
                        "total_time_watched",
                    )
                ]
            },
        },
        "records": "$.response.data.videos[*]",
        "arrow": pa.struct(
            [
                ("code", pa.int64()),
                (
                    "data",
                    pa.struct(
                        [
                            (
                                "videos",
                                pa.list_(
                                    pa.struct(
                                        [
                                            ("item_id", pa.string()),
                                            ("create_time", pa.int64()),
                                            ("media_type", pa.string()),
                                            *(
                                                (n, pa.int64())
                                                for n in (
                                                    "video_views",
                                                    "reach",
                                                    "likes",
                                                    "comments",
                                                    "shares",
                                                    "favorites",
                                                    "favorities",
                                                )
                                            ),
                                            ("total_time_watched", pa.float64()),
                                        ]
                                    )
                                ),
                            )
                        ]
                    ),
                ),
            ]
        ),
    },
    "x_tweets": {
        "prefix": "x/",
        "file": "tweets-",
        "body": bodies.XTweets,
        "duckdb": {
            "data": [
                {
                    **_json("id", "created_at"),
                    "public_metrics": _json(
                        "impression_count",
                        "like_count",
                        "reply_count",
                        "retweet_count",
                        "quote_count",
                        "bookmark_count",
                    ),
                }
            ],
            "errors": "JSON",
        },
        "records": "$.response.data[*]",
        "arrow": pa.struct(
            [
                (
                    "data",
                    pa.list_(
                        pa.struct(
                            [
                                ("id", pa.string()),
                                ("created_at", pa.string()),
                                (
                                    "public_metrics",
                                    pa.struct(
                                        [
                                            (n, pa.int64())
                                            for n in (
                                                "impression_count",
                                                "like_count",
                                                "reply_count",
                                                "retweet_count",
                                                "quote_count",
                                                "bookmark_count",
                                            )
                                        ]
                                    ),
                                ),
                            ]
                        )
                    ),
                )
            ]
        ),
    },
}


def read_lines(path: RawRoot) -> list[bytes]:
    """The lines of a landing file, gunzipped, as the parse sees them."""
    return [line for line in b"".join(read_blocks(path)).split(b"\n") if line]


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return round(min(times), 3)


def _loop(lines: list[bytes], loads: Callable[[bytes], object]) -> None:
    for line in lines:
        with contextlib.suppress(ValueError):
            loads(line)


def _sound(lines: list[bytes], body: type[Any]) -> list[bytes]:
    """The lines whose body fits the endpoint's typed structure and whose records are all
    objects with integer counts: what a reader that fails a whole block on one bad line gets."""
    decoder = msgspec.json.Decoder(msgspec.defstruct("E", [("response", body)]))
    out = []
    for line in lines:
        try:
            env = orjson.loads(line)
            decoder.decode(line)
        except (orjson.JSONDecodeError, msgspec.DecodeError):
            continue
        if isinstance(env, dict) and isinstance(env.get("response"), dict):
            out.append(line)
    return out


def _duckdb(lines: list[bytes], spec: dict[str, Any]) -> dict[str, Callable[[], object]]:
    con = duckdb.connect()
    con.execute("SET threads = 1")
    text = pa.array(lines, pa.binary()).cast(pa.string())
    con.register("lines", pa.table({"line": pa.array(range(len(lines))), "text": text}))
    structure = json.dumps({**dict.fromkeys(ENVELOPE, "VARCHAR"), "response": spec["duckdb"]})
    records = spec["records"].removesuffix("[*]").removeprefix("$.").split(".")
    path = "j." + ".".join(records)
    extract = (
        f"SELECT line, j.social_account_id, j.collected_at, UNNEST({path}, recursive := true) "
        f"FROM (SELECT line, from_json(text, '{structure}') AS j FROM lines)"
    )
    keys = (
        f"SELECT count(*) FROM (SELECT json_keys(text, '{spec['records']}') AS k FROM lines) "
        "WHERE list_bool_or(list_transform(k, lambda ks: len(ks) != len(list_distinct(ks))))"
    )
    lenient = (
        "SELECT count(*) FROM lines "
        "WHERE regexp_matches(text, ',\\s*[\\]}]|[:\\[,]\\s*[-+]?(?i:nan|inf)')"
    )
    return {
        "duckdb_extract": lambda: con.sql(extract).to_arrow_table(),
        "duckdb_json_valid": lambda: con.sql(
            "SELECT count(*) FROM lines WHERE json_valid(text)"
        ).fetchall(),
        "duckdb_repeated_keys": lambda: con.sql(keys).fetchall(),
        "duckdb_lenient_scan": lambda: con.sql(lenient).fetchall(),
    }


def _arrow_readers(
    lines: list[bytes], spec: dict[str, Any]
) -> tuple[dict[str, Callable[[], object]], dict[str, int]]:
    """pyarrow's and polars' readers with the explicit schema, each over the lines it takes one
    by one (a string count, a single object for a list, fails the whole read)."""
    fields = [(n, pa.string()) for n in ENVELOPE]
    schema = pa.schema([*fields, ("response", spec["arrow"])])
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    single = pj.ReadOptions(use_threads=False, block_size=1 << 24)
    dtype = pl.Struct({f.name: pl.Series(pa.array([], f.type)).dtype for f in schema})

    def arrow(blob: bytes) -> object:
        return pj.read_json(io.BytesIO(blob), read_options=single, parse_options=options)

    def polars(rows: list[bytes]) -> object:
        return pl.Series(rows, dtype=pl.Binary).cast(pl.String).str.json_decode(dtype)

    def takes(read: Callable[[Any], object], wrap: Callable[[bytes], Any]) -> list[bytes]:
        out = []
        for line in lines:
            with contextlib.suppress(Exception):
                read(wrap(line))
                out.append(line)
        return out

    by_arrow = takes(arrow, lambda line: line + b"\n")
    by_polars = takes(polars, lambda line: [line])
    blob = b"\n".join(by_arrow) + b"\n"
    readers = {
        "pyarrow_read_json": lambda: arrow(blob),
        "polars_json_decode": lambda: polars(by_polars),
    }
    return readers, {"pyarrow_lines": len(by_arrow), "polars_lines": len(by_polars)}


@contextlib.contextmanager
def _per_line_only() -> Iterator[None]:
    """The columnar path hands every line back, so the per-line path parses all of them."""
    take = columnar.Pending.take
    columnar.Pending.take = lambda self, file, lines: list(lines)  # type: ignore[method-assign]
    try:
        yield
    finally:
        columnar.Pending.take = take  # type: ignore[method-assign]


def _endpoint(
    raw: Path, entries: list[Entry], catalog: Catalog, spec: dict[str, Any], repeat: int
) -> dict[str, Any]:
    files = [e for e in entries if e.rel.startswith(spec["prefix"])]
    files = [e for e in files if e.rel.rsplit("/", 1)[-1].startswith(spec["file"])]
    lines = [line for e in files for line in read_lines(raw / e.rel)]
    typed = msgspec.json.Decoder(
        msgspec.defstruct("Envelope", [("collected_at", str), ("response", spec["body"])])
    )
    sound = _sound(lines, spec["body"])

    def per_line() -> None:
        with _per_line_only():
            _normalize_files(raw, files, catalog)

    costs = {
        "json_loads": _best(lambda: _loop(lines, json.loads), repeat),
        "orjson": _best(lambda: _loop(lines, orjson.loads), repeat),
        "msgspec_typed_decode": _best(lambda: _loop(lines, typed.decode), repeat),
    }
    costs |= {k: _best(f, repeat) for k, f in _duckdb(sound, spec).items()}
    readers, taken = _arrow_readers(sound, spec)
    costs |= {k: _best(f, repeat) for k, f in readers.items()}
    costs["per_line_path"] = _best(per_line, repeat)
    costs["ours"] = _best(lambda: _normalize_files(raw, files, catalog), repeat)
    loop = costs["json_loads"]
    return {
        "mb": round(sum(map(len, lines)) / 1e6, 1),
        "lines": len(lines),
        "sound_lines": len(sound),
        **taken,
        "cpu_s": costs,
        "over_json_loads": {k: round(v / loop, 2) for k, v in costs.items()},
    }


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
    data = [e for d in dates for e in entries[d] if e.kind == "data"]
    endpoints = {name: _endpoint(raw, data, catalog, s, repeat) for name, s in ENDPOINTS.items()}
    all_lines = [line for e in data for line in read_lines(raw / e.rel)]

    def parse_all() -> dict[Any, Any]:
        return {d: _normalize_files(raw, entries[d], catalog) for d in dates}

    def parse_per_line() -> None:
        with _per_line_only():
            parse_all()

    merge_times = []
    merged = {}
    for _ in range(repeat):
        chunks = parse_all()  # the merge takes the chunks' frames: parse afresh each time
        start = time.process_time()
        merged = {d: _merge(d, [chunks[d]]) for d in dates}
        merge_times.append(time.process_time() - start)
    work = Path(tempfile.mkdtemp(prefix="parse_floor_"))

    def stage_all() -> None:
        shutil.rmtree(work, ignore_errors=True)
        for part in merged.values():
            steps._write(work, part)

    zone = {
        "json_loads": _best(lambda: _loop(all_lines, json.loads), repeat),
        "parse": _best(parse_all, repeat),
        "parse_per_line_path": _best(parse_per_line, repeat),
        "merge": round(min(merge_times), 3),
        "stage": _best(stage_all, repeat),
        "worker_import": round(min(_import_cost() for _ in range(repeat)), 3),
    }
    shutil.rmtree(work, ignore_errors=True)
    record(
        "parse_floor",
        {
            "raw": str(raw),
            "endpoints": endpoints,
            "zone_mb": round(sum(map(len, all_lines)) / 1e6, 1),
            "zone_cpu_s": zone,
            "zone_over_json_loads": {k: round(v / zone["json_loads"], 2) for k, v in zone.items()},
        },
    )


if __name__ == "__main__":
    main()
