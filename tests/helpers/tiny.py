"""The tiny hand-made warehouse the read-function tests compute their answers from.

In project prj_a1 of org_a, post P1 (TikTok, account acc_tt) and posts P2, P4 (Instagram,
acc_ig); P4 never moves. prj_a2 (org_a) holds PA2, org_b holds PB. acc_tt has four follower
snapshots, one of them exactly on an hour edge and two within one hour.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from tests.helpers.landing import CATALOG
from tests.helpers.warehouse import Warehouse

P1 = "pst_tiktok_7301234567890123456"
P2 = "pst_instagram_17900000000000001"
P4 = "pst_instagram_17900000000000002"
PA2 = "pst_tiktok_2"
PB = "pst_tiktok_9"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _catalog() -> dict:
    catalog = copy.deepcopy(CATALOG)
    catalog["projects"].append({"id": "prj_a2", "org_id": "org_a", "name": "Second"})
    catalog["project_layers"].append(
        {"id": "lyr_a2_sc", "project_id": "prj_a2", "kind": "social_content", "name": "SC"}
    )
    catalog["social_accounts"].append(
        {
            "id": "acc_a2",
            "project_layer_id": "lyr_a2_sc",
            "platform": "tiktok",
            "native_id": "tt3",
            "handle": "@a2",
        }
    )
    return catalog


DATA = Warehouse(
    catalog=_catalog(),
    posts={
        P1: ("acc_tt", t("2026-04-01T10:30:00")),
        P2: ("acc_ig", t("2026-03-30T23:10:00")),
        P4: ("acc_ig", t("2026-04-01T15:00:00")),
        PA2: ("acc_a2", None),
        PB: ("acc_b", t("2026-04-01T09:00:00")),
    },
    hourly=[
        (P1, t("2026-04-01T10:00"), {"views": 100, "likes": 5, "comments": 1}),
        (P1, t("2026-04-01T23:00"), {"views": 50, "shares": 2}),
        (P1, t("2026-04-02T07:00"), {"views": 30, "saves": 3}),
        (P2, t("2026-03-31T00:00"), {"views": 200, "likes": 10}),
        (P2, t("2026-04-02T12:00"), {"views": -20}),
        (P2, t("2026-04-02T13:00"), {"likes": 4}),
        (PA2, t("2026-04-01T10:00"), {"views": 7}),
        (PB, t("2026-04-01T10:00"), {"views": 999}),
    ],
    followers=[
        ("acc_tt", t("2026-03-31T12:00:00"), 1000),
        ("acc_tt", t("2026-04-01T12:00:00"), 1010),
        ("acc_tt", t("2026-04-01T12:30:00"), 1020),
        ("acc_tt", t("2026-04-02T09:15:00"), 1050),
        ("acc_ig", t("2026-04-01T05:00:00"), 500),
        ("acc_b", t("2026-04-01T00:00:00"), 7),
    ],
)
