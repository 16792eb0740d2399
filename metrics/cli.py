"""The `metrics` command line.

`backfill` and `nightly` run the Dagster job through `python -m pipelines.run` in a child process:
the domain package stays free of Dagster, and the runs still land in the same instance the UI
shows. Every subcommand honours --raw/--warehouse or METRICS_RAW_DIR/METRICS_WAREHOUSE_DIR.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date

from metrics import config

Command = Callable[[argparse.Namespace], int]


def _paths(args: argparse.Namespace) -> None:
    """Export the chosen paths so child processes and library calls agree on them."""
    os.environ[config.RAW_ENV] = str(config.raw_dir(args.raw))
    os.environ[config.WAREHOUSE_ENV] = str(config.warehouse_dir(args.warehouse))


def _run_pipeline(argv: list[str]) -> int:
    return subprocess.call([sys.executable, "-m", "pipelines.run", *argv])


def cmd_generate(args: argparse.Namespace) -> int:
    from metrics import generate

    argv = ["--out", str(args.out or config.raw_dir(args.raw)), *args.rest]
    return generate.main(argv)


def cmd_backfill(args: argparse.Namespace) -> int:
    argv = ["backfill"]
    if args.since:
        argv += ["--since", args.since.isoformat()]
    if args.until:
        argv += ["--until", args.until.isoformat()]
    return _run_pipeline(argv)


def cmd_nightly(args: argparse.Namespace) -> int:
    return _run_pipeline(["nightly", *(["--date", args.date.isoformat()] if args.date else [])])


DEMO_GENERATE = [
    "--seed",
    "7",
    "--accounts",
    "16",
    "--posts-per-account",
    "6",
    "--days",
    "5",
    "--start",
    "2026-03-02",
]


def cmd_demo(args: argparse.Namespace) -> int:
    """Sample data (unless a landing zone is already there), the whole pipeline, an answer."""
    from metrics import demo, generate

    raw = config.raw_dir(args.raw)
    if not (raw / "catalog").is_dir():
        print(f"generating sample exports into {raw}", flush=True)
        code = generate.main(["--out", str(raw), *DEMO_GENERATE])
        if code:
            return code
    code = _run_pipeline(["backfill"])
    if code:
        return code
    demo.print_summary(config.warehouse_dir(args.warehouse))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metrics", description="Social content metrics: ingest, roll up, query."
    )
    parser.add_argument("--raw", help=f"landing zone (default ${config.RAW_ENV} or data/raw)")
    parser.add_argument(
        "--warehouse", help=f"warehouse (default ${config.WAREHOUSE_ENV} or data/warehouse)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser(
        "generate",
        help="write a deterministic sample landing zone",
        description="Write a sample landing zone. Options after --out are passed through: "
        "--seed N --accounts N --posts-per-account N --days N --start DATE "
        "--interval-minutes N --truth PATH.",
    )
    gen.add_argument("--out", help="landing zone to write (default: --raw)")
    gen.add_argument("rest", nargs=argparse.REMAINDER)
    gen.set_defaults(func=cmd_generate)

    back = sub.add_parser("backfill", help="materialize every asset for a range of landing dates")
    back.add_argument("--since", type=date.fromisoformat, help="first landing date (inclusive)")
    back.add_argument("--until", type=date.fromisoformat, help="last landing date (inclusive)")
    back.set_defaults(func=cmd_backfill)

    night = sub.add_parser("nightly", help="what the nightly schedule runs (default: yesterday)")
    night.add_argument("--date", type=date.fromisoformat, help="landing date (default yesterday)")
    night.set_defaults(func=cmd_nightly)

    demo = sub.add_parser("demo", help="sample data, the whole pipeline, a sample answer")
    demo.set_defaults(func=cmd_demo)

    from metrics import cli_query

    cli_query.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _paths(args)
    func: Command = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
