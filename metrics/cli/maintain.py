"""`metrics maintain`: compact small files and vacuum what no retained version needs."""

from __future__ import annotations

import argparse
import sys

import orjson

from metrics import config
from metrics.cli.parsing import example
from metrics.warehouse import maintain


def cmd_maintain(args: argparse.Namespace) -> int:
    try:
        keep = maintain.retention(args.retention_days)
    except ValueError as exc:
        print(f"metrics maintain: {exc}", file=sys.stderr)
        return 2
    result = maintain.maintain(
        config.warehouse_dir(), keep, compact=not args.no_compact, dry_run=args.dry_run
    )
    body = {
        "retention_days": keep.total_seconds() / 86400,
        "dry_run": args.dry_run,
        "compacted": result.compacted,
        "published_version": result.published,
        "manifests_kept": result.manifests_kept,
        "manifests_dropped": result.manifests_dropped,
        "files_vacuumed": {t: len(f) for t, f in result.vacuumed.items()},
    }
    sys.stdout.buffer.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `maintain` to the top-level `metrics` parser."""
    cmd = subparsers.add_parser(
        "maintain",
        help="compact small files, vacuum versions older than the retention",
        description="Compact each table's small files, drop warehouse versions (manifests) "
        "older than the retention, and delete the files no kept version names. The current "
        "manifest's versions are always kept. Run it while no backfill/nightly is writing.",
        **example("metrics maintain --retention-days 7", "metrics maintain --dry-run"),
    )
    cmd.add_argument(
        "--retention-days",
        type=float,
        help=f"keep versions this long (default ${maintain.RETENTION_ENV} or "
        f"{maintain.DEFAULT_RETENTION_DAYS:g})",
    )
    cmd.add_argument("--dry-run", action="store_true", help="list what would go; delete nothing")
    cmd.add_argument("--no-compact", action="store_true", help="vacuum only")
    cmd.set_defaults(func=cmd_maintain)
