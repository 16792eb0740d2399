"""What /openapi.json (and so the /docs page) says about the metrics route beyond its types.

The route takes `scope` and `id` as optional Python parameters, so that a missing one gets the
read function's own 422 body ("Missing scope."), not FastAPI's; the schema still marks them
required (`tidy`), since no request without them succeeds. The 200 body is documented
with a worked example (not `additionalProp1`), for JSON and for CSV. The pydantic models only
document: the endpoint serializes the read function's dict with orjson.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from metrics.serve.export import MEDIA_TYPE


class WindowBody(BaseModel):
    since: str
    until: str
    granularity: str
    tz: str | None = None


class CoverageBody(BaseModel):
    buckets_after_as_of: int
    first_bucket_after_as_of: str | None
    unreported_metrics: list[str]


class PreviousWindow(BaseModel):
    since: str
    until: str


class PreviousBody(BaseModel):
    window: PreviousWindow
    series: list[dict[str, str | int | float | bool]]
    totals: dict[str, int | float]


class Change(BaseModel):
    abs: int | float
    pct: float | None


class Group(BaseModel):
    key: str
    totals: dict[str, int | float]


class MetricsBody(BaseModel):
    scope: str
    id: str
    window: WindowBody
    as_of: str | None
    coverage: CoverageBody
    series: list[dict[str, str | int | float | bool]]
    totals: dict[str, int | float]
    previous: PreviousBody | None = None
    change: dict[str, Change] | None = None
    breakdown: list[Group] | None = None


PROJECT = "prj_01HX9Y7K8M2P4RSTUV56789AB"
EXAMPLE_BODY: dict[str, Any] = {
    "scope": "project",
    "id": PROJECT,
    "window": {
        "since": "2026-04-15T00:00:00Z",
        "until": "2026-04-18T00:00:00Z",
        "granularity": "day",
    },
    "as_of": "2026-04-17T06:00:12Z",
    "coverage": {
        "buckets_after_as_of": 1,
        "first_bucket_after_as_of": "2026-04-17",
        "unreported_metrics": [],
    },
    "series": [
        {"bucket": "2026-04-15", "views": 18250, "engagement_rate": 0.0614},
        {"bucket": "2026-04-16", "views": 21400, "engagement_rate": 0.0587},
        {"bucket": "2026-04-17", "views": 4100, "engagement_rate": 0.0622},
    ],
    "totals": {"views": 43750, "engagement_rate": 0.06, "post_count": 37},
    "previous": {
        "window": {"since": "2026-04-12T00:00:00Z", "until": "2026-04-15T00:00:00Z"},
        "series": [
            {"bucket": "2026-04-12", "views": 12000, "engagement_rate": 0.05},
            {"bucket": "2026-04-13", "views": 11500, "engagement_rate": 0.055},
            {"bucket": "2026-04-14", "views": 11500, "engagement_rate": 0.045},
        ],
        "totals": {"views": 35000, "engagement_rate": 0.05, "post_count": 30},
    },
    "change": {
        "views": {"abs": 8750, "pct": 0.25},
        "engagement_rate": {"abs": 0.01, "pct": 0.2},
        "post_count": {"abs": 7, "pct": 7 / 30},
    },
    "breakdown": [
        {"key": "tiktok", "totals": {"views": 30000, "engagement_rate": 0.065, "post_count": 25}},
        {
            "key": "instagram",
            "totals": {"views": 13750, "engagement_rate": 0.049, "post_count": 12},
        },
    ],
}
EXAMPLE_CSV = (
    "bucket,views,engagement_rate,partial\r\n"
    "2026-04-15,18250,0.0614,\r\n"
    "2026-04-16,21400,0.0587,\r\n"
    "2026-04-17,4100,0.0622,\r\n"
)
METRICS_200: dict[str, Any] = {
    "model": MetricsBody,
    "description": "The series and totals; `previous`/`change` with `compare`, `breakdown` "
    "with `group_by`. The CSV holds the series only.",
    "content": {
        "application/json": {"example": EXAMPLE_BODY},
        MEDIA_TYPE: {"schema": {"type": "string"}, "example": EXAMPLE_CSV},
    },
}


def examples(value: Any, summary: str) -> dict[str, dict[str, Any]]:
    """One named example of a query parameter, as `Query(openapi_examples=…)` takes it."""
    return {"example": {"summary": summary, "value": value}}


def tidy(app: FastAPI, path: str, required: tuple[str, ...]) -> None:
    """Make /openapi.json mark `required` as required on GET `path`, and show each optional
    parameter as its one type (a query parameter that is absent is what `null` would mean), so
    an `enum` reads as a choice. The schema is generated once, then cached by FastAPI."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for parameter in build()["paths"][path]["get"]["parameters"]:
                schema = parameter["schema"]
                kinds = [s for s in schema.pop("anyOf", []) if s != {"type": "null"}]
                schema.update(kinds[0] if len(kinds) == 1 else {"anyOf": kinds} if kinds else {})
                if parameter["name"] in required:
                    parameter["required"] = True
                    schema.pop("default", None)
        assert app.openapi_schema is not None  # build() caches what it returns
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
