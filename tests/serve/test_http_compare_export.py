"""Spec §7 over HTTP: `compare`, `group_by`, CSV (`format=csv`, `Accept: text/csv`), their
OpenAPI description, and the /docs page working from this server alone.

Uses the loopback server of `test_http` (a real uvicorn on an ephemeral port).
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from metrics.serve import export
from tests.serve.test_http import PROJECT, _expected, server  # noqa: F401  (the fixture)

PATH = f"/v1/projects/{PROJECT}/metrics"
ASK = {"scope": "project", "id": PROJECT, "since": "2026-04-01", "until": "2026-04-04"}


def test_compare_and_group_by_answer_what_the_read_function_does(server):  # noqa: F811
    r = server.get(PATH, server.read_key, **ASK, compare="previous_period", group_by="platform")
    assert r.status_code == 200
    body = r.json()
    assert body == _expected(server, **ASK, compare="previous_period", group_by="platform")
    assert body["previous"]["window"] == {
        "since": "2026-03-29T00:00:00Z",
        "until": "2026-04-01T00:00:00Z",
    }
    assert [g["key"] for g in body["breakdown"]] == ["tiktok"]
    assert body["breakdown"][0]["totals"]["views"] == body["totals"]["views"]


def test_csv_by_parameter_or_accept_header(server):  # noqa: F811
    expected = export.series_csv(_expected(server, **ASK, metrics=["views", "likes"]))
    assert expected.startswith("bucket,views,likes,partial\r\n2026-04-01,")
    by_param = server.get(PATH, server.read_key, **ASK, metrics=["views", "likes"], format="csv")
    by_header = server.client.get(
        server.base + PATH,
        params={**ASK, "metrics": ["views", "likes"]},
        headers={"Authorization": f"Bearer {server.read_key}", "Accept": "text/csv"},
    )
    for r in (by_param, by_header):
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        assert r.text == expected
    forced_json = server.client.get(
        server.base + PATH,
        params={**ASK, "format": "json"},
        headers={"Authorization": f"Bearer {server.read_key}", "Accept": "text/csv"},
    )
    assert forced_json.json() == _expected(server, **ASK)


def test_errors_stay_json_when_csv_is_asked_for(server):  # noqa: F811
    headers = {"Authorization": f"Bearer {server.read_key}", "Accept": "text/csv"}
    for params, status in (
        ({**ASK, "metrics": "spend"}, 422),
        ({**ASK, "id": "prj_nope"}, 404),
        ({**ASK, "group_by": "project"}, 422),
        ({**ASK, "format": "xml"}, 422),
    ):
        r = server.client.get(server.base + PATH, params=params, headers=headers)
        assert r.status_code == status
        assert r.headers["content-type"] == "application/json"
        assert set(r.json()["error"]) == {"code", "message"}
    r = server.client.get(server.base + PATH, params={**ASK, "format": "xml"}, headers=headers)
    assert r.json()["error"]["message"] == "Unknown format: xml. Use json or csv."
    r = server.client.get(server.base + PATH, params={**ASK, "format": "csv"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/json"


def test_openapi_documents_the_new_parameters_and_bodies(server):  # noqa: F811
    spec = server.client.get(server.base + "/openapi.json").json()
    op = spec["paths"]["/v1/projects/{projectId}/metrics"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    for name, enum, default, example in (
        ("compare", ["previous_period", "previous_year"], None, "previous_period"),
        ("group_by", ["platform", "project_layer", "social_account"], None, "platform"),
        ("format", ["json", "csv"], "json", "csv"),
    ):
        assert params[name]["schema"] == {**params[name]["schema"], "type": "string"}
        assert params[name]["schema"]["enum"] == enum
        assert params[name]["schema"].get("default") == default  # compare, group_by: none
        assert params[name]["examples"]["example"]["value"] == example
        assert "Default:" in params[name]["description"]
    # Which reading of "the same length" applies (spec §7's decision, its DST example).
    assert "the same length on the local clock of `tz`" in params["compare"]["description"]
    assert "not the same elapsed time" in params["compare"]["description"]
    assert params["scope"]["required"] is True and params["id"]["required"] is True
    assert params["scope"]["schema"]["type"] == "string"
    content = op["responses"]["200"]["content"]
    example = content["application/json"]["example"]
    assert {"previous", "change", "breakdown", "coverage", "series", "totals"} <= set(example)
    # A worked example, so Swagger UI shows real values instead of inventing `additionalProp1`
    # for the series' and totals' open-ended objects.
    assert example["series"][0] == {
        "bucket": "2026-04-15",
        "views": 18250,
        "engagement_rate": 0.0614,
    }
    assert content["text/csv"]["example"].startswith("bucket,views,engagement_rate,partial\r\n")


def test_the_docs_page_needs_no_other_host(server):  # noqa: F811
    page = server.client.get(server.base + "/docs")
    assert page.status_code == 200
    refs = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", page.text)
    urls = [a or b for a, b in refs]
    assert any(u.endswith(".js") for u in urls) and any(u.endswith(".css") for u in urls)
    assert "/openapi.json" in urls
    assert '"validatorUrl": null' in page.text  # Swagger UI would fetch a badge from swagger.io
    # One keep-alive connection for the page and every asset, as a browser fetches them: the
    # server keeps idle connections longer than the client does (test_http's keep-alive test).
    bodies = {}
    for url in urls:
        absolute = urljoin(server.base + "/docs", url)
        assert urlsplit(absolute).netloc == urlsplit(server.base).netloc, url
        r = server.client.get(absolute)
        assert r.status_code == 200 and r.content, url
        bodies[url] = r.text if url.endswith(".js") else ""
    assert "SwaggerUIBundle" in next(b for u, b in bodies.items() if u.endswith("bundle.js"))
