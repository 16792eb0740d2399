"""What `make demo` prints at the end: proof that the warehouse answers, then copyable next
steps (query, `make ui`, a key, the server, curl) that use the warehouse's real ids."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
from rich.console import Console
from rich.table import Table

from metrics import config
from metrics.model.tables import QUARANTINE_TABLE, ROLLUPS
from metrics.warehouse import location, storage
from metrics.warehouse.location import Warehouse

DAYS_SHOWN = 10
SAMPLE_DAYS = 5
# The generator lands a file up to 3 days late and re-delivers it up to 2 days after that
# (metrics/sample/writer.py): its newest landing date is at most this long after its last day.
LATEST_LANDING_AFTER_LAST_DAY = 5


def sample_args(today: date) -> list[str]:
    """The sample landing zone `metrics demo` generates when there is none: collected over the
    days before `today`, so its newest possible landing date is `today`. The demo's run then
    covers its first catalog .. today, which are exactly the UI's partitions: none missing."""
    start = today - timedelta(days=SAMPLE_DAYS - 1 + LATEST_LANDING_AFTER_LAST_DAY)
    return [
        *("--seed", "7", "--accounts", "16", "--posts-per-account", "6"),
        *("--days", str(SAMPLE_DAYS), "--start", start.isoformat()),
    ]


def print_summary(warehouse: Warehouse, console: Console | None = None) -> None:
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
    root = location.of(warehouse)
    console.print(
        f"\nAnalysts: every table is a Delta Lake table under {root.join(storage.TABLES_DIR)}/"
        f"<table> (pl.scan_delta, deltalake.DeltaTable) and a view in "
        f"{root.join(storage.DUCKDB_FILE)} (plain DuckDB, open it read-only)."
    )
    print_next_steps(warehouse, console, project)


def _day(stamp: str) -> date:
    return date.fromisoformat(stamp[:10])


def print_next_steps(warehouse: Warehouse, console: Console, project: str | None = None) -> None:
    """Commands to copy, with real ids: `project`, else the first project with data."""
    from metrics.serve.query import connect

    store = connect(warehouse)
    projects = [p for p in store.list("projects") if p["first_data_at"] is not None]
    chosen = next((p for p in projects if p["id"] == project), projects[0] if projects else None)
    if chosen is None:
        return
    org, prj = chosen["org_id"], chosen["id"]
    last = chosen["last_data_at"]
    until = _day(last) + timedelta(days=0 if last.endswith("T00:00:00Z") else 1)
    since = max(_day(chosen["first_data_at"]), until - timedelta(days=7))  # a week fits a screen
    default = location.of(warehouse).uri == config.warehouse_dir()
    flag = "" if default else f" --warehouse {warehouse}"
    cli = f".venv/bin/metrics{flag}"
    url = (
        f"http://127.0.0.1:8000/v1/projects/{prj}/metrics?scope=project&id={prj}"
        f"&metrics=views&metrics=engagement_rate&since={since}T00:00:00Z"
        f"&until={until}T00:00:00Z&granularity=day"
    )
    steps = [
        "# find your ids (organizations, projects, layers, accounts, posts)",
        f"{cli} ls projects",
        f"{cli} ls accounts --org {org} --project {prj}",
        "# query a project",
        f"{cli} query --org {org} --project {prj} --scope project --id {prj} "
        f"--since {since} --until {until} --format table",
        "# the Dagster UI (it keeps running: use its own terminal)",
        "make ui",
        "# the HTTP server, in a second terminal",
        f"{cli} serve --host 127.0.0.1 --port 8000",
        "# back in the first: an API key for the organization (shown once), then curl",
        f"KEY=$({cli} keys create --org {org})",
        f'curl "{url}" -H "Authorization: Bearer $KEY"',
        f'curl "http://127.0.0.1:8000/v1/projects/{prj}/entities" -H "Authorization: Bearer $KEY"',
    ]
    console.print("\nNext steps (copy and paste):", style="bold")
    for line in steps:
        console.print(
            line,
            style="dim" if line.startswith("#") else None,
            soft_wrap=True,
            markup=False,
            highlight=False,
        )


def _print_query(warehouse: Warehouse, project: str, days: pl.DataFrame, console: Console) -> None:
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
