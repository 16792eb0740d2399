"""Where the landing zone and the warehouse live: flags first, then environment, then defaults."""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path

from metrics.objects import RawRoot, is_object_uri, raw_root

RAW_ENV = "METRICS_RAW_DIR"
FIRST_LANDING_ENV = "METRICS_FIRST_LANDING_DATE"
WAREHOUSE_ENV = "METRICS_WAREHOUSE_DIR"
DEFAULT_RAW = "data/raw"
DEFAULT_WAREHOUSE = "data/warehouse"


def raw_dir(flag: str | os.PathLike[str] | None = None) -> RawRoot:
    """The landing zone: a local folder (resolved) or an `s3://bucket/prefix`
    (metrics/objects.py)."""
    return raw_root(flag or os.environ.get(RAW_ENV) or DEFAULT_RAW)


def warehouse_dir(flag: str | os.PathLike[str] | None = None) -> str:
    """The warehouse root: an absolute local path, or an `s3://bucket/prefix` URI kept as given
    (a `Path` would fold `s3://` into a local folder `s3:`). Every module that takes a warehouse
    accepts this string; metrics/warehouse/location.py turns it into a `Location`."""
    value = os.fspath(flag or os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE)
    if is_object_uri(value):
        return value.rstrip("/")
    return str(Path(value).resolve())


class ConfigError(ValueError):
    """A setting that cannot be used, with what was wrong and how to fix it."""


def configured_first_landing_date() -> date | None:
    """METRICS_FIRST_LANDING_DATE, when set: the first landing partition, overriding what
    metrics.ingest.layout.first_landing_date would find in the landing zone."""
    value = os.environ.get(FIRST_LANDING_ENV, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"{FIRST_LANDING_ENV}={value!r} is not a YYYY-MM-DD date; set it to the first "
            "landing date to partition, or unset it to start at the landing zone's first catalog."
        ) from None


def iso_date(text: str) -> date:
    """An argparse `type` for a date option, refusing in our words rather than Python's; shared
    by the CLI and the sample generator, which may not import each other."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2026-03-02"
        ) from None
