"""Comparison with an earlier window (spec §7): `compare="previous_period" | "previous_year"`.

The previous window is resolved by `metrics.serve.window.resolve`, so it gets every rule of the
main one (the 90-day hour clamp, the bucket limit, the whole-hour check of `tz`). Lengths and
shifts are measured on the local clock of `tz`, as §5's "30 days" are: the previous period of
the local week 2026-03-09 .. 2026-03-16 in America/Los_Angeles is the local week before it, 167
hours long because it holds the DST change, not 168 hours that would start at 23:00 the day
before and cut a partial bucket. In UTC (and any zone without a change in between) that is
exactly the same length in seconds. `previous_year` moves both ends back 364 local days, so
weekdays line up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from metrics.serve import window as windows
from metrics.serve.errors import ValidationError

COMPARES: tuple[str, ...] = ("previous_period", "previous_year")
YEAR_DAYS = 364


def check(compare: str | None) -> str | None:
    """`compare` when it is one of COMPARES (or None); a 422 otherwise."""
    if compare is not None and compare not in COMPARES:
        raise ValidationError(f"Unknown compare: {compare}. Use {' or '.join(COMPARES)}.")
    return compare


def previous(window: windows.Window, compare: str) -> windows.Window:
    """The window to compare with, with the same granularity and `tz`."""
    start = datetime.fromtimestamp(window.since, window.zone)
    end = datetime.fromtimestamp(window.until, window.zone)
    wall_start, wall_end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    since: datetime
    if compare == "previous_period":
        since, until = wall_start - (wall_end - wall_start), start
    else:
        since, until = wall_start - timedelta(days=YEAR_DAYS), wall_end - timedelta(days=YEAR_DAYS)
    try:
        return windows.resolve(since, until, window.granularity, window.tz, None)
    except ValidationError as exc:
        raise ValidationError(f"The {compare} window: {exc.message}") from None


def change(current: dict[str, Any], before: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """abs = current − previous and pct = abs / previous (null when previous is 0), per metric."""
    out = {}
    for name, value in current.items():
        diff = value - before[name]
        out[name] = {"abs": diff, "pct": diff / before[name] if before[name] != 0 else None}
    return out
