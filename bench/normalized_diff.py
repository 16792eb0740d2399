"""Do two versions of the code normalize a landing zone to the same tables?

    python bench/normalized_diff.py --raw /tmp/bench_raw --before /path/to/worktree-of-main \
        [--after .] [--out /tmp/normalized_diff]

Each side runs in its own process from its own source tree (`--before`, `--after`: a git
worktree each), normalizes every landing date of `--raw` with `normalize_partition` (no pool, so
the files are read in path order) and writes each normalized table of each date as Parquet.
Then every table is compared: the columns both sides have, both frames sorted by all of those
columns, must be equal row for row (`DataFrame.equals`, nulls equal); columns only one side has
are listed, with their null count. Exit 1 on any difference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

_SIDE = """
import sys
from datetime import date
from pathlib import Path
from metrics.ingest.catalog import load_catalog
from metrics.ingest.normalize import landing_dates, normalize_partition
raw, out = Path(sys.argv[1]), Path(sys.argv[2])
catalog = load_catalog(raw)
for day in landing_dates(raw):
    part = normalize_partition(raw, day, catalog)
    for name, df in part.tables.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        df.write_parquet(folder / f"{day.isoformat()}.parquet")
    acc = part.accounting
    print(day, acc.lines_read, acc.lines_used, acc.lines_quarantined, acc.records_quarantined)
"""


def normalize_with(tree: Path, raw: Path, out: Path) -> str:
    """Run the normalizer of source tree `tree` over `raw`; its tables land under `out`."""
    env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
    done = subprocess.run(
        [sys.executable, "-c", _SIDE, str(raw), str(out)],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def compare(before: Path, after: Path) -> dict[str, dict[str, object]]:
    report: dict[str, dict[str, object]] = {}
    for folder in sorted(p for p in before.iterdir() if p.is_dir()):
        name = folder.name
        a = pl.read_parquet(folder / "*.parquet")
        b = pl.read_parquet(after / name / "*.parquet")
        common = [c for c in a.columns if c in b.columns]
        sa = a.select(common).sort(common, nulls_last=True)
        sb = b.select(common).sort(common, nulls_last=True)
        report[name] = {
            "rows_before": a.height,
            "rows_after": b.height,
            "identical": sa.equals(sb),
            "only_before": a.columns[len(common) :] if set(a.columns) - set(common) else [],
            "only_after": {c: f"{b[c].null_count()} nulls" for c in b.columns if c not in common},
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--before", type=Path, required=True, help="source tree of the old code")
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--out", type=Path, default=Path("/tmp/normalized_diff"))
    args = parser.parse_args()
    counts = {}
    for side, tree in (("before", args.before), ("after", args.after)):
        counts[side] = normalize_with(tree, args.raw, args.out / side)
    report = compare(args.out / "before", args.out / "after")
    same_counts = counts["before"] == counts["after"]
    print(json.dumps({"accounting_identical": same_counts, "tables": report}, indent=2))
    if not same_counts or not all(t["identical"] for t in report.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
