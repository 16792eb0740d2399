"""`metrics ls orgs|projects|layers|accounts|posts [--org ORG] [--project PRJ]`: find your ids.

A table for people (the default on a terminal, or `--format table`), JSON for programs (the
default when stdout is not a terminal, or `--format json`): a list of rows, one per entity,
as `Store.list` returns them (see `metrics.serve.listing`). An unknown org, or a project that is
not in `--org`, prints the error body and exits 2, like `metrics query`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from metrics import config
from metrics.cli.parsing import example
from metrics.serve.errors import QueryError
from metrics.serve.listing import KINDS
from metrics.serve.query import connect

# The columns a person needs to pick an id, per kind (JSON has every field).
COLUMNS: dict[str, tuple[str, ...]] = {
    "orgs": ("id", "name", "platforms"),
    "projects": ("id", "name", "org_id", "platforms"),
    "layers": ("id", "name", "kind", "project_id", "platforms"),
    "accounts": ("id", "handle", "platform", "project_layer_id", "project_id"),
    "posts": ("id", "platform", "published_at", "social_account_id", "project_id"),
}
_SPAN = ("first_data_at", "last_data_at")


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def render_table(kind: str, rows: list[dict[str, Any]], console: Console) -> None:
    columns = (*COLUMNS[kind], *_SPAN)
    table = Table(title=f"{kind} ({len(rows)})", caption="data times are UTC hour edges")
    for name in columns:
        table.add_column(name, no_wrap=name == "id")
    for row in rows:
        table.add_row(*(_cell(row.get(name)) for name in columns))
    console.print(table)


def cmd_ls(args: argparse.Namespace) -> int:
    store = connect(config.warehouse_dir())
    try:
        rows = store.list(args.kind, org_id=args.org, project_id=args.project, limit=args.limit)
    except QueryError as exc:
        sys.stdout.buffer.write(orjson.dumps(exc.body, option=orjson.OPT_INDENT_2) + b"\n")
        return 2
    fmt = args.format or ("table" if sys.stdout.isatty() else "json")
    if fmt == "table":
        render_table(args.kind, rows, Console())
    else:
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `ls` to the top-level `metrics` parser."""
    ls = subparsers.add_parser(
        "ls",
        help="list organizations, projects, layers, accounts or posts, with their ids",
        description="List entities of the newest catalog with names, ids, platforms and the "
        "first and last UTC hour with data (ready for --since/--until).",
        **example("metrics ls projects --org org_acme", "metrics ls posts --project prj_launch"),
    )
    ls.add_argument("kind", choices=KINDS)
    ls.add_argument("--org", help="only inside this organization (org_…)")
    ls.add_argument("--project", help="only inside this project (prj_…)")
    ls.add_argument("--limit", type=int, help="at most this many rows, in id order")
    ls.add_argument(
        "--format",
        choices=("json", "table"),
        help="default: table on a terminal, JSON otherwise",
    )
    ls.set_defaults(func=cmd_ls)
