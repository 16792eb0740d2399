"""What a run publishes is one state, even while another run has committed newer inputs.

Two runs overlap: run A's rollups are built, then run B's catalog step commits a catalog in
which an account moved to another layer, before B's rollups follow it. If A's views step
published the newest version of every table, readers would get B's catalog beside A's rollups:
the moved account would be counted in its new layer's breakdown while the layer's own rollup
rows still count it in the old one, and a breakdown would no longer sum to its totals (spec §7).
The views step publishes the last rollup refresh's cut instead (`manifest.to_publish`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import metrics
from metrics.ingest.normalize import landing_dates
from metrics.model.tables import CATALOG_ACCOUNTS_TABLE
from metrics.warehouse import ledger, storage
from metrics.warehouse import manifest as published
from tests.helpers.pipeline import make_landing, run

NOW = "2026-03-20T00:00:00Z"


def _move_an_account(warehouse: Path) -> str:
    """Another run's catalog step: the first account of a two-layer project moves to the
    project's other layer. Returns the layer it moved to."""
    accounts = storage.read(warehouse, CATALOG_ACCOUNTS_TABLE).select(
        list(CATALOG_ACCOUNTS_TABLE.schema)
    )
    layers = accounts.group_by("project_id").agg(pl.col("project_layer_id").unique().sort())
    source, target = next(ls[:2] for _, ls in layers.iter_rows() if len(ls) >= 2)
    mover = accounts.filter(pl.col("project_layer_id") == source)["social_account_id"][0]
    moved = accounts.with_columns(
        project_layer_id=pl.when(pl.col("social_account_id") == mover)
        .then(pl.lit(target))
        .otherwise(pl.col("project_layer_id"))
    )
    storage.write_partition(warehouse, CATALOG_ACCOUNTS_TABLE, moved)
    return str(target)


def _breakdown_gaps(warehouse: Path, layer: str) -> list[str]:
    """The additive metrics whose account breakdown does not sum to the layer's totals."""
    store = metrics.connect(warehouse)
    accounts = storage.read(
        warehouse, CATALOG_ACCOUNTS_TABLE, versions=published.read(warehouse)["tables"]
    )
    home = accounts.filter(pl.col("project_layer_id") == layer).row(0, named=True)
    org, project = home["org_id"], home["project_id"]
    asked = ["views", "likes", "comments", "shares", "saves"]
    body = store.query(
        org_id=org,
        project_id=project,
        scope="project_layer",
        id=layer,
        metrics=asked,
        since="2026-03-01",
        until="2026-03-15",
        group_by="social_account",
        now=NOW,
    )
    return [m for m in asked if sum(g["totals"][m] for g in body["breakdown"]) != body["totals"][m]]


@pytest.mark.xdist_group("pipeline")
def test_the_views_step_publishes_the_rollups_state_not_a_newer_catalog(tmp_path: Path) -> None:
    raw, _ = make_landing(tmp_path)
    days = landing_dates(raw)
    warehouse = tmp_path / "warehouse"
    run(raw, warehouse, days[0], days[-1])
    cut = ledger.read(warehouse).cut
    layer = _move_an_account(warehouse)
    newest = storage.current_versions(warehouse)
    assert newest[CATALOG_ACCOUNTS_TABLE.name] > cut[CATALOG_ACCOUNTS_TABLE.name]

    published.publish(warehouse, published.to_publish(warehouse))
    tables = published.read(warehouse)["tables"]
    assert tables[CATALOG_ACCOUNTS_TABLE.name] == cut[CATALOG_ACCOUNTS_TABLE.name]
    assert {k: tables[k] for k in cut} == cut
    assert _breakdown_gaps(warehouse, layer) == []

    # The naive publication, for contrast: the newest of every table is not one state.
    published.publish(warehouse, newest)
    assert _breakdown_gaps(warehouse, layer) != []
