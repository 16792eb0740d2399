"""Wall, CPU and peak RSS of one `metrics backfill` of a landing zone through Dagster, for the
code of any source tree, so two trees are compared in one session:

    python bench/backfill_memory.py --raw /tmp/bench_raw --tree . --out /tmp/bf_after
    python bench/backfill_memory.py --raw /tmp/bench_raw --tree /tmp/before --out /tmp/bf_before

(`git worktree add --detach /tmp/before <commit>` gives the before tree.) Peak RSS is the
largest process of the run's tree (wait4), normalize workers included.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.nightly import run_measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raw", type=Path, required=True, help="the landing zone")
    parser.add_argument("--tree", type=Path, default=Path("."), help="source tree to run")
    parser.add_argument("--out", type=Path, required=True, help="scratch folder (replaced)")
    args = parser.parse_args()
    tree = str(args.tree.resolve())
    shutil.rmtree(args.out, ignore_errors=True)
    home = args.out / "dagster_home"
    home.mkdir(parents=True)
    env = dict(
        os.environ,
        METRICS_RAW_DIR=str(args.raw.resolve()),
        METRICS_WAREHOUSE_DIR=str(args.out / "warehouse"),
        DAGSTER_HOME=str(home),
    )
    entry = f"import sys; sys.path.insert(0, {tree!r}); from pipelines import cli; "
    cmd = [sys.executable, "-c", entry + "sys.exit(cli.main(sys.argv[1:]))", "backfill"]
    measured = run_measured(cmd, env, args.out / "backfill.log")
    print(json.dumps({"tree": tree, **{k: round(v, 1) for k, v in measured.items()}}))


if __name__ == "__main__":
    main()
