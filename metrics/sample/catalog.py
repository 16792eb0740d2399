"""The entity tree (organizations, projects, layers, accounts) and the account move.

Two catalog snapshots land: the first at `start`, a newer one mid-window in which one account
has moved to another layer of its organization, so the pipeline's catalog history is exercised.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from metrics.sample.platforms import PLATFORMS, b64id

_BRANDS = (
    "lumen",
    "northpeak",
    "citrine",
    "harbor",
    "velvetfox",
    "oakline",
    "brightkite",
    "mosaic",
)


@dataclass(frozen=True)
class Account:
    index: int
    platform_index: int
    id: str
    platform: str
    native_id: str
    handle: str


def build_catalog(seed: int, n_accounts: int) -> tuple[dict, list[Account]]:
    rng = random.Random(seed * 7919 + 1)
    used: set[str] = set()

    def rid(prefix: str) -> str:
        while True:
            value = f"{prefix}{rng.getrandbits(48):012x}"
            if value not in used:
                used.add(value)
                return value

    orgs = [
        {"id": rid("org_"), "name": name} for name in ("Northwind Studios", "Bluefin Media Group")
    ]
    per_org = max(2, min(6, n_accounts // 80))
    project_names = ("Spring Launch", "Evergreen", "Creators Program", "Retail", "Brand", "Events")
    projects = [
        {"id": rid("prj_"), "org_id": org["id"], "name": f"{project_names[p]} ({org['name']})"}
        for org in orgs
        for p in range(per_org)
    ]
    layers = []
    for project in projects:
        layers.append(
            {
                "id": rid("lyr_"),
                "project_id": project["id"],
                "kind": "social_content",
                "name": "Owned content",
            }
        )
        layers.append(
            {
                "id": rid("lyr_"),
                "project_id": project["id"],
                "kind": "managed_ugc",
                "name": "Creator UGC",
            }
        )
    # Consecutive accounts alternate organizations, projects and layer kinds, and the shift by
    # `i // len(spread)` keeps each layer from holding a single platform.
    spread = [
        layers[2 * (o * per_org + p) + kind]
        for p in range(per_org)
        for kind in (0, 1)
        for o in range(len(orgs))
    ]
    accounts: list[Account] = []
    rows = []
    per_platform: Counter[str] = Counter()
    for i in range(n_accounts):
        platform = PLATFORMS[i % len(PLATFORMS)]
        if platform == "tiktok":
            native = "-000" + b64id(rng, 28).replace("-", "x").replace("_", "y")
        elif platform == "instagram":
            native = f"17841{rng.randrange(10**11, 10**12)}"
        elif platform == "youtube":
            native = "UC" + b64id(rng, 22)
        else:
            native = str(rng.randrange(10**18, 2 * 10**18))
        handle = f"{_BRANDS[i % len(_BRANDS)]}_{platform}{i}"
        account = Account(i, per_platform[platform], rid("acc_"), platform, native, handle)
        per_platform[platform] += 1
        accounts.append(account)
        layer = spread[(i + i // len(spread)) % len(spread)]
        rows.append(
            {
                "id": account.id,
                "project_layer_id": layer["id"],
                "platform": platform,
                "native_id": native,
                "handle": handle,
            }
        )
    catalog = {
        "organizations": orgs,
        "projects": projects,
        "project_layers": layers,
        "social_accounts": rows,
    }
    return catalog, accounts


def move_one_account(catalog: dict, seed: int) -> tuple[dict, dict]:
    """The newer snapshot moves one account to another layer of the same organization."""
    rng = random.Random(seed * 7919 + 2)
    project_org = {p["id"]: p["org_id"] for p in catalog["projects"]}
    layer_org = {lyr["id"]: project_org[lyr["project_id"]] for lyr in catalog["project_layers"]}
    rows = [dict(row) for row in catalog["social_accounts"]]
    row = rows[rng.randrange(len(rows))]
    org = layer_org[row["project_layer_id"]]
    targets = [
        lyr["id"]
        for lyr in catalog["project_layers"]
        if layer_org[lyr["id"]] == org and lyr["id"] != row["project_layer_id"]
    ]
    move = {
        "social_account_id": row["id"],
        "from_layer": row["project_layer_id"],
        "to_layer": rng.choice(targets),
    }
    row["project_layer_id"] = move["to_layer"]
    return {**catalog, "social_accounts": rows}, move
