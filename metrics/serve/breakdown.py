"""Breakdowns (spec §7): a scope's totals split by platform, project layer or social account.

Every group is a set of the scope's accounts (a platform's, a layer's, or one account), and an
account's sums and followers are in the rollups already. So a breakdown measures all of the
scope's accounts at `since` and `until` at once and adds them up per group; the groups' additive
metrics then sum to the totals exactly, since the scope's own rollup rows are the sums of the
same accounts' rows.

The accounts are measured together through the index's account tree (`metrics.serve.tree`:
every entity's accounts and layers as contiguous ranges, each grain's account rows keyed for one
vectorized search). `post_count` per group comes from the scope's active posts
(`Activity.active`), each post carrying the number of its account.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metrics.model import scopes
from metrics.model.measures import ADDITIVE
from metrics.model.platforms import PLATFORMS
from metrics.serve.errors import ValidationError
from metrics.serve.grain import Key
from metrics.serve.index import Index

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
