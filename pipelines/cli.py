"""The `metrics` console script: the domain commands of `metrics.cli.main`, plus the commands
that run the Dagster job (backfill, nightly, clear-run, demo), calling `pipelines.run` as
functions.

This is the one place where exceptions become exit codes: 2 for a refused command (with what was
wrong and how to fix it), 1 for a run that failed, 75 for a run that gave up waiting for a pool
slot, and 128 + the signal for a run stopped by SIGTERM or Ctrl+C.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime

from metrics import config
from metrics.cli import demo
from metrics.cli.main import build_parser, export_paths, share_path_flags
from metrics.cli.parsing import Command, Subcommands, example
from metrics.objects import ObjectPath
from metrics.sample import generate
from pipelines import parallel, run

EXIT_REFUSED = 2


def _run(first: date, last: date) -> int:
    try:
        ok = run.run_stoppable(first, last)
    except run.SlotWaitTimeout as timeout:
        print(timeout, file=sys.stderr)
        return run.EXIT_SLOT_TIMEOUT
    except run.RunSignalled as stopped:
        print(stopped, flush=True)
        return 128 + stopped.signum
    return 0 if ok else 1


def cmd_backfill(args: argparse.Namespace) -> int:
    first, last = run.backfill_dates(args.since, args.until)
    if args.parallel < 1:
        raise run.RunRefused(f"--parallel {args.parallel}: give a number of runs, 1 or more")
    if args.parallel == 1:
        return _run(first, last)
    run.refuse_empty_inputs()
    run.prepare_instance()
    return parallel.run_parallel(first, last, args.parallel)


def cmd_nightly(args: argparse.Namespace) -> int:
    # The inputs first: without a catalog the partitions start yesterday, and a missing mount
    # must say so rather than "before the first partition".
    run.refuse_empty_inputs()
    return _run(*run.nightly_dates(args.date))


def cmd_clear_run(args: argparse.Namespace) -> int:
    run.clear_run(args.run_id, args.force)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Sample data (unless a landing zone is already there), the whole pipeline, an answer."""
    raw = config.raw_dir(args.raw)
    if isinstance(raw, ObjectPath) and not (raw / "catalog").is_dir():
        raise run.RunRefused(
            f"{raw} holds no landing zone and `metrics demo` generates sample data only into a "
            "folder; run it with a local --raw, or upload a landing zone under the prefix first."
        )
    until = None  # an existing landing zone: up to its newest landing date
    if not (raw / "catalog").is_dir():
        print(f"generating sample exports into {raw}", flush=True)
        until = datetime.now(UTC).date()
        if code := generate.main(["--out", str(raw), *demo.sample_args(until)]):
            return code
    if code := _run(*run.backfill_dates(None, until)):
        return code
    demo.print_summary(config.warehouse_dir(args.warehouse))
    return 0


def register(sub: Subcommands) -> None:
    back = sub.add_parser(
        "backfill",
        help="materialize every asset for a range of landing dates",
        **example("metrics backfill --since 2026-03-02 --until 2026-03-04"),
    )
    back.add_argument("--since", type=config.iso_date, help="first landing date (inclusive)")
    back.add_argument("--until", type=config.iso_date, help="last landing date (inclusive)")
    back.add_argument(
        "--parallel",
        type=int,
        default=1,
        metavar="N",
        help="split the range into N runs executed at once, each in its own process "
        "(default 1); the steps that rewrite shared tables take turns through the pools",
    )
    back.set_defaults(func=cmd_backfill)

    night = sub.add_parser(
        "nightly",
        help="what the nightly schedule runs (default: yesterday)",
        **example("metrics nightly --date 2026-03-04"),
    )
    night.add_argument("--date", type=config.iso_date, help="landing date (default yesterday)")
    night.set_defaults(func=cmd_nightly)

    clear = sub.add_parser(
        "clear-run",
        help="mark a stuck run failed and free its pool slots",
        description="Mark a run failed and free its pool slots, so later runs stop waiting for "
        "it. Refuses a run whose process is still alive on this host unless --force.",
        **example("metrics clear-run 6f1c2a9e-…"),
    )
    clear.add_argument("run_id", help="the run id named by the error message or the UI")
    clear.add_argument("--force", action="store_true", help="even if its process is alive")
    clear.set_defaults(func=cmd_clear_run)

    sample = sub.add_parser(
        "demo",
        help="sample data, the whole pipeline, a sample answer",
        **example("metrics --raw /tmp/raw --warehouse /tmp/warehouse demo"),
    )
    sample.set_defaults(func=cmd_demo)


def main(argv: list[str] | None = None) -> int:
    parser, sub = build_parser()
    register(sub)
    share_path_flags(parser)
    args = parser.parse_args(argv)
    export_paths(args)
    func: Command = args.func
    try:
        return func(args)
    except (run.RunRefused, config.ConfigError) as refused:
        print(f"error: {refused}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
