"""Platform adapters: each native response body -> column rows, per spec §2.

Each adapter reads only the fields the metric mapping names. A record that cannot be used is
rejected alone, through `Context.reject`, so its siblings in the same response are kept; a
response that cannot be used at all returns a `Reject` and the caller quarantines the line.

`protocol` is what the partition builder and the adapters agree on, `values` the exact parsing
they share, `rows` the row writers (and the post id), one module per platform holds its
endpoints, and `dispatch` maps (platform, endpoint) to them. This package re-exports what the
builder uses.
"""

from metrics.ingest.adapters.dispatch import HANDLERS
from metrics.ingest.adapters.protocol import (
    EPOCH_COLUMNS,
    FOLLOWER_COLUMNS,
    PERIOD_COLUMNS,
    POST_COLUMNS,
    RAW_TYPES,
    SIGHTING_COLUMNS,
    Columns,
    Context,
    Handler,
    Reject,
    Rows,
    Sink,
    new_rows,
)
from metrics.ingest.adapters.values import parse_timestamp

__all__ = [
    "EPOCH_COLUMNS",
    "FOLLOWER_COLUMNS",
    "HANDLERS",
    "PERIOD_COLUMNS",
    "POST_COLUMNS",
    "RAW_TYPES",
    "SIGHTING_COLUMNS",
    "Columns",
    "Context",
    "Handler",
    "Reject",
    "Rows",
    "Sink",
    "new_rows",
    "parse_timestamp",
]
