"""Per-post window sums for ranking posts (top performers, spec §7).

Ranking a project's posts over a window needs every post's sums over that window at once, in
about a millisecond. Posts are numbered by catalog position, as `index.Activity` numbers them,
so a scope's posts are one contiguous range of positions, and the arrays here are indexed by
that position: each post's sums over all its hours (`totals`), platform, publication time and
the rank of its id.

A post whose active hours all lie inside the window (the common case: a window ending now
holds every post's latest hours) has its `totals` as its window sums: no lookup at all. Only a
post active before `since` or from `until` on needs its sums before that edge, which the hour
rollup already holds as prefix sums (`Grain.cum`, rows sorted by (post id, hour), each post's
rows one run from `first_row` to `end_row`): a binary search inside each such post's run,
vectorized over all of them, finds the row where the edge falls, and the sums before it are
`cum[found] - cum[first_row]`; a prefix count of the rows with a non-zero post metric
(`moving`) tells, from the same two rows, whether the post moved inside the window at all.
The cost is one int32 per hour-rollup row and a few arrays per post, beside the prefix sums the
rollup holds anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from metrics.model.measures import ADDITIVE, POST_METRICS
from metrics.model.platforms import PLATFORMS
from metrics.model.scopes import POST

_HOUR = 3600
NO_TIME = np.iinfo(np.int64).min  # published_at unknown


@dataclass(frozen=True)
class Ranking:
    """What ranking needs per post position, and each post's run of hour-rollup rows."""

    starts: np.ndarray  # the hour rollup's bucket starts (epoch seconds), by (scope, id, hour)
    cum: np.ndarray  # the hour rollup's prefix sums (rows + 1, ADDITIVE)
    moving: np.ndarray  # prefix counts of its rows with a non-zero post metric (rows + 1)
    first_row: np.ndarray  # per position: the post's first row in the hour rollup
    end_row: np.ndarray  # per position: one past its last row (= first_row without rows)
    totals: np.ndarray  # per position: the sums over all of the post's rows (ADDITIVE)
    platform: np.ndarray  # per position: index into PLATFORMS
    published: np.ndarray  # per position: published_at in epoch seconds, or NO_TIME
    id_rank: np.ndarray  # per position: rank of platform_post_id in ascending id order
    post_ids: list[str]
    accounts: list[str]
    layers: list[str]

    def window(
        self, positions: np.ndarray, since: int, until: int, first: np.ndarray, last: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(moved, sums) of those posts over [since, until) (whole hours): whether each has a
        non-zero increment there, and its (len(positions), ADDITIVE) sums. `first`/`last` are
        their first and last active hours (`index.Activity`), each post touching the window."""
        sums = self.totals[positions]
        moved = np.ones(len(positions), dtype=bool)
        cut = np.flatnonzero((first < since // _HOUR) | (last >= until // _HOUR))
        if len(cut):
            cut_posts = positions[cut]
            start, end = self._find(cut_posts, since), self._find(cut_posts, until)
            sums[cut] = np.take(self.cum, end, axis=0) - np.take(self.cum, start, axis=0)
            moved[cut] = self.moving[end] > self.moving[start]
        return moved, sums

    def _find(self, positions: np.ndarray, t: int) -> np.ndarray:
        """Each post's first row at or after instant `t` (its `end_row` if none).

        A binary search inside each post's own run of rows, all posts at once: a post holds at
        most a few thousand hour rows, so a dozen vectorized halvings find every boundary, each
        touching rows near the previous ones (one search over all rows would cost a cache miss
        per step and per post).
        """
        lo, hi = self.first_row[positions], self.end_row[positions]
        last = len(self.starts) - 1
        while (open_ := lo < hi).any():
            mid = (lo + hi) >> 1
            right = open_ & (self.starts[np.minimum(mid, last)] < t)
            lo = np.where(right, mid + 1, lo)
            hi = np.where(open_ & ~right, mid, hi)
        return lo


def build(
    lineage: pl.DataFrame,
    starts: np.ndarray | None,
    cum: np.ndarray | None,
    ranges: Mapping[tuple[str, str], tuple[int, int]],
) -> Ranking:
    """The ranking arrays for the posts of `lineage` (catalog order, with `platform`,
    `published_at`), over the hour rollup's `starts`, `cum` and (scope, id) row `ranges`."""
    if starts is None or cum is None:
        starts = np.zeros(0, dtype=np.int64)
        cum = np.zeros((1, len(ADDITIVE)), dtype=np.int64)
    moves = np.zeros(len(cum) - 1, dtype=bool)
    for column in range(len(POST_METRICS)):  # one column at a time: the rows are millions
        moves |= np.diff(cum[:, column]) != 0
    moving = np.zeros(len(cum), dtype=np.int32)
    np.cumsum(moves, out=moving[1:])
    ids = lineage["platform_post_id"].to_list()
    spans_of = np.array([ranges.get((POST.name, i), (0, 0)) for i in ids], dtype=np.int64)
    spans_of = spans_of.reshape(len(ids), 2)
    totals = np.take(cum, spans_of[:, 1], axis=0) - np.take(cum, spans_of[:, 0], axis=0)
    published = lineage["published_at"].dt.epoch("s").fill_null(NO_TIME).to_numpy().astype(np.int64)
    codes = {p: i for i, p in enumerate(PLATFORMS)}
    id_rank = np.empty(len(ids), dtype=np.int64)
    id_rank[np.argsort(np.array(ids, dtype=object), kind="stable")] = np.arange(len(ids))
    return Ranking(
        starts=starts,
        cum=cum,
        moving=moving,
        first_row=spans_of[:, 0],
        end_row=spans_of[:, 1],
        totals=totals,
        platform=np.array([codes.get(p, -1) for p in lineage["platform"].to_list()], dtype=np.int8),
        published=published,
        id_rank=id_rank,
        post_ids=ids,
        accounts=lineage["social_account_id"].to_list(),
        layers=lineage["project_layer_id"].to_list(),
    )
