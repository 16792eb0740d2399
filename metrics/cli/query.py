"""The read side of the `metrics` command line: `query`, `serve` and `keys`.

`query` prints the endpoint's JSON body by default (spec §6), so scripts can pipe it;
`--format table` is for people: the series, the totals and a sparkline per metric. On a 422 or
404 it prints the error body and exits 2, like argparse does for a bad command line.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
import polars as pl
from rich.console import Console
from rich.table import Table

from metrics import config
from metrics.cli import answer, checks
from metrics.cli.parsing import example
from metrics.model.scopes import GRANULARITIES, SCOPES
from metrics.serve import export, keys
from metrics.serve.breakdown import GROUP_BY
from metrics.serve.compare import COMPARES
from metrics.serve.errors import QueryError
from metrics.serve.query import connect
from metrics.warehouse import storage

_BARS = "▁▂▃▄▅▆▇█"
_SPARK_WIDTH = 48


def sparkline(values: list[float]) -> str:
    """One bar per value (averaged down to at most 48), scaled between the min and the max."""
    if len(values) > _SPARK_WIDTH:
        step = len(values) / _SPARK_WIDTH
        chunks = [values[round(i * step) : round((i + 1) * step)] for i in range(_SPARK_WIDTH)]
        values = [sum(c) / len(c) for c in chunks]
    low, high = min(values, default=0), max(values, default=0)
    span = (high - low) or 1
    return "".join(_BARS[round((v - low) / span * (len(_BARS) - 1))] for v in values)


def after_as_of(body: dict[str, Any]) -> str | None:
    """A warning when the window ends after `as_of`, the newest observation the warehouse holds:
    its last buckets are zeros because nothing is loaded yet, not because nothing happened."""
    as_of, until = body.get("as_of"), body["window"]["until"]
    if as_of is None:
        return "the warehouse holds no observation yet (as_of is null): every value is a zero"
    if datetime.fromisoformat(until) > datetime.fromisoformat(as_of):
        return (
            f"the window ends at {until}, after as_of {as_of} (the newest observation loaded): "
            "the buckets after it are not loaded yet, so their zeros say nothing"
        )
    return None


def render_table(body: dict[str, Any], console: Console) -> None:
    """The body as a table of buckets plus a totals table with sparklines (and the change
    against the previous window, and the breakdown, when the body has them).

    A bucket after `as_of` is marked †: its zeros are "not loaded yet". A metric that none of
    the scope's platforms reports shows as "–" (see `metrics.serve.coverage`)."""
    window, coverage = body["window"], body["coverage"]
    names = [k for k in body["totals"] if k != "post_count"]
    unreported = set(coverage["unreported_metrics"])
    zone = f" ({window['tz']})" if "tz" in window else ""
    late = len(body["series"]) - coverage["buckets_after_as_of"]

    def cell(name: str, span: dict[str, Any]) -> str:
        return answer.DASH if name in unreported else answer.number(name, span[name], span)

    table = Table(
        title=f"{body['scope']} {body['id']}: {window['since']} to {window['until']}, "
        f"by {window['granularity']}{zone}",
        caption=f"as of {body['as_of'] or 'never'}; * partial bucket; † after as_of, not loaded"
        f"; – not reported by the scope's platforms",
    )
    table.add_column("bucket")
    for name in names:
        table.add_column(name, justify="right")
    for i, row in enumerate(body["series"]):
        label = row["bucket"] + ("*" if row.get("partial") else "") + ("†" if i >= late else "")
        table.add_row(label, *(cell(n, row) for n in names))
    totals = Table(title="totals")
    totals.add_column("metric")
    totals.add_column("total", justify="right")
    change = body.get("change")
    if change is not None:
        totals.add_column("previous", justify="right")
        totals.add_column("change", justify="right")
    totals.add_column("series")
    for name in [*names, "post_count"]:
        cells = [cell(name, body["totals"])]
        if change is not None:
            dashed = name in unreported
            cells.append(cell(name, body["previous"]["totals"]))
            cells.append(answer.DASH if dashed else answer.change_cell(name, change[name]))
        line = "" if name == "post_count" else sparkline([row[name] for row in body["series"]])
        totals.add_row(name, *cells, line)
    console.print(table)
    console.print(totals)
    if "breakdown" in body:
        answer.render_breakdown(body, unreported, console)


def _aware_time(text: str) -> datetime:
    """An argparse `type`: an ISO-8601 instant; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time; use ISO-8601, e.g. 2026-03-09T06:00:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def cmd_query(args: argparse.Namespace) -> int:
    try:
        store = connect(
            config.warehouse_dir(),
            version=getattr(args, "version", None),
            as_of_time=getattr(args, "as_of_time", None),
        )
        body = store.query(
            org_id=args.org,
            project_id=args.project,
            scope=args.scope,
            id=args.id,
            metrics=args.metrics,
            since=args.since,
            until=args.until,
            granularity=args.granularity,
            tz=args.tz,
            compare=args.compare,
            group_by=args.group_by,
        )
    except QueryError as exc:
        sys.stdout.buffer.write(orjson.dumps(exc.body, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
        for hint in checks.query_hints(args.scope, args.granularity, args.metrics, args.tz):
            print(f"metrics query: {hint}", file=sys.stderr)
        return 2
    if args.format == "table":
        render_table(body, Console())
    elif args.format == "csv":
        sys.stdout.write(export.series_csv(body))
    else:
        sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
    if warning := after_as_of(body):
        print(f"metrics query: {warning}", file=sys.stderr)
    return 0


def _refuse(exc: keys.KeysFileError, outcome: str) -> int:
    """Exit 2 without writing: a rewrite of a file we cannot read would lose every key in it."""
    print(
        f"metrics keys: refusing to overwrite {exc.path}, which would lose every key in it; "
        f"{outcome}. {exc}",
        file=sys.stderr,
    )
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    from metrics.serve.http import serve

    keys_file = keys.keys_file(args.keys_file)
    try:
        # Here, not only in each worker: with --workers the parent never reads the file, and
        # workers that die at import leave uvicorn restarting them without saying why.
        keys.check(keys_file)
    except keys.KeysFileError as exc:
        print(f"metrics serve: not starting. {exc}", file=sys.stderr)
        return 2
    serve(
        config.warehouse_dir(),
        keys_file,
        args.host,
        args.port,
        workers=args.workers,
        access_log=not args.no_access_log,
    )
    return 0


def _unknown_org(org_id: str) -> str | None:
    """Why `org_id` may not get a key: it is not an organization of the warehouse's catalog."""
    if not org_id.startswith("org_"):
        return None  # keys.create refuses it in its own words
    warehouse = config.warehouse_dir()
    entities = storage.read(warehouse, "catalog_entities", columns=["id", "kind"])
    orgs = entities.filter(pl.col("kind") == "organization")["id"].to_list()
    if org_id in orgs:
        return None
    found = checks.close_matches(org_id, orgs)
    hint = f"; did you mean --org {' or '.join(found)}?" if found else ""
    if not orgs:
        hint = "; run `metrics backfill` first, or point --warehouse at the right warehouse"
    return f"Unknown organization {org_id}: not in the catalog of {warehouse}{hint}"


def cmd_keys_create(args: argparse.Namespace) -> int:
    path = keys.keys_file(args.keys_file)
    scopes = tuple(args.scope or [keys.READ_SCOPE])
    if problem := _unknown_org(args.org):
        print(problem, file=sys.stderr)
        return 2
    try:
        secret, record = keys.create(path, args.org, scopes)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        for scope in scopes:
            if scope not in keys.SCOPES and (found := checks.close_matches(scope, keys.SCOPES)):
                print(f"did you mean --scope {' or '.join(found)}?", file=sys.stderr)
        return 2
    except keys.KeysFileError as exc:
        return _refuse(exc, "no key was created")
    print(secret)
    print(
        f"key {record.id} for {record.org_id} ({', '.join(record.scopes)}); "
        "this is the only time it is shown",
        file=sys.stderr,
    )
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    try:
        record = keys.revoke(keys.keys_file(args.keys_file), args.key)
    except keys.KeysFileError as exc:
        return _refuse(exc, "nothing was revoked")
    if record is None:
        print("no live key matches", file=sys.stderr)
        return 1
    print(f"revoked key {record.id} of {record.org_id}")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    try:
        listed = keys.list_keys(keys.keys_file(args.keys_file))
    except keys.KeysFileError as exc:
        print(f"metrics keys: {exc}", file=sys.stderr)
        return 2
    rows = [("ID", "ORG", "SCOPES", "CREATED", "STATE")]
    for k in listed:
        state = f"revoked {k.revoked_at}" if k.revoked_at else "live"
        rows.append((k.id, k.org_id, ",".join(k.scopes), k.created_at, state))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _keys_file_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keys-file", help=f"key store (default ${keys.KEYS_ENV} or {keys.DEFAULT_KEYS_FILE})"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `query`, `serve` and `keys` to the top-level `metrics` parser."""
    query = subparsers.add_parser(
        "query",
        help="answer one metrics request from the warehouse",
        description="Print the body GET /v1/projects/{project}/metrics would return.",
        **example(
            "metrics query --org org_… --project prj_… --scope project --id prj_… \\",
            "    --metrics views,engagement_rate --since 2026-03-02 --until 2026-03-07",
            "metrics query --org org_… --project prj_… --scope project --id prj_… \\",
            "    --compare previous_period --group-by platform --format table",
        ),
    )
    query.add_argument("--org", required=True, help="organization asking (org_…)")
    query.add_argument("--project", required=True, help="project the request is made in (prj_…)")
    query.add_argument("--scope", required=True, help=", ".join(SCOPES))
    query.add_argument("--id", required=True, help="id of the scoped entity")
    query.add_argument(
        "--metrics", action="append", help="a,b or repeated (default: the scope's bundle)"
    )
    query.add_argument("--since", help="ISO-8601 start, inclusive (default: until - 30 days)")
    query.add_argument("--until", help="ISO-8601 end, exclusive (default: now)")
    query.add_argument("--granularity", default="day", help=", ".join(GRANULARITIES))
    query.add_argument("--tz", default="UTC", help="IANA zone for day/week buckets")
    query.add_argument(
        "--compare", help=f"add the previous window and the change: {' or '.join(COMPARES)}"
    )
    query.add_argument("--group-by", help=f"add a breakdown: {', '.join(GROUP_BY)}")
    query.add_argument("--format", default="json", choices=("json", "table", "csv"))
    past = query.add_mutually_exclusive_group()
    past.add_argument(
        "--version",
        type=int,
        metavar="N",
        help="answer from warehouse version N (a kept manifest; see `metrics maintain`)",
    )
    past.add_argument(
        "--as-of-time",
        type=_aware_time,
        metavar="TIME",
        help="answer from the warehouse as published at TIME (ISO-8601, e.g. 2026-03-09T06:00Z)",
    )
    query.set_defaults(func=cmd_query)

    serve = subparsers.add_parser(
        "serve",
        help="serve the metrics endpoint over HTTP",
        **example("metrics serve --host 127.0.0.1 --port 8000 --keys-file data/keys.json"),
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--no-access-log", action="store_true", help="no line per request")
    _keys_file_flag(serve)
    serve.set_defaults(func=cmd_serve)

    key_parser = subparsers.add_parser(
        "keys",
        help="create, list and revoke API keys",
        **example("metrics keys create --org org_… --scope metrics:read", "metrics keys list"),
    )
    key_commands = key_parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = key_commands.add_parser(
        "create",
        help="print a new key once; only its hash is kept",
        description="Print a new key once, for an organization of the warehouse's catalog.",
        **example("metrics keys create --org org_… --scope metrics:read --scope ads:read"),
    )
    create.add_argument("--org", required=True, help="organization the key reads (org_…)")
    create.add_argument(
        "--scope",
        action="append",
        help=f"one of {', '.join(keys.SCOPES)}; repeatable (default: {keys.READ_SCOPE})",
    )
    _keys_file_flag(create)
    create.set_defaults(func=cmd_keys_create)
    revoke = key_commands.add_parser(
        "revoke",
        help="end a key, given the key or its id",
        **example("metrics keys revoke 0123456789ab"),
    )
    revoke.add_argument("key", metavar="KEY_OR_ID")
    _keys_file_flag(revoke)
    revoke.set_defaults(func=cmd_keys_revoke)
    listing = key_commands.add_parser(
        "list",
        help="show every key's id, org, scopes and state",
        **example("metrics keys list --keys-file data/keys.json"),
    )
    _keys_file_flag(listing)
    listing.set_defaults(func=cmd_keys_list)
