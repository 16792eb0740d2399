"""Where the landing zone and the warehouse live: flags first, then environment, then defaults."""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path

from metrics.objects import RawRoot, raw_root

RAW_ENV = "METRICS_RAW_DIR"
FIRST_LANDING_ENV = "METRICS_FIRST_LANDING_DATE"
DEFAULT_FIRST_LANDING = "2026-01-01"
WAREHOUSE_ENV = "METRICS_WAREHOUSE_DIR"
DEFAULT_RAW = "data/raw"
DEFAULT_WAREHOUSE = "data/warehouse"


def raw_dir(flag: str | os.PathLike[str] | None = None) -> RawRoot:
    """The landing zone: a local folder (resolved) or an `s3://bucket/prefix`
    (metrics/objects.py)."""
    return raw_root(flag or os.environ.get(RAW_ENV) or DEFAULT_RAW)


def warehouse_dir(flag: str | os.PathLike[str] | None = None) -> Path:
    return Path(flag or os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE).resolve()


class ConfigError(ValueError):
    """A setting that cannot be used, with what was wrong and how to fix it."""


def first_landing_date() -> date:
    """The first landing partition: Dagster's partitions start here, and a landing-zone folder
    dated earlier is quarantined with the fix (lower this) rather than silently skipped."""
    value = os.environ.get(FIRST_LANDING_ENV) or DEFAULT_FIRST_LANDING
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"{FIRST_LANDING_ENV}={value!r} is not a YYYY-MM-DD date; "
            f"set it to the first landing date to partition (default {DEFAULT_FIRST_LANDING})."
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
