"""Social content metrics: landing exports -> warehouse -> the read function.

The public read API is `metrics.connect(warehouse).query(...)` (spec §5).

Its names load on first use: the Dagster definitions import `metrics.model` and friends, and
every code-location load (`make ui`, each run) would otherwise pay for the read side's imports.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metrics.serve.errors import NotFoundError, ValidationError
    from metrics.serve.query import Store, connect

_WHERE = {
    "NotFoundError": "metrics.serve.errors",
    "ValidationError": "metrics.serve.errors",
    "Store": "metrics.serve.query",
    "connect": "metrics.serve.query",
}
__all__ = ["NotFoundError", "Store", "ValidationError", "connect"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'metrics' has no attribute {name!r}")
