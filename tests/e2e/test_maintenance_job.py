"""The Dagster maintenance job runs against a real pipeline warehouse and changes no answer."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets.resources import WarehouseResource
from metrics.ingest.normalize import landing_dates
from metrics.warehouse import manifest as published
from pipelines.definitions import maintenance_job
from tests.helpers.pipeline import make_landing, run, table_digests


def test_maintenance_job_keeps_every_table_and_the_published_state(tmp_path: Path) -> None:
    raw, _ = make_landing(tmp_path)
    warehouse = tmp_path / "warehouse"
    days = landing_dates(raw)
    run(raw, warehouse, days[0], days[1])
    run(raw, warehouse, days[2], days[-1])
    before = table_digests(warehouse, published.read(warehouse)["tables"])
    result = maintenance_job.execute_in_process(
        resources={"warehouse": WarehouseResource(raw_dir=str(raw), warehouse_dir=str(warehouse))},
        run_config={"ops": {"maintain_warehouse": {"config": {"retention_days": 0}}}},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    manifest = published.read(warehouse)
    assert table_digests(warehouse, manifest["tables"]) == before
    assert published.numbers(warehouse) == [manifest["version"]]
    run(raw, warehouse, days[0], days[-1])  # the pipeline carries on after a vacuum
    assert table_digests(warehouse, published.read(warehouse)["tables"]) == before
