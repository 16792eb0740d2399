"""The listing (`Store.list`) and its HTTP routes, against tests/helpers/tiny.py.

Expected rows are read off DATA by hand: a span is the first hour start and last hour end with a
rollup_hour row (an increment, a publication or a follower snapshot).
"""

from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient

import metrics
from metrics.serve import keys
from metrics.serve.http import create_app
from tests.helpers.tiny import DATA, P1, P2, P4, PA2, PB, t
from tests.helpers.warehouse import Warehouse, write_warehouse


@pytest.fixture(scope="module")
def store(hand_warehouse):
    return metrics.connect(hand_warehouse(DATA))


def ids(rows):
    return [r["id"] for r in rows]


def test_orgs_and_projects_with_names_platforms_and_spans(store):
    assert store.list("orgs") == [
        {
            "id": "org_a",
            "name": "Org A",
            "platforms": ["instagram", "tiktok", "x", "youtube"],
            "org_id": "org_a",
            # P2's publication hour (03-30 23:00) to P2's last increment (04-02 13:00) + 1 h
            "first_data_at": "2026-03-30T23:00:00Z",
            "last_data_at": "2026-04-02T14:00:00Z",
        },
        {
            "id": "org_b",
            "name": "Org B",
            "platforms": ["tiktok"],
            "org_id": "org_b",
            # acc_b's follower snapshot at 00:00 to PB's increment at 10:00 + 1 h
            "first_data_at": "2026-04-01T00:00:00Z",
            "last_data_at": "2026-04-01T11:00:00Z",
        },
    ]
    assert ids(store.list("projects", org_id="org_a")) == ["prj_a1", "prj_a2"]
    assert store.list("projects", org_id="org_a")[1]["name"] == "Second"


def test_layers_accounts_posts_in_one_project(store):
    layers = store.list("layers", org_id="org_a", project_id="prj_a1")
    assert [(r["id"], r["kind"], r["platforms"]) for r in layers] == [
        ("lyr_a1_sc", "social_content", ["instagram", "tiktok"]),
        ("lyr_a1_ugc", "managed_ugc", ["x", "youtube"]),
    ]
    assert layers[1]["first_data_at"] is None  # no data at all in the UGC layer
    accounts = store.list("accounts", project_id="prj_a1")
    assert ids(accounts) == ["acc_ig", "acc_tt", "acc_x", "acc_yt"]
    tt = accounts[1]
    assert (tt["handle"], tt["platform"], tt["project_layer_id"]) == ("@tt", "tiktok", "lyr_a1_sc")
    # first follower snapshot 03-31 12:00; last snapshot 04-02 09:15, in the hour ending 10:00
    assert (tt["first_data_at"], tt["last_data_at"]) == (
        "2026-03-31T12:00:00Z",
        "2026-04-02T10:00:00Z",
    )
    posts = store.list("posts", org_id="org_a", project_id="prj_a1")
    assert ids(posts) == [P2, P4, P1]
    p1 = posts[2]
    assert p1["native_id"] == "7301234567890123456"  # text, never a float
    assert (p1["published_at"], p1["first_data_at"], p1["last_data_at"]) == (
        "2026-04-01T10:30:00Z",
        "2026-04-01T10:00:00Z",
        "2026-04-02T08:00:00Z",
    )
    assert ids(store.list("posts", org_id="org_a")) == [P2, P4, PA2, P1]
    assert ids(store.list("posts", limit=1)) == [P2]
    assert store.count("posts", org_id="org_b") == 1
    assert ids(store.list("posts", org_id="org_b")) == [PB]


def test_refusals(store):
    with pytest.raises(metrics.NotFoundError) as other:
        store.list("layers", org_id="org_a", project_id="prj_b1")  # another org's project
    with pytest.raises(metrics.NotFoundError) as unknown:
        store.list("layers", org_id="org_a", project_id="prj_zz")
    assert other.value.message.replace("prj_b1", "X") == unknown.value.message.replace(
        "prj_zz", "X"
    )
    with pytest.raises(metrics.NotFoundError):
        store.list("projects", org_id="org_zz")
    with pytest.raises(metrics.ValidationError):
        store.list("things")
    with pytest.raises(metrics.ValidationError):
        store.list("orgs", project_id="prj_a1")


@pytest.fixture(scope="module")
def client(store, tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    a, _ = keys.create(path, "org_a", (keys.READ_SCOPE,))
    ads, _ = keys.create(path, "org_a", ("ads:read",))
    nobody, _ = keys.create(path, "org_zz", (keys.READ_SCOPE,))
    client = TestClient(create_app(keys_file=path, store=store))
    client.keys = {"a": a, "ads": ads, "nobody": nobody}
    return client


def get(client, path, key=None, **params):
    headers = {"Authorization": f"Bearer {client.keys[key]}"} if key else {}
    return client.get(path, params=params, headers=headers)


def test_http_projects_of_the_keys_org(client):
    r = get(client, "/v1/projects", "a")
    assert r.status_code == 200
    assert ids(r.json()["projects"]) == ["prj_a1", "prj_a2"]
    assert get(client, "/v1/projects", "nobody").json() == {"projects": []}


@pytest.mark.parametrize("path", ["/v1/projects", "/v1/projects/prj_a1/entities"])
def test_http_auth(client, path):
    r = get(client, path)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert r.json()["error"]["code"] == "UNAUTHORIZED"
    r = client.get(path, headers={"Authorization": "Bearer lp_live_nope"})
    assert r.status_code == 401
    r = get(client, path, "ads")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "FORBIDDEN"


def test_http_entities_of_one_project(client):
    body = get(client, "/v1/projects/prj_a1/entities", "a").json()
    assert body["project"]["id"] == "prj_a1"
    assert ids(body["layers"]) == ["lyr_a1_sc", "lyr_a1_ugc"]
    assert ids(body["accounts"]) == ["acc_ig", "acc_tt", "acc_x", "acc_yt"]
    assert "posts" not in body
    body = get(client, "/v1/projects/prj_a1/entities", "a", posts="true", limit=2).json()
    assert ids(body["posts"]) == [P2, P4]
    assert body["posts_total"] == 3


def test_http_entities_tenant_404_reveals_nothing(client):
    other = get(client, "/v1/projects/prj_b1/entities", "a")
    unknown = get(client, "/v1/projects/prj_zz/entities", "a")
    assert other.status_code == unknown.status_code == 404
    assert other.json()["error"]["code"] == "NOT_FOUND"
    assert other.json()["error"]["message"].replace("prj_b1", "X") == unknown.json()["error"][
        "message"
    ].replace("prj_zz", "X")


def test_http_entities_limit_is_validated_as_json(client):
    r = get(client, "/v1/projects/prj_a1/entities", "a", posts="true", limit=0)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "VALIDATION"


def test_openapi_documents_the_listing(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "get" in paths["/v1/projects"]
    assert "get" in paths["/v1/projects/{projectId}/entities"]


def test_a_new_warehouse_version_is_listed_after_the_reload(tmp_path):
    catalog = copy.deepcopy(DATA.catalog)
    catalog["projects"][0]["name"] = "Renamed"
    v2 = Warehouse(
        catalog=catalog,
        posts=DATA.posts,
        hourly=[*DATA.hourly, (P1, t("2026-04-05T03:00"), {"views": 1})],
        followers=DATA.followers,
    )
    store = metrics.connect(write_warehouse(tmp_path, DATA))
    assert store.list("projects", project_id="prj_a1")[0]["name"] == "Launch"
    write_warehouse(tmp_path, v2)
    assert store.refresh()
    project = store.list("projects", project_id="prj_a1")[0]
    assert (project["name"], project["last_data_at"]) == ("Renamed", "2026-04-05T04:00:00Z")
