"""`GET /v1/projects/{projectId}/metrics` over HTTP (spec §6), a thin shell over `Store.query`
(and `/top-performers` over `Store.top_performers`, spec §7, documented in `top_api`),
and the listing beside it (`GET /v1/projects`, `GET /v1/projects/{projectId}/entities`, a thin
shell over `Store.list`: an extension beyond the contract, to find one's ids).

The organization always comes from the API key, never from the request, so a key of one
organization cannot name another's data; what it may name is then judged by the read
function's own 404 rules. Every error has the read function's shape
`{"error": {"code", "message"}}`, so a client needs one parser for all of them: FastAPI's own
404/405/422, an unexpected exception (500 `INTERNAL`, traceback logged), a query string that is
not percent-encoded UTF-8 (400), and even a request uvicorn cannot parse as HTTP (400, see
`HttpProtocol`).

The endpoint is a plain `def`: FastAPI runs it on its threadpool, so the event loop stays free,
and the body is serialized with orjson straight from the dict (no response-model validation
on the hot path; the models below only document the schema in /openapi.json).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes

import orjson
import uvicorn
from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from metrics import config
from metrics.model.scopes import SCOPES
from metrics.serve import export, keys, top_api
from metrics.serve import openapi as docs
from metrics.serve.breakdown import GROUP_BY
from metrics.serve.compare import COMPARES
from metrics.serve.errors import QueryError
from metrics.serve.query import METRICS, Store, connect
from metrics.serve.window import GRANULARITIES
from metrics.warehouse.location import Warehouse

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    422: "VALIDATION",
    500: "INTERNAL",
}
ROUTE = "GET /v1/projects/{projectId}/metrics"
# A `%` not followed by two hex digits: RFC 3986 has no meaning for it.
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
# A `+` in a query string decodes to a space: "…T10:00:00 02:00" was meant as "+02:00".
_PLUS_AS_SPACE = re.compile(r"^(\S*T\S*) (\d{2}(:?\d{2})?)$")
# Module level: FastAPI resolves the endpoint's (string) annotations in this module's globals.
_BEARER = HTTPBearer(auto_error=False, description="An API key from `metrics keys create`.")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class EntityRow(BaseModel):
    """One listed entity; which fields appear depends on its kind (see metrics.serve.listing)."""

    id: str
    name: str | None = None
    handle: str | None = None
    platform: str | None = None
    platforms: list[str] | None = None
    kind: str | None = None
    org_id: str
    project_id: str | None = None
    project_layer_id: str | None = None
    social_account_id: str | None = None
    native_id: str | None = None
    published_at: str | None = None
    first_data_at: str | None
    last_data_at: str | None


class ProjectsBody(BaseModel):
    projects: list[EntityRow]


class EntitiesBody(BaseModel):
    project: EntityRow
    layers: list[EntityRow]
    accounts: list[EntityRow]
    posts: list[EntityRow] | None = None
    posts_total: int | None = None


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _error_body(status: int, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": _HTTP_CODES.get(status, "HTTP_ERROR"), "message": message}}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json(_error_body(status, message), status, headers)


def _encoding_problem(scope: Scope) -> str | None:
    """Why the path or query string is not percent-encoded UTF-8, or None when it is.

    Starlette would decode a bad one with replacement characters, so `id=%ff` would be
    answered as if the client had sent an id of "\ufffd" (a misleading 422 or 404).
    """
    for part, raw in (
        ("path", scope.get("raw_path") or b""),
        ("query string", scope["query_string"]),
    ):
        if b"%" not in raw:  # the common case costs one scan
            continue
        if bad := _BAD_ESCAPE.search(raw):
            text = raw[bad.start() : bad.start() + 3].decode("latin-1")
            return (
                f"The {part} has an invalid percent-escape {text!r}: '%' must be followed by "
                "two hex digits. Encode a literal '%' as %25."
            )
        try:
            unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            return (
                f"The {part} is not UTF-8 once percent-decoded ({exc.reason} at byte "
                f"{exc.start}). Percent-encode the UTF-8 bytes of each character."
            )
    return None


class _JsonErrors:
    """ASGI middleware: bad encodings get a 400 and unexpected exceptions a 500, both as JSON.

    It sits inside Starlette's ServerErrorMiddleware, whose own 500 is plain text, and catches
    what FastAPI's handlers let through. The traceback is logged here, once, with the request
    line; the client gets no detail of it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if problem := _encoding_problem(scope):
            await _error(400, problem)(scope, receive, send)
            return
        started = False

        async def watch(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if started:  # too late for a body: let the server drop the connection
                raise
            log.exception("%s %s failed", scope["method"], scope["path"])
            message = "An unexpected error occurred on the server; it has been logged. Retry later."
            await _error(500, message)(scope, receive, send)


class _JsonBadRequest:
    """A JSON body for the 400 uvicorn itself sends when a request is not HTTP it can parse.

    uvicorn answers a malformed request line, header or framing before any ASGI app runs, with
    a plain-text "Invalid HTTP request received.", from `send_400_response` of its protocol
    class; both of its HTTP/1.1 protocols (httptools, h11) have that one method, so it is the
    single, narrow hook. It is called inside the parser's `except` block, so the parser's
    own reason is still `sys.exc_info()`, and it goes into the message.
    """

    transport: Any
    server_state: Any

    def send_400_response(self, msg: str) -> None:
        exc = sys.exc_info()[1]
        reason = str(exc)[:200] if exc is not None and str(exc) else msg
        message = (
            f"The request is not valid HTTP/1.1 ({reason}). Send a request line "
            "'GET /path?query HTTP/1.1', headers as 'Name: value', and a percent-encoded "
            "ASCII URL."
        )
        body = orjson.dumps(_error_body(400, message))
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        head += [b"%s: %s\r\n" % pair for pair in self.server_state.default_headers]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


class H11JsonProtocol(_JsonBadRequest, H11Protocol):
    """uvicorn's h11 protocol, with a JSON 400."""


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # as uvicorn's "auto": httptools when installed, else h11
    HttpProtocol: type = H11JsonProtocol
else:

    class HttpToolsJsonProtocol(_JsonBadRequest, HttpToolsProtocol):
        """uvicorn's httptools protocol, with a JSON 400."""

    HttpProtocol = HttpToolsJsonProtocol
HTTP_PROTOCOL = "metrics.serve.http:HttpProtocol"  # for uvicorn.Config(http=…), workers included
# How long an idle keep-alive connection stays open. A server that closes one just as a client
# sends its next request on it drops that request (the client sees a reset, or "disconnected
# without sending a response"), so the side that lets idle connections go must be the client,
# which knows when it is about to send. uvicorn's default, 5 s, is exactly httpx's pool expiry,
# and it counts from the moment the last chunk is handed to the kernel, earlier than the client's
# clock: a client that takes about 5 s to read a large body loses the race. 75 s is longer than
# the idle time of clients' pools (httpx 5 s) and of the proxies in front (nginx's upstream
# keep-alive and cloud load balancers, 60 s).
KEEP_ALIVE_S = 75
# What every uvicorn running this app is given (`serve`, and the tests' servers).
UVICORN_OPTIONS: dict[str, Any] = {"http": HTTP_PROTOCOL, "timeout_keep_alive": KEEP_ALIVE_S}


def _instant(value: str | None) -> str | None:
    return _PLUS_AS_SPACE.sub(r"\1+\2", value) if value else value


def create_app(
    warehouse: Warehouse | None = None,
    keys_file: str | os.PathLike[str] | None = None,
    *,
    store: Store | None = None,
) -> FastAPI:
    """The API app over one warehouse (opened read-only) and one keys file.

    KeysFileError when the keys file is corrupt: a server must not start without its keys.
    """
    ring = keys.KeyRing(keys.keys_file(keys_file))  # first: a corrupt file fails in ms, not s
    store = store or connect(warehouse)
    # The /docs and /redoc pages' scripts, styles and icon are served from the installed
    # fastapi-offline package, so they work on a machine that reaches no CDN.
    app = FastAPIOffline(
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from swagger.io
        title="Social metrics API",
        version="1",
        description="Organic metrics for posts, accounts, project layers, projects and orgs.",
    )

    app.add_middleware(_JsonErrors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"No such path: {request.url.path}. The endpoint is {ROUTE}."
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; use GET."
        return _error(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return _error(422, problems)

    errors: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody} for status in (401, 403, 404, 422)
    }

    @app.get(
        "/v1/projects/{projectId}/metrics",
        response_model=None,
        responses={200: docs.METRICS_200, **errors},
        summary="Organic metrics as (series, totals)",
    )
    def project_metrics(
        request: Request,
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
        compare: Annotated[
            str | None,
            Query(
                description="Add `previous` and `change` (abs, pct). `previous_period`: the "
                "span of the same length on the local clock of `tz`, ending at `since`; not the "
                "same elapsed time: across a DST change it is an hour shorter or longer, and "
                "it starts at the window's local time of day (a week of local days before a "
                "week of local days). `previous_year`: both ends 364 local days back, so "
                "weekdays line up. Default: no comparison.",
                json_schema_extra={"enum": list(COMPARES)},
                openapi_examples=docs.examples("previous_period", "against the period before"),
            ),
        ] = None,
        group_by: Annotated[
            str | None,
            Query(
                description="Add `breakdown`: the totals per group strictly below the scope. "
                "Default: no breakdown.",
                json_schema_extra={"enum": list(GROUP_BY)},
                openapi_examples=docs.examples("platform", "per platform"),
            ),
        ] = None,
        format: Annotated[
            str,
            Query(
                description="`csv` for the series as text/csv. Default: json, or csv when "
                "the request has `Accept: text/csv` and no `format`. Errors are always JSON.",
                json_schema_extra={"enum": list(export.FORMATS)},
                openapi_examples=docs.examples("csv", "the series as CSV"),
            ),
        ] = "json",
    ) -> Response:
        key = _reader(credentials)
        if isinstance(key, Response):
            return key
        if "format" not in request.query_params and export.wants_csv(request.headers.get("accept")):
            format = "csv"
        if format not in export.FORMATS:
            message = f"Unknown format: {format}. Use {' or '.join(export.FORMATS)}."
            return _error(422, message)
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
                compare=compare,
                group_by=group_by,
            )
        except QueryError as exc:
            return _json(exc.body, exc.status)
        if format == "csv":
            csv = export.series_csv(body)
            return Response(csv, 200, {"Vary": "Accept"}, media_type=export.MEDIA_TYPE)
        return _json(body, headers={"Vary": "Accept"})

    docs.tidy(app, "/v1/projects/{projectId}/metrics", ("scope", "id"))

    @app.get(
        "/v1/projects/{projectId}/top-performers",
        response_model=None,
        responses={
            200: {
                "model": top_api.TopPerformersBody,
                "content": {"application/json": {"example": top_api.EXAMPLE}},
            },
            **errors,
        },
        summary=top_api.SUMMARY,
    )
    def top_performers(
        projectId: Annotated[str, PathParam(**top_api.PARAMETERS["projectId"])],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
        scope: Annotated[str | None, Query(**top_api.PARAMETERS["scope"])] = None,
        id: Annotated[str | None, Query(**top_api.PARAMETERS["id"])] = None,
        metric: Annotated[str, Query(**top_api.PARAMETERS["metric"])] = "views",
        since: Annotated[str | None, Query(**top_api.PARAMETERS["since"])] = None,
        until: Annotated[str | None, Query(**top_api.PARAMETERS["until"])] = None,
        tz: Annotated[str, Query(**top_api.PARAMETERS["tz"])] = "UTC",
        limit: Annotated[int, Query(**top_api.PARAMETERS["limit"])] = 10,
        platform: Annotated[str | None, Query(**top_api.PARAMETERS["platform"])] = None,
        published: Annotated[str, Query(**top_api.PARAMETERS["published"])] = "any",
        min_views: Annotated[int, Query(**top_api.PARAMETERS["min_views"])] = 0,
    ) -> Response:
        key = _reader(credentials)
        if isinstance(key, Response):
            return key
        try:
            body = store.top_performers(
                org_id=key.org_id,
                project_id=projectId,
                scope=scope,
                id=id,
                metric=metric,
                since=_instant(since),
                until=_instant(until),
                tz=tz,
                limit=limit,
                platform=platform,
                published=published,
                min_views=min_views,
            )
        except QueryError as exc:
            return _json(exc.body, exc.status)
        return _json(body)

    def _reader(credentials: HTTPAuthorizationCredentials | None) -> keys.Key | Response:
        """The key's record, or the 401/403 response (the same rules as the metrics route)."""
        key = ring.lookup(credentials.credentials) if credentials else None
        if key is None:
            return _error(401, "Missing or unknown API key.", {"WWW-Authenticate": "Bearer"})
        if keys.READ_SCOPE not in key.scopes:
            return _error(403, f"This key lacks the {keys.READ_SCOPE} scope.")
        return key

    @app.get(
        "/v1/projects",
        response_model=None,
        responses={200: {"model": ProjectsBody}, **errors},
        summary="The projects of the key's organization (find your ids)",
    )
    def list_projects(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> Response:
        key = _reader(credentials)
        if isinstance(key, Response):
            return key
        try:
            projects = store.list("projects", org_id=key.org_id)
        except QueryError:  # an org with no catalog entry yet has no projects
            projects = []
        return _json({"projects": projects})

    @app.get(
        "/v1/projects/{projectId}/entities",
        response_model=None,
        responses={200: {"model": EntitiesBody}, **errors},
        summary="One project's layers and accounts, and optionally its posts",
    )
    def project_entities(
        projectId: str,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
        posts: Annotated[bool, Query(description="Also list the project's posts.")] = False,
        limit: Annotated[
            int, Query(ge=1, le=10_000, description="At most this many posts, in id order.")
        ] = 100,
    ) -> Response:
        key = _reader(credentials)
        if isinstance(key, Response):
            return key
        org, project = key.org_id, projectId
        try:
            body: dict[str, Any] = {
                kind: store.list(kind, org_id=org, project_id=project)
                for kind in ("layers", "accounts")
            }
            body = {"project": store.list("projects", org_id=org, project_id=project)[0], **body}
            if posts:
                body["posts"] = store.list("posts", org_id=org, project_id=project, limit=limit)
                body["posts_total"] = store.count("posts", org_id=org, project_id=project)
        except QueryError as exc:
            return _json(exc.body, exc.status)
        return _json(body)

    return app


def serve(
    warehouse: Warehouse,
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
        uvicorn.run(
            app, host=host, port=port, log_level="info", access_log=access_log, **UVICORN_OPTIONS
        )
        return
    os.environ[config.WAREHOUSE_ENV] = str(warehouse)
    os.environ[keys.KEYS_ENV] = str(keys_file)
    uvicorn.run(
        "metrics.serve.http:create_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
        **UVICORN_OPTIONS,
    )
