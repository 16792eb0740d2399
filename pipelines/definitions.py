"""The single Definitions object that `dagster dev`, the CLI and the tests all load."""

from __future__ import annotations

import dagster as dg

from assets import ingest, warehouse
from pipelines.resources import default_resources

all_assets = dg.load_assets_from_modules([ingest, warehouse])
all_checks = dg.load_asset_checks_from_modules([ingest, warehouse])

landing_job = dg.define_asset_job(
    "landing_job",
    selection=dg.AssetSelection.all(),
    description="Everything for the selected landing dates: ingest, normalize, hourly, rollups.",
)

defs = dg.Definitions(
    assets=[*all_assets, ingest.landing_zone],
    asset_checks=all_checks,
    jobs=[landing_job],
    resources=default_resources(),
)
