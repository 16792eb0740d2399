"""Hand-written landing zones for small, exact cases."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

CATALOG: dict[str, Any] = {
    "organizations": [{"id": "org_a", "name": "Org A"}, {"id": "org_b", "name": "Org B"}],
    "projects": [
        {"id": "prj_a1", "org_id": "org_a", "name": "Launch"},
        {"id": "prj_b1", "org_id": "org_b", "name": "Other"},
    ],
    "project_layers": [
        {"id": "lyr_a1_sc", "project_id": "prj_a1", "kind": "social_content", "name": "SC"},
        {"id": "lyr_a1_ugc", "project_id": "prj_a1", "kind": "managed_ugc", "name": "UGC"},
        {"id": "lyr_b1_sc", "project_id": "prj_b1", "kind": "social_content", "name": "SC"},
    ],
    "social_accounts": [
        {
            "id": "acc_tt",
            "project_layer_id": "lyr_a1_sc",
            "platform": "tiktok",
            "native_id": "tt1",
            "handle": "@tt",
        },
        {
            "id": "acc_ig",
            "project_layer_id": "lyr_a1_sc",
            "platform": "instagram",
            "native_id": "ig1",
            "handle": "@ig",
        },
        {
            "id": "acc_yt",
            "project_layer_id": "lyr_a1_ugc",
            "platform": "youtube",
            "native_id": "UC1",
            "handle": "@yt",
        },
        {
            "id": "acc_x",
            "project_layer_id": "lyr_a1_ugc",
            "platform": "x",
            "native_id": "x1",
            "handle": "@x",
        },
        {
            "id": "acc_b",
            "project_layer_id": "lyr_b1_sc",
            "platform": "tiktok",
            "native_id": "tt2",
            "handle": "@b",
        },
    ],
}


def envelope(
    platform: str,
    endpoint: str,
    account: str,
    collected_at: str,
    response: Any,
    request: dict[str, Any] | None = None,
) -> dict:
    env: dict[str, Any] = {
        "platform": platform,
        "endpoint": endpoint,
        "social_account_id": account,
        "collected_at": collected_at,
    }
    if request is not None:
        env["request"] = request
    env["response"] = response
    return env


def write_catalog(raw: Path, day: str, catalog: dict[str, Any] | None = None) -> Path:
    path = raw / "catalog" / day / "catalog.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(catalog or CATALOG))
    return path


def write_lines(raw: Path, rel: str, lines: list[Any]) -> Path:
    """Write envelopes (dicts) or raw strings, one per line; `.gz` names are gzipped."""
    path = raw / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    data = text.encode()
    path.write_bytes(gzip.compress(data, mtime=0) if rel.endswith(".gz") else data)
    return path
