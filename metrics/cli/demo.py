"""What `make demo` prints at the end: proof that the warehouse answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from metrics.model.tables import QUARANTINE_TABLE, ROLLUPS
from metrics.warehouse import storage

DAYS_SHOWN = 10
# The sample landing zone `metrics demo` generates when there is none.
SAMPLE = ["--seed", "7", "--accounts", "16", "--posts-per-account", "6", "--days", "5"]
SAMPLE += ["--start", "2026-03-02"]


def print_summary(warehouse: Path, console: Console | None = None) -> None:
    """Quarantine by reason, then one project's daily views straight from `rollup_day`."""
    console = console or Console()
    quarantine = storage.read(warehouse, QUARANTINE_TABLE)
    reasons = quarantine.group_by("reason").len().sort("reason")
    table = Table(title="quarantine by reason")
    table.add_column("reason")
    table.add_column("rows", justify="right")
    for reason, n in reasons.iter_rows():
        table.add_row(reason, str(n))
    console.print(table)

    days = storage.scan(warehouse, ROLLUPS["day"]).filter(pl.col("scope") == "project").collect()
    if days.is_empty():
        console.print("no project rows in rollup_day yet")
        return
    project = days.group_by("id").agg(pl.col("views").sum()).sort("views", "id").row(-1)[0]
    rows = days.filter(pl.col("id") == project).sort("bucket_start").tail(DAYS_SHOWN)
    table = Table(title=f"daily views of project {project}, last {DAYS_SHOWN} days (rollup_day)")
    for col in ("day (UTC)", "views", "likes", "posts_published", "followers"):
        table.add_column(col, justify="right")
    for r in rows.iter_rows(named=True):
        table.add_row(
            r["bucket_start"].date().isoformat(),
            f"{r['views']:,}",
            f"{r['likes']:,}",
            str(r["posts_published"]),
            f"{r['followers']:,}",
        )
    console.print(table)
    _print_query(warehouse, project, rows, console)
    console.print(
        f"\nAnalysts: every table is Parquet under {storage.parquet_root(warehouse)} and a view "
        f"in {warehouse / storage.DUCKDB_FILE} (open it read-only)."
    )


def _print_query(warehouse: Path, project: str, days: pl.DataFrame, console: Console) -> None:
    """The same project through the read function, as `metrics query` would answer it."""
    from metrics.cli.query import render_table
    from metrics.serve.query import connect

    org = days["org_id"][0]
    latest = days["bucket_start"].max()
    assert isinstance(latest, datetime)  # polars types max() as any scalar; a Datetime column
    last = latest.date()
    since = (last - timedelta(days=6)).isoformat()
    until = (last + timedelta(days=1)).isoformat()
    body = connect(warehouse).query(
        org_id=org,
        project_id=project,
        scope="project",
        id=project,
        metrics=["views", "engagement_rate", "posts_published", "followers"],
        since=since,
        until=until,
        granularity="day",
    )
    console.print(
        f"\n$ metrics query --org {org} --project {project} --scope project --id {project} "
        f"--metrics views,engagement_rate,posts_published,followers --since {since} "
        f"--until {until} --format table"
    )
    render_table(body, console)
