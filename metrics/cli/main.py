"""The `metrics` command line's parser and its domain commands (generate, query, top, serve,
keys, ls).

The commands that run the Dagster job (backfill, nightly, clear-run, demo) are added by
`pipelines/cli.py`, the console script, so this package never imports Dagster. Every subcommand
honours --raw/--warehouse or METRICS_RAW_DIR/METRICS_WAREHOUSE_DIR.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from metrics import config
from metrics.cli.parsing import Subcommands, example
from metrics.objects import is_object_uri


def export_paths(args: argparse.Namespace) -> None:
    """Export the chosen paths so child processes and library calls agree on them."""
    os.environ[config.RAW_ENV] = str(config.raw_dir(args.raw))
    os.environ[config.WAREHOUSE_ENV] = str(config.warehouse_dir(args.warehouse))


def cmd_generate(args: argparse.Namespace) -> int:
    from metrics.sample import generate

    args.out = args.out or config.raw_dir(args.raw)
    # `--out` parses as a Path, which folds `s3://b/p` into `s3:/b/p`: look at the first part.
    if is_object_uri(str(args.out)) or Path(str(args.out)).parts[:1] in (("s3:",), ("s3a:",)):
        raise config.ConfigError(
            f"metrics generate writes a local folder, not {args.out}; generate into a folder "
            "(--out /tmp/raw) and upload it under the prefix."
        )
    return generate.run(args)


def _add_path_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--raw", default=default, help=f"landing zone (default ${config.RAW_ENV} or data/raw)"
    )
    parser.add_argument(
        "--warehouse",
        default=default,
        help=f"warehouse (default ${config.WAREHOUSE_ENV} or data/warehouse)",
    )


def share_path_flags(parser: argparse.ArgumentParser) -> None:
    """Accept --raw/--warehouse after any (nested) subcommand too; call once every subcommand
    is registered. SUPPRESS as the default keeps a value given before the subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                if "--raw" not in child._option_string_actions:
                    _add_path_flags(child, argparse.SUPPRESS)
                share_path_flags(child)


def build_parser() -> tuple[argparse.ArgumentParser, Subcommands]:
    """The parser with the domain subcommands, and its subparsers for the caller to extend."""
    parser = argparse.ArgumentParser(
        prog="metrics", description="Social content metrics: ingest, roll up, query."
    )
    _add_path_flags(parser, None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from metrics.sample import generate

    gen = sub.add_parser(
        "generate",
        help="write a deterministic sample landing zone",
        description="Write a deterministic sample landing zone.",
        **example("metrics generate --out data/raw --seed 5 --accounts 4 --days 2"),
    )
    generate.add_arguments(gen, out_required=False)
    gen.set_defaults(func=cmd_generate)

    from metrics.cli import query as cli_query

    cli_query.register(sub)
    from metrics.cli import listing as cli_listing

    cli_listing.register(sub)
    from metrics.cli import top as cli_top

    cli_top.register(sub)
    from metrics.cli import maintain as cli_maintain

    cli_maintain.register(sub)
    return parser, sub
