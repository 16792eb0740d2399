"""The one partitioning of every asset: the landing date (the UTC day a file arrived).

Rollup buckets are not Dagster partitions: a late file changes buckets far back, so the unit
of work is "what landed on day D", and each asset rewrites the bucket files that D touched.
`end_offset=1` makes today's partition exist, so the sensor can ingest files as they land.
"""

from __future__ import annotations

import dagster as dg

from metrics import config

FIRST_LANDING_DATE = config.first_landing_date().isoformat()

landing_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_LANDING_DATE, timezone="UTC", end_offset=1
)
