"""`GET /v1/projects/{projectId}/metrics` over HTTP (CONTRACT §6), a thin shell over `Store.query`.

The organization always comes from the API key, never from the request, so a key of one
organization cannot name another's data; what it may name is then judged by the read
function's own 404 rules. Every error, FastAPI's own included, has the read function's shape
`{"error": {"code", "message"}}`.

The endpoint is a plain `def`: FastAPI runs it on its threadpool, so the event loop stays free,
and the body is serialized with orjson straight from the dict (no response-model validation
on the hot path; the models below only document the schema in /openapi.json).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import orjson
import uvicorn
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from metrics import config, keys
from metrics.errors import QueryError
from metrics.query import METRICS, Store, connect
from metrics.schema import SCOPES
from metrics.window import GRANULARITIES

_HTTP_CODES = {
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    422: "VALIDATION",
}
# A `+` in a query string decodes to a space: "…T10:00:00 02:00" was meant as "+02:00".
_PLUS_AS_SPACE = re.compile(r"^(\S*T\S*) (\d{2}(:?\d{2})?)$")
# Module level: FastAPI resolves the endpoint's (string) annotations in this module's globals.
_BEARER = HTTPBearer(auto_error=False, description="An API key from `metrics keys create`.")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class WindowBody(BaseModel):
    since: str
    until: str
    granularity: str
    tz: str | None = None


class MetricsBody(BaseModel):
    scope: str
    id: str
    window: WindowBody
    as_of: str | None
    series: list[dict[str, str | int | float | bool]]
    totals: dict[str, int | float]


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    code = _HTTP_CODES.get(status, "HTTP_ERROR")
    return _json({"error": {"code": code, "message": message}}, status, headers)


def _instant(value: str | None) -> str | None:
    return _PLUS_AS_SPACE.sub(r"\1+\2", value) if value else value


def create_app(
    warehouse: str | os.PathLike[str] | None = None,
    keys_file: str | os.PathLike[str] | None = None,
    *,
    store: Store | None = None,
) -> FastAPI:
    """The API app over one warehouse (opened read-only) and one keys file."""
    store = store or connect(warehouse)
    ring = keys.KeyRing(keys.keys_file(keys_file))
    app = FastAPI(
        title="Social metrics API",
        version="1",
        description="Organic metrics for posts, accounts, project layers, projects and orgs.",
    )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return _error(422, problems)

    errors = {status: {"model": ErrorBody} for status in (401, 403, 404, 422)}

    @app.get(
        "/v1/projects/{projectId}/metrics",
        response_model=None,
        responses={200: {"model": MetricsBody}, **errors},
        summary="Organic metrics as (series, totals)",
    )
    def project_metrics(
        projectId: str,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
        scope: Annotated[
            str | None,
            Query(description="What you are asking about.", json_schema_extra={"enum": SCOPES}),
        ] = None,
        id: Annotated[str | None, Query(description="Id of the scoped entity.")] = None,
        metrics: Annotated[
            list[str] | None,
            Query(
                description="Repeat for several; omit for the scope's defaults.",
                json_schema_extra={"items": {"type": "string", "enum": list(METRICS)}},
            ),
        ] = None,
        since: Annotated[str | None, Query(description="ISO-8601; inclusive.")] = None,
        until: Annotated[str | None, Query(description="ISO-8601; exclusive.")] = None,
        granularity: Annotated[str, Query(json_schema_extra={"enum": list(GRANULARITIES)})] = "day",
        tz: Annotated[str, Query(description="IANA zone for day and week buckets.")] = "UTC",
    ) -> Response:
        key = ring.lookup(credentials.credentials) if credentials else None
        if key is None:
            return _error(401, "Missing or unknown API key.", {"WWW-Authenticate": "Bearer"})
        if keys.READ_SCOPE not in key.scopes:
            return _error(403, f"This key lacks the {keys.READ_SCOPE} scope.")
        try:
            body = store.query(
                org_id=key.org_id,
                project_id=projectId,
                scope=scope,
                id=id,
                metrics=metrics,
                since=_instant(since),
                until=_instant(until),
                granularity=granularity,
                tz=tz,
            )
        except QueryError as exc:
            return _json(exc.body, exc.status)
        return _json(body)

    return app


def serve(
    warehouse: Path,
    keys_file: Path,
    host: str,
    port: int,
    workers: int = 1,
    access_log: bool = True,
) -> None:
    """Run the API with uvicorn until interrupted.

    Several workers are separate processes, each with its own in-memory index; uvicorn builds
    each app from the factory, so the paths travel through the environment.
    """
    if workers == 1:
        app = create_app(warehouse, keys_file)
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=access_log)
        return
    os.environ[config.WAREHOUSE_ENV] = str(warehouse)
    os.environ[keys.KEYS_ENV] = str(keys_file)
    uvicorn.run(
        "metrics.http:create_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
    )
