"""Exact value parsing shared by every platform: counts, int64 range, timestamps, ids.

Values are parsed exactly: integers stay Python ints (snowflake ids never meet a float), numeric
strings are accepted, and a missing or null metric stays None, meaning "unknown", never zero.
A value that no BIGINT column can hold is rejected as `integer_out_of_range` here, before polars
would turn it into a null (spec §2: never a null).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, cast

from metrics.ingest.adapters.protocol import Reject
from metrics.model.measures import POST_METRICS

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
# Epoch seconds that a timestamp can hold (years 1-9999, as Python's datetime and every reader).
EPOCH_MIN = int(datetime(1, 1, 1, tzinfo=UTC).timestamp())
EPOCH_MAX = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


class Bad:
    """Marks a value that is present but not a usable number, with the reason to quarantine."""

    def __init__(self, reason: str, says: str) -> None:
        self.reason = reason
        self.says = says

    def __repr__(self) -> str:
        return f"<{self.reason}>"

    def reject(self, what: str, value: object) -> Reject:
        shown = "(a derived value)" if isinstance(value, Bad) else repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return Reject(self.reason, f"{what} {shown} {self.says}")


BAD = Bad("non_numeric", "is not a number")
OUT_OF_RANGE = Bad("integer_out_of_range", "is outside the signed 64-bit range")


def _in_range(value: int) -> int | Bad:
    return value if INT64_MIN <= value <= INT64_MAX else OUT_OF_RANGE


@lru_cache(maxsize=65536)
def parse_timestamp(text: str) -> int | Reject:
    """ISO-8601 with `Z` or an offset (also `+0000`) -> epoch seconds, truncated to the second."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return Reject("invalid_envelope", f"{text!r} is not an ISO-8601 timestamp")
    if parsed.tzinfo is None:
        return Reject("timestamp_without_zone", f"{text!r} has no UTC offset or Z")
    try:
        return int(parsed.astimezone(UTC).timestamp() // 1)
    except OverflowError:
        return Reject("timestamp_out_of_range", f"{text!r} is outside the years 1-9999 in UTC")


def epoch_seconds(value: object, what: str) -> int | Reject | None:
    """Epoch seconds (int or numeric string) that a timestamp column can hold; None if absent."""
    seconds = count(value)
    if isinstance(seconds, Bad):
        return seconds.reject(what, value)
    if seconds is not None and not EPOCH_MIN <= seconds <= EPOCH_MAX:
        return Reject("timestamp_out_of_range", f"{what} {seconds} is outside the years 1-9999")
    return seconds


def published(record: dict[str, Any], key: str) -> int | Reject | None:
    """A record's optional ISO-8601 publication time; a bad one rejects the record, not the line."""
    return published_value(record.get(key), key)


def published_value(raw: object, key: str) -> int | Reject | None:
    """`published` for a value already taken from its record (a typed body's field)."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        return Reject("invalid_record", f"{key} must be an ISO-8601 string")
    parsed = parse_timestamp(raw)
    if isinstance(parsed, Reject):
        reason = "invalid_record" if parsed.reason == "invalid_envelope" else parsed.reason
        return Reject(reason, f"{key}: {parsed.detail}")
    return parsed


def count(value: object) -> int | Bad | None:
    """A whole number in the signed 64-bit range from a JSON number or numeric string; None when
    absent, OUT_OF_RANGE beyond int64 (`9223372036854775808`, `1e20`, a 30-digit string)."""
    # `type(value) is …` rather than isinstance: exact types, and bool (an int subclass) is not
    # a count; mypy narrows these checks as it does isinstance.
    if type(value) is int:
        return _in_range(value)
    if value is None:
        return None
    if type(value) is str:
        try:
            return _in_range(int(value))
        except ValueError:
            return _integral(_decimal(value))
    if type(value) is float:
        if not value.is_integer():
            return BAD
        # orjson hands integers beyond 64 bits over as floats; a float at ±2**63 or beyond
        # cannot be told from one of those, so it is out of range too.
        return int(value) if -(2.0**63) < value < 2.0**63 else OUT_OF_RANGE
    if isinstance(value, Bad):
        return value
    return BAD


def scaled(value: object, factor: int) -> int | Bad | None:
    """A possibly fractional quantity times `factor`, rounded half-to-even to a whole number."""
    if type(value) is int:
        return _in_range(value * factor)
    if value is None:
        return None
    if type(value) is float:
        product = value * factor
        if not -(2.0**63) < product < 2.0**63:
            return OUT_OF_RANGE
        nearest = round(product)
        if abs(product - nearest) < 1e-6:
            # Clearly integral (the usual 3-decimal seconds): no tie to break, no Decimal needed.
            return int(nearest)
    if type(value) is float or type(value) is str:
        dec = _decimal(value)
        if dec is None:
            return BAD
        if dec and dec.adjusted() > 19:
            return OUT_OF_RANGE  # checked before int(): `1e999999999` must not become an int
        return _in_range(int((dec * factor).to_integral_value(rounding=ROUND_HALF_EVEN)))
    return BAD


def _decimal(value: object) -> Decimal | None:
    try:
        dec = Decimal(repr(value) if type(value) is float else str(value).strip())
    except InvalidOperation:
        return None
    return dec if dec.is_finite() else None


def _integral(dec: Decimal | None) -> int | Bad:
    if dec is None or dec != dec.to_integral_value():
        return BAD
    if dec and dec.adjusted() > 18:
        return OUT_OF_RANGE  # checked before int(): `1e999999999` must not become an int
    return _in_range(int(dec))


def native_id(value: object) -> str | None:
    """Ids stay strings; a JSON integer id is exact in Python, so str() of it is safe."""
    if type(value) is str and value:
        return value
    if type(value) is int:
        return str(value)
    return None


def counts(values: tuple[object, ...], lifetime: bool) -> tuple[int | None, ...] | Reject:
    """Validate the 8 metric values (POST_METRICS order) in one pass; ints take the fast path."""
    fixed: list[object] | None = None
    for i, value in enumerate(values):
        if type(value) is int:
            if not INT64_MIN <= value <= INT64_MAX:
                return OUT_OF_RANGE.reject(POST_METRICS[i], value)
            if lifetime and value < 0:
                return Reject(
                    "negative_counter", f"lifetime {POST_METRICS[i]} is negative ({value})"
                )
            continue
        if value is None:
            continue
        parsed = count(value)
        if isinstance(parsed, Bad):
            return parsed.reject(POST_METRICS[i], value)
        if lifetime and parsed is not None and parsed < 0:
            return Reject("negative_counter", f"lifetime {POST_METRICS[i]} is negative ({parsed})")
        fixed = fixed or list(values)
        fixed[i] = parsed
    # Every entry is now an int or None: ints were checked above, the rest replaced by `count`.
    return cast(tuple[int | None, ...], tuple(fixed) if fixed is not None else values)
