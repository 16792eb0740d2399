"""One rollup table held in memory (a `Grain`) and the key of its rows' owners, `(scope, id)`.

Below both the index that loads the grains (`metrics.serve.index`) and the account tree that
keys their account rows (`metrics.serve.tree`), so neither imports the other for a type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Key = tuple[str, str]  # (scope, id)


@dataclass(frozen=True)
class Grain:
    """One rollup table: rows sorted by (scope, id, bucket_start)."""

    starts: np.ndarray  # bucket_start, epoch seconds
    cum: np.ndarray  # (rows + 1, len(ADDITIVE)) prefix sums
    followers: np.ndarray
    delta: np.ndarray
    ranges: dict[Key, tuple[int, int]]

    def prefix(self, key: Key, at: np.ndarray) -> np.ndarray:
        """Sums of everything before each instant of `at` (each on an edge of this grain)."""
        lo, hi = self.ranges.get(key, (0, 0))
        return self.cum[lo + np.searchsorted(self.starts[lo:hi], at)] - self.cum[lo]

    def gauge(self, key: Key, at: np.ndarray) -> np.ndarray:
        """F at each instant of `at` (each on an edge of this grain)."""
        lo, hi = self.ranges.get(key, (0, 0))
        if lo == hi:
            return np.zeros(len(at), dtype=np.int64)
        k = np.searchsorted(self.starts[lo:hi], at)
        before_first = self.followers[lo] - self.delta[lo]
        return np.where(k > 0, self.followers[lo + np.maximum(k - 1, 0)], before_first)
