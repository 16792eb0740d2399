"""Breakdowns (spec §7): a scope's totals split by platform, project layer or social account.

Every group is a set of the scope's accounts (a platform's, a layer's, or one account), and an
account's sums and followers are in the rollups already. So a breakdown measures all of the
scope's accounts at `since` and `until` at once and adds them up per group; the groups' additive
metrics then sum to the totals exactly, since the scope's own rollup rows are the sums of the
same accounts' rows.

Measuring hundreds of accounts one by one would cost a `searchsorted` each per grain; instead
each grain keeps its account rows keyed as `account << 32 | bucket_start`, sorted, so one
vectorized `searchsorted` finds every account's prefix at an instant. Accounts are numbered in
catalog order (org, project, layer, account), and layers in (org, project, layer) order, so an
organization's, project's or layer's accounts and layers are contiguous ranges.
`post_count` per group comes from the scope's active posts (`Activity.active`), each post
carrying the number of its account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from metrics.model import scopes
from metrics.model.measures import ADDITIVE
from metrics.model.platforms import PLATFORMS
from metrics.serve.errors import ValidationError

if TYPE_CHECKING:
    from metrics.serve.index import Grain, Index, Key

# The scope level a group is made of: a group_by is allowed for the scopes above it (spec §7:
# "strictly below the scope"). Platforms group posts, so every scope above a post may use them.
GROUP_LEVEL: dict[str, str] = {
    "platform": scopes.POST.name,
    "project_layer": "project_layer",
    "social_account": scopes.ACCOUNT.name,
}
GROUP_BY: tuple[str, ...] = tuple(GROUP_LEVEL)
ALLOWED: dict[str, tuple[str, ...]] = {
    group: tuple(s.name for s in reversed(scopes.ancestors(level)))
    for group, level in GROUP_LEVEL.items()
}
_SHIFT = 32  # bucket_start in epoch seconds stays below 2**32 until 2106


def check(scope: str, group_by: str | None) -> str | None:
    """`group_by` when it fits the scope; a 422 naming the allowed values otherwise."""
    if group_by is None:
        return None
    if group_by not in GROUP_LEVEL:
        raise ValidationError(f"Unknown group_by: {group_by}. Use one of {', '.join(GROUP_BY)}.")
    if scope not in ALLOWED[group_by]:
        fits = [g for g in GROUP_BY if scope in ALLOWED[g]]
        hint = f"use {' or '.join(fits)}" if fits else "it has no groups below it"
        raise ValidationError(
            f"group_by={group_by} needs a scope above {GROUP_LEVEL[group_by]} "
            f"({', '.join(ALLOWED[group_by])}); for scope {scope}, {hint}."
        )
    return group_by


@dataclass(frozen=True)
class AccountRows:
    """Every account's rows in one rollup grain, keyed for a vectorized search."""

    lo: np.ndarray  # the account's first row in the grain (0 when it has none)
    size: np.ndarray  # its number of rows
    offset: np.ndarray  # where its rows start in `keyed`
    keyed: np.ndarray  # account << 32 | bucket_start, sorted

    def measure(self, grain: Grain, accounts: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(P, F) of each account at `t`, an instant on an edge of this grain."""
        k = np.searchsorted(self.keyed, (accounts << _SHIFT) | t) - self.offset[accounts]
        lo, size = self.lo[accounts], self.size[accounts]
        rows = lo + k
        sums = grain.cum[rows] - grain.cum[lo]
        last = grain.followers[np.maximum(rows - 1, 0)]
        first = grain.followers[lo] - grain.delta[lo]
        gauge = np.where(size == 0, 0, np.where(k > 0, last, first))
        return sums, gauge


@dataclass(frozen=True)
class Tree:
    """The accounts and layers of every entity, and which platforms it has."""

    account_ids: list[str]  # catalog order
    account_platform: np.ndarray  # index into PLATFORMS, per account
    account_layer: np.ndarray  # index into layer_ids, per account
    layer_ids: list[str]  # (org, project, layer) order
    account_rank: np.ndarray  # each account's place in id order, to sort groups by key
    layer_rank: np.ndarray
    post_account: np.ndarray  # account number of each post position
    accounts: dict[Key, tuple[int, int]]  # entity -> its accounts [lo, hi)
    layers: dict[Key, tuple[int, int]]  # project or organization -> its layers [lo, hi)
    rows: tuple[AccountRows, ...]  # per grain of the index, in the same order

    def platforms(self, key: Key) -> tuple[str, ...]:
        """The platforms of the entity's accounts (a post's own), in spec §2's order."""
        if key[0] == scopes.POST.name:
            return (scopes.parse_post_id(key[1])[0],)
        lo, hi = self.accounts.get(key, (0, 0))
        present = set(self.account_platform[lo:hi].tolist())
        return tuple(p for i, p in enumerate(PLATFORMS) if i in present)


def _ranges(frame: pl.DataFrame, column: str, scope: str) -> dict[Key, tuple[int, int]]:
    spans = frame.group_by(column).agg(pl.col("n").min().alias("lo"), pl.col("n").max())
    return {(scope, k): (lo, hi + 1) for k, lo, hi in spans.iter_rows()}


def _rank(ids: list[str]) -> np.ndarray:
    rank = np.empty(len(ids), dtype=np.int64)
    rank[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
    return rank


def _account_rows(grain: Grain, account_ids: list[str]) -> AccountRows:
    lo = np.zeros(len(account_ids), dtype=np.int64)
    size = np.zeros(len(account_ids), dtype=np.int64)
    for n, account in enumerate(account_ids):
        a, b = grain.ranges.get((scopes.ACCOUNT.name, account), (0, 0))
        lo[n], size[n] = a, b - a
    offset = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    owner = np.repeat(np.arange(len(account_ids), dtype=np.int64), size)
    rows = np.arange(int(size.sum()), dtype=np.int64) + np.repeat(lo - offset, size)
    keyed = (owner << _SHIFT) | grain.starts[rows]
    return AccountRows(lo, size, offset, keyed)


def load(
    entities: pl.DataFrame,
    accounts: pl.DataFrame,
    lineage: pl.DataFrame,
    grains: list[Grain],
) -> Tree:
    """Number the newest catalog's accounts and layers; key each grain's account rows."""
    accounts = accounts.sort("org_id", "project_id", "project_layer_id", "social_account_id")
    accounts = accounts.with_row_index("n").with_columns(pl.col("n").cast(pl.Int64))
    layers = (
        entities.filter(pl.col("kind") == "project_layer")
        .sort("org_id", "project_id", "id")
        .with_row_index("n")
        .with_columns(pl.col("n").cast(pl.Int64))
    )
    account_ids = accounts["social_account_id"].to_list()
    layer_n = dict(zip(layers["id"].to_list(), layers["n"].to_list(), strict=True))
    number = dict(zip(account_ids, accounts["n"].to_list(), strict=True))
    ranges: dict[Key, tuple[int, int]] = {}
    for scope in ("organization", "project", "project_layer", "social_account"):
        ranges |= _ranges(accounts, scopes.SCOPE[scope].id_column, scope)
    layer_ranges = _ranges(layers, "org_id", "organization") | _ranges(
        layers, "project_id", "project"
    )
    platform_n = {p: i for i, p in enumerate(PLATFORMS)}
    return Tree(
        account_ids=account_ids,
        account_platform=np.array(
            [platform_n[p] for p in accounts["platform"].to_list()], dtype=np.int64
        ),
        account_layer=np.array(
            [layer_n.get(x, -1) for x in accounts["project_layer_id"].to_list()], dtype=np.int64
        ),
        layer_ids=layers["id"].to_list(),
        account_rank=_rank(account_ids),
        layer_rank=_rank(layers["id"].to_list()),
        post_account=np.array(
            [number[a] for a in lineage.sort("position")["social_account_id"].to_list()],
            dtype=np.int64,
        ),
        accounts=ranges,
        layers=layer_ranges,
        rows=tuple(_account_rows(g, account_ids) for g in grains),
    )


@dataclass(frozen=True)
class Groups:
    """A breakdown before its values are named: one row per group, in key order."""

    keys: list[str]
    sums: np.ndarray  # (groups, len(ADDITIVE)) over the window
    ends: np.ndarray  # F(until) per group
    starts: np.ndarray  # F(since) per group
    post_count: np.ndarray


def _measure(index: Index, accounts: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """(P, F) at `t` of each account, from the coarsest grain with an edge at `t`."""
    for (grain, length, origin), rows in zip(index.grains, index.tree.rows, strict=True):
        if (t - origin) % length == 0:
            return rows.measure(grain, accounts, t)
    return np.zeros((len(accounts), len(ADDITIVE)), dtype=np.int64), np.zeros(
        len(accounts), dtype=np.int64
    )


def groups(index: Index, key: Key, group_by: str, since: int, until: int) -> Groups:
    """The scope's groups over [since, until): sums, F at both ends, and active posts."""
    tree = index.tree
    lo, hi = tree.accounts.get(key, (0, 0))
    accounts = np.arange(lo, hi, dtype=np.int64)
    if group_by == "social_account":
        keys = tree.account_ids[lo:hi]
        code = accounts - lo
        order = np.argsort(tree.account_rank[lo:hi])
    elif group_by == "project_layer":
        layer_lo, layer_hi = tree.layers.get(key, (0, 0))
        keys = tree.layer_ids[layer_lo:layer_hi]
        code = tree.account_layer[lo:hi] - layer_lo
        order = np.argsort(tree.layer_rank[layer_lo:layer_hi])
    else:
        present = np.unique(tree.account_platform[lo:hi])
        keys = [PLATFORMS[p] for p in present.tolist()]
        code = np.searchsorted(present, tree.account_platform[lo:hi])
        order = np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
    p_until, f_until = _measure(index, accounts, until)
    p_since, f_since = _measure(index, accounts, since)
    n = len(keys)
    sums = np.zeros((n, len(ADDITIVE)), dtype=np.int64)
    np.add.at(sums, code, p_until - p_since)
    ends = np.zeros(n, dtype=np.int64)
    starts = np.zeros(n, dtype=np.int64)
    np.add.at(ends, code, f_until)
    np.add.at(starts, code, f_since)
    first_post, active = index.activity.active(key, since, until)
    post_accounts = tree.post_account[first_post + np.flatnonzero(active)]
    account_code = np.zeros(len(tree.account_ids), dtype=np.int64)
    account_code[lo:hi] = code
    post_count = np.bincount(account_code[post_accounts], minlength=n)
    return Groups(
        keys=[keys[i] for i in order.tolist()],
        sums=sums[order],
        ends=ends[order],
        starts=starts[order],
        post_count=post_count[order],
    )
