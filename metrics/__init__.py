"""Social content metrics: landing exports -> warehouse -> the read function.

The public read API is `metrics.connect(warehouse).query(...)` (CONTRACT §5).
"""

from metrics.errors import NotFoundError, ValidationError
from metrics.query import Store, connect

__all__ = ["NotFoundError", "Store", "ValidationError", "connect"]
