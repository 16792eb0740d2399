"""The data-quality checks catch what they are for, on hand-made rollups."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from metrics.model.tables import CATALOG_ACCOUNTS, ROLLUP
from metrics.transform import checks
from metrics.warehouse import storage

T = datetime(2026, 3, 2, 5, tzinfo=UTC)  # a Monday


def row(scope: str, id_: str, views: int, **ids: str) -> dict:
    base: dict[str, object] = dict.fromkeys(ROLLUP, 0)
    base.update(
        scope=scope,
        id=id_,
        bucket_start=T,
        org_id=None,
        project_id=None,
        project_layer_id=None,
        social_account_id=None,
        platform_post_id=None,
        views=views,
    )
    base.update(ids)
    return base


ACCOUNTS = pl.DataFrame(
    [("acc_1", "tiktok", "n", "@h", "lyr_1", "social_content", "prj_1", "org_1")],
    schema=CATALOG_ACCOUNTS,
    orient="row",
)
IDS = dict(social_account_id="acc_1", project_layer_id="lyr_1", project_id="prj_1", org_id="org_1")


def tree(post_views: int, account_views: int) -> pl.DataFrame:
    rows = [
        row("platform_post", "pst_1", post_views, platform_post_id="pst_1", **IDS),
        row("social_account", "acc_1", account_views, **IDS),
        row(
            "project_layer",
            "lyr_1",
            account_views,
            project_layer_id="lyr_1",
            project_id="prj_1",
            org_id="org_1",
        ),
        row("project", "prj_1", account_views, project_id="prj_1", org_id="org_1"),
        row("organization", "org_1", account_views, org_id="org_1"),
    ]
    return pl.DataFrame(rows, schema=ROLLUP)


def test_children_sum_to_parent_passes_and_fails() -> None:
    assert checks.children_disagree(tree(10, 10), ACCOUNTS).is_empty()
    bad = checks.children_disagree(tree(10, 11), ACCOUNTS)
    assert bad.select("scope", "id").rows() == [("social_account", "acc_1")]


def test_duplicate_keys_found(tmp_path: Path) -> None:
    df = tree(1, 1)
    storage.write_partition(tmp_path, "rollup_hour", df, "day", "2026-03-02")
    assert checks.duplicate_keys(tmp_path, "rollup_hour", ["2026-03-02"]).is_empty()
    storage.write_partition(
        tmp_path, "rollup_hour", pl.concat([df, df.head(1)]), "day", "2026-03-02"
    )
    dupes = checks.duplicate_keys(tmp_path, "rollup_hour", ["2026-03-02"])
    assert dupes.select("id", "len").rows() == [("pst_1", 2)]


def test_granularities_disagree_found(tmp_path: Path) -> None:
    storage.write_partition(tmp_path, "rollup_hour", tree(5, 5), "day", "2026-03-02")
    storage.write_partition(tmp_path, "rollup_day", tree(5, 5), "day", "2026-03-02")
    storage.write_partition(tmp_path, "rollup_week", tree(5, 5), "week", "2026-03-02")
    assert checks.weeks_disagree(tmp_path, [date(2026, 3, 2)]).is_empty()
    storage.write_partition(tmp_path, "rollup_week", tree(6, 6), "week", "2026-03-02")
    assert checks.weeks_disagree(tmp_path, [date(2026, 3, 2)]).height == 5
