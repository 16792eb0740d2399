"""`GET /v1/projects/{projectId}/top-performers` through a real uvicorn on a loopback port:
the read function's bodies behind the metrics route's keys and tenant rules, and its OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

import metrics
from metrics.serve.http import create_app
from tests.helpers.warehouse import Warehouse, write_warehouse
from tests.serve.test_http import APRIL, CATALOG, ORG, POST, PROJECT, Server, _serving

OTHER_POST = "pst_tiktok_7301234567890123999"
PATH = f"/v1/projects/{PROJECT}/top-performers"
DATA = Warehouse(
    catalog=CATALOG,
    posts={
        POST: ("acc_ref", APRIL),
        OTHER_POST: ("acc_ref", None),
        "pst_x_1": ("acc_other", APRIL),
    },
    hourly=[
        (POST, APRIL + timedelta(hours=3), {"views": 120, "likes": 6}),
        (OTHER_POST, APRIL + timedelta(hours=30), {"views": 400, "likes": 2, "saves": 1}),
        ("pst_x_1", APRIL, {"views": 9999}),
    ],
    followers=[("acc_ref", APRIL, 10)],
)
ASK = {"scope": "project", "id": PROJECT, "since": "2026-04-01", "until": "2026-04-08"}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("top_http")
    store = metrics.connect(write_warehouse(root / "warehouse", DATA))
    app = create_app(keys_file=root / "keys.json", store=store)
    with _serving(app) as port:
        served = Server(port, store, root / "keys.json")
        yield served
        served.client.close()


def test_the_body_is_the_read_functions(server):
    r = server.get(PATH, server.read_key, **ASK, metric="engagement_rate", limit=5)
    assert r.status_code == 200
    body = r.json()
    assert body == server.store.top_performers(
        org_id=ORG, project_id=PROJECT, **ASK, metric="engagement_rate", limit=5
    )
    assert [(i["platform_post_id"], i["value"]) for i in body["items"]] == [
        (POST, 6 / 120),
        (OTHER_POST, 3 / 400),
    ]
    assert body["items"][1]["published_at"] is None and body["total_candidates"] == 2


def test_filters_travel_as_query_parameters(server):
    r = server.get(
        PATH, server.read_key, **ASK, published="in_window", min_views=100, platform="tiktok"
    )
    assert [i["platform_post_id"] for i in r.json()["items"]] == [POST]
    r = server.get(PATH, server.read_key, **ASK, min_views=121)
    assert [i["platform_post_id"] for i in r.json()["items"]] == [OTHER_POST]
    r = server.get(PATH, server.read_key, **{**ASK, "since": "2026-04-01T00:00:00+00:00"})
    assert r.status_code == 200  # a `+` offset survives the query string


def test_keys_401_and_403(server):
    for key in (None, "lp_live_nope"):
        r = server.get(PATH, key, **ASK)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["code"] == "UNAUTHORIZED"
    r = server.get(PATH, server.ads_key, **ASK)
    assert r.status_code == 403
    assert r.json() == {
        "error": {"code": "FORBIDDEN", "message": "This key lacks the metrics:read scope."}
    }


def test_the_organization_comes_from_the_key(server):
    # org_other's key may not name org_a's project, nor rank it from its own project.
    r = server.get(PATH, server.other_key, **ASK)
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = server.get("/v1/projects/prj_other/top-performers", server.other_key, **ASK)
    assert r.status_code == 404
    r = server.get(
        "/v1/projects/prj_other/top-performers", server.other_key, scope="organization", id=ORG
    )
    assert r.status_code == 404
    mine = server.get(
        "/v1/projects/prj_other/top-performers", server.other_key, **{**ASK, "id": "prj_other"}
    )
    assert [i["platform_post_id"] for i in mine.json()["items"]] == ["pst_x_1"]


@pytest.mark.parametrize(
    "bad",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"scope": "platform_post", "id": POST},
        {"metric": "followers"},
        {"published": "sometimes"},
        {"min_views": "lots"},
    ],
)
def test_bad_requests_are_422_json(server, bad):
    r = server.get(PATH, server.read_key, **{**ASK, **bad})
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION"


def test_openapi_documents_every_parameter_and_an_example_body(server):
    spec = server.client.get(server.base + "/openapi.json").json()
    op = spec["paths"]["/v1/projects/{projectId}/top-performers"]["get"]
    (path,) = [p for p in op["parameters"] if p["in"] == "path"]
    assert path["name"] == "projectId" and path["examples"]
    params = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
    assert set(params) == {
        "scope",
        "id",
        "metric",
        "since",
        "until",
        "tz",
        "limit",
        "platform",
        "published",
        "min_views",
    }
    for name, p in params.items():
        assert p.get("description") and p.get("examples"), name
    enums = {
        n: p["schema"].get("enum") or p["schema"].get("anyOf", [{}])[0].get("enum")
        for n, p in params.items()
    }
    assert enums["scope"] == ["social_account", "project_layer", "project", "organization"]
    assert "engagement_rate" in enums["metric"] and "followers" not in enums["metric"]
    assert enums["published"] == ["any", "in_window"]
    assert enums["platform"] == ["tiktok", "instagram", "youtube", "x"]
    defaults = {n: p["schema"].get("default") for n, p in params.items()}
    assert (
        defaults.items()
        >= {"metric": "views", "tz": "UTC", "limit": 10, "published": "any", "min_views": 0}.items()
    )
    assert params["limit"]["schema"]["maximum"] == 100
    ok = op["responses"]["200"]["content"]["application/json"]
    example = ok["example"]
    assert set(example) == {"scope", "id", "window", "metric", "as_of", "total_candidates", "items"}
    assert set(example["items"][0]["metrics"]) == {
        "views",
        "likes",
        "comments",
        "shares",
        "saves",
        "engagement_rate",
    }
    assert ok["schema"]["$ref"].endswith("/TopPerformersBody")
    assert {"401", "403", "404", "422"} <= set(op["responses"])
    assert op["security"] == [{"HTTPBearer": []}]
