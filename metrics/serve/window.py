"""The effective window of a query and the buckets that cover it (spec §5).

Everything here works in integer epoch seconds: bucket edges become array indices into the
rollups, and integers cannot drift. Calendar questions (what is local midnight, what is
"30 days before") are answered by `zoneinfo`, the zone's own rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from metrics.model.scopes import GRANULARITIES as GRANULARITIES  # re-exported
from metrics.serve import zones
from metrics.serve.errors import ValidationError

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
EPOCH_MONDAY = 4 * DAY  # 1970-01-05 00:00Z, the first Monday after the epoch
DEFAULT_DAYS = 30
HOUR_CLAMP_DAYS = 90
# spec §5: a longer series is a 422, so that one request never holds the server for long
# (a 1970-2099 day series was 47k buckets, 9.5 MB and over a second of one worker's time).
MAX_BUCKETS = 5_000
# Before social media, and far enough ahead for any dashboard; keeps calendar math in range.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)

Instant = str | datetime | date


@dataclass(frozen=True)
class Window:
    """[since, until) in epoch seconds, both on whole UTC hours."""

    since: int
    until: int
    granularity: str | None  # None: a window without buckets (top performers)
    tz: str
    zone: ZoneInfo

    def echo(self) -> dict[str, str]:
        out = {"since": iso_z(self.since), "until": iso_z(self.until)}
        if self.granularity is not None:
            out["granularity"] = self.granularity
        if self.tz != "UTC":
            out["tz"] = self.tz
        return out


@dataclass(frozen=True)
class Buckets:
    """`edges` are the bucket ends clipped to the window: len(labels) + 1 values."""

    edges: np.ndarray
    labels: list[str]
    partial_first: bool
    partial_last: bool


def iso_z(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: Instant, zone: ZoneInfo, field: str) -> datetime:
    """An aware UTC datetime; a date is local midnight and a naive time is local, in `zone`."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(
                f"Unparsable {field}: {value!r}. Use ISO-8601, "
                "e.g. 2026-04-01 or 2026-04-01T00:00:00Z."
            ) from None
    else:
        raise ValidationError(f"Unparsable {field}: expected an ISO-8601 string or a datetime.")
    if dt.utcoffset() is None:
        dt = dt.replace(tzinfo=zone)
    try:
        return dt.astimezone(UTC)
    except OverflowError:
        raise ValidationError(f"{field} must be between 1970-01-01 and 2100-01-01.") from None


def _in_range(t: datetime, field: str) -> datetime:
    if not _EARLIEST <= t < _LATEST:
        raise ValidationError(f"{field} must be between 1970-01-01 and 2100-01-01.")
    return t


def _days_before(t: datetime, zone: ZoneInfo, days: int) -> datetime:
    """`days` local calendar days before `t`: the same wall time, so local days stay whole."""
    return (t.astimezone(zone) - timedelta(days=days)).astimezone(UTC)


def _floor(t: datetime) -> int:
    return (t - _EARLIEST) // timedelta(hours=1) * HOUR


def resolve(
    since: Instant | None,
    until: Instant | None,
    granularity: str | None,
    tz: str,
    now: Instant | None,
) -> Window:
    """Apply the defaults, flooring, the hour clamp and the checks of spec §5 Window.

    `granularity` is one of GRANULARITIES (the caller has checked it), or None for a window
    that is not cut into buckets (top performers): no hour clamp and no bucket limit then.
    """
    zone = zones.resolve(tz)
    if until is not None:
        until_dt = _parse(until, zone, "until")
    else:
        until_dt = _parse(now, zone, "now") if now is not None else datetime.now(UTC)
    until_dt = _in_range(until_dt, "until")
    if since is not None:
        since_dt = _parse(since, zone, "since")
    else:
        since_dt = _days_before(until_dt, zone, DEFAULT_DAYS)
    since_dt = _in_range(since_dt, "since")
    start, end = _floor(since_dt), _floor(until_dt)
    if start >= end:
        raise ValidationError("since must be before until (both are floored to the hour).")
    if granularity == "hour":
        earliest = _days_before(_EARLIEST + timedelta(seconds=end), zone, HOUR_CLAMP_DAYS)
        start = max(start, _floor(earliest))
    if granularity is not None:
        _check_bucket_count(start, end, granularity, zone)
    if np.any(zones.offsets_between(zone, start, end) % HOUR):
        raise ValidationError(
            f"Time zone {tz} is not a whole number of hours from UTC within the window; "
            "hourly data cannot be cut finer."
        )
    return Window(start, end, granularity, tz, zone)


def bucket_count(start: int, end: int, granularity: str, zone: ZoneInfo) -> int:
    """How many buckets overlap [start, end), partial edges included, without building them.

    Two local dates and a subtraction: local days partition time (a DST day is 23 or 25 hours
    but still one bucket), so the buckets run from the one holding `start` to the one holding
    the window's last second. It agrees with `len(buckets(...).labels)` for every window.
    """
    if granularity == "hour":
        return (end - start) // HOUR
    first = datetime.fromtimestamp(start, zone).date()
    last = datetime.fromtimestamp(end - 1, zone).date()
    if granularity == "day":
        return (last - first).days + 1
    first -= timedelta(days=first.weekday())
    last -= timedelta(days=last.weekday())
    return (last - first).days // 7 + 1


_NARROWER = {
    "hour": "or use granularity=day",
    "day": f"to at most {MAX_BUCKETS:,} days (about 13 years), or use granularity=week "
    "(not for platform_post)",
    "week": f"to at most {MAX_BUCKETS:,} weeks (about 95 years)",
}


def _check_bucket_count(start: int, end: int, granularity: str, zone: ZoneInfo) -> None:
    """422 before any bucket is built or any data is read when the series would be too long."""
    n = bucket_count(start, end, granularity, zone)
    if n > MAX_BUCKETS:
        raise ValidationError(
            f"The window holds {n:,} {granularity} buckets; the limit is {MAX_BUCKETS:,}. "
            f"Narrow since/until {_NARROWER[granularity]}."
        )


def buckets(window: Window) -> Buckets:
    """Every bucket overlapping the window, in order, with its label."""
    start, end = window.since, window.until
    if window.granularity == "hour":
        edges = np.arange(start, end + 1, HOUR, dtype=np.int64)
        return Buckets(edges, _hour_labels(edges[:-1], window), False, False)
    step = 1 if window.granularity == "day" else 7
    outer, labels = _local_days(window.zone, start, end, step)
    return Buckets(np.clip(outer, start, end), labels, outer[0] < start, outer[-1] > end)


def _hour_labels(starts: np.ndarray, window: Window) -> list[str]:
    if window.tz == "UTC":
        return [f"{s}Z" for s in np.datetime_as_string(starts.astype("datetime64[s]"))]
    offsets = zones.offsets_at(window.zone, starts)
    text = np.datetime_as_string((starts + offsets).astype("datetime64[s]"))
    return [f"{s}{_offset_text(int(o))}" for s, o in zip(text, offsets, strict=True)]


def _offset_text(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _local_days(zone: ZoneInfo, start: int, end: int, step: int) -> tuple[np.ndarray, list[str]]:
    """Edges (UTC seconds, unclipped) and labels of the local days or weeks covering [start, end).

    A zone that keeps one offset around the window (UTC always, most zones most of the year) is
    plain arithmetic; across a DST change each local midnight is found in the zone's offset
    table (`_local_midnights`), still without a Python loop, so a 5,000-day series in a DST
    zone costs about what it costs in UTC.
    """
    offsets = zones.offsets_between(zone, start - WEEK, end + WEEK)
    if len(set(offsets.tolist())) == 1:
        off = int(offsets[0])
        first = (start + off) // DAY
        if step == 7:
            first -= (first - EPOCH_MONDAY // DAY) % 7
        days = np.arange(first, (end + off - 1) // DAY + step + 1, step, dtype=np.int64)
        days = days[: np.searchsorted(days * DAY - off, end) + 1]
        labels = np.datetime_as_string(days[:-1].astype("datetime64[D]")).tolist()
        return days * DAY - off, labels
    first_day = datetime.fromtimestamp(start, zone).date()
    last_day = datetime.fromtimestamp(end - 1, zone).date()
    if step == 7:
        first_day -= timedelta(days=first_day.weekday())
        last_day -= timedelta(days=last_day.weekday())
    epoch = date(1970, 1, 1)
    days = np.arange(
        (first_day - epoch).days, (last_day - epoch).days + step + 1, step, dtype=np.int64
    )
    labels = np.datetime_as_string(days[:-1].astype("datetime64[D]")).tolist()
    return _local_midnights(zone, days * DAY, start, end), labels


def _local_midnights(zone: ZoneInfo, walls: np.ndarray, start: int, end: int) -> np.ndarray:
    """The UTC instant of each local wall time (seconds since 1970 on the local clock).

    It is what `datetime.combine(day, time(), zone).timestamp()` answers (fold=0), but for a
    whole array: a transition from offset a to b at UTC instant T takes effect, on the wall
    clock, at T + max(a, b). So a wall time in a DST gap gets the offset from before the gap
    (its instant is the gap's end), and one repeated by a fall-back its first occurrence.
    """
    # The zone's cached (transition instant, offset) table; zones.offsets_at answers UTC
    # instants only, and a wall time needs the table itself.
    instants, offsets = zones.offset_table(zone, start - WEEK, end + WEEK)
    before = np.concatenate([offsets[:1], offsets[:-1]])
    takes_effect = instants + np.maximum(before, offsets)
    found = np.searchsorted(takes_effect, walls, side="right") - 1
    return walls - offsets[np.maximum(found, 0)]
