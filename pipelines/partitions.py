"""The one partitioning of every asset: the landing date (the UTC day a file arrived).

Rollup buckets are not Dagster partitions: a late file changes buckets far back, so the unit
of work is "what landed on day D", and each asset rewrites the bucket files that D touched.
`end_offset=1` makes today's partition exist, so the sensor can ingest files as they land.
"""

from __future__ import annotations

import os

import dagster as dg

FIRST_LANDING_DATE = os.environ.get("METRICS_FIRST_LANDING_DATE", "2026-01-01")

landing_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_LANDING_DATE, timezone="UTC", end_offset=1
)
