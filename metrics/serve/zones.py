"""UTC offsets of IANA zones as arrays, for bucketing whole windows at once.

`zoneinfo` answers one instant at a time, which is too slow for labelling thousands of hours
or for checking that a zone stays on whole hours across a whole window. So each (zone, UTC
year) is sampled once, its offset changes located to the second by bisection, and the result
cached; a window then needs one `searchsorted` per question. Offsets that last less than
`_STEP` (six hours) between two samples could be missed; no zone has ever had one.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np

from metrics.serve.errors import ValidationError

_STEP = 6 * 3600


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    # `localtime` names the server's own zone: an answer must not depend on where it runs.
    return frozenset(zoneinfo.available_timezones() - {"localtime"})


def resolve(name: str) -> zoneinfo.ZoneInfo:
    """The zone called `name`, or a 422 for anything that is not an IANA zone name."""
    if not isinstance(name, str) or name not in _names():
        raise ValidationError(f"Unknown time zone: {name}.")
    return zoneinfo.ZoneInfo(name)


def _offset(zone: zoneinfo.ZoneInfo, t: int) -> int:
    off = datetime.fromtimestamp(t, zone).utcoffset()
    assert off is not None
    return int(off.total_seconds())


def _year_start(year: int) -> int:
    return int(datetime(year, 1, 1, tzinfo=UTC).timestamp())


def _year(t: int) -> int:
    return datetime.fromtimestamp(t, UTC).year


@lru_cache(maxsize=8192)
def _year_table(key: str, year: int) -> tuple[np.ndarray, np.ndarray]:
    """(instants, offsets) for one UTC year: offsets[i] holds from instants[i] on."""
    zone = zoneinfo.ZoneInfo(key)
    start, end = _year_start(year), _year_start(year + 1)
    instants, offsets = [start], [_offset(zone, start)]
    prev_t, prev_o = start, offsets[0]
    for t in range(start + _STEP, end + 1, _STEP):
        o = _offset(zone, t)
        if o != prev_o:
            lo, hi = prev_t, t
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if _offset(zone, mid) == prev_o else (lo, mid)
            if hi < end:
                instants.append(hi)
                offsets.append(o)
        prev_t, prev_o = t, o
    return np.array(instants, dtype=np.int64), np.array(offsets, dtype=np.int64)


def offset_table(zone: zoneinfo.ZoneInfo, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    """The offset table (transition instants, offsets) covering the instants `first` … `last`
    (inclusive), from the zone's own transitions, so a long window costs its transitions, not
    its days."""
    parts = [_year_table(zone.key, y) for y in range(_year(first), _year(last) + 1)]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def offsets_at(zone: zoneinfo.ZoneInfo, instants: np.ndarray) -> np.ndarray:
    """The UTC offset in seconds at each instant (epoch seconds, sorted ascending)."""
    table_t, table_o = offset_table(zone, int(instants[0]), int(instants[-1]))
    return table_o[np.searchsorted(table_t, instants, side="right") - 1]


def offsets_between(zone: zoneinfo.ZoneInfo, start: int, end: int) -> np.ndarray:
    """Every offset the zone uses at some instant of [start, end)."""
    table_t, table_o = offset_table(zone, start, end - 1)
    i0, i1 = np.searchsorted(table_t, [start, end - 1], side="right") - 1
    return table_o[i0 : i1 + 1]
