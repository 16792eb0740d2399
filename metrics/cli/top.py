"""`metrics top`: the posts of a scope ranked by one metric over a window (spec §7).

A ranked table for people (the default on a terminal, or `--format table`), with a sparkline of
each post's views per local day of the window; the body `Store.top_performers` returns for
programs (the default when stdout is not a terminal, or `--format json`). On a 422 or 404 it
prints the error body and exits 2, like `metrics query`, with a "did you mean" on stderr for a
near miss.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from metrics import config
from metrics.cli import checks
from metrics.cli.parsing import example
from metrics.cli.query import after_as_of, sparkline
from metrics.model.platforms import PLATFORMS
from metrics.serve.errors import QueryError
from metrics.serve.query import Store, connect
from metrics.serve.top import PUBLISHED, RANK_METRICS, SCOPES_RANKED


def _value(metric: str, value: Any, views: int) -> str:
    if metric == "engagement_rate":
        return f"{value:.2%}" if views > 0 else "–"
    return f"{value:,}"


def render_table(body: dict[str, Any], daily: dict[str, list[int]], console: Console) -> None:
    """The ranked items, one row each, with the window's daily views as a sparkline."""
    window = body["window"]
    zone = f" ({window['tz']})" if "tz" in window else ""
    metric = body["metric"]
    table = Table(
        title=f"top {len(body['items'])} of {body['total_candidates']} posts of {body['scope']} "
        f"{body['id']} by {metric}: {window['since']} to {window['until']}{zone}",
        caption=f"as of {body['as_of'] or 'never'}; daily views per local day of the window",
    )
    for name in ("#", "post", "platform", "account", "published", metric):
        table.add_column(name, justify="right" if name in ("#", metric) else "left")
    extra = [m for m in ("views", "engagement_rate") if m != metric]
    for name in extra:
        table.add_column(name, justify="right")
    table.add_column("daily views")
    for item in body["items"]:
        views = item["metrics"]["views"]
        table.add_row(
            str(item["rank"]),
            item["platform_post_id"],
            item["platform"],
            item["social_account_id"],
            item["published_at"] or "–",
            _value(metric, item["value"], views),
            *(_value(m, item["metrics"][m], views) for m in extra),
            sparkline([float(v) for v in daily.get(item["platform_post_id"], [])]),
        )
    console.print(table)


def _hints(args: argparse.Namespace) -> list[str]:
    hints = [
        hint
        for flag, word, choices in (
            ("--scope", args.scope, SCOPES_RANKED),
            ("--metric", args.metric, RANK_METRICS),
            ("--published", args.published, PUBLISHED),
            ("--platform", args.platform, PLATFORMS),
        )
        if word is not None and (hint := checks.did_you_mean(flag, word, choices))
    ]
    if hint := checks.zone_hint(args.tz):
        hints.append(hint)
    return hints


def _ask(store: Store, args: argparse.Namespace) -> dict[str, Any]:
    return store.top_performers(
        org_id=args.org,
        project_id=args.project,
        scope=args.scope,
        id=args.id,
        metric=args.metric,
        since=args.since,
        until=args.until,
        tz=args.tz,
        limit=args.limit,
        platform=args.platform,
        published=args.published,
        min_views=args.min_views,
    )


def cmd_top(args: argparse.Namespace) -> int:
    store = connect(config.warehouse_dir())
    try:
        body = _ask(store, args)
    except QueryError as exc:
        sys.stdout.buffer.write(orjson.dumps(exc.body, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.flush()
        for hint in _hints(args):
            print(f"metrics top: {hint}", file=sys.stderr)
        return 2
    fmt = args.format or ("table" if sys.stdout.isatty() else "json")
    if fmt == "table":
        render_table(body, store.daily_views(body), Console())
    else:
        sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
    if warning := after_as_of(body):
        print(f"metrics top: {warning}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `top` to the top-level `metrics` parser."""
    top = subparsers.add_parser(
        "top",
        help="rank a scope's posts by one metric over a window",
        description="Print the body GET /v1/projects/{project}/top-performers would return: "
        "the scope's posts active in the window, ranked by the metric (ties by views, then "
        "post id).",
        **example(
            "metrics top --org org_… --project prj_… --scope project --id prj_… \\",
            "    --metric engagement_rate --since 2026-03-02 --until 2026-03-09 --limit 5",
        ),
    )
    top.add_argument("--org", required=True, help="organization asking (org_…)")
    top.add_argument("--project", required=True, help="project the request is made in (prj_…)")
    top.add_argument("--scope", required=True, help=", ".join(SCOPES_RANKED))
    top.add_argument("--id", required=True, help="id of the scoped entity")
    top.add_argument("--metric", default="views", help=f"{', '.join(RANK_METRICS)} (default views)")
    top.add_argument("--since", help="ISO-8601 start, inclusive (default: until - 30 days)")
    top.add_argument("--until", help="ISO-8601 end, exclusive (default: now)")
    top.add_argument("--tz", default="UTC", help="IANA zone for dates and local times")
    top.add_argument("--limit", type=int, default=10, help="posts to show, 1-100 (default 10)")
    top.add_argument("--platform", help=f"only this platform: {', '.join(PLATFORMS)}")
    top.add_argument(
        "--published",
        default="any",
        help="in_window: only posts published in the window; any (default): no filter",
    )
    top.add_argument(
        "--min-views", type=int, default=0, help="only posts with at least this many views"
    )
    top.add_argument(
        "--format", choices=("json", "table"), help="default: table on a terminal, JSON otherwise"
    )
    top.set_defaults(func=cmd_top)
