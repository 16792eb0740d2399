"""The scope tree (spec §1, §5), declared once: organization > project > project layer >
social account > platform post.

Each scope's id column, id prefix, parent, default metrics and allowed granularities are
written here and nowhere else; rollups, the read function's index, the checks, the query rules
and the command line derive theirs from `TREE`. Post ids are built and parsed here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import polars as pl

from metrics.model.measures import GAUGES, METRICS
from metrics.model.platforms import PLATFORMS

Granularity = Literal["hour", "day", "week"]
GRANULARITIES: tuple[Granularity, ...] = get_args(Granularity)


@dataclass(frozen=True)
class Scope:
    """One level of the tree."""

    name: str
    id_column: str  # the column naming this scope's entity in every table
    id_prefix: str  # every id of this scope starts with it
    parent: str | None  # the scope right above; None for the root
    default_metrics: tuple[str, ...]  # what a query without `metrics` answers
    granularities: tuple[str, ...]  # the bucket sizes a query may ask for
    metrics: tuple[str, ...] = METRICS  # the metrics a query may ask for

    def fits(self, id: str) -> bool:
        """Whether `id` has this scope's prefix."""
        return id.startswith(self.id_prefix)


# Leaf first, each scope followed by its parent.
TREE: tuple[Scope, ...] = (
    Scope(
        "platform_post",
        "platform_post_id",
        "pst_",
        "social_account",
        ("views", "likes", "comments", "shares", "saves", "engagement_rate"),
        ("hour", "day"),
        tuple(m for m in METRICS if m not in GAUGES),
    ),
    Scope(
        "social_account",
        "social_account_id",
        "acc_",
        "project_layer",
        ("followers", "follower_delta", "posts_published", "views"),
        GRANULARITIES,
    ),
    Scope(
        "project_layer",
        "project_layer_id",
        "lyr_",
        "project",
        ("views", "engagement_rate", "posts_published"),
        GRANULARITIES,
    ),
    Scope(
        "project",
        "project_id",
        "prj_",
        "organization",
        ("views", "engagement_rate", "posts_published"),
        GRANULARITIES,
    ),
    Scope(
        "organization",
        "org_id",
        "org_",
        None,
        ("views", "posts_published"),
        GRANULARITIES,
    ),
)

SCOPE: dict[str, Scope] = {s.name: s for s in TREE}
SCOPES: tuple[str, ...] = tuple(SCOPE)  # names, leaf first
POST, ACCOUNT = SCOPE["platform_post"], SCOPE["social_account"]
ROOT = TREE[-1]

# The id columns from the root down: the order that gives every entity a contiguous run of posts.
ID_COLUMNS: tuple[str, ...] = tuple(s.id_column for s in reversed(TREE))


def parent(name: str) -> Scope | None:
    """The scope right above `name`, or None for the root."""
    above = SCOPE[name].parent
    return SCOPE[above] if above is not None else None


def ancestors(name: str) -> tuple[Scope, ...]:
    """Every scope above `name`, nearest first."""
    out: list[Scope] = []
    scope = parent(name)
    while scope is not None:
        out.append(scope)
        scope = parent(scope.name)
    return tuple(out)


def ancestor_columns(name: str) -> tuple[str, ...]:
    """The id columns of the scopes above `name`, nearest first."""
    return tuple(s.id_column for s in ancestors(name))


def scope_of_id(id: str) -> Scope | None:
    """The scope whose prefix `id` carries, or None."""
    return next((s for s in TREE if s.fits(id)), None)


def post_id(platform: str, native_id: str) -> str:
    """`pst_<platform>_<native id>` (spec §1); the native id stays the string it was."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; platforms are {', '.join(PLATFORMS)}")
    if not isinstance(native_id, str) or not native_id:
        raise ValueError(f"a native id is a non-empty string, not {native_id!r}")
    return f"{POST.id_prefix}{platform}_{native_id}"


def post_id_prefix(platform: str) -> str:
    """What `post_id` puts before a native id: a typed decoder that has checked the native id
    is a non-empty string builds the id with one concatenation per record."""
    return post_id(platform, "_")[:-1]


def parse_post_id(id: str) -> tuple[str, str]:
    """(platform, native id) of a post id; native ids may hold `_` (platform names never do)."""
    platform, sep, native = id.removeprefix(POST.id_prefix).partition("_")
    if not id.startswith(POST.id_prefix) or not sep or not native or platform not in PLATFORMS:
        raise ValueError(f"not a post id: {id!r} (expected pst_<platform>_<native id>)")
    return platform, native


def native_id_expr(column: str = "platform_post_id") -> pl.Expr:
    """`parse_post_id(...)[1]` over a column of post ids (nulls stay null)."""
    return pl.col(column).str.splitn("_", 3).struct.field("field_2").alias("native_id")
