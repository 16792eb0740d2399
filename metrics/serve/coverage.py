"""What a body's numbers cover: which buckets lie after `as_of`, and which requested
metrics none of the scope's platforms reports.

Both are zeros in the series that mean "not known", not "nothing happened": a bucket that ends
after `as_of` (the newest observation loaded) may still grow when later exports land, and a
metric a platform never reports (spec §2's dashes) stays 0 forever. The contract fixes the
fields of series entries (`bucket`, the metrics, `partial`), so this is one top-level object
beside `as_of` rather than a flag per bucket:

    "coverage": {"buckets_after_as_of": 2, "first_bucket_after_as_of": "2026-04-17",
                 "unreported_metrics": ["reach"]}

The buckets after `as_of` are always the last ones of the series (buckets are in time order),
so `series[-buckets_after_as_of:]` are they. A bucket lies after `as_of` when its end, clipped
to the window, is after `as_of`: the bucket holding `as_of` counts, since its last hours are not
loaded. With `as_of` null (nothing loaded) every bucket does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np

from metrics.model.measures import POST_METRICS
from metrics.model.platforms import REPORTS


@lru_cache(maxsize=64)
def _instant(as_of: str) -> int:
    return int(datetime.fromisoformat(as_of).timestamp())


def unreported(platforms: Sequence[str], names: Sequence[str]) -> list[str]:
    """The requested post metrics that none of `platforms` reports (all of them for none)."""
    reported = set().union(*(REPORTS[p] for p in platforms))
    return [n for n in names if n in POST_METRICS and n not in reported]


def coverage(
    edges: np.ndarray,
    labels: list[str],
    as_of: str | None,
    platforms: Sequence[str],
    names: Sequence[str],
) -> dict[str, Any]:
    """The `coverage` object for a series with these bucket `edges` (clipped) and `labels`."""
    loaded = 0 if as_of is None else int(np.searchsorted(edges[1:], _instant(as_of), "right"))
    after = len(labels) - loaded
    return {
        "buckets_after_as_of": after,
        "first_bucket_after_as_of": labels[loaded] if after else None,
        "unreported_metrics": unreported(platforms, names),
    }
