"""What `make demo` prints at the end: proof that the warehouse answers."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from metrics import storage


def print_summary(warehouse: Path, console: Console | None = None) -> None:
    """Quarantine by reason, then one project's daily views straight from `rollup_day`."""
    console = console or Console()
    quarantine = storage.scan(warehouse, "quarantine").collect()
    reasons = quarantine.group_by("reason").len().sort("reason")
    table = Table(title="quarantine by reason")
    table.add_column("reason")
    table.add_column("rows", justify="right")
    for reason, n in reasons.iter_rows():
        table.add_row(reason, str(n))
    console.print(table)

    days = storage.scan(warehouse, "rollup_day").filter(pl.col("scope") == "project").collect()
    if days.is_empty():
        console.print("no project rows in rollup_day yet")
        return
    project = days.group_by("id").agg(pl.col("views").sum()).sort("views", "id").row(-1)[0]
    rows = days.filter(pl.col("id") == project).sort("bucket_start")
    table = Table(title=f"daily views of project {project} (rollup_day)")
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
    console.print(f"DuckDB: duckdb {warehouse / storage.DUCKDB_FILE}")
