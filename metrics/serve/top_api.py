"""What /openapi.json says about `GET /v1/projects/{projectId}/top-performers` (spec §7).

The route itself is in `metrics.serve.http`; here are its parameters' descriptions, enums,
defaults and examples, and the 200 body as a model with a worked example, so that the
interactive docs show real field names and values rather than `additionalProp1`. Every enum
comes from the lists the read function checks against.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from metrics.model.platforms import PLATFORMS
from metrics.serve.top import MAX_LIMIT, PUBLISHED, RANK_METRICS, SCOPES_RANKED

SUMMARY = "The scope's posts ranked by one metric over a window"
PROJECT_EXAMPLE = "prj_01HX9Y7K8M2P4RSTUV56789AB"


def _example(value: Any) -> dict[str, Any]:
    """`fastapi.Query` keywords for one example, in the schema and on the parameter (the one
    Swagger UI fills the field with)."""
    return {"examples": [value], "openapi_examples": {"example": {"value": value}}}


# Keyword arguments of `fastapi.Query` per parameter (the defaults are the endpoint's own).
PARAMETERS: dict[str, dict[str, Any]] = {
    "projectId": {
        "description": "The project the request is made in; one of the key's organization.",
        **_example(PROJECT_EXAMPLE),
    },
    "scope": {
        "description": "Whose posts to rank (any scope above platform_post).",
        **_example("project"),
        "json_schema_extra": {"enum": list(SCOPES_RANKED)},
    },
    "id": {
        "description": "Id of the scoped entity; its prefix must fit the scope.",
        **_example(PROJECT_EXAMPLE),
    },
    "metric": {
        "description": "What to rank by, over the window; ties go by views, then post id.",
        **_example("engagement_rate"),
        "json_schema_extra": {"enum": list(RANK_METRICS)},
    },
    "since": {
        "description": "ISO-8601, inclusive; a date alone is local midnight in `tz`. "
        "Default: `until` − 30 days.",
        **_example("2026-04-01T00:00:00Z"),
    },
    "until": {
        "description": "ISO-8601, exclusive. Default: now.",
        **_example("2026-05-01T00:00:00Z"),
    },
    "tz": {
        "description": "IANA zone for dates and times without an offset.",
        **_example("America/Los_Angeles"),
    },
    "limit": {
        "description": f"How many posts to return, 1 to {MAX_LIMIT}.",
        **_example(10),
        "json_schema_extra": {"minimum": 1, "maximum": MAX_LIMIT},
    },
    "platform": {
        "description": "Only posts of this platform.",
        **_example("tiktok"),
        "json_schema_extra": {"enum": list(PLATFORMS)},
    },
    "published": {
        "description": "`in_window`: only posts published inside the window; `any`: no filter.",
        **_example("in_window"),
        "json_schema_extra": {"enum": list(PUBLISHED)},
    },
    "min_views": {
        "description": "Only posts with at least this many views over the window.",
        **_example(1000),
    },
}


class TopWindow(BaseModel):
    since: str = Field(examples=["2026-04-01T00:00:00Z"])
    until: str = Field(examples=["2026-05-01T00:00:00Z"])
    tz: str | None = Field(None, description="present when not UTC", examples=["Europe/Paris"])


class ItemMetrics(BaseModel):
    views: int
    likes: int
    comments: int
    shares: int
    saves: int
    engagement_rate: float


class TopItem(BaseModel):
    rank: int
    platform_post_id: str
    platform: str
    social_account_id: str
    project_layer_id: str
    published_at: str | None
    value: int | float = Field(description="the ranked metric over the window")
    metrics: ItemMetrics


class TopPerformersBody(BaseModel):
    scope: str
    id: str
    window: TopWindow
    metric: str
    as_of: str | None
    total_candidates: int = Field(description="posts that passed every filter, before `limit`")
    items: list[TopItem]


EXAMPLE: dict[str, Any] = {
    "scope": "project",
    "id": PROJECT_EXAMPLE,
    "window": {"since": "2026-04-01T00:00:00Z", "until": "2026-05-01T00:00:00Z"},
    "metric": "views",
    "as_of": "2026-04-30T23:41:07Z",
    "total_candidates": 37,
    "items": [
        {
            "rank": 1,
            "platform_post_id": "pst_tiktok_7301234567890123456",
            "platform": "tiktok",
            "social_account_id": "acc_01HX9YB1Q2W3E4R5",
            "project_layer_id": "lyr_01HX9YA7C3D4E5F6",
            "published_at": "2026-04-03T17:02:11Z",
            "value": 184230,
            "metrics": {
                "views": 184230,
                "likes": 9120,
                "comments": 311,
                "shares": 802,
                "saves": 1450,
                "engagement_rate": 0.0634,
            },
        },
        {
            "rank": 2,
            "platform_post_id": "pst_instagram_17900000000000001",
            "platform": "instagram",
            "social_account_id": "acc_01HX9YB9Z8X7C6V5",
            "project_layer_id": "lyr_01HX9YA7C3D4E5F6",
            "published_at": None,
            "value": 96004,
            "metrics": {
                "views": 96004,
                "likes": 4410,
                "comments": 98,
                "shares": 120,
                "saves": 640,
                "engagement_rate": 0.0549,
            },
        },
    ],
}
