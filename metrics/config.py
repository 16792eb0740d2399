"""Where the landing zone and the warehouse live: flags first, then environment, then defaults."""

from __future__ import annotations

import os
from pathlib import Path

RAW_ENV = "METRICS_RAW_DIR"
WAREHOUSE_ENV = "METRICS_WAREHOUSE_DIR"
DEFAULT_RAW = "data/raw"
DEFAULT_WAREHOUSE = "data/warehouse"


def raw_dir(flag: str | os.PathLike[str] | None = None) -> Path:
    return Path(flag or os.environ.get(RAW_ENV) or DEFAULT_RAW).resolve()


def warehouse_dir(flag: str | os.PathLike[str] | None = None) -> Path:
    return Path(flag or os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE).resolve()
