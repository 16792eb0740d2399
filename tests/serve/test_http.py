"""The HTTP endpoint through a real uvicorn server on a loopback port.

The reference page's curl and Python examples are run as published, with only the host and
the key changed: the warehouse below holds the very project id they ask for.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

import metrics
from metrics.serve import keys
from metrics.serve.http import (
    HTTP_PROTOCOL,
    KEEP_ALIVE_S,
    UVICORN_OPTIONS,
    H11JsonProtocol,
    HttpProtocol,
    create_app,
)
from tests.helpers.warehouse import Warehouse, write_warehouse

ORG = "org_01HX9Y6K7EJ4T2"
PROJECT = "prj_01HX9Y7K8M2P4RSTUV56789AB"
POST = "pst_tiktok_7301234567890123456"
REFERENCE_HOST = "https://api.layers.com"
REFERENCE_KEY = "lp_live_01HX9Y6K7EJ4T2_4QZpN..."
REFERENCE_PAGE = Path(__file__).resolve().parents[3] / "shared/contract/metrics-endpoint.mdx"

# Verbatim from the reference page (metrics-endpoint.mdx, "Example request").
CURL_EXAMPLE = """\
curl "https://api.layers.com/v1/projects/prj_01HX9Y7K8M2P4RSTUV56789AB/metrics?scope=project&id=prj_01HX9Y7K8M2P4RSTUV56789AB&metrics=views&metrics=engagement_rate&since=2026-04-01T00:00:00Z&until=2026-04-18T00:00:00Z&granularity=day" \\
  -H "Authorization: Bearer lp_live_01HX9Y6K7EJ4T2_4QZpN..."
"""  # noqa: E501
PYTHON_EXAMPLE = """\
import httpx

params = [
    ("scope", "project"),
    ("id", "prj_01HX9Y7K8M2P4RSTUV56789AB"),
    ("since", "2026-04-01T00:00:00Z"),
    ("until", "2026-04-18T00:00:00Z"),
    ("granularity", "day"),
    ("metrics", "views"),
    ("metrics", "engagement_rate"),
]
r = httpx.get(
    "https://api.layers.com/v1/projects/prj_01HX9Y7K8M2P4RSTUV56789AB/metrics",
    params=params,
    headers={"Authorization": f"Bearer {api_key}"},
)
payload = r.json()
"""


def _account(id_: str, layer: str) -> dict[str, str]:
    return {
        "id": id_,
        "project_layer_id": layer,
        "platform": "tiktok",
        "native_id": id_,
        "handle": id_,
    }


CATALOG = {
    "organizations": [{"id": ORG, "name": "Ref"}, {"id": "org_other", "name": "Other"}],
    "projects": [
        {"id": PROJECT, "org_id": ORG, "name": "Launch"},
        {"id": "prj_other", "org_id": "org_other", "name": "Other"},
    ],
    "project_layers": [
        {"id": "lyr_ref", "project_id": PROJECT, "kind": "social_content", "name": "SC"},
        {"id": "lyr_other", "project_id": "prj_other", "kind": "social_content", "name": "SC"},
    ],
    "social_accounts": [_account("acc_ref", "lyr_ref"), _account("acc_other", "lyr_other")],
}
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
DATA = Warehouse(
    catalog=CATALOG,
    posts={POST: ("acc_ref", APRIL), "pst_tiktok_1": ("acc_other", APRIL)},
    hourly=[
        (POST, APRIL + timedelta(hours=5 * i), {"views": 100 + i, "likes": i % 7, "shares": 1})
        for i in range(80)
    ]
    + [("pst_tiktok_1", APRIL, {"views": 5})],
    followers=[("acc_ref", APRIL, 10), ("acc_other", APRIL, 20)],
)


def _probe(n: int) -> dict[str, int]:
    """A route with a typed parameter, to see FastAPI's own validation errors."""
    return {"n": n}


def _boom() -> None:
    """A route that fails the way a bug would."""
    raise RuntimeError("a bug")


@contextmanager
def _serving(app, http: str | type = HTTP_PROTOCOL) -> Iterator[int]:
    """`app` under a real uvicorn on an ephemeral loopback port, as `metrics serve` runs it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", **{**UVICORN_OPTIONS, "http": http})
    )
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        uv.should_exit = True
        thread.join(10)


class Server:
    def __init__(self, port: int, store: metrics.Store, keys_file: Path) -> None:
        self.port, self.store, self.keys_file = port, store, keys_file
        self.base = f"http://127.0.0.1:{port}"
        self.client = httpx.Client()  # one client: building one costs ~30 ms
        self.read_key, _ = keys.create(keys_file, ORG)
        self.other_key, _ = keys.create(keys_file, "org_other")
        self.ads_key, _ = keys.create(keys_file, ORG, ("ads:read",))

    def get(self, path: str, key: str | None = None, **params) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.client.get(self.base + path, params=params, headers=headers)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("http")
    store = metrics.connect(write_warehouse(root / "warehouse", DATA))
    keys_file = root / "keys.json"
    app = create_app(keys_file=keys_file, store=store)
    app.add_api_route("/probe", _probe)
    app.add_api_route("/boom", _boom)
    with _serving(app) as port:
        served = Server(port, store, keys_file)
        yield served
        served.client.close()


def _expected(server: Server, **kw) -> dict:
    return server.store.query(org_id=ORG, project_id=PROJECT, **kw)


REFERENCE_QUERY = {
    "scope": "project",
    "id": PROJECT,
    "metrics": ["views", "engagement_rate"],
    "since": "2026-04-01T00:00:00Z",
    "until": "2026-04-18T00:00:00Z",
    "granularity": "day",
}


def test_the_examples_are_the_reference_pages_own():
    if not REFERENCE_PAGE.exists():
        pytest.skip("the shared contract is not checked out beside this repository")
    page = REFERENCE_PAGE.read_text()
    for line in (CURL_EXAMPLE + PYTHON_EXAMPLE).splitlines():
        assert line.strip() in page


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_reference_curl_example_works_with_only_the_host_changed(server):
    command = CURL_EXAMPLE.replace(REFERENCE_HOST, server.base).replace(
        REFERENCE_KEY, server.read_key
    )
    out = subprocess.run(["bash", "-c", command], capture_output=True, check=True, text=True)
    body = json.loads(out.stdout)
    assert body == _expected(server, **REFERENCE_QUERY)
    assert len(body["series"]) == 17 and body["totals"]["views"] > 0


def test_the_reference_python_example_works_with_only_the_host_changed(server):
    scope = {"api_key": server.read_key}
    exec(PYTHON_EXAMPLE.replace(REFERENCE_HOST, server.base), scope)
    assert scope["r"].status_code == 200
    assert scope["payload"] == _expected(server, **REFERENCE_QUERY)


def test_missing_unknown_and_revoked_keys_get_401(server):
    path = f"/v1/projects/{PROJECT}/metrics"
    unauthorized = {"error": {"code": "UNAUTHORIZED", "message": "Missing or unknown API key."}}
    for key in (None, "lp_live_nope"):
        r = server.get(path, key, scope="project", id=PROJECT)
        assert (r.status_code, r.json()) == (401, unauthorized)
        assert r.headers["www-authenticate"] == "Bearer"
    r = server.client.get(server.base + path, headers={"Authorization": f"Basic {server.read_key}"})
    assert r.status_code == 401
    doomed, record = keys.create(server.keys_file, ORG)
    assert server.get(path, doomed, scope="project", id=PROJECT).status_code == 200
    assert keys.revoke(server.keys_file, record.id) is not None
    r = server.get(path, doomed, scope="project", id=PROJECT)
    assert (r.status_code, r.json()) == (401, unauthorized)


def test_a_key_without_metrics_read_gets_403(server):
    r = server.get(f"/v1/projects/{PROJECT}/metrics", server.ads_key, scope="project", id=PROJECT)
    assert r.status_code == 403
    assert r.json() == {
        "error": {"code": "FORBIDDEN", "message": "This key lacks the metrics:read scope."}
    }


def test_200_404_and_422_are_the_read_functions_bodies(server):
    path = f"/v1/projects/{PROJECT}/metrics"
    window = {"since": "2026-04-02", "until": "2026-04-05"}
    r = server.get(
        path,
        server.read_key,
        scope="platform_post",
        id=POST,
        granularity="hour",
        tz="America/Los_Angeles",
        **window,
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == _expected(
        server,
        scope="platform_post",
        id=POST,
        granularity="hour",
        tz="America/Los_Angeles",
        **window,
    )
    r = server.get(path, server.read_key, scope="project", id=PROJECT, metrics="spend")
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "VALIDATION",
        "message": "Unknown metric: spend. "
        "Use /v1/projects/:projectId/ads-metrics for paid metrics.",
    }
    r = server.get(path, server.read_key, scope="social_account", id="acc_zz")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "NOT_FOUND")


def test_a_key_never_reads_another_orgs_data(server):
    ours = f"/v1/projects/{PROJECT}/metrics"
    theirs = "/v1/projects/prj_other/metrics"
    missing = server.get(
        "/v1/projects/prj_zz/metrics", server.other_key, scope="project", id="prj_zz"
    )
    foreign = server.get(ours, server.other_key, scope="project", id=PROJECT)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["message"] == f"Project {PROJECT} not found."
    for scope, id_ in [
        ("project", PROJECT),
        ("organization", ORG),
        ("social_account", "acc_ref"),
        ("platform_post", POST),
        ("project_layer", "lyr_ref"),
    ]:
        r = server.get(theirs, server.other_key, scope=scope, id=id_)
        assert r.status_code == 404, (scope, r.json())
    own = server.get(
        theirs,
        server.other_key,
        scope="project",
        id="prj_other",
        since="2026-04-01",
        until="2026-04-02",
    )
    assert own.status_code == 200 and own.json()["totals"]["views"] == 5


def test_a_plus_sign_decoded_to_a_space_still_means_an_offset(server):
    path = f"/v1/projects/{PROJECT}/metrics"
    raw = f"{server.base}{path}?scope=project&id={PROJECT}&since=2026-04-01T02:00:00+02:00"
    r = server.client.get(
        raw + "&until=2026-04-02", headers={"Authorization": f"Bearer {server.read_key}"}
    )
    assert r.status_code == 200 and r.json()["window"]["since"] == "2026-04-01T00:00:00Z"


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def test_framework_errors_have_the_same_shape(server):
    r = server.client.get(server.base + "/v1/nowhere")
    assert (r.status_code, r.json()) == (
        404,
        _error(
            "NOT_FOUND",
            "No such path: /v1/nowhere. The endpoint is GET /v1/projects/{projectId}/metrics.",
        ),
    )
    path = f"/v1/projects/{PROJECT}/metrics"
    r = server.client.post(server.base + path)
    assert (r.status_code, r.json()) == (
        405,
        _error("METHOD_NOT_ALLOWED", f"POST is not allowed on {path}; use GET."),
    )
    assert r.headers["allow"] == "GET"
    r = server.client.get(server.base + "/probe", params={"n": "x"})
    assert (r.status_code, r.json()) == (
        422,
        _error(
            "VALIDATION",
            "query.n: Input should be a valid integer, unable to parse string as an integer",
        ),
    )


def test_an_unexpected_exception_is_a_json_500_and_a_logged_traceback(server, caplog):
    with caplog.at_level(logging.ERROR, logger="metrics.serve.http"):
        r = server.client.get(server.base + "/boom")
    assert (r.status_code, r.json()) == (
        500,
        _error(
            "INTERNAL",
            "An unexpected error occurred on the server; it has been logged. Retry later.",
        ),
    )
    assert r.headers["content-type"] == "application/json"
    (logged,) = [rec for rec in caplog.records if rec.name == "metrics.serve.http"]
    assert logged.getMessage() == "GET /boom failed"
    assert logged.exc_info is not None and str(logged.exc_info[1]) == "a bug"


def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (no client would send these) and read the answer to the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def test_an_idle_connection_stays_open_longer_than_clients_keep_it(server):
    """Idle keep-alive connections are let go by the client side first (httpx's pool after 5 s),
    never by the server just as a client reuses one. At uvicorn's default of 5 s a client that
    took about 5 s to read the 1.5 MB docs bundle sent its next request into a connection the
    server was closing, and lost it (a reset): the docs-page test's old flake."""
    expiry = httpx.Limits().keepalive_expiry  # what httpx.Client() uses
    assert expiry is not None and expiry < KEEP_ALIVE_S
    ports = []
    with httpx.Client(limits=httpx.Limits(keepalive_expiry=None)) as client:  # keeps it forever
        for pause in (0, expiry + 1):
            time.sleep(pause)
            r = client.get(server.base + "/openapi.json")
            assert r.status_code == 200
            ports.append(r.extensions["network_stream"].get_extra_info("client_addr")[1])
    # One connection: the server had not closed it (httpx drops one the server closed, and
    # would have connected again from another port).
    assert ports[0] == ports[1]


MALFORMED = {
    "request line": b"GARBAGE\r\n\r\n",
    "header line": b"GET /v1/nowhere HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    "raw byte in the query": b"GET /v1/projects/p/metrics?scope=\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    "Content-Length": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
}


@pytest.mark.parametrize("protocol", [HttpProtocol, H11JsonProtocol], ids=["auto", "h11"])
@pytest.mark.parametrize("request_bytes", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_http_gets_a_json_400(server, protocol, request_bytes):
    if protocol is HttpProtocol:
        status, headers, body = _raw(server.port, request_bytes)
    else:
        app = create_app(keys_file=server.keys_file, store=server.store)
        with _serving(app, protocol) as port:
            status, headers, body = _raw(port, request_bytes)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    error = json.loads(body)["error"]
    assert error["code"] == "BAD_REQUEST"
    assert error["message"].startswith("The request is not valid HTTP/1.1 (")
    assert "Send a request line 'GET /path?query HTTP/1.1'" in error["message"]


def test_the_server_runs_the_json_400_protocol_uvicorn_would_pick():
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    assert issubclass(HttpProtocol, AutoHTTPProtocol)
    assert HTTP_PROTOCOL == "metrics.serve.http:HttpProtocol"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "scope=%zz",
            "The query string has an invalid percent-escape '%zz': '%' must be followed by "
            "two hex digits. Encode a literal '%' as %25.",
        ),
        (
            "scope=project&id=%ff",
            "The query string is not UTF-8 once percent-decoded (invalid start byte at byte "
            "17). Percent-encode the UTF-8 bytes of each character.",
        ),
    ],
)
def test_a_query_string_that_is_not_percent_encoded_utf8_is_a_json_400(server, query, message):
    status, headers, body = _raw(
        server.port,
        f"GET /v1/projects/{PROJECT}/metrics?{query} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {server.read_key}\r\nConnection: close\r\n\r\n".encode(),
    )
    assert (status, headers["content-type"]) == (400, "application/json")
    assert json.loads(body) == _error("BAD_REQUEST", message)
    # Escapes that do decode to UTF-8 are fine: "é" is %C3%A9.
    r = server.get(f"/v1/projects/{PROJECT}/metrics", server.read_key, scope="project", id="é")
    assert (
        r.status_code == 422 and "id é does not fit scope project" in r.json()["error"]["message"]
    )


def test_a_series_over_5000_buckets_is_a_json_422(server):
    path = f"/v1/projects/{PROJECT}/metrics"
    window = {"since": "1970-01-01", "until": "2099-12-31"}
    r = server.get(path, server.read_key, scope="project", id=PROJECT, **window)
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"
    assert r.json() == _error(
        "VALIDATION",
        "The window holds 47,481 day buckets; the limit is 5,000. Narrow since/until to at "
        "most 5,000 days (about 13 years), or use granularity=week (not for platform_post).",
    )
    r = server.get(
        path, server.read_key, scope="project", id=PROJECT, since="2000-01-01", until="2013-09-09"
    )
    assert r.status_code == 200 and len(r.json()["series"]) == 5_000


def test_a_corrupted_keys_file_keeps_the_running_servers_keys(server, tmp_path, caplog):
    keys_file = tmp_path / "keys.json"
    secret, _ = keys.create(keys_file, ORG)
    app = create_app(keys_file=keys_file, store=server.store)
    path = f"/v1/projects/{PROJECT}/metrics"
    ask = {"scope": "project", "id": PROJECT, "since": "2026-04-01", "until": "2026-04-03"}
    with _serving(app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        auth = {"Authorization": f"Bearer {secret}"}
        assert client.get(path, params=ask, headers=auth).status_code == 200
        keys_file.write_text(keys_file.read_text()[:50])  # a hand edit gone wrong
        with caplog.at_level(logging.ERROR, logger="metrics.serve.keys"):
            answers = [client.get(path, params=ask, headers=auth) for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert answers[0].json() == _expected(server, **ask)
        (logged,) = [rec for rec in caplog.records if rec.name == "metrics.serve.keys"]
        assert f"The keys file {keys_file} is corrupt: not JSON" in logged.getMessage()
        r = client.get(path, params=ask, headers={"Authorization": "Bearer lp_live_nope"})
        assert r.status_code == 401


def test_openapi_describes_the_endpoint(server):
    spec = server.client.get(server.base + "/openapi.json").json()
    op = spec["paths"]["/v1/projects/{projectId}/metrics"]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert {"projectId", "scope", "id", "metrics", "since", "until", "granularity", "tz"} <= names
    assert {"200", "401", "403", "404", "422"} <= set(op["responses"])
    assert op["security"] == [{"HTTPBearer": []}]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_concurrent_requests(server):
    path = f"/v1/projects/{PROJECT}/metrics"
    expected = _expected(
        server, scope="project", id=PROJECT, since="2026-04-01", until="2026-04-10"
    )

    def call(_: int) -> dict:
        return server.get(
            path,
            server.read_key,
            scope="project",
            id=PROJECT,
            since="2026-04-01",
            until="2026-04-10",
        ).json()

    with ThreadPoolExecutor(16) as pool:
        assert all(body == expected for body in pool.map(call, range(64)))
