"""The summary a backfill prints: the run and its link, rows written, quarantine by reason, and
every check that failed or warned, all as the run recorded them."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console

from metrics.ingest.normalize import landing_dates
from metrics.warehouse import storage
from pipelines import report
from tests.helpers.pipeline import make_landing, run

pytestmark = pytest.mark.xdist_group("pipeline")


def _row(text: str, name: str, n: int) -> bool:
    """Whether a table row reads `name │ n` (rich pads the cells)."""
    return re.search(rf"│ {re.escape(name)}\s+│ {n:,}\s+│", text) is not None


def test_the_summary_says_what_the_run_wrote_quarantined_and_warned(tmp_path: Path) -> None:
    raw, _ = make_landing(tmp_path, accounts=4, posts_per_account=2, days=2)
    days = landing_dates(raw)
    (raw / "tiktok" / "2026-03-20").mkdir()  # no file lands on the last date
    warehouse = tmp_path / "warehouse"
    result = run(raw, warehouse, days[0], days[-1])
    console = Console(record=True, width=200)
    report.render(result, result.dagster_run, console)
    text = console.export_text()
    run_id = result.dagster_run.run_id
    assert f"run {run_id} SUCCESS: http://127.0.0.1:3000/runs/{run_id}" in text
    observations = storage.read(warehouse, "post_observations").height
    assert _row(text, "post_observations", observations)
    quarantine = storage.read(warehouse, "quarantine")
    for reason, n in quarantine.group_by("reason").len().iter_rows():
        assert _row(text, reason, n)
    # The sample zone's newest data is days before its last landing date: freshness warns.
    assert "check warning freshness on warehouse_views" in text
    assert "no files landed on 2026-03-20" not in text  # outside the run's dates


def _metadata(result, asset: str) -> dict:
    (event, *_) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path == [asset]
    ]
    return event.materialization.metadata


def test_the_ui_metadata_holds_reasons_over_all_dates_and_the_newest_day(tmp_path: Path) -> None:
    raw, _ = make_landing(tmp_path, accounts=4, posts_per_account=2, days=2)
    days = landing_dates(raw)
    warehouse = tmp_path / "warehouse"
    run(raw, warehouse, days[0], days[0])
    second = run(raw, warehouse, days[1], days[-1])  # a later run: totals cover both runs
    quarantine = storage.read(warehouse, "quarantine")
    expected = {
        r: (n, d)
        for r, n, d in quarantine.group_by("reason")
        .agg(pl.len(), pl.col("landing_date").n_unique())
        .iter_rows()
    }
    table = _metadata(second, "quarantine")["by_reason_all_dates"].value
    assert {
        r.data["reason"]: (r.data["rows"], r.data["landing_dates"]) for r in table.records
    } == expected
    assert sum(n for n, _ in expected.values()) == quarantine.height
    meta = _metadata(second, "rollup_day")
    day = meta["newest_day"].value
    rows = storage.read(warehouse, "rollup_day").filter(
        (pl.col("scope") == "project") & (pl.col("day").cast(pl.String) == day)
    )
    views = dict(rows.select("id", "views").iter_rows())
    assert (
        views
        and {
            k.removeprefix("views_newest_day/"): v.value
            for k, v in meta.items()
            if k.startswith("views_newest_day/")
        }
        == views
    )
    records = meta["project_totals"].value.records
    assert {r.data["project"]: r.data["views"] for r in records} == views
