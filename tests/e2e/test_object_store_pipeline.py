"""The whole pipeline with its warehouse on a real S3 server answers exactly as on a local disk.

Backfill of the first dates, a nightly per later date (the last one holds late files only), a
re-run of a date already loaded; then every table's content, read through the Delta log at the
manifest's versions, and the answers of the read function and of the HTTP endpoint must equal
those of the same runs on a local warehouse. The landing zone stays local.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import metrics
from metrics.ingest.normalize import landing_dates
from metrics.serve import keys
from metrics.serve.http import create_app
from metrics.warehouse import manifest
from tests.helpers.object_store import ObjectStore
from tests.helpers.pipeline import make_landing, run, table_digests

pytestmark = pytest.mark.xdist_group("pipeline")

SCOPES = ("organization", "project", "project_layer", "social_account", "platform_post")


def _runs(raw: Path, warehouse: str) -> None:
    days = landing_dates(raw)
    run(raw, warehouse, days[0], days[2])  # backfill
    for day in days[3:]:
        run(raw, warehouse, day, day)  # nightlies; the last date holds late files only
    run(raw, warehouse, days[1], days[1])  # a re-run of a loaded date


def _ids(store: metrics.Store) -> list[tuple[str, str, str, str]]:
    """(org, project, scope, id) for one entity of every scope, from the listing."""
    org = store.list("orgs")[0]["id"]
    project = store.list("projects", org_id=org)[0]["id"]
    kinds = {"project_layer": "layers", "social_account": "accounts", "platform_post": "posts"}
    out = [(org, project, "organization", org), (org, project, "project", project)]
    for scope, kind in kinds.items():
        for row in store.list(kind, org_id=org, project_id=project, limit=2):
            out.append((org, project, scope, row["id"]))
    return out


def _answers(store: metrics.Store) -> list[dict]:
    return [
        store.query(
            org_id=org,
            project_id=project,
            scope=scope,
            id=id,
            granularity=granularity,
            since="2026-03-01",
            until="2026-03-20",
        )
        for org, project, scope, id in _ids(store)
        for granularity in ("hour", "day")
    ]


def test_s3_warehouse_equals_local(
    tmp_path: Path, object_store: ObjectStore, s3_prefix: str
) -> None:
    raw, _ = make_landing(tmp_path)
    local = str(tmp_path / "local")
    remote = f"{s3_prefix}/warehouse"
    _runs(raw, local)
    _runs(raw, remote)

    local_manifest, remote_manifest = manifest.read(local), manifest.read(remote)
    assert remote_manifest["as_of"] == local_manifest["as_of"]
    assert table_digests(remote, remote_manifest["tables"]) == table_digests(
        local, local_manifest["tables"]
    )
    keys_of = {k.split("/", 1)[1] for k in object_store.keys(remote.split("/", 3)[3])}
    assert any(k.startswith("warehouse/tables/rollup_day/_delta_log/") for k in keys_of)
    assert "warehouse/manifest.json" in keys_of and "warehouse/metrics.duckdb" not in keys_of

    local_store, remote_store = metrics.connect(local), metrics.connect(remote)
    answers = _answers(local_store)
    assert any(a["totals"].get("views") for a in answers)  # the comparison is not of zeros
    assert _answers(remote_store) == answers

    for store in (local_store, remote_store):  # the HTTP endpoint over each warehouse
        keys_file = tmp_path / f"keys-{id(store)}.json"
        org, project, scope, entity = _ids(store)[1]
        key, _ = keys.create(keys_file, org)
        with TestClient(create_app(keys_file=keys_file, store=store)) as client:
            got = client.get(
                f"/v1/projects/{project}/metrics",
                params={"scope": scope, "id": entity, "since": "2026-03-01", "until": "2026-03-20"},
                headers={"Authorization": f"Bearer {key}"},
            )
        assert got.status_code == 200, got.text
        expected = local_store.query(
            org_id=org,
            project_id=project,
            scope=scope,
            id=entity,
            since="2026-03-01",
            until="2026-03-20",
        )
        assert got.json() == expected
