"""What `metrics backfill`/`nightly` print when a run ends: the run, where to see it, what it
wrote, what it quarantined and every check that failed or warned.

Built from the run's own events (materialization metadata and check evaluations), so the summary
says what Dagster recorded, the same numbers the UI shows.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import dagster as dg
from rich.console import Console
from rich.table import Table

UI_ENV = "METRICS_UI_URL"
DEFAULT_UI = "http://127.0.0.1:3000"


def _value(entry: Any) -> Any:
    return getattr(entry, "value", entry)


def render(result: dg.ExecuteInProcessResult, run: dg.DagsterRun, console: Console) -> None:
    """Print the run's summary to `console`."""
    ui = os.environ.get(UI_ENV, DEFAULT_UI).rstrip("/")
    status = run.status.value
    console.print(f"run {run.run_id} {status}: {ui}/runs/{run.run_id}", soft_wrap=True)
    written = Table("table", "rows written", title="written", title_justify="left")
    reasons: Counter[str] = Counter()
    empty: list[str] = []
    seen: set[str] = set()
    for event in result.get_asset_materialization_events():
        # A run over many landing dates records one event per partition, each with the run's
        # totals: one per asset is the whole story.
        materialization = event.materialization
        asset = materialization.asset_key.to_user_string()
        if asset in seen:
            continue
        seen.add(asset)
        meta = materialization.metadata
        rows = meta.get("dagster/row_count", meta.get("rows_written"))
        if rows is not None:
            written.add_row(asset, f"{_value(rows):,}")
        if "by_reason" in meta:
            reasons.update(_value(meta["by_reason"]))
        if "dates_without_files" in meta:
            empty += _value(meta["dates_without_files"])
    if written.row_count:
        console.print(written)
    if reasons:
        quarantined = Table("reason", "lines or records", title="quarantined", title_justify="left")
        for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            quarantined.add_row(reason, f"{n:,}")
        console.print(quarantined)
    for day in empty:
        console.print(f"[yellow]no files landed on {day}[/yellow]", soft_wrap=True)
    for check in result.get_asset_check_evaluations():
        if check.passed:
            continue
        warn = check.severity == dg.AssetCheckSeverity.WARN
        kind = "[yellow]warning[/yellow]" if warn else "[red]FAILED[/red]"
        console.print(
            f"check {kind} {check.check_name} on {check.asset_key.to_user_string()}: "
            + ", ".join(f"{k}={_value(v)}" for k, v in list(check.metadata.items())[:4]),
            soft_wrap=True,
        )
