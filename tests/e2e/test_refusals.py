"""`metrics --raw /nonexistent nightly --date D` on a served warehouse: refused, nothing changes.

The run must stop before it writes (exit 2, the path and the fix on stderr), so every answer
served before is served after, byte for byte; and the same inputs through Dagster (the UI's
way) fail the catalog asset's blocking check, so no step after it runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

import metrics
from assets.resources import WarehouseResource
from metrics.ingest.normalize import landing_dates
from metrics.warehouse import storage
from pipelines.definitions import all_assets
from tests.helpers.pipeline import make_landing, run, table_digests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("pipeline")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    root = tmp_path_factory.mktemp("refusals")
    raw, _ = make_landing(root, accounts=4, posts_per_account=2, days=2)
    warehouse = root / "warehouse"
    days = landing_dates(raw)
    run(raw, warehouse, days[0], days[-1])
    return raw, warehouse, days


def _answers(warehouse: Path) -> list[dict]:
    """One answer per project of the served catalog, as the API would give it."""
    store = metrics.connect(warehouse)
    projects = storage.read(warehouse, "catalog_accounts").select("org_id", "project_id").unique()
    return [
        store.query(org_id=org, project_id=prj, scope="project", id=prj, now="2026-03-20T00:00:00Z")
        for org, prj in sorted(projects.iter_rows())
    ]


def test_the_exact_command_is_refused_and_every_answer_is_unchanged(
    served: tuple[Path, Path, list], tmp_path: Path
) -> None:
    _, warehouse, days = served
    before, answers = table_digests(warehouse), _answers(warehouse)
    manifest = (warehouse / "manifest.json").read_text()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DAGSTER_HOME": str(tmp_path / "dh"),
        "METRICS_WAREHOUSE_DIR": str(warehouse),
    }
    command = ["--raw", "/nonexistent", "nightly", "--date", days[-1].isoformat()]
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the landing zone /nonexistent does not exist" in proc.stderr
    assert "point --raw or METRICS_RAW_DIR at the landing zone" in proc.stderr
    assert table_digests(warehouse) == before
    assert (warehouse / "manifest.json").read_text() == manifest
    assert _answers(warehouse) == answers
    assert any(a["totals"]["views"] for a in answers)  # the answers say something


def test_through_dagster_the_blocking_check_fails_and_nothing_is_written(
    served: tuple[Path, Path, list], tmp_path: Path
) -> None:
    _, warehouse, days = served
    before = table_digests(warehouse)
    empty = tmp_path / "raw"
    (empty / "tiktok" / days[-1].isoformat()).mkdir(parents=True)  # a zone without a catalog
    result = dg.materialize(
        [a for a in all_assets if isinstance(a, dg.AssetsDefinition)],
        resources={
            "warehouse": WarehouseResource(raw_dir=str(empty), warehouse_dir=str(warehouse))
        },
        partition_key=days[-1].isoformat(),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "inputs_present"]
    assert not check.passed
    problems = check.metadata["problems"].value
    assert isinstance(problems, list) and "no catalog snapshot in reach" in problems[0]
    ran = {e.step_key for e in result.all_events if e.is_step_success}
    assert ran == set()  # the catalog step failed; nothing after it ran
    assert table_digests(warehouse) == before
