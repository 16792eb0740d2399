"""The one partitioning of every asset: the landing date (the UTC day a file arrived).

Rollup buckets are not Dagster partitions: a late file changes buckets far back, so the unit
of work is "what landed on day D", and each asset rewrites the bucket files that D touched.
`end_offset=1` makes today's partition exist, so the sensor can ingest files as they land.

The partitions start at FIRST_LANDING_DATE, found in the landing zone once, when the code
location loads (metrics/ingest/layout.py `first_landing_date`: METRICS_FIRST_LANDING_DATE, else
the oldest catalog snapshot, else yesterday), so the UI starts where the data starts. Every
asset passes this same value to the landing-zone walks of its run, so a folder the UI has no
partition for is quarantined as `before_first_landing_date`, never silently skipped. A folder
dated earlier that lands later shows up after the next load (the CLI loads afresh for every
run; in the UI, reload the code location).
"""

from __future__ import annotations

import dagster as dg

from metrics import config
from metrics.ingest import layout

FIRST_LANDING_DATE = layout.first_landing_date(config.raw_dir())

landing_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_LANDING_DATE.isoformat(), timezone="UTC", end_offset=1
)
