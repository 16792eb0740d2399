"""End to end through Dagster on generated data: round trip, invariants, re-runs, increments.

The generator's truth file is computed from the bytes it wrote, independently of the pipeline,
so every comparison here is against an oracle the pipeline never saw.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from metrics.ingest.normalize import landing_dates
from metrics.model.measures import POST_METRICS
from tests.helpers.pipeline import make_landing, run, table, table_digests

pytestmark = pytest.mark.xdist_group("pipeline")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("e2e")
    raw, truth = make_landing(root)
    warehouse = root / "warehouse"
    days = landing_dates(raw)
    run(raw, warehouse, days[0], days[-1])
    return raw, warehouse, truth


def _truth_posts(truth: dict) -> pl.DataFrame:
    return pl.DataFrame(truth["posts"]).select("platform_post_id", "platform", *POST_METRICS)


def test_every_bad_item_is_quarantined_with_its_reason(built) -> None:
    _, warehouse, truth = built
    q = table(warehouse, "quarantine")
    got = set(q.select("landing_file", "line", "record", "reason").iter_rows())
    expected = {(b["landing_file"], b["line"], b["record"], b["reason"]) for b in truth["bad"]}
    assert expected <= got
    # Beyond the injected defects, only X's own `errors` entries are quarantined.
    assert {r[3] for r in got - expected} <= {"api_error"}
    assert expected, "the generator must inject bad input"


def test_last_lifetime_value_round_trips_from_post_observations(built) -> None:
    _, warehouse, truth = built
    obs = table(warehouse, "post_observations").sort("collected_at", "landing_file", "line")
    last = obs.group_by("platform_post_id").agg(
        pl.col(m).drop_nulls().last().fill_null(0) for m in POST_METRICS
    )
    expected = _truth_posts(truth).filter(pl.col("platform") != "youtube").drop("platform")
    got = expected.select("platform_post_id").join(last, on="platform_post_id", how="left")
    assert got.sort("platform_post_id").equals(expected.sort("platform_post_id"))


def test_increments_sum_to_last_value_and_latest_daily_rows(built) -> None:
    _, warehouse, truth = built
    sums = (
        table(warehouse, "post_hourly")
        .group_by("platform_post_id")
        .agg(pl.col(m).sum() for m in POST_METRICS)
    )
    expected = _truth_posts(truth).drop("platform")
    got = (
        expected.select("platform_post_id")
        .join(sums, on="platform_post_id", how="left")
        .fill_null(0)
    )
    assert got.sort("platform_post_id").equals(expected.sort("platform_post_id"))


def _totals(df: pl.DataFrame, start, end) -> pl.DataFrame:
    return (
        df.filter((pl.col("bucket_start") >= start) & (pl.col("bucket_start") < end))
        .group_by("scope", "id")
        .agg(pl.col(m).sum() for m in (*POST_METRICS, "posts_published"))
        .sort("scope", "id")
    )


def test_granularities_agree_over_whole_weeks(built) -> None:
    _, warehouse, _ = built
    hour, day, week = (table(warehouse, t) for t in ("rollup_hour", "rollup_day", "rollup_week"))
    start, last = week["bucket_start"].min(), week["bucket_start"].max()
    assert isinstance(last, datetime)  # polars types max() as any scalar; a Datetime column
    end = last + timedelta(days=7)
    assert _totals(hour, start, end).equals(_totals(day, start, end))
    assert _totals(day, start, end).equals(_totals(week, start, end))


@pytest.mark.parametrize("granularity", ["rollup_hour", "rollup_day", "rollup_week"])
def test_child_scopes_sum_to_parent(built, granularity: str) -> None:
    _, warehouse, _ = built
    roll = table(warehouse, granularity)
    accounts = table(warehouse, "catalog_accounts")
    levels = [
        ("platform_post", "social_account", "social_account_id"),
        ("social_account", "project_layer", "project_layer_id"),
        ("project_layer", "project", "project_id"),
        ("project", "organization", "org_id"),
    ]
    values = [*POST_METRICS, "posts_published"]
    for child, parent, parent_col in levels:
        kids = roll.filter(pl.col("scope") == child)
        if child == "platform_post":
            kids = kids.filter(
                pl.col("social_account_id").is_in(accounts["social_account_id"].implode())
            )
        summed = (
            kids.group_by(parent_col, "bucket_start")
            .agg(pl.col(v).sum() for v in values)
            .rename({parent_col: "id"})
            .sort("id", "bucket_start")
        )
        parents = roll.filter(pl.col("scope") == parent).select("id", "bucket_start", *values)
        nonzero = pl.any_horizontal(pl.col(v) != 0 for v in values)
        assert summed.filter(nonzero).equals(parents.filter(nonzero).sort("id", "bucket_start"))
    for child, parent, parent_col in levels[1:]:
        assert _followers_by_locf(roll, child, parent, parent_col).is_empty()


def _followers_by_locf(roll: pl.DataFrame, child: str, parent: str, parent_col: str):
    """Parent rows whose F differs from the sum of its children's F at the same bucket end.

    A child without a row in that bucket holds its last value (or, before its first row, its
    first value = followers - follower_delta of that row)."""
    kids = roll.filter(pl.col("scope") == child).sort("bucket_start")
    parents = roll.filter(pl.col("scope") == parent).select("id", "bucket_start", "followers")
    firsts = kids.group_by("id").agg(
        (pl.col("followers").first() - pl.col("follower_delta").first()).alias("before"),
        pl.col(parent_col).first().alias("parent"),
    )
    grid = parents.join(firsts, left_on="id", right_on="parent").rename({"id_right": "kid"})
    held = grid.sort("kid", "bucket_start").join_asof(
        kids.select(pl.col("id").alias("kid"), "bucket_start", pl.col("followers").alias("kid_f")),
        on="bucket_start",
        by="kid",
        strategy="backward",
    )
    summed = held.group_by("id", "bucket_start").agg(
        pl.col("followers").first(), pl.coalesce("kid_f", "before").sum().alias("sum_f")
    )
    return summed.filter(pl.col("followers") != pl.col("sum_f"))


def test_final_followers_equal_the_sum_of_last_snapshots(built) -> None:
    _, warehouse, truth = built
    accounts = table(warehouse, "catalog_accounts")
    last = {f["social_account_id"]: f["followers"] for f in truth["followers"]}
    roll = table(warehouse, "rollup_day")
    final = roll.sort("bucket_start").group_by("scope", "id").agg(pl.col("followers").last())
    for row in accounts.iter_rows(named=True):
        got = final.filter(
            (pl.col("scope") == "social_account") & (pl.col("id") == row["social_account_id"])
        )
        assert got["followers"].item() == last.get(row["social_account_id"], 0)
    for org, members in accounts.group_by("org_id"):
        expected = sum(last.get(a, 0) for a in members["social_account_id"])
        got = final.filter((pl.col("scope") == "organization") & (pl.col("id") == org[0]))
        assert got["followers"].item() == expected


def test_moved_account_carries_its_whole_history(built) -> None:
    _, warehouse, truth = built
    move = truth["catalog_move"]
    roll = table(warehouse, "rollup_day").filter(
        pl.col("social_account_id") == move["social_account_id"]
    )
    posts_rows = roll.filter(pl.col("scope") == "platform_post")
    assert posts_rows.height > 0
    assert set(posts_rows["project_layer_id"]) == {move["to_layer"]}
    earliest = roll["bucket_start"].min()
    assert isinstance(earliest, datetime)  # polars types min() as any scalar
    assert earliest.date() < date.fromisoformat(move["landing_date"])


def test_rerun_gives_identical_tables(built, tmp_path: Path) -> None:
    raw, warehouse, _ = built
    before = table_digests(warehouse)
    days = landing_dates(raw)
    run(raw, warehouse, days[0], days[-1])
    assert table_digests(warehouse) == before
    run(raw, warehouse, days[2], days[2])
    assert table_digests(warehouse) == before


def test_backfill_then_nightlies_equals_one_backfill(built, tmp_path: Path) -> None:
    raw, warehouse, _ = built
    days = landing_dates(raw)
    cut = days[1]
    stepwise = tmp_path / "stepwise"
    run(raw, stepwise, days[0], cut)
    day = cut + timedelta(days=1)
    while day <= days[-1]:
        run(raw, stepwise, day, day)
        day += timedelta(days=1)
    assert table_digests(stepwise) == table_digests(warehouse)


def test_views_file_answers_in_duckdb(built) -> None:
    import duckdb

    _, warehouse, _ = built
    with duckdb.connect(str(warehouse / "metrics.duckdb"), read_only=True) as con:
        n = con.execute("select count(*) from rollup_day where scope = 'organization'").fetchone()
        assert n is not None and n[0] > 0


def test_every_asset_check_ran_and_passed(built, tmp_path: Path) -> None:
    raw, _, _ = built
    days = landing_dates(raw)
    result = run(raw, tmp_path / "wh", days[0], days[-1])
    evaluations = result.get_asset_check_evaluations()
    names = {(e.asset_key.to_user_string(), e.check_name) for e in evaluations}
    assert ("quarantine", "lines_reconcile") in names
    assert ("rollup_week", "granularities_agree") in names
    for name in ("post_hourly", "rollup_hour", "rollup_day", "rollup_week"):
        assert (name, "no_duplicate_keys") in names
    for name in ("rollup_hour", "rollup_day", "rollup_week"):
        assert (name, "children_sum_to_parent") in names
    blocking = [e for e in evaluations if e.check_name != "freshness"]
    assert all(e.passed for e in blocking), [e for e in blocking if not e.passed]
    [fresh] = [e for e in evaluations if e.check_name == "freshness"]
    behind = fresh.metadata["hours_behind"].value
    assert isinstance(behind, int | float)  # a MetadataValue's value is any packable value
    assert fresh.passed == (0 <= behind <= 36)


def test_parallel_parsing_gives_the_sequential_tables(built) -> None:
    from metrics.ingest.catalog import load_catalog
    from metrics.ingest.normalize import normalize_partition
    from metrics.ingest.steps import worker_pool

    raw, _, _ = built
    catalog = load_catalog(raw)
    day = landing_dates(raw)[1]
    alone = normalize_partition(raw, day, catalog)
    with worker_pool() as pool:
        shared = normalize_partition(raw, day, catalog, pool)
    for name, df in alone.tables.items():
        assert shared.tables[name].equals(df), name
    assert shared.accounting == alone.accounting


def test_slicing_posts_changes_nothing(
    built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metrics.transform import refresh

    raw, warehouse, _ = built
    monkeypatch.setattr(refresh, "POSTS_PER_SLICE", 7)
    days = landing_dates(raw)
    run(raw, tmp_path / "sliced", days[0], days[-1])
    assert table_digests(tmp_path / "sliced") == table_digests(warehouse)


def test_a_reader_of_the_views_file_survives_a_run(built) -> None:
    import duckdb

    raw, warehouse, _ = built
    days = landing_dates(raw)
    query = "select count(*) from rollup_day"
    with duckdb.connect(str(warehouse / "metrics.duckdb"), read_only=True) as reader:
        before = reader.execute(query).fetchone()
        run(raw, warehouse, days[-1], days[-1])  # rebuilds and swaps metrics.duckdb
        assert reader.execute(query).fetchone() == before
    with duckdb.connect(str(warehouse / "metrics.duckdb"), read_only=True) as fresh:
        assert fresh.execute(query).fetchone() == before
