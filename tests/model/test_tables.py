"""The table registry (metrics/model/tables.py) is the truth about every table: what the pipeline
writes, the DuckDB views, the Dagster column schemas and the data dictionary all agree with it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from metrics.model import dictionary, tables
from metrics.model.tables import CONTROL_TABLES, TABLES
from metrics.warehouse import storage
from pipelines.definitions import defs
from tests.helpers.pipeline import START, make_landing, run

FIRST = START


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tables")
    raw, _ = make_landing(root, days=2, accounts=4, posts_per_account=2)
    wh = root / "warehouse"
    run(raw, wh, FIRST, FIRST + timedelta(days=1))
    return wh


def test_registry_names_are_unique_and_keys_are_dates() -> None:
    assert len({t.name for t in TABLES}) == len(TABLES)
    for t in TABLES:
        assert len({c.name for c in t.columns}) == len(t.columns), t.name
        assert all(c.meaning for c in t.columns), t.name
        if t.partition is not None:
            assert t.partition.dtype == pl.Date() and t.partition.name not in t.schema
            assert t.partition.name in tables.DATE_KEYS


def test_every_table_the_pipeline_writes_is_in_the_registry_with_its_columns(
    warehouse: Path,
) -> None:
    root = warehouse / storage.TABLES_DIR
    written = sorted(p.name for p in root.iterdir() if (p / "_delta_log").is_dir())
    assert written == sorted(t.name for t in TABLES)
    for t in TABLES:
        dt = DeltaTable(storage.table_uri(warehouse, t))
        assert dt.metadata().partition_columns == ([t.partition_key] if t.partition_key else [])
        assert [f.name for f in dt.schema().fields] == list(t.read_schema), t.name
        files = storage.files(warehouse, t)
        assert files, t.name
        for path in files:
            # The hive key is in the folder name, never in the file.
            if t.partition_key:
                assert Path(path).parent.name.startswith(f"{t.partition_key}="), path
            on_disk = pl.read_parquet_schema(path)
            assert list(on_disk.items()) == list(t.schema.items()), path
        frame = storage.read(warehouse, t)
        assert list(frame.schema.items()) == list(t.read_schema.items()), t.name
        for c in t.columns:
            if not c.nullable:
                assert frame[c.name].null_count() == 0, f"{t.name}.{c.name} holds nulls"


def test_an_absent_table_reads_as_empty_with_its_schema(tmp_path: Path) -> None:
    for t in TABLES:
        frame = storage.read(tmp_path, t)
        assert frame.is_empty() and list(frame.schema.items()) == list(t.read_schema.items())
        assert storage.read(tmp_path, t, ["2026-01-01"]).schema == frame.schema


def test_reading_some_partitions_reads_exactly_those(warehouse: Path) -> None:
    t = tables.POST_OBSERVATIONS_TABLE
    first = storage.read(warehouse, t, [FIRST.isoformat(), "1999-01-01"])
    assert set(first["landing_date"]) == {FIRST}
    whole = storage.read(warehouse, t)
    assert first.height == whole.filter(pl.col("landing_date") == FIRST).height
    (path,) = storage.files(warehouse, t, [FIRST.isoformat()])  # one file per partition
    assert f"landing_date={FIRST.isoformat()}" in path
    assert pq.ParquetFile(path).metadata.num_rows == first.height


def test_every_registry_table_has_a_typed_view(warehouse: Path, tmp_path: Path) -> None:
    storage.rebuild_views(tmp_path)  # a warehouse with no table yet still has every view
    for wh in (warehouse, tmp_path):
        with duckdb.connect(str(wh / storage.DUCKDB_FILE), read_only=True) as con:
            views = {r[0] for r in con.sql("SELECT view_name FROM duckdb_views()").fetchall()}
            assert {t.name for t in TABLES} <= views
            for t in TABLES:
                described = con.sql(f'DESCRIBE "{t.name}"').fetchall()
                got = {name: kind for name, kind, *_ in described}
                want = {n: tables.sql_type(d) for n, d in t.read_schema.items()}
                want = {
                    n: "TIMESTAMP WITH TIME ZONE" if k == "TIMESTAMPTZ" else k
                    for n, k in want.items()
                }
                assert got == want, t.name


def test_the_views_asset_follows_every_asset_that_writes_a_table() -> None:
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey("warehouse_views")).parent_keys
    for t in TABLES:
        key = dg.AssetKey(t.name)
        writer = key if graph.has(key) else dg.AssetKey("catalog")
        assert writer in upstream, t.name
    assert {k.to_user_string() for k in upstream} <= {t.name for t in TABLES} | {"catalog"}


def test_dagster_column_schemas_are_the_registrys() -> None:
    graph = defs.resolve_asset_graph()
    with_schema = 0
    for t in TABLES:
        key = dg.AssetKey(t.name)
        if not graph.has(key):
            assert t in (tables.CATALOG_ENTITIES_TABLE, tables.CATALOG_ACCOUNTS_TABLE)
            continue
        node = graph.get(key)
        schema = node.metadata["dagster/column_schema"]
        columns = [*t.columns, *([t.partition] if t.partition else [])]
        assert [(c.name, c.type, c.description) for c in schema.columns] == [
            (c.name, str(c.dtype), c.description) for c in columns
        ], t.name
        assert node.description and t.meaning in node.description
        with_schema += 1
    assert with_schema == len(TABLES) - 2


def test_data_dictionary_is_generated_from_the_registry() -> None:
    text = dictionary.DICTIONARY.read_text()
    every = (*TABLES, *CONTROL_TABLES)
    assert sorted(dictionary.documented(text)) == sorted(t.name for t in every)
    assert text == dictionary.render_dictionary(text), (
        "docs/data-dictionary.md differs from the registry: run "
        "`.venv/bin/python -m metrics.model.dictionary`"
    )


def test_the_derived_lists() -> None:
    assert [t.name for t in tables.NORMALIZED] == [
        "post_observations",
        "period_observations",
        "follower_observations",
        "post_sightings",
        "quarantine",
    ]
    assert storage.OBSERVATION_TABLES == (
        "post_observations",
        "period_observations",
        "follower_observations",
    )
    assert {g: t.partition_key for g, t in tables.ROLLUPS.items()} == {
        "hour": "day",
        "day": "day",
        "week": "week",
    }
