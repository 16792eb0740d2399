"""Find your ids: the organizations, projects, layers, accounts and posts of the warehouse.

An extension beyond the contract (spec §6): `metrics ls …` and `GET /v1/projects[/{id}/entities]`
both answer from a `Listing`, which `metrics.serve.index.load` builds once per warehouse version
beside the query index, so a listing costs one in-memory filter, never a Parquet read.

Rows follow the newest catalog (spec §1); a post is listed when its account is in it.
`first_data_at` and `last_data_at` are the start of the first and the end of the last UTC hour
that has a `rollup_hour` row for the entity (an increment or a follower snapshot), so
`--since first_data_at --until last_data_at` covers all of its data; both are null when it has
none. `platforms` (above the account level) are those of the entity's accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from metrics.model.tables import CATALOG_ACCOUNTS_TABLE, CATALOG_ENTITIES_TABLE, POSTS_TABLE
from metrics.serve.errors import NotFoundError, ValidationError
from metrics.warehouse import storage
from metrics.warehouse.location import Warehouse

KINDS: tuple[str, ...] = ("orgs", "projects", "layers", "accounts", "posts")
_SCOPE = {
    "orgs": "organization",
    "projects": "project",
    "layers": "project_layer",
    "accounts": "social_account",
    "posts": "platform_post",
}
_STAMP = "%Y-%m-%dT%H:%M:%SZ"
_SPAN = {"first_data_at": pl.Utf8, "last_data_at": pl.Utf8}


def _spans(hourly: pl.DataFrame) -> pl.DataFrame:
    """(scope, id) -> first hour start and last hour end with a rollup_hour row, as text."""
    return hourly.group_by("scope", "id").agg(
        pl.col("bucket_start").min().dt.strftime(_STAMP).alias("first_data_at"),
        (pl.col("bucket_start").max() + pl.duration(hours=1))
        .dt.strftime(_STAMP)
        .alias("last_data_at"),
    )


def _with_span(frame: pl.DataFrame, spans: pl.DataFrame, kind: str) -> pl.DataFrame:
    mine = spans.filter(pl.col("scope") == _SCOPE[kind]).drop("scope")
    return frame.join(mine, on="id", how="left").with_columns(
        pl.col(c).cast(t) for c, t in _SPAN.items()
    )


def _platforms(accounts: pl.DataFrame, column: str) -> pl.DataFrame:
    return accounts.group_by(column).agg(pl.col("platform").unique().sort().alias("platforms"))


@dataclass(frozen=True)
class Listing:
    """One frame per kind, in id order, each with `org_id` and (below orgs) `project_id`."""

    frames: dict[str, pl.DataFrame]
    orgs: frozenset[str]
    owners: dict[str, str]  # project id -> org id

    def select(
        self, kind: str, org_id: str | None = None, project_id: str | None = None
    ) -> pl.DataFrame:
        """The kind's rows inside org_id and project_id (either may be None: no filter).

        404 for an unknown org, and for a project that is unknown or not org_id's, with one
        message either way (spec §5's rule: never say whether it exists elsewhere).
        """
        if kind not in KINDS:
            raise ValidationError(f"Unknown kind: {kind}. Use one of {', '.join(KINDS)}.")
        frame = self.frames[kind]
        if org_id is not None:
            if org_id not in self.orgs:
                raise NotFoundError(f"organization {org_id} not found.")
            frame = frame.filter(pl.col("org_id") == org_id)
        if project_id is not None:
            if kind == "orgs":
                raise ValidationError("--project does not narrow a list of organizations.")
            owner = self.owners.get(project_id)
            if owner is None or (org_id is not None and owner != org_id):
                raise NotFoundError(f"Project {project_id} not found.")
            frame = frame.filter(pl.col("project_id") == project_id)
        return frame


def rows(frame: pl.DataFrame, limit: int | None = None) -> list[dict[str, Any]]:
    """Plain JSON-ready dicts (the frames hold only text, lists of text and nulls)."""
    return (frame.head(limit) if limit is not None else frame).to_dicts()


def build(
    entities: pl.DataFrame, accounts: pl.DataFrame, posts: pl.DataFrame, hourly: pl.DataFrame
) -> Listing:
    """The listing from the catalog tables, `posts` and `rollup_hour` (any extra columns)."""
    spans = _spans(hourly)
    accounts = accounts.sort("social_account_id")
    kinds = {"orgs": "organization", "projects": "project", "layers": "project_layer"}
    tiers = {
        kind: entities.filter(pl.col("kind") == name).sort("id") for kind, name in kinds.items()
    }
    orgs = (
        tiers["orgs"]
        .select("id", "name")
        .join(_platforms(accounts, "org_id").rename({"org_id": "id"}), on="id", how="left")
    )
    orgs = orgs.with_columns(org_id=pl.col("id"))
    projects = (
        tiers["projects"]
        .select("id", "name", "org_id")
        .join(_platforms(accounts, "project_id").rename({"project_id": "id"}), on="id", how="left")
    )
    projects = projects.with_columns(project_id=pl.col("id"))
    layer_kinds = accounts.group_by("project_layer_id").agg(pl.col("layer_kind").first())
    layers = (
        tiers["layers"]
        .select("id", "name", "org_id", "project_id")
        .join(
            layer_kinds.rename({"project_layer_id": "id", "layer_kind": "kind"}),
            on="id",
            how="left",
        )
        .join(
            _platforms(accounts, "project_layer_id").rename({"project_layer_id": "id"}),
            on="id",
            how="left",
        )
    )
    account_rows = accounts.select(
        pl.col("social_account_id").alias("id"),
        "handle",
        "platform",
        "native_id",
        "project_layer_id",
        "project_id",
        "org_id",
    )
    post_rows = (
        posts.join(
            accounts.select("social_account_id", "project_layer_id", "project_id", "org_id"),
            on="social_account_id",
            how="inner",
        )
        .select(
            pl.col("platform_post_id").alias("id"),
            "platform",
            "native_id",
            pl.col("published_at").dt.strftime(_STAMP),
            "social_account_id",
            "project_layer_id",
            "project_id",
            "org_id",
        )
        .sort("id")
    )
    frames = {
        "orgs": orgs,
        "projects": projects,
        "layers": layers,
        "accounts": account_rows,
        "posts": post_rows,
    }
    return Listing(
        frames={kind: _with_span(frame, spans, kind) for kind, frame in frames.items()},
        orgs=frozenset(orgs["id"]),
        owners=dict(projects.select("id", "org_id").iter_rows()),
    )


def load(
    warehouse: Warehouse, hourly: pl.DataFrame, versions: storage.Versions | None = None
) -> Listing:
    """Read the catalog and posts through the one reader, at the table versions the index was
    loaded at; `hourly` is rollup_hour, already read."""
    entities = storage.read(warehouse, CATALOG_ENTITIES_TABLE, versions=versions)
    accounts = storage.read(warehouse, CATALOG_ACCOUNTS_TABLE, versions=versions)
    posts = storage.read(
        warehouse,
        POSTS_TABLE,
        columns=["platform_post_id", "platform", "native_id", "social_account_id", "published_at"],
        versions=versions,
    )
    return build(entities, accounts, posts, hourly)
