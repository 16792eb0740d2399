"""`metrics backfill` and `metrics nightly`: the same job the UI and the schedule launch.

Runs execute in this process against the Dagster instance in $DAGSTER_HOME, so they appear in
the UI's run history next to scheduled and UI-launched runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from metrics import config
from metrics.normalize import landing_dates
from pipelines.partitions import FIRST_LANDING_DATE

# Dagster's console logger at INFO shows the per-date lines the assets log, not every event.
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


INSTANCE_TEMPLATE = Path(__file__).with_name("dagster.yaml")


def ensure_dagster_home() -> Path:
    """$DAGSTER_HOME (default .dagster_home) with our pools config, so CLI runs share the UI's."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(INSTANCE_TEMPLATE, target)
    return home


def _instance() -> dg.DagsterInstance:
    ensure_dagster_home()
    return dg.DagsterInstance.get()


def run_range(first: date, last: date) -> bool:
    """Materialize every asset for landing dates first..last (inclusive) in one run."""
    from pipelines.definitions import defs

    if first < date.fromisoformat(FIRST_LANDING_DATE):
        raise SystemExit(
            f"error: landing date {first} is before the first partition {FIRST_LANDING_DATE}; "
            "set METRICS_FIRST_LANDING_DATE to an earlier date and run again."
        )
    job = defs.resolve_job_def("landing_job")
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    print(f"materializing landing dates {first} .. {last}", flush=True)
    with _instance() as instance:
        result = job.execute_in_process(
            instance=instance, tags=tags, raise_on_error=False, run_config=QUIET
        )
    for event in result.all_events:
        if event.is_step_success or event.is_step_failure:
            mark = "ok  " if event.is_step_success else "FAIL"
            print(f"  {mark} {event.step_key}", flush=True)
    return result.success


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines.run")
    sub = parser.add_subparsers(dest="command", required=True)
    back = sub.add_parser("backfill")
    back.add_argument("--since", type=date.fromisoformat)
    back.add_argument("--until", type=date.fromisoformat)
    night = sub.add_parser("nightly")
    night.add_argument("--date", type=date.fromisoformat)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.command == "nightly":
        day = args.date or (datetime.now(UTC).date() - timedelta(days=1))
        return 0 if run_range(day, day) else 1
    found = landing_dates(config.raw_dir())
    if not found and not (args.since and args.until):
        print(
            f"error: no landing dates under {config.raw_dir()}; run `metrics generate` "
            "or point METRICS_RAW_DIR at a landing zone.",
            file=sys.stderr,
        )
        return 2
    first = args.since or found[0]
    last = args.until or found[-1]
    if first > last:
        print(f"error: --since {first} is after --until {last}", file=sys.stderr)
        return 2
    return 0 if run_range(first, last) else 1


if __name__ == "__main__":
    sys.exit(main())
