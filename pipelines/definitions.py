"""The single Definitions object that `dg dev` (`make ui`), the CLI and the tests all load."""

from __future__ import annotations

import dagster as dg

from assets import ingest, rollups, warehouse
from assets.maintenance import maintenance_job
from assets.resources import default_resources
from pipelines import slot_wait
from pipelines.automation import build_landing_sensor, build_nightly_schedule

slot_wait.install()

all_assets = dg.load_assets_from_modules([ingest, rollups, warehouse])
all_checks = dg.load_asset_checks_from_modules([ingest, rollups, warehouse])

landing_job = dg.define_asset_job(
    "landing_job",
    selection=dg.AssetSelection.all(),
    description="Everything for the selected landing dates: ingest, normalize, hourly, rollups.",
)

defs = dg.Definitions(
    assets=[*all_assets, ingest.landing_zone],
    asset_checks=all_checks,
    jobs=[landing_job, maintenance_job],
    schedules=[build_nightly_schedule(landing_job)],
    sensors=[build_landing_sensor(landing_job)],
    resources=default_resources(),
)
