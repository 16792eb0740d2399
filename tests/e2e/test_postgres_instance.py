"""The Dagster instance on PostgreSQL (pipelines/dagster.postgres.yaml, METRICS_INSTANCE=postgres).

A real server (Debian's PostgreSQL, tests/helpers/postgres.py) runs on a loopback port for the
module. A backfill and a nightly go through the `metrics` console script with a DAGSTER_HOME
that `metrics` itself fills from the Postgres template; the runs, their events and the pools'
slots must be rows in Postgres, and the warehouse must answer exactly as the same two runs
against the default SQLite instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars.testing
import pytest

from metrics.ingest.normalize import landing_dates
from pipelines import run as runs
from tests.helpers import postgres
from tests.helpers.pipeline import base_env, cli, make_landing, project_answers, table_contents

pytestmark = pytest.mark.xdist_group("postgres")


@pytest.fixture(scope="module")
def pg() -> Iterator[postgres.Postgres]:
    server = postgres.start()
    try:
        yield server
    finally:
        server.stop()


def _backfill_then_nightly(env: dict[str, str], days: list) -> None:
    for args in (
        ["backfill", "--until", days[-2].isoformat()],
        ["nightly", "--date", days[-1].isoformat()],
    ):
        proc = cli(env, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_backfill_and_nightly_on_postgres_equal_sqlite(pg: postgres.Postgres, tmp_path: Path):
    raw, _ = make_landing(tmp_path, accounts=4, posts_per_account=2, days=3)
    days = landing_dates(raw)
    assert len(days) >= 3

    pg_home = tmp_path / "pg_home"
    env = {**base_env(raw, tmp_path / "wh_pg", pg_home), **pg.env(), "METRICS_INSTANCE": "postgres"}
    _backfill_then_nightly(env, days)
    assert "postgres:" in (pg_home / "dagster.yaml").read_text()
    assert not (pg_home / "history").exists()  # no SQLite run storage beside it

    sqlite_env = base_env(raw, tmp_path / "wh_sqlite", tmp_path / "sqlite_home")
    _backfill_then_nightly(sqlite_env, days)

    runs = pg.psql("SELECT status FROM runs ORDER BY create_timestamp").split("\n")
    assert runs == ["SUCCESS", "SUCCESS"]
    ranges = pg.psql(
        "SELECT value FROM run_tags WHERE key = 'dagster/asset_partition_range_start' "
        "ORDER BY value"
    ).split("\n")
    assert ranges == [days[0].isoformat(), days[-1].isoformat()]
    materialized = int(
        pg.psql(
            "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
        )
    )
    assert materialized > 0
    pools = pg.psql("SELECT DISTINCT concurrency_key FROM concurrency_slots ORDER BY 1").split()
    assert pools == ["duckdb_writer", "warehouse_writer"]
    assert pg.psql("SELECT count(*) FROM concurrency_slots WHERE run_id IS NOT NULL") == "0"

    on_pg, on_sqlite = table_contents(tmp_path / "wh_pg"), table_contents(tmp_path / "wh_sqlite")
    assert on_pg.keys() == on_sqlite.keys()
    for name in on_pg:
        polars.testing.assert_frame_equal(on_pg[name], on_sqlite[name])
    assert project_answers(tmp_path / "wh_pg") == project_answers(tmp_path / "wh_sqlite")


def test_postgres_asked_of_a_sqlite_home_is_refused(pg: postgres.Postgres, tmp_path: Path):
    raw, _ = make_landing(tmp_path, accounts=4, posts_per_account=1, days=1)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**base_env(raw, tmp_path / "wh", home), **pg.env(), "METRICS_INSTANCE": "postgres"}
    proc = cli(env, "backfill")
    assert proc.returncode == 2
    assert "is not a Postgres instance" in proc.stderr and "DAGSTER_HOME" in proc.stderr
    assert not (tmp_path / "wh").exists()


def _pool_rows(pg: postgres.Postgres, database: str) -> str:
    return pg.psql('SELECT concurrency_key, "limit" FROM concurrency_limits ORDER BY 1', database)


def test_pool_limits_are_made_before_the_run_even_when_another_host_races(
    pg: postgres.Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dagster makes a pool's limit row in the first step that claims it, and on Postgres a
    second maker fails (dagster-io/dagster#33552): two hosts' first runs on a new instance
    would lose one of them. `ensure_pool_limits` makes the rows before the run, and another
    host making one between its check and its insert costs nothing."""
    pg.create_database("pools")
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(runs.INSTANCE_TEMPLATES["postgres"].read_text())
    for name, value in pg.env("pools").items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        # The bug this works around: the second maker of a row fails. When an upgrade fixes
        # it, this fails, and ensure_pool_limits can go.
        assert storage.initialize_concurrency_limit_to_default("warehouse_writer")
        with pytest.raises(Exception, match=r"InFailedSqlTransaction|UniqueViolation"):
            storage.initialize_concurrency_limit_to_default("warehouse_writer")

        # ensure_pool_limits reads the pools, then another host makes "warehouse_writer".
        reads = [storage.get_concurrency_keys() - {"warehouse_writer"}]
        fresh = storage.get_concurrency_keys
        monkeypatch.setattr(
            storage, "get_concurrency_keys", lambda: reads.pop() if reads else fresh()
        )
        runs.ensure_pool_limits(instance, ["warehouse_writer", "duckdb_writer"])
        monkeypatch.undo()
    assert _pool_rows(pg, "pools") == "duckdb_writer|1\nwarehouse_writer|1"
