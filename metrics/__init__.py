"""Social content metrics: landing exports -> warehouse -> the read function.

The public read API is `metrics.connect(warehouse).query(...)` (spec §5).
"""

from metrics.serve.errors import NotFoundError, ValidationError
from metrics.serve.query import Store, connect

__all__ = ["NotFoundError", "Store", "ValidationError", "connect"]
