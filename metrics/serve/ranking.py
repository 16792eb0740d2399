"""Per-post window sums for ranking posts (top performers, spec §7), two lookups per post.

Ranking a project's posts over a window needs every post's sums over that window at once. The
hour rollup already holds each post's hourly rows, sorted by (post id, hour), with prefix sums
of every additive column (`Grain.cum`); what it lacks is a way to find, for many posts in one
call, where their rows before `since` and before `until` end. So each of those rows gets a key
`first << 21 | hour`, where `first` is the global row of its post's first row: the keys are
sorted (posts are contiguous and each post's hours ascend), and one vectorized `searchsorted`
of `first << 21 | since_hour` and `first << 21 | until_hour` gives both ends for every post, so
a window sum is `cum[end] - cum[start]`. The cost is one int64 key per post-hour row, beside
the prefix sums the rollup holds anyway.

Posts are numbered by catalog position, as `index.Activity` numbers them, so a scope's posts
are one contiguous range of positions; the per-position arrays here (first row, platform,
publication time, rank of the id) are indexed by that position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from metrics.model.platforms import PLATFORMS
from metrics.model.scopes import POST

_HOUR = 3600
_HOUR_BITS = 21  # hours since 1970 stay below 2**21 until 2209
NO_TIME = np.iinfo(np.int64).min  # published_at unknown


@dataclass(frozen=True)
class Ranking:
    """What ranking needs per post position, and the key into the hour rollup's prefix sums."""

    keys: np.ndarray  # per post-hour row of the hour rollup: first row of its post << 21 | hour
    offset: int  # global row of keys[0] in the hour rollup
    cum: np.ndarray  # the hour rollup's prefix sums (rows + 1, ADDITIVE)
    first_row: np.ndarray  # per position: the post's first global row; -1 without rows
    platform: np.ndarray  # per position: index into PLATFORMS
    published: np.ndarray  # per position: published_at in epoch seconds, or NO_TIME
    id_rank: np.ndarray  # per position: rank of platform_post_id in ascending id order
    post_ids: list[str]
    accounts: list[str]
    layers: list[str]

    def sums(self, positions: np.ndarray, since: int, until: int) -> np.ndarray:
        """(len(positions), ADDITIVE) sums over [since, until) (whole hours) of those posts."""
        base = self.first_row[positions] << _HOUR_BITS
        needles = np.concatenate([base | since // _HOUR, base | until // _HOUR])
        start, end = np.split(np.searchsorted(self.keys, needles), 2)
        return self.cum[self.offset + end] - self.cum[self.offset + start]


def build(
    lineage: pl.DataFrame,
    starts: np.ndarray | None,
    cum: np.ndarray | None,
    ranges: Mapping[tuple[str, str], tuple[int, int]],
) -> Ranking:
    """The ranking arrays for the posts of `lineage` (catalog order, with `platform`,
    `published_at`), over the hour rollup's `starts`, `cum` and (scope, id) row `ranges`."""
    spans = sorted(v for (scope, _), v in ranges.items() if scope == POST.name)
    if spans and starts is not None and cum is not None:
        lo = np.array([s[0] for s in spans], dtype=np.int64)
        hi = np.array([s[1] for s in spans], dtype=np.int64)
        offset = int(lo[0])
        owner = np.repeat(lo, hi - lo)
        keys = (owner << _HOUR_BITS) | (starts[offset : int(hi[-1])] // _HOUR)
    else:
        offset, keys = 0, np.zeros(0, dtype=np.int64)
        cum = np.zeros((1, 1), dtype=np.int64)
    ids = lineage["platform_post_id"].to_list()
    first = np.array([ranges.get((POST.name, i), (-1, -1))[0] for i in ids], dtype=np.int64)
    published = lineage["published_at"].dt.epoch("s").fill_null(NO_TIME).to_numpy().astype(np.int64)
    codes = {p: i for i, p in enumerate(PLATFORMS)}
    id_rank = np.empty(len(ids), dtype=np.int64)
    id_rank[np.argsort(np.array(ids, dtype=object), kind="stable")] = np.arange(len(ids))
    return Ranking(
        keys=keys,
        offset=offset,
        cum=cum,
        first_row=first,
        platform=np.array([codes.get(p, -1) for p in lineage["platform"].to_list()], dtype=np.int8),
        published=published,
        id_rank=id_rank,
        post_ids=ids,
        accounts=lineage["social_account_id"].to_list(),
        layers=lineage["project_layer_id"].to_list(),
    )
