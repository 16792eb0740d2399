"""Maintenance and time travel: old warehouse versions answer until the retention drops them;
a vacuum never deletes a file of the published version or of a retained one."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

import metrics
from metrics.serve.errors import ValidationError
from metrics.warehouse import maintain, storage
from metrics.warehouse import manifest as published
from tests.helpers.tiny import DATA, P1, t
from tests.helpers.warehouse import Warehouse, write_warehouse

WINDOW: dict[str, Any] = {"since": "2026-04-01", "until": "2026-04-02", "metrics": ["views"]}


def _with_views(extra: int) -> Warehouse:
    catalog = copy.deepcopy(DATA.catalog)
    return Warehouse(
        catalog=catalog,
        posts=DATA.posts,
        hourly=[*DATA.hourly, (P1, t("2026-04-01T10:00"), {"views": extra})],
        followers=DATA.followers,
    )


def _views(store: metrics.Store) -> int:
    body = store.query(org_id="org_a", project_id="prj_a1", scope="platform_post", id=P1, **WINDOW)
    return body["totals"]["views"]


def _three_versions(root: Path) -> Path:
    """Warehouse versions 1, 2, 3 with 150, 151, 152 views for P1 on 2026-04-01."""
    for extra in (0, 1, 2):
        write_warehouse(root, _with_views(extra) if extra else DATA)
    return root


def test_time_travel_answers_from_each_kept_version(tmp_path: Path) -> None:
    root = _three_versions(tmp_path)
    assert published.numbers(root) == [1, 2, 3]
    assert [_views(metrics.connect(root, version=n)) for n in (1, 2, 3)] == [150, 151, 152]
    assert _views(metrics.connect(root)) == 152
    stamps = [published.read(root, n)["published_at"] for n in (1, 2, 3)]
    at = datetime.fromisoformat(stamps[1]) + timedelta(microseconds=1)
    assert _views(metrics.connect(root, as_of_time=at)) == 151
    with pytest.raises(ValidationError, match="not kept"):
        metrics.connect(root, version=9)
    with pytest.raises(ValidationError, match="No warehouse version"):
        metrics.connect(root, as_of_time=datetime(2000, 1, 1, tzinfo=UTC))


def test_vacuum_within_retention_deletes_nothing_a_version_needs(tmp_path: Path) -> None:
    root = _three_versions(tmp_path)
    result = maintain.maintain(root, timedelta(days=7), compact=False)
    assert result.manifests_kept == [1, 2, 3] and result.manifests_dropped == []
    assert result.vacuumed == {}
    assert [_views(metrics.connect(root, version=n)) for n in (1, 2, 3)] == [150, 151, 152]


def test_vacuum_past_retention_keeps_only_what_the_manifest_names(tmp_path: Path) -> None:
    root = _three_versions(tmp_path)
    old_files = storage.files(root, "rollup_hour", versions=published.read(root, 1)["tables"])
    # A run is committing right now: rollup_hour has a newer version the manifest does not name.
    write_warehouse_without_manifest(root, _with_views(5))
    tables = published.read(root)["tables"]
    held = metrics.connect(root)  # a reader holding the published version (3)
    views_file = root / storage.DUCKDB_FILE
    result = maintain.maintain(
        root, timedelta(0), compact=False, now=datetime.now(UTC) + timedelta(hours=1)
    )
    assert result.manifests_dropped == [1, 2] and result.manifests_kept == [3]
    assert result.vacuumed, "nothing was vacuumed: the test proves nothing"
    assert not any(
        os.path.exists(f)
        for f in old_files
        if f not in storage.files(root, "rollup_hour", versions=tables)
    )
    for table in tables:  # every file of the published versions is still there
        assert all(os.path.exists(f) for f in storage.files(root, table, versions=tables)), table
    assert held.refresh() is False and _views(held) == 152
    assert _views(metrics.connect(root)) == 152  # a fresh reader loads the published version
    with duckdb.connect(str(views_file), read_only=True) as con:  # plain DuckDB, no extension
        [(total,)] = con.execute(
            "SELECT sum(views) FROM rollup_hour WHERE scope = 'platform_post' AND id = ? "
            "AND bucket_start >= '2026-04-01' AND bucket_start < '2026-04-02'",
            [P1],
        ).fetchall()
    assert total == 152
    with pytest.raises(ValidationError, match="not kept"):
        metrics.connect(root, version=1)


def write_warehouse_without_manifest(root: Path, data: Warehouse) -> None:
    """`write_warehouse`'s commits without its views and manifest: a run mid-way."""
    write_warehouse(root, data, publish=False)


def test_compaction_keeps_the_rows_and_publishes_them(tmp_path: Path) -> None:
    root = _three_versions(tmp_path)
    before = {
        name: storage.read(root, name).sort(storage.read(root, name).columns)
        for name in published.read(root)["tables"]
    }
    result = maintain.maintain(root, timedelta(days=7))
    after_manifest = published.read(root)
    for name, frame in before.items():
        got = storage.read(root, name, versions=after_manifest["tables"])
        assert got.sort(got.columns).equals(frame), name
    if result.compacted:
        assert after_manifest["version"] == result.published == 4
    assert _views(metrics.connect(root)) == 152
