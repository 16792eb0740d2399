"""Our full rollup build beside a straightforward DuckDB-SQL peer, from the same normalized tables.

    python bench/rollup_peer.py --warehouse /tmp/bench_wh [--work /tmp/rollup_peer]

The warehouse must have been built by the pipeline (`metrics backfill`). Both sides start from
its normalized tables (`post_observations`, `period_observations`, `follower_observations`) plus
`posts` and `catalog_accounts`, and each runs in its own process so its peak RSS is its own:

- ours: `refresh_post_hourly` then `refresh_rollups` over every landing date, on a copy of the
  warehouse that holds only those inputs (no post_hourly, no rollups, no state/), i.e. the
  pipeline's own code in full-rebuild mode, writing its Parquet partitions;
- peer: spec §3 written as plain SQL in one DuckDB session (dedup windows, UNPIVOT, lag(),
  generate_series over hours, window functions for the largest-remainder ranking, ASOF joins
  for F), writing one Parquet file per table.

Then a third process compares the peer's tables and our rebuilt tables with the pipeline's
(`EXCEPT ALL` both ways, every column): they must be identical row for row.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import peak_rss_mb, record
from metrics.warehouse import storage

METRICS: tuple[str, ...] = ("views", "reach", "impressions", "likes", "comments", "shares", "saves")
METRICS += ("watch_time_ms",)
ADDITIVE = (*METRICS, "posts_published")
ID_COLUMNS = ("org_id", "project_id", "project_layer_id", "social_account_id", "platform_post_id")
ROLLUP_COLUMNS: tuple[str, ...] = ("scope", "id", "bucket_start", *ID_COLUMNS, *METRICS)
ROLLUP_COLUMNS += ("followers", "follower_delta", "posts_published")
HOURLY_COLUMNS = ("platform_post_id", "hour", *METRICS)
TABLES = {
    "post_hourly": HOURLY_COLUMNS,
    "rollup_hour": ROLLUP_COLUMNS,
    "rollup_day": ROLLUP_COLUMNS,
    "rollup_week": ROLLUP_COLUMNS,
}
INPUTS = (
    "post_observations",
    "period_observations",
    "follower_observations",
    "posts",
    "catalog_accounts",
    "catalog_entities",
)
# Bucket length in seconds, and the origin of bucket edges (1970-01-05 was a Monday).
GRAINS = {"hour": (3600, 0), "day": (86400, 0), "week": (604800, 4 * 86400)}
# Scopes above posts: (scope, id column, ancestor id columns).
LEVELS = (
    ("social_account", "social_account_id", ("project_layer_id", "project_id", "org_id")),
    ("project_layer", "project_layer_id", ("project_id", "org_id")),
    ("project", "project_id", ("org_id",)),
    ("organization", "org_id", ()),
)


# --------------------------------------------------------------------------------------------
# The peer: spec §3 in DuckDB SQL
# --------------------------------------------------------------------------------------------

INPUT_SCHEMAS = {
    "post_observations": "platform_post_id VARCHAR, collected_at TIMESTAMPTZ, "
    "landing_file VARCHAR, line BIGINT, " + ", ".join(f"{m} BIGINT" for m in METRICS),
    "period_observations": "platform_post_id VARCHAR, day DATE, period_start TIMESTAMPTZ, "
    "period_end TIMESTAMPTZ, collected_at TIMESTAMPTZ, landing_file VARCHAR, line BIGINT, "
    + ", ".join(f"{m} BIGINT" for m in METRICS),
    "follower_observations": "social_account_id VARCHAR, collected_at TIMESTAMPTZ, "
    "landing_file VARCHAR, line BIGINT, followers BIGINT",
    "posts": "platform_post_id VARCHAR, social_account_id VARCHAR, published_at TIMESTAMPTZ",
    "catalog_accounts": "social_account_id VARCHAR, project_layer_id VARCHAR, "
    "project_id VARCHAR, org_id VARCHAR",
}


def _seconds(col: str) -> str:
    """Whole epoch seconds of a TIMESTAMPTZ (floored, as the contract works in seconds)."""
    return f"(epoch_us({col}) // 1000000)"


def _bucket(seconds: str, grain: str) -> str:
    length, origin = GRAINS[grain]
    return f"(({seconds} - {origin}) // {length} * {length} + {origin})"


def _nonzero(cols: tuple[str, ...]) -> str:
    return "(" + " OR ".join(f"{c} <> 0" for c in cols) + ")"


def _load_inputs(con, warehouse: Path) -> None:
    for table, schema in INPUT_SCHEMAS.items():
        files = storage.files(warehouse, table)
        columns = ", ".join(part.split()[0] for part in schema.split(", "))
        if files:
            listing = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            con.execute(
                f"CREATE TEMP TABLE in_{table} AS SELECT {columns} FROM read_parquet([{listing}])"
            )
        else:
            con.execute(f"CREATE TEMP TABLE in_{table} ({schema})")


def _increments_sql() -> list[str]:
    """post_hourly (§3.1–3.3), as a list of statements."""
    metric_list = ", ".join(METRICS)
    pivot = ",\n  ".join(
        f"coalesce(sum(v) FILTER (WHERE metric = '{m}'), 0)::BIGINT AS {m}" for m in METRICS
    )
    return [
        # §3.1: one snapshot per (post, collected_at): the later (file, line) wins, whole row.
        f"""
CREATE TEMP TABLE snapshots AS
SELECT platform_post_id, collected_at, {metric_list}
FROM in_post_observations
QUALIFY row_number() OVER (
  PARTITION BY platform_post_id, collected_at ORDER BY landing_file DESC, line DESC) = 1""",
        # Per metric, the known values in time order, each with the previous known one.
        f"""
CREATE TEMP TABLE known AS
SELECT platform_post_id, metric, collected_at, v,
  lag(collected_at) OVER w AS prev_at, lag(v) OVER w AS prev_v
FROM (UNPIVOT snapshots ON {metric_list} INTO NAME metric VALUE v)
WINDOW w AS (PARTITION BY platform_post_id, metric ORDER BY collected_at)""",
        # §3.2: per-day rows, the latest collected_at (then later file, line) replaces the rest.
        f"""
CREATE TEMP TABLE days AS
SELECT platform_post_id, period_start, period_end, {metric_list}
FROM in_period_observations
QUALIFY row_number() OVER (
  PARTITION BY platform_post_id, day
  ORDER BY collected_at DESC, landing_file DESC, line DESC) = 1""",
        # Every increment: n over [a, b) in epoch seconds. First values are zero-length
        # intervals at the publication time (or t1 when it is unknown or after t1).
        f"""
CREATE TEMP TABLE intervals AS
SELECT row_number() OVER () AS iid, platform_post_id, metric, a, b, n,
  a // 3600 AS h0, CASE WHEN b > a THEN (b - 1) // 3600 ELSE a // 3600 END AS h1
FROM (
  SELECT platform_post_id, metric, v AS n, {_seconds("first_at")} AS a, {_seconds("first_at")} AS b
  FROM (
    SELECT k.platform_post_id, k.metric, k.v,
      CASE WHEN p.published_at <= k.collected_at THEN p.published_at
        ELSE k.collected_at END AS first_at
    FROM known k LEFT JOIN in_posts p USING (platform_post_id)
    WHERE k.prev_at IS NULL
  )
  UNION ALL
  SELECT platform_post_id, metric, v - prev_v, {_seconds("prev_at")}, {_seconds("collected_at")}
  FROM known WHERE prev_at IS NOT NULL
  UNION ALL
  SELECT platform_post_id, metric, v, {_seconds("period_start")}, {_seconds("period_end")}
  FROM (UNPIVOT days ON {metric_list} INTO NAME metric VALUE v)
)
WHERE n <> 0""",
        # §3.3: largest remainders over the hours each interval overlaps; ties to the earlier
        # hour; sign last. An interval inside one hour (or of zero length) is that hour's whole.
        """
CREATE TEMP TABLE pieces AS
WITH hours AS (
  SELECT iid, platform_post_id, metric, n, a, b, unnest(generate_series(h0, h1)) AS h
  FROM intervals WHERE h1 > h0
), shares AS (
  SELECT iid, platform_post_id, metric, n, h,
    abs(n) * (least(b, (h + 1) * 3600) - greatest(a, h * 3600)) // (b - a) AS q,
    abs(n) * (least(b, (h + 1) * 3600) - greatest(a, h * 3600)) % (b - a) AS r
  FROM hours
), ranked AS (
  SELECT platform_post_id, metric, n, h, q,
    abs(n) - sum(q) OVER (PARTITION BY iid) AS leftover,
    row_number() OVER (PARTITION BY iid ORDER BY r DESC, h) AS rank
  FROM shares
)
SELECT platform_post_id, metric, h,
  (sign(n) * (q + CASE WHEN rank <= leftover THEN 1 ELSE 0 END))::BIGINT AS v
FROM ranked
UNION ALL
SELECT platform_post_id, metric, h0, n FROM intervals WHERE h1 = h0""",
        "DROP TABLE snapshots; DROP TABLE known; DROP TABLE days; DROP TABLE intervals",
        f"""
CREATE TEMP TABLE hourly AS
SELECT platform_post_id, h * 3600 AS hour_s,
  {pivot}
FROM pieces GROUP BY platform_post_id, h
HAVING {_nonzero(METRICS)}""",
        "DROP TABLE pieces",
        """
CREATE TEMP TABLE lineage AS
SELECT p.platform_post_id, c.social_account_id, c.project_layer_id, c.project_id, c.org_id
FROM in_posts p JOIN in_catalog_accounts c USING (social_account_id)""",
        # §3.4: one follower snapshot per (account, collected_at), later (file, line) wins.
        f"""
CREATE TEMP TABLE follower_snapshots AS
SELECT social_account_id, {_seconds("collected_at")} AS at_s, followers,
  first_value(followers) OVER (
    PARTITION BY social_account_id ORDER BY collected_at, landing_file DESC, line DESC
  ) AS first_followers
FROM in_follower_observations
WHERE followers IS NOT NULL
QUALIFY row_number() OVER (
  PARTITION BY social_account_id, collected_at ORDER BY landing_file DESC, line DESC) = 1""",
    ]


def _rollup_sql(grain: str) -> str:
    """One `rollup_<grain>` table, all five scopes (§3.4, §3.5, §4)."""
    length, _ = GRAINS[grain]
    sums = ", ".join(f"sum({c})::BIGINT AS {c}" for c in ADDITIVE)
    zeros = ", ".join(f"0 AS {m}" for m in METRICS)
    post_rows = f"""
post_buckets AS MATERIALIZED (
  SELECT platform_post_id, bucket_s, {sums}
  FROM (
    SELECT platform_post_id, {_bucket("hour_s", grain)} AS bucket_s, {", ".join(METRICS)},
      0 AS posts_published
    FROM hourly
    UNION ALL
    SELECT platform_post_id, {_bucket(_seconds("published_at"), grain)}, {zeros}, 1
    FROM in_posts WHERE published_at IS NOT NULL
  ) GROUP BY platform_post_id, bucket_s
)"""
    parts = [
        f"""
SELECT 'platform_post' AS scope, b.platform_post_id AS id, b.bucket_s,
  l.org_id, l.project_id, l.project_layer_id, l.social_account_id, b.platform_post_id,
  {", ".join(f"b.{m}" for m in METRICS)}, 0 AS followers, 0 AS follower_delta, b.posts_published
FROM post_buckets b LEFT JOIN lineage l USING (platform_post_id)
WHERE {_nonzero(ADDITIVE)}"""
    ]
    ctes = [post_rows]
    for scope, id_col, ancestors in LEVELS:
        anc = "".join(f", {a}" for a in ancestors)
        ctes.append(
            f"""
{scope}_sums AS (
  SELECT {id_col}{anc}, bucket_s, {sums}
  FROM post_buckets JOIN lineage USING (platform_post_id)
  GROUP BY {id_col}{anc}, bucket_s
  HAVING {_nonzero(ADDITIVE)}
),
{scope}_keys AS (
  SELECT {id_col}{anc}, bucket_s FROM {scope}_sums
  UNION
  SELECT DISTINCT c.{id_col}{"".join(f", c.{a}" for a in ancestors)}, {_bucket("f.at_s", grain)}
  FROM follower_snapshots f JOIN in_catalog_accounts c USING (social_account_id)
),
{scope}_edges AS (
  SELECT k.{id_col}, k.bucket_s, c.social_account_id, e.edge, k.bucket_s + e.offset_s AS edge_s
  FROM {scope}_keys k JOIN in_catalog_accounts c USING ({id_col})
  CROSS JOIN (VALUES ('start', 0), ('end', {length})) e(edge, offset_s)
),
{scope}_f AS (
  SELECT x.{id_col}, x.bucket_s,
    sum(CASE WHEN x.edge = 'end' THEN coalesce(s.followers, f.first_followers, 0) END) AS f_end,
    sum(CASE WHEN x.edge = 'start' THEN coalesce(s.followers, f.first_followers, 0) END)
      AS f_start
  FROM {scope}_edges x
  ASOF LEFT JOIN follower_snapshots s
    ON x.social_account_id = s.social_account_id AND x.edge_s > s.at_s
  LEFT JOIN (SELECT DISTINCT social_account_id, first_followers FROM follower_snapshots) f
    ON x.social_account_id = f.social_account_id
  GROUP BY x.{id_col}, x.bucket_s
)"""
        )
        ids = ", ".join(
            f"k.{c}" if c == id_col or c in ancestors else f"NULL AS {c}" for c in ID_COLUMNS
        )
        parts.append(
            f"""
SELECT '{scope}', k.{id_col}, k.bucket_s, {ids},
  {", ".join(f"coalesce(s.{m}, 0)" for m in METRICS)},
  f.f_end, f.f_end - f.f_start, coalesce(s.posts_published, 0)
FROM {scope}_keys k
LEFT JOIN {scope}_sums s USING ({id_col}, bucket_s)
JOIN {scope}_f f USING ({id_col}, bucket_s)"""
        )
    body = "\nUNION ALL".join(parts)
    return f"""
WITH {",".join(ctes)}
SELECT scope, id, to_timestamp(bucket_s) AS bucket_start,
  {", ".join(ID_COLUMNS)},
  {", ".join(f"{c}::BIGINT AS {c}" for c in ROLLUP_COLUMNS[3 + len(ID_COLUMNS) :])}
FROM ({body}) ORDER BY scope, id, bucket_start"""


def _copy(con, query: str, path: Path) -> int:
    target = str(path).replace("'", "''")
    con.execute(f"COPY ({query}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    return con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]


def peer_pass(warehouse: Path, out: Path, memory_limit: str | None) -> dict:
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = '{out / 'duckdb_tmp'}'")
    con.execute("SET preserve_insertion_order = false")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    _load_inputs(con, warehouse)
    for statement in _increments_sql():
        con.execute(statement)
    rows = {
        "post_hourly": _copy(
            con,
            f"SELECT platform_post_id, to_timestamp(hour_s) AS hour, {', '.join(METRICS)} "
            "FROM hourly ORDER BY platform_post_id, hour",
            out / "post_hourly.parquet",
        )
    }
    for grain in GRAINS:
        rows[f"rollup_{grain}"] = _copy(con, _rollup_sql(grain), out / f"rollup_{grain}.parquet")
    con.close()
    return {"seconds": time.perf_counter() - start, "rows": rows}


# --------------------------------------------------------------------------------------------
# Ours: the pipeline's incremental functions over every landing date of an input-only copy
# --------------------------------------------------------------------------------------------


def prepare_copy(warehouse: Path, target: Path) -> None:
    """Only the inputs, hard-linked where possible (the refresh never rewrites them)."""
    if target.exists():
        shutil.rmtree(target)
    for table in INPUTS:
        source = warehouse / storage.TABLES_DIR / table
        if not source.is_dir():
            continue
        copy = target / storage.TABLES_DIR / table
        try:
            shutil.copytree(source, copy, copy_function=os.link)
        except OSError:
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(source, copy)


def ours_pass(warehouse: Path) -> dict:
    from datetime import date

    from metrics.transform.refresh import refresh_post_hourly, refresh_rollups

    landing = sorted(
        {
            date.fromisoformat(v)
            for table in ("post_observations", "period_observations", "follower_observations")
            for v in storage.partition_values(warehouse, table, "landing_date")
        }
    )
    start = time.perf_counter()
    hourly = refresh_post_hourly(warehouse, landing)
    rolled = refresh_rollups(warehouse, landing)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "landing_dates": len(landing),
        "full_rebuild": rolled.full_rebuild,
        "posts_recomputed": hourly.posts_recomputed,
    }


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def _source(base: Path, table: str) -> str:
    """A read_parquet expression for a table of a warehouse, or for a single peer file."""
    single = base / f"{table}.parquet"
    files = [str(single)] if single.exists() else storage.files(base, table)
    quoted = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return f"read_parquet([{quoted}], hive_partitioning = false)"


def _diff(con, left: str, right: str, columns: tuple[str, ...], examples: int) -> dict:
    cols = ", ".join(columns)
    out: dict = {
        "rows_left": con.execute(f"SELECT count(*) FROM {left}").fetchone()[0],
        "rows_right": con.execute(f"SELECT count(*) FROM {right}").fetchone()[0],
    }
    for name, a, b in (("only_left", left, right), ("only_right", right, left)):
        query = f"SELECT {cols} FROM {a} EXCEPT ALL SELECT {cols} FROM {b}"
        out[name] = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
        if out[name]:
            rows = con.execute(f"{query} ORDER BY ALL LIMIT {examples}").fetchall()
            out[f"{name}_examples"] = [[str(v) for v in row] for row in rows]
    out["match"] = out["only_left"] == 0 and out["only_right"] == 0
    return out


def compare_pass(warehouse: Path, peer: Path, ours: Path, examples: int) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    result: dict = {"peer_vs_pipeline": {}, "rebuild_vs_pipeline": {}}
    for table, columns in TABLES.items():
        pipeline = _source(warehouse, table)
        result["peer_vs_pipeline"][table] = _diff(
            con, pipeline, _source(peer, table), columns, examples
        )
        result["rebuild_vs_pipeline"][table] = _diff(
            con, pipeline, _source(ours, table), columns, examples
        )
    con.close()
    return result


# --------------------------------------------------------------------------------------------


def _child(*args: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"child failed ({done.returncode}): {' '.join(cmd)}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Time our full rollup build and a DuckDB-SQL peer on the same normalized "
        "tables, compare both with the pipeline's tables, and record bench/out/rollups.jsonl."
    )
    parser.add_argument(
        "--warehouse", type=Path, required=True, help="a warehouse built by the pipeline"
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/rollup_peer"),
        help="scratch folder for the input-only copy and the peer's output (replaced)",
    )
    parser.add_argument("--keep", action="store_true", help="keep --work afterwards")
    parser.add_argument("--examples", type=int, default=5, help="mismatching rows to show")
    parser.add_argument(
        "--peer-memory-limit", help="DuckDB memory_limit for the peer, e.g. 8GB (default: 80%% RAM)"
    )
    parser.add_argument("--side", choices=["peer", "ours", "compare"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--peer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ours", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    warehouse = args.warehouse.resolve()

    if args.side:
        if args.side == "peer":
            out = peer_pass(warehouse, args.out, args.peer_memory_limit)
        elif args.side == "ours":
            out = ours_pass(warehouse)
        else:
            out = compare_pass(warehouse, args.peer, args.ours, args.examples)
        print(json.dumps({**out, "peak_rss_mb": round(peak_rss_mb())}))
        return

    work = args.work.resolve()
    if work.exists():
        shutil.rmtree(work)
    copy, peer_out = work / "ours_warehouse", work / "peer"
    prepare_copy(warehouse, copy)
    ours = _child("--warehouse", str(copy), "--side", "ours")
    limit = ["--peer-memory-limit", args.peer_memory_limit] if args.peer_memory_limit else []
    peer = _child("--warehouse", str(warehouse), "--side", "peer", "--out", str(peer_out), *limit)
    diff = _child(
        "--warehouse",
        str(warehouse),
        "--side",
        "compare",
        "--peer",
        str(peer_out),
        "--ours",
        str(copy),
        "--examples",
        str(args.examples),
    )
    if not args.keep:
        shutil.rmtree(work)
    peer_diff, ours_diff = diff["peer_vs_pipeline"], diff["rebuild_vs_pipeline"]
    mismatches = {
        f"{side}/{table}": {k: v for k, v in d.items() if k != "match"}
        for side, tables in (("peer", peer_diff), ("rebuild", ours_diff))
        for table, d in tables.items()
        if not d["match"]
    }
    record(
        "rollups",
        {
            "warehouse": str(warehouse),
            "landing_dates": ours["landing_dates"],
            "ours_s": round(ours["seconds"], 2),
            "ours_peak_rss_mb": ours["peak_rss_mb"],
            "peer_s": round(peer["seconds"], 2),
            "peer_peak_rss_mb": peer["peak_rss_mb"],
            "peer_over_ours": round(peer["seconds"] / ours["seconds"], 2),
            "rows": {t: d["rows_left"] for t, d in peer_diff.items()},
            "peer_rows": peer["rows"],
            "match": all(d["match"] for d in peer_diff.values()),
            "rebuild_matches_pipeline": all(d["match"] for d in ours_diff.values()),
            "mismatches": mismatches,
        },
    )


if __name__ == "__main__":
    main()
