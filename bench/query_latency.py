"""In-process latency of `Store.query`, beside a peer that aggregates on read with DuckDB.

    python bench/query_latency.py --warehouse /tmp/bench_wh [--iterations 1000]
    python bench/query_latency.py --warehouse /tmp/read-bench-warehouse --synthetic-posts 20000

Four request shapes, each ending at the midnight after the warehouse's `as_of` day:

- a project over 30 days by day;
- a post over 7 days by hour;
- an organization over 90 days by week;
- a project over 30 days by day in America/Los_Angeles (local midnights);

spec §7's comparison and breakdowns (see bench/query_questions.py): a project over 30 days by
day with `compare=previous_period`, the same with `group_by=platform`, and an organization over
30 days by day with `group_by=social_account`; and four top-performers shapes
(`Store.top_performers`, the ten posts with the most views): a project over 30 days and an
organization over 90 days, the same ids and windows as the first and third query shapes, and the
same two over a window whose edges cut through the posts' activity (`bench/top_peer.py`), each
beside that module's DuckDB answer, compared item by item.

Ids rotate over a seeded sample of the catalog (posts: among those active in the 7 days). Ours
is `metrics.connect(warehouse).query(...)`. The peer holds `post_hourly` (joined once with the
newest catalog) and the published posts in DuckDB tables and answers each request with one
bound-parameter SQL aggregate (`GROUP BY GROUPING SETS ((bucket), ())` for series and totals,
`count(DISTINCT …)` for `post_count`); the window and its bucket list come from
`metrics.serve.window`, the values from SQL only. Every peer answer is compared with ours
(series and totals, exactly); the mismatch count must be 0.

`--synthetic-posts N` first writes a synthetic warehouse (N TikTok posts over 7 days, no
landing zone, rollups by the pipeline's own `build_rollups`) at `--warehouse` if none is there.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import metrics
from bench import query_questions as questions
from bench import top_peer
from bench.common import peak_rss_mb, record
from metrics.serve import window as windows
from metrics.serve.index import read_manifest
from metrics.warehouse import storage

PEER_METRICS = ("views", "likes", "engagement_rate", "posts_published")
SCOPE_COLUMN = {
    "platform_post": "platform_post_id",
    "social_account": "social_account_id",
    "project_layer": "project_layer_id",
    "project": "project_id",
    "organization": "org_id",
}

# --------------------------------------------------------------------------------------------
# A synthetic warehouse (no landing zone, no Dagster), for a quick look without the pipeline
# --------------------------------------------------------------------------------------------

SYN_START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; Los Angeles changes clocks on the 8th
SYN_DAYS = 7
ORGS, PROJECTS_PER_ORG, LAYERS_PER_PROJECT, ACCOUNTS_PER_LAYER = 2, 5, 2, 10


def _synthetic_catalog() -> dict:
    catalog: dict[str, list[dict[str, str]]] = {
        "organizations": [],
        "projects": [],
        "project_layers": [],
        "social_accounts": [],
    }
    for o in range(ORGS):
        catalog["organizations"].append({"id": f"org_{o}", "name": f"org {o}"})
        for p in range(PROJECTS_PER_ORG):
            project = f"prj_{o}_{p}"
            catalog["projects"].append({"id": project, "org_id": f"org_{o}", "name": project})
            for layer_n, kind in enumerate(("social_content", "managed_ugc")[:LAYERS_PER_PROJECT]):
                layer = f"lyr_{o}_{p}_{layer_n}"
                catalog["project_layers"].append(
                    {"id": layer, "project_id": project, "kind": kind, "name": kind}
                )
                for a in range(ACCOUNTS_PER_LAYER):
                    account = f"acc_{o}_{p}_{layer_n}_{a}"
                    catalog["social_accounts"].append(
                        {
                            "id": account,
                            "project_layer_id": layer,
                            "platform": "tiktok",
                            "native_id": account,
                            "handle": account,
                        }
                    )
    return catalog


def build_synthetic(out: Path, n_posts: int, seed: int = 7) -> Path:
    from metrics.model.measures import POST_METRICS
    from metrics.model.tables import FOLLOWER_OBSERVATIONS, POST_HOURLY, POSTS
    from tests.helpers.warehouse import write_frames

    rng = np.random.default_rng(seed)
    catalog = _synthetic_catalog()
    accounts = [a["id"] for a in catalog["social_accounts"]]
    hours = SYN_DAYS * 24
    post_ids = [f"pst_tiktok_{7_300_000_000_000_000_000 + i}" for i in range(n_posts)]
    owner = rng.integers(0, len(accounts), n_posts)
    published_hour = rng.integers(0, hours, n_posts)
    kept = ("platform_post_id", "platform", "native_id", "social_account_id", "published_at")
    posts = pl.DataFrame(
        {
            "platform_post_id": post_ids,
            "platform": "tiktok",
            "native_id": [p[11:] for p in post_ids],
            "social_account_id": [accounts[i] for i in owner],
            "published_at": [
                SYN_START + timedelta(hours=int(h), minutes=17) for h in published_hour
            ],
        },
        schema_overrides={"published_at": POSTS["published_at"]},
    ).select(pl.col(c) if c in kept else pl.lit(None, t).alias(c) for c, t in POSTS.items())
    # Each post moves in ~70% of the hours after its publication.
    post_idx, hour_idx = np.nonzero(
        (np.arange(hours)[None, :] >= published_hour[:, None])
        & (rng.random((n_posts, hours)) < 0.7)
    )
    base = np.datetime64(SYN_START.replace(tzinfo=None), "us")
    hourly = pl.DataFrame(
        {
            "platform_post_id": np.array(post_ids)[post_idx],
            "hour": base + hour_idx.astype("timedelta64[h]"),
            **{m: rng.integers(0, 50, len(post_idx)) for m in POST_METRICS},
        }
    ).with_columns(pl.col("hour").dt.replace_time_zone("UTC"))
    hourly = hourly.cast(POST_HOURLY)  # type: ignore[arg-type]  # polars' stub types cast()'s mapping narrower than it accepts
    snapshots = [
        {
            "social_account_id": a,
            "platform": "tiktok",
            "collected_at": SYN_START + timedelta(hours=6 * k, minutes=int(rng.integers(0, 60))),
            "landing_file": "bench",
            "line": i * 100 + k,
            "followers": 10_000 + 7 * k,
        }
        for i, a in enumerate(accounts)
        for k in range(SYN_DAYS * 4)
    ]
    followers = pl.DataFrame(snapshots, schema=FOLLOWER_OBSERVATIONS)
    print(f"writing {n_posts} posts, {hourly.height} hourly rows to {out}", flush=True)
    return write_frames(out, catalog, posts, hourly, followers)


# --------------------------------------------------------------------------------------------
# The peer: aggregate on read from post_hourly with DuckDB
# --------------------------------------------------------------------------------------------


def _files(warehouse: Path, table: str) -> str:
    """A DuckDB list of the table's Parquet files at its newest Delta version (never a glob:
    replaced files stay on storage until vacuumed)."""
    quoted = ("'" + f.replace("'", "''") + "'" for f in storage.files(warehouse, table))
    return "[" + ", ".join(quoted) + "]"


class Peer:
    """post_hourly and posts with their catalog lineage in DuckDB, one SQL query per request."""

    def __init__(self, warehouse: Path, threads: int) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(f"SET threads = {threads}")
        lineage = f"""
            SELECT p.platform_post_id, p.published_at, c.social_account_id, c.platform,
                   c.project_layer_id, c.project_id, c.org_id
            FROM read_parquet({_files(warehouse, "posts")}) p
            JOIN read_parquet({_files(warehouse, "catalog_accounts")}) c
              USING (social_account_id)"""
        self.con.execute(f"CREATE TABLE lineage AS {lineage}")
        # Sorted by scope then time, so DuckDB's zone maps skip most row groups per request.
        self.con.execute(
            f"""CREATE TABLE ph AS
            SELECT l.org_id, l.project_id, l.project_layer_id, l.social_account_id, l.platform,
                   h.platform_post_id, h.hour, h.views, h.likes, h.comments, h.shares, h.saves
            FROM read_parquet({_files(warehouse, "post_hourly")}, hive_partitioning = false) h
            JOIN lineage l USING (platform_post_id)
            ORDER BY l.org_id, l.project_id, l.project_layer_id, l.social_account_id,
                     h.platform_post_id, h.hour"""
        )
        self.con.execute(
            """CREATE TABLE pub AS SELECT * EXCLUDE (published_at), published_at FROM lineage
            WHERE published_at IS NOT NULL ORDER BY org_id, project_id, published_at"""
        )
        count = self.con.execute("SELECT count(*) FROM ph").fetchone()
        assert count is not None  # count(*) always returns one row
        self.rows = count[0]
        self._sql: dict[tuple[str, str], str] = {}

    def _statement(self, scope: str, granularity: str) -> str:
        key = (scope, granularity)
        if key not in self._sql:
            col = SCOPE_COLUMN[scope]  # from a fixed mapping, never from the request
            if granularity == "hour":
                label = "strftime(date_trunc('hour', timezone('UTC', t)), '%Y-%m-%dT%H:%M:%SZ')"
            else:
                unit = "day" if granularity == "day" else "week"
                label = f"strftime(date_trunc('{unit}', timezone($tz, t)), '%Y-%m-%d')"
            self._sql[key] = f"""
            WITH x AS (
              SELECT hour AS t, platform_post_id, views, likes, comments, shares, saves,
                     0 AS published
              FROM ph WHERE {col} = $id AND hour >= $since AND hour < $until
              UNION ALL
              SELECT published_at, NULL, 0, 0, 0, 0, 0, 1
              FROM pub WHERE {col} = $id AND published_at >= $since AND published_at < $until
            )
            SELECT grouping(bucket) = 1 AS total, bucket,
              coalesce(sum(views), 0)::BIGINT AS views, coalesce(sum(likes), 0)::BIGINT AS likes,
              coalesce(sum(likes + comments + shares + saves), 0)::DOUBLE
                / greatest(coalesce(sum(views), 0), 1) AS engagement_rate,
              coalesce(sum(published), 0)::BIGINT AS posts_published,
              count(DISTINCT platform_post_id) AS post_count
            FROM (SELECT {label} AS bucket, * FROM x)
            GROUP BY GROUPING SETS ((bucket), ())"""
        return self._sql[key]

    def query(
        self,
        *,
        org_id: str,
        project_id: str,
        scope: str,
        id: str,
        metrics: list[str],
        since: Any,
        until: Any,
        granularity: str = "day",
        tz: str = "UTC",
    ) -> dict:
        if granularity == "hour" and tz != "UTC":
            raise NotImplementedError("the peer labels hours in UTC only")
        if any(m not in PEER_METRICS for m in metrics):
            raise NotImplementedError(f"the peer answers {', '.join(PEER_METRICS)} only")
        window = windows.resolve(since, until, granularity, tz, None)
        params = {
            "id": id,
            "since": datetime.fromtimestamp(window.since, UTC),
            "until": datetime.fromtimestamp(window.until, UTC),
        }
        if granularity != "hour":
            params["tz"] = tz
        rows = self.con.execute(self._statement(scope, granularity), params).fetchall()
        names = ("views", "likes", "engagement_rate", "posts_published", "post_count")
        by_bucket = {r[1]: dict(zip(names, r[2:], strict=True)) for r in rows if not r[0]}
        total = next((dict(zip(names, r[2:], strict=True)) for r in rows if r[0]), None)
        empty = {"views": 0, "likes": 0, "engagement_rate": 0.0, "posts_published": 0}
        buckets = windows.buckets(window)
        series = []
        for label in buckets.labels:
            values = by_bucket.pop(label, empty)
            series.append({"bucket": label, **{m: values[m] for m in metrics}})
        if by_bucket:  # a bucket outside the window's list: never equal to ours
            series.append({"unexpected_buckets": sorted(by_bucket)})
        if buckets.partial_first:
            series[0]["partial"] = True
        if buckets.partial_last:
            series[-1]["partial"] = True
        total = total or {**empty, "post_count": 0}
        totals = {m: total[m] for m in metrics}
        totals["post_count"] = total["post_count"]
        return {"series": series, "totals": totals}


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def _read(warehouse: Path, table: str) -> pl.DataFrame:
    return storage.read(warehouse, table)


def request_shapes(
    warehouse: Path, n_ids: int, seed: int
) -> dict[str, Callable[[random.Random], dict]]:
    """The four shapes, each a function drawing the next request from a rotating id sample."""
    manifest = read_manifest(warehouse)
    if not manifest.get("as_of"):
        raise SystemExit(f"{warehouse} has no as_of in manifest.json: run the pipeline first")
    as_of = datetime.fromisoformat(str(manifest["as_of"]).replace("Z", "+00:00"))
    until = as_of.date() + timedelta(days=1)
    pick = random.Random(seed)
    entities = _read(warehouse, "catalog_entities")
    projects = entities.filter(pl.col("kind") == "project").select("org_id", "id").sort("id").rows()
    orgs = sorted({org for org, _ in projects})
    project_of_org = {org: min(p for o, p in projects if o == org) for org in orgs}
    accounts = _read(warehouse, "catalog_accounts").select(
        "social_account_id", "org_id", "project_id"
    )
    week_start = datetime.combine(until - timedelta(days=7), datetime.min.time(), tzinfo=UTC)
    active = (
        storage.scan(warehouse, "post_hourly")
        .filter(pl.col("hour") >= week_start)
        .select("platform_post_id")
        .unique()
        .collect()
        .join(
            _read(warehouse, "posts").select("platform_post_id", "social_account_id"),
            on="platform_post_id",
        )
        .join(accounts, on="social_account_id")
        .sort("platform_post_id")
        .select("org_id", "project_id", "platform_post_id")
        .rows()
    )
    if not projects or not active:
        raise SystemExit(f"{warehouse} has no projects or no post active in the last 7 days")
    projects = pick.sample(projects, min(n_ids, len(projects)))
    posts = pick.sample(active, min(n_ids, len(active)))
    orgs = pick.sample(orgs, min(n_ids, len(orgs)))

    def days(n: int) -> tuple[str, str]:
        return (until - timedelta(days=n)).isoformat(), until.isoformat()

    def project(rng: random.Random, tz: str = "UTC") -> dict:
        org, prj = rng.choice(projects)
        since, end = days(30)
        return {
            "org_id": org,
            "project_id": prj,
            "scope": "project",
            "id": prj,
            "since": since,
            "until": end,
            "granularity": "day",
            "tz": tz,
        }

    def post(rng: random.Random) -> dict:
        org, prj, pst = rng.choice(posts)
        since, end = days(7)
        return {
            "org_id": org,
            "project_id": prj,
            "scope": "platform_post",
            "id": pst,
            "since": since,
            "until": end,
            "granularity": "hour",
            "tz": "UTC",
        }

    def organization(rng: random.Random) -> dict:
        org = rng.choice(orgs)
        since, end = days(90)
        return {
            "org_id": org,
            "project_id": project_of_org[org],
            "scope": "organization",
            "id": org,
            "since": since,
            "until": end,
            "granularity": "week",
            "tz": "UTC",
        }

    return {
        "project_30d_day": project,
        "post_7d_hour": post,
        "org_90d_week": organization,
        "project_30d_day_la": lambda rng: project(rng, "America/Los_Angeles"),
    }


def _timed(
    call: Callable[[dict], Any], warm: list[dict], timed: list[dict]
) -> tuple[list[float], list[Any]]:
    """Sorted latencies and the answers of `timed`, after running `warm` untimed."""
    for kw in warm:
        call(kw)
    times, answers = [], []
    for kw in timed:
        t0 = time.perf_counter()
        answers.append(call(kw))
        times.append(time.perf_counter() - t0)
    return sorted(times), answers


def _pct(times: list[float], q: float) -> float:
    return round(times[min(int(q * len(times)), len(times) - 1)] * 1e3, 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="p50/p99 of Store.query for four request shapes, beside a DuckDB "
        "aggregate-on-read peer that must give the same answers; records bench/out/query.jsonl."
    )
    parser.add_argument("--warehouse", type=Path, required=True, help="a built warehouse")
    parser.add_argument("--iterations", type=int, default=1000, help="timed queries per shape")
    parser.add_argument(
        "--peer-iterations", type=int, default=300, help="timed peer queries per shape"
    )
    parser.add_argument("--warmup", type=int, default=50, help="untimed queries first")
    parser.add_argument("--ids", type=int, default=20, help="ids to rotate over per shape")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--peer-threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument(
        "--synthetic-posts",
        type=int,
        default=None,
        help="first write a synthetic warehouse of N posts at --warehouse if none is there",
    )
    args = parser.parse_args()
    warehouse = args.warehouse.resolve()
    if args.synthetic_posts and not (warehouse / "manifest.json").exists():
        build_synthetic(warehouse, args.synthetic_posts)

    shapes = request_shapes(warehouse, args.ids, args.seed)
    shapes |= questions.shapes(shapes)  # spec §7: compare and group_by
    rng = random.Random(args.seed)
    n = max(args.iterations, args.peer_iterations)
    requests = {name: [make(rng) for _ in range(n + args.warmup)] for name, make in shapes.items()}
    metrics_list = list(PEER_METRICS)

    t0 = time.perf_counter()
    store = metrics.connect(warehouse)
    connect_s = time.perf_counter() - t0
    rss_connect = peak_rss_mb()
    w = args.warmup
    ours: dict[str, tuple[list[float], list[dict]]] = {}
    for name, reqs in requests.items():
        ours[name] = _timed(
            lambda kw: store.query(**kw, metrics=metrics_list),
            reqs[:w],
            reqs[w : w + args.iterations],
        )
    tops = {
        name: [top_peer.request(kw, cut) for kw in requests[shape]]
        for name, (shape, cut) in top_peer.SHAPES.items()
    }
    for name, reqs in tops.items():
        ours[name] = _timed(
            lambda kw: store.top_performers(**kw), reqs[:w], reqs[w : w + args.iterations]
        )
    rss_ours = peak_rss_mb()
    ranking = store._index.ranking  # private: only to report what the ranking arrays cost
    own = ("moving", "first_row", "end_row", "totals", "platform", "published", "id_rank")
    ranking_mb = sum(getattr(ranking, name).nbytes for name in own) / 2**20

    t0 = time.perf_counter()
    peer = questions.Questions(Peer(warehouse, args.peer_threads), SCOPE_COLUMN)
    peer_load_s = time.perf_counter() - t0
    results: dict[str, dict] = {}
    total_mismatches = 0
    examples: list[dict] = []
    ranker = top_peer.TopPeer(peer.peer.con, SCOPE_COLUMN)
    calls: dict[str, Callable[[dict], Any]] = {
        **{name: lambda kw: peer.query(**kw, metrics=metrics_list) for name in requests},
        **{name: lambda kw: ranker.top(**kw) for name in tops},
    }
    fields = {
        **{name: ("series", "totals") for name in requests},
        **{name: ("total_candidates", "items") for name in tops},
    }
    for name, reqs in {**requests, **tops}.items():
        times, answers = _timed(
            calls[name], reqs[w - min(w, 20) : w], reqs[w : w + args.peer_iterations]
        )
        ours_times, ours_answers = ours[name]
        compared = mismatches = 0
        for kw, mine, theirs in zip(reqs[w:], ours_answers, answers, strict=False):
            compared += 1
            if not (
                questions.same(mine, theirs)
                if name in requests
                else all(mine[f] == theirs[f] for f in fields[name])
            ):
                mismatches += 1
                if len(examples) < 3:
                    examples.append(
                        {
                            "request": kw,
                            "ours": mine[fields[name][0]],
                            "peer": theirs[fields[name][0]],
                        }
                    )
        total_mismatches += mismatches
        o50, o99, p50, p99 = (
            _pct(ours_times, 0.5),
            _pct(ours_times, 0.99),
            _pct(times, 0.5),
            _pct(times, 0.99),
        )
        results[name] = {
            "ours_p50_ms": o50,
            "ours_p99_ms": o99,
            "peer_p50_ms": p50,
            "peer_p99_ms": p99,
            "speedup_p50": round(p50 / max(o50, 1e-3), 1),
            "speedup_p99": round(p99 / max(o99, 1e-3), 1),
            "compared": compared,
            "mismatches": mismatches,
        }
    record(
        "query",
        {
            "warehouse": str(warehouse),
            "as_of": read_manifest(warehouse).get("as_of"),
            "metrics": metrics_list,
            "iterations": args.iterations,
            "peer_iterations": args.peer_iterations,
            "connect_s": round(connect_s, 2),
            "connect_peak_rss_mb": round(rss_connect),
            "ours_peak_rss_mb": round(rss_ours),
            "ranking_index_mb": round(ranking_mb, 1),
            "peer_load_s": round(peer_load_s, 2),
            "peer_post_hourly_rows": peer.peer.rows,
            "shapes": results,
            "mismatches": total_mismatches,
            "mismatch_examples": examples,
        },
    )


if __name__ == "__main__":
    main()
