"""The scope model (metrics/model/scopes.py) says what spec §1 and §5 say, and every stage
that walks the tree derives its walk from it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import given, settings

from metrics.ingest import catalog
from metrics.ingest.catalog import load_catalog
from metrics.ingest.normalize import normalize_partition
from metrics.model import measures, scopes
from metrics.model.platforms import PLATFORMS
from metrics.model.scopes import native_id_expr, parse_post_id, post_id
from metrics.serve import index, keys, query, window
from metrics.serve.errors import ValidationError
from metrics.transform import checks, rollups
from tests.helpers.landing import envelope, write_catalog, write_lines

# spec §1's table and §5's defaults, written out by hand (leaf first).
SPEC_TREE = [
    # name, id column, prefix, parent, defaults, granularities
    (
        "platform_post",
        "platform_post_id",
        "pst_",
        "social_account",
        ("views", "likes", "comments", "shares", "saves", "engagement_rate"),
        ("hour", "day"),
    ),
    (
        "social_account",
        "social_account_id",
        "acc_",
        "project_layer",
        ("followers", "follower_delta", "posts_published", "views"),
        ("hour", "day", "week"),
    ),
    (
        "project_layer",
        "project_layer_id",
        "lyr_",
        "project",
        ("views", "engagement_rate", "posts_published"),
        ("hour", "day", "week"),
    ),
    (
        "project",
        "project_id",
        "prj_",
        "organization",
        ("views", "engagement_rate", "posts_published"),
        ("hour", "day", "week"),
    ),
    ("organization", "org_id", "org_", None, ("views", "posts_published"), ("hour", "day", "week")),
]


def test_the_tree_is_contract_1_and_its_defaults_contract_5() -> None:
    got = [
        (s.name, s.id_column, s.id_prefix, s.parent, s.default_metrics, s.granularities)
        for s in scopes.TREE
    ]
    assert got == SPEC_TREE
    assert scopes.SCOPES == (
        "platform_post",
        "social_account",
        "project_layer",
        "project",
        "organization",
    )
    assert scopes.ROOT.name == "organization" and scopes.POST.name == "platform_post"
    assert scopes.ID_COLUMNS == (
        "org_id",
        "project_id",
        "project_layer_id",
        "social_account_id",
        "platform_post_id",
    )


def test_followers_are_for_every_scope_but_posts() -> None:
    post_only = set(measures.METRICS) - set(scopes.POST.metrics)
    assert post_only == {"followers", "follower_delta"}
    for s in scopes.TREE[1:]:
        assert s.metrics == measures.METRICS
    for s in scopes.TREE:  # a scope's defaults are metrics it accepts
        assert set(s.default_metrics) <= set(s.metrics)


def test_additive_metrics_are_the_post_metrics_and_posts_published() -> None:
    assert measures.ADDITIVE == (
        "views",
        "reach",
        "impressions",
        "likes",
        "comments",
        "shares",
        "saves",
        "watch_time_ms",
        "posts_published",
    )
    assert (
        *measures.POST_METRICS,
        "engagement_rate",
        *measures.GAUGES,
        "posts_published",
    ) == measures.METRICS


def test_parents_and_ancestors() -> None:
    parent = scopes.parent("platform_post")
    assert parent is not None and parent.name == "social_account"
    assert scopes.parent("organization") is None
    assert [s.name for s in scopes.ancestors("platform_post")] == [
        "social_account",
        "project_layer",
        "project",
        "organization",
    ]
    assert scopes.ancestors("organization") == ()
    assert scopes.ancestor_columns("social_account") == ("project_layer_id", "project_id", "org_id")
    assert scopes.ancestor_columns("project") == ("org_id",)


@pytest.mark.parametrize(
    ("id", "scope"),
    [
        ("org_1", "organization"),
        ("prj_a", "project"),
        ("lyr_social", "project_layer"),
        ("acc_tt", "social_account"),
        ("pst_tiktok_7301234567890123456", "platform_post"),
        ("usr_1", None),
        ("prj", None),
        ("", None),
    ],
)
def test_scope_of_id(id: str, scope: str | None) -> None:
    found = scopes.scope_of_id(id)
    assert (found.name if found else None) == scope
    if scope:
        assert scopes.SCOPE[scope].fits(id)
        assert not any(s.fits(id) for s in scopes.TREE if s.name != scope)


@pytest.mark.parametrize(
    ("platform", "native", "expected"),
    [
        ("tiktok", "7301234567890123456", "pst_tiktok_7301234567890123456"),
        ("x", "1899999999999999999", "pst_x_1899999999999999999"),
        ("youtube", "a_b-c", "pst_youtube_a_b-c"),
        ("youtube", "_leading", "pst_youtube__leading"),
        ("instagram", "17895695668004550", "pst_instagram_17895695668004550"),
    ],
)
def test_post_ids_round_trip(platform: str, native: str, expected: str) -> None:
    assert post_id(platform, native) == expected
    assert parse_post_id(expected) == (platform, native)
    frame = pl.DataFrame({"platform_post_id": [expected, None]})
    assert frame.select(native_id_expr())["native_id"].to_list() == [native, None]


@pytest.mark.parametrize(
    "bad", ["pst_tiktok_", "pst_tiktok", "pst_facebook_1", "acc_tiktok_1", "tiktok_1", "pst__1"]
)
def test_parse_post_id_refuses_what_is_not_a_post_id(bad: str) -> None:
    with pytest.raises(ValueError, match="not a post id"):
        parse_post_id(bad)


def test_post_id_refuses_unknown_platforms_and_non_string_ids() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        post_id("facebook", "1")
    with pytest.raises(ValueError, match="non-empty string"):
        post_id("tiktok", "")
    with pytest.raises(ValueError, match="non-empty string"):
        post_id("tiktok", 7301234567890123456)  # type: ignore[arg-type]  # an int, on purpose


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PLATFORMS), st.text(min_size=1))
def test_post_id_round_trip_property(platform: str, native: str) -> None:
    built = post_id(platform, native)
    assert built.startswith("pst_") and scopes.scope_of_id(built) is scopes.POST
    assert parse_post_id(built) == (platform, native)
    decoded = pl.DataFrame({"p": [built]}).select(native_id_expr("p")).item()
    assert decoded == native


def test_normalize_decodes_native_ids_with_underscores(tmp_path: Path) -> None:
    videos = {"items": [{"id": "a_b-c", "snippet": {"publishedAt": "2026-03-04T10:00:00Z"}}]}
    write_lines(
        tmp_path,
        "youtube/2026-03-05/v.jsonl",
        [envelope("youtube", "videos.list", "acc_yt", "2026-03-05T06:00:12Z", videos)],
    )
    write_catalog(tmp_path, "2026-03-01")
    part = normalize_partition(tmp_path, date(2026, 3, 5), load_catalog(tmp_path))
    row = part.tables["post_sightings"].row(0, named=True)
    assert row["platform_post_id"] == post_id("youtube", "a_b-c")
    assert (row["platform"], row["native_id"]) == parse_post_id(row["platform_post_id"])


# Every stage's walk of the tree is the model's, written out here by hand once more.


def test_rollup_levels_come_from_the_model() -> None:
    assert rollups._LEVELS == [
        ("social_account", "social_account_id", ["project_layer_id", "project_id", "org_id"]),
        ("project_layer", "project_layer_id", ["project_id", "org_id"]),
        ("project", "project_id", ["org_id"]),
        ("organization", "org_id", []),
    ]
    assert list(measures.ADDITIVE) == rollups._ADDITIVE


def test_index_levels_come_from_the_model() -> None:
    assert tuple((s.name, s.id_column) for s in reversed(scopes.TREE)) == index._LEVELS
    assert [name for name, _ in index._LEVELS] == [
        "organization",
        "project",
        "project_layer",
        "social_account",
        "platform_post",
    ]
    assert index.ADDITIVE is measures.ADDITIVE


def test_check_parents_come_from_the_model() -> None:
    assert checks.PARENTS == (
        ("platform_post", "social_account", "social_account_id"),
        ("social_account", "project_layer", "project_layer_id"),
        ("project_layer", "project", "project_id"),
        ("project", "organization", "org_id"),
    )
    assert checks.ADDITIVE is measures.ADDITIVE


def test_query_rules_come_from_the_model() -> None:
    assert query.METRICS is measures.METRICS and query.SCOPES is scopes.SCOPES
    assert window.GRANULARITIES is scopes.GRANULARITIES
    for s in scopes.TREE:
        assert query._metric_names(s.name, None) == list(s.default_metrics)
        wrong = next(o for o in scopes.TREE if o is not s)
        with pytest.raises(ValidationError, match=f"expected an id starting {s.id_prefix}"):
            query._check_request(s.name, f"{wrong.id_prefix}1", "day")
        for g in scopes.GRANULARITIES:
            if g in s.granularities:
                assert query._check_request(s.name, f"{s.id_prefix}1", g) == (
                    s.name,
                    f"{s.id_prefix}1",
                )
            else:
                with pytest.raises(ValidationError, match="accepts granularity hour or day"):
                    query._check_request(s.name, f"{s.id_prefix}1", g)


def test_catalog_kinds_and_rollup_grains_are_the_models() -> None:
    # The catalog's entity kinds are what the index looks entities up by: scope names.
    kinds = [kind for kind, _ in catalog._LISTS.values()]
    assert kinds == ["organization", "project", "project_layer", "social_account"]
    assert set(kinds) <= set(scopes.SCOPES)
    assert tuple(rollups._EVERY) == scopes.GRANULARITIES


def test_keys_take_organization_ids_by_the_models_prefix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"organization id \(org_…\)"):
        keys.create(tmp_path / "keys.json", "prj_a", (keys.READ_SCOPE,))
    _, record = keys.create(tmp_path / "keys.json", "org_a", (keys.READ_SCOPE,))
    assert scopes.scope_of_id(record.org_id) is scopes.ROOT
