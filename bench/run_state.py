"""What the shared run state costs: this tree against the tree before it, local and on S3.

The run state moved from files on the run host (a JSON ledger under `flock`, numbered manifest
files) into Delta control tables inside the warehouse, and every data commit now carries its
claim's application transactions. This prices that change where it could show: a backfill of the
whole benchmark zone and one nightly after it, each on a local warehouse and on a real S3 server
on loopback (SeaweedFS, the test fixture's server), this tree beside a worktree of the commit
before (`--before-tree`), interleaved so that the pairs share the machine's state:

    before-local, local, before-s3, s3

(`--sides` takes any order, a side repeated included, each time into a new warehouse: the
figures in BENCHMARKS.md are from that order and then its mirror.)

Each side is `bench/delta_warehouse.py`'s: the CLI backfill (wall, CPU and peak RSS of the
process tree), the nightly of the last landing date, then a fresh reader's connect and query
latency.

    python bench/run_state.py --raw /tmp/bench_raw --before-tree <worktree of main before>
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, record
from bench.delta_warehouse import measure_in, measure_side

SIDES = ("before-local", "local", "before-s3", "s3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, required=True, help="the benchmark landing zone")
    parser.add_argument("--before-tree", type=Path, required=True, help="a worktree of main")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench_state")
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    tree = str(args.before_tree.resolve())
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "METRICS_"))}
    before_env = dict(base_env, PYTHONPATH=tree, BENCH_CWD=tree)
    results = []
    from tests.helpers.object_store import running_object_store

    with running_object_store(args.work / "s3server", bucket="bench-state") as server:
        for index, side in enumerate(args.sides.split(",")):
            remote = side.endswith("s3")
            env = dict(before_env if side.startswith("before") else base_env)
            if remote:
                env |= server.env
            place = f"{index}-{side}"  # a new warehouse each time a side repeats
            warehouse = server.uri(place) if remote else str(args.work / place)
            if side.startswith("before"):
                results.append(measure_in(tree, side, args.raw, warehouse, env, args.queries))
            else:
                results.append(measure_side(side, args.raw, warehouse, env, args.queries))
    summary = {"machine": machine(), "results": results}
    record("run_state", summary)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
