"""The `metrics` command line's parser and its domain commands (generate, query, serve, keys).

The commands that run the Dagster job (backfill, nightly, clear-run, demo) are added by
`pipelines/cli.py`, the console script, so this package never imports Dagster. Every subcommand
honours --raw/--warehouse or METRICS_RAW_DIR/METRICS_WAREHOUSE_DIR.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from metrics import config

Command = Callable[[argparse.Namespace], int]
Subcommands = Any  # argparse's private _SubParsersAction: what add_subparsers returns


def export_paths(args: argparse.Namespace) -> None:
    """Export the chosen paths so child processes and library calls agree on them."""
    os.environ[config.RAW_ENV] = str(config.raw_dir(args.raw))
    os.environ[config.WAREHOUSE_ENV] = str(config.warehouse_dir(args.warehouse))


def cmd_generate(args: argparse.Namespace) -> int:
    from metrics.sample import generate

    argv = ["--out", str(args.out or config.raw_dir(args.raw)), *args.rest]
    return generate.main(argv)


def build_parser() -> tuple[argparse.ArgumentParser, Subcommands]:
    """The parser with the domain subcommands, and its subparsers for the caller to extend."""
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

    from metrics.cli import query as cli_query

    cli_query.register(sub)
    from metrics.cli import listing as cli_listing

    cli_listing.register(sub)
    return parser, sub
