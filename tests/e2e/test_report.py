"""The summary a backfill prints: the run and its link, rows written, quarantine by reason, and
every check that failed or warned, all as the run recorded them."""

from __future__ import annotations

import re
from pathlib import Path

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
