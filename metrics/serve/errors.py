"""The two errors the read function raises (spec §5).

They carry the HTTP status and the exact response body, so the HTTP layer and the CLI print
what the library raised instead of re-deriving a status from an exception type.
"""

from __future__ import annotations

from typing import Any


class QueryError(Exception):
    """A refused query: `.status` is the HTTP status, `.body` the JSON error body."""

    status: int = 500
    code: str = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class ValidationError(QueryError):
    """422: the request itself is wrong, whatever the warehouse holds."""

    status = 422
    code = "VALIDATION"


class NotFoundError(QueryError):
    """404: the project or entity is not visible to this organization.

    The message never differs between "does not exist" and "belongs to someone else".
    """

    status = 404
    code = "NOT_FOUND"
