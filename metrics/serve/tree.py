"""Every entity's accounts and layers, numbered for breakdowns and coverage (a `Tree`).

Accounts are numbered in catalog order (org, project, layer, account), and layers in
(org, project, layer) order, so an organization's, project's or layer's accounts and layers are
contiguous ranges. Measuring hundreds of accounts one by one would cost a `searchsorted` each
per grain; instead each grain keeps its account rows keyed as `account << 32 | bucket_start`,
sorted (`AccountRows`), so one vectorized `searchsorted` finds every account's prefix at an
instant.

Built by `metrics.serve.index` when it loads the warehouse; read by `metrics.serve.breakdown`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from metrics.model import scopes
from metrics.model.platforms import PLATFORMS
from metrics.serve.grain import Grain, Key

_SHIFT = 32  # bucket_start in epoch seconds stays below 2**32 until 2106


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
