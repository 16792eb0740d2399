"""In-process latency of `Store.query` on a synthetic warehouse (~20k posts × 7 days).

    .venv/bin/python bench/read_latency.py [--posts 20000] [--out /tmp/read-bench-warehouse]

The warehouse is written straight from generated frames (no landing zone, no Dagster), with
the pipeline's own `build_rollups`, so it takes a minute or so; a second run reuses it.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import metrics
from metrics.schema import FOLLOWER_OBSERVATIONS, POST_HOURLY, POST_METRICS, POSTS
from tests.warehouse_fixtures import write_frames

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; Los Angeles changes clocks on the 8th
DAYS = 7
ORGS, PROJECTS_PER_ORG, LAYERS_PER_PROJECT, ACCOUNTS_PER_LAYER = 2, 5, 2, 10


def _catalog() -> dict:
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


def build(out: Path, n_posts: int, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    catalog = _catalog()
    accounts = [a["id"] for a in catalog["social_accounts"]]
    hours = DAYS * 24
    post_ids = [f"pst_tiktok_{7_300_000_000_000_000_000 + i}" for i in range(n_posts)]
    owner = rng.integers(0, len(accounts), n_posts)
    published_hour = rng.integers(0, hours, n_posts)
    posts = pl.DataFrame(
        {
            "platform_post_id": post_ids,
            "platform": "tiktok",
            "native_id": [p[11:] for p in post_ids],
            "social_account_id": [accounts[i] for i in owner],
            "published_at": [START + timedelta(hours=int(h), minutes=17) for h in published_hour],
        },
        schema_overrides={"published_at": POSTS["published_at"]},
    ).select(
        pl.col(c)
        if c in ("platform_post_id", "platform", "native_id", "social_account_id", "published_at")
        else pl.lit(None, t).alias(c)
        for c, t in POSTS.items()
    )
    # Each post moves in ~70% of the hours after its publication.
    post_idx, hour_idx = np.nonzero(
        (np.arange(hours)[None, :] >= published_hour[:, None])
        & (rng.random((n_posts, hours)) < 0.7)
    )
    base = np.datetime64(START.replace(tzinfo=None), "us")
    hourly = pl.DataFrame(
        {
            "platform_post_id": np.array(post_ids)[post_idx],
            "hour": base + hour_idx.astype("timedelta64[h]"),
            **{m: rng.integers(0, 50, len(post_idx)) for m in POST_METRICS},
        }
    ).with_columns(pl.col("hour").dt.replace_time_zone("UTC"))
    hourly = hourly.cast(POST_HOURLY)  # type: ignore[arg-type]
    snapshots = [
        {
            "social_account_id": a,
            "platform": "tiktok",
            "collected_at": START + timedelta(hours=6 * k, minutes=int(rng.integers(0, 60))),
            "landing_file": "bench",
            "line": i * 100 + k,
            "followers": 10_000 + 7 * k,
        }
        for i, a in enumerate(accounts)
        for k in range(DAYS * 4)
    ]
    followers = pl.DataFrame(snapshots, schema=FOLLOWER_OBSERVATIONS)
    print(f"writing {n_posts} posts, {hourly.height} hourly rows to {out}", flush=True)
    return write_frames(out, catalog, posts, hourly, followers)


def measure(store: metrics.Store, name: str, make, n: int = 2000) -> None:
    for _ in range(50):
        store.query(**make())
    times = []
    for _ in range(n):
        kw = make()
        t0 = time.perf_counter()
        store.query(**kw)
        times.append(time.perf_counter() - t0)
    times.sort()
    p50, p95, p99 = (times[int(q * len(times))] * 1e3 for q in (0.5, 0.95, 0.99))
    print(f"{name:<44} p50 {p50:6.3f} ms   p95 {p95:6.3f} ms   p99 {p99:6.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/read-bench-warehouse"))
    args = parser.parse_args()
    if not (args.out / "manifest.json").exists():
        build(args.out, args.posts)
    t0 = time.perf_counter()
    store = metrics.connect(args.out)
    print(f"connect (load into memory): {time.perf_counter() - t0:.2f} s")
    rng = random.Random(1)
    projects = [(f"org_{o}", f"prj_{o}_{p}") for o in range(ORGS) for p in range(PROJECTS_PER_ORG)]
    posts = pl.read_parquet(args.out / "parquet/posts/part-0.parquet")["platform_post_id"]
    account_of = dict(
        pl.read_parquet(args.out / "parquet/posts/part-0.parquet")
        .select("platform_post_id", "social_account_id")
        .iter_rows()
    )
    end = START + timedelta(days=DAYS)

    def project(tz: str = "UTC"):
        org, prj = rng.choice(projects)
        return {
            "org_id": org,
            "project_id": prj,
            "scope": "project",
            "id": prj,
            "since": end - timedelta(days=30),
            "until": end,
            "tz": tz,
        }

    def post():
        pid = posts[rng.randrange(len(posts))]
        _, o, p, _, _ = account_of[pid].split("_")
        return {
            "org_id": f"org_{o}",
            "project_id": f"prj_{o}_{p}",
            "scope": "platform_post",
            "id": pid,
            "since": START,
            "until": end,
            "granularity": "hour",
        }

    def org():
        o = rng.randrange(ORGS)
        return {
            "org_id": f"org_{o}",
            "project_id": f"prj_{o}_0",
            "scope": "organization",
            "id": f"org_{o}",
            "since": end - timedelta(days=90),
            "until": end,
            "granularity": "week",
        }

    measure(store, "project, 30 days by day", project)
    measure(store, "post, 7 days by hour", post)
    measure(store, "organization, 90 days by week", org)
    measure(
        store,
        "project, 30 days by day, America/Los_Angeles",
        lambda: project("America/Los_Angeles"),
    )


if __name__ == "__main__":
    main()
