"""spec §3.4: the follower gauge F(t)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from metrics.model import tables as schema
from metrics.transform.followers import follower_steps, follower_values_at, scope_follower_values_at

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(seconds=round(hours * 3600))


def observations(*rows: dict[str, Any]) -> pl.DataFrame:
    filled = [
        {"platform": "x", "landing_file": "x/2026-03-02/u.jsonl", "line": i + 1, **r}
        for i, r in enumerate(rows)
    ]
    return pl.DataFrame(filled, schema=schema.FOLLOWER_OBSERVATIONS)


OBS = observations(
    {"social_account_id": "acc_1", "collected_at": at(9), "followers": 100},
    {"social_account_id": "acc_1", "collected_at": at(12), "followers": 110,
     "landing_file": "x/2026-03-02/u.jsonl", "line": 7},
    # same instant, later file: wins
    {"social_account_id": "acc_1", "collected_at": at(12), "followers": 120,
     "landing_file": "x/2026-03-03/u.jsonl", "line": 1},
    {"social_account_id": "acc_1", "collected_at": at(40), "followers": 90},
    {"social_account_id": "acc_1", "collected_at": at(41), "followers": None},  # unknown
    {"social_account_id": "acc_2", "collected_at": at(0.5), "followers": 50},
)  # fmt: skip


def queries(*pairs: tuple[str, datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"social_account_id": a, "at": t} for a, t in pairs],
        schema={"social_account_id": pl.String, "at": schema.UTC_TS},
    )


def test_account_values() -> None:
    q = queries(
        ("acc_1", at(0)),  # before the first snapshot: the first value
        ("acc_1", at(9)),  # at a snapshot: strictly before counts, so still the first
        ("acc_1", at(9) + timedelta(seconds=1)),
        ("acc_1", at(12)),
        ("acc_1", at(13)),  # the later duplicate won
        ("acc_1", at(100)),  # the null snapshot at 41 h is ignored
        ("acc_2", at(0)),
        ("acc_2", at(100)),
        ("acc_none", at(5)),  # never observed
    )
    got = follower_values_at(OBS, q)
    assert got.columns == ["social_account_id", "at", "followers"]
    assert got["followers"].to_list() == [100, 100, 100, 100, 120, 90, 50, 50, 0]
    assert got["at"].to_list() == q["at"].to_list()  # input order kept


def test_scope_values_sum_accounts() -> None:
    members = pl.DataFrame(
        {
            "layer": ["l1", "l1", "l2", "l3"],
            "social_account_id": ["acc_1", "acc_2", "acc_2", "acc_9"],
        }
    )
    q = pl.DataFrame(
        {"layer": ["l1", "l1", "l2", "l3", "l4"], "at": [at(0), at(13), at(13), at(13), at(13)]},
        schema={"layer": pl.String, "at": schema.UTC_TS},
    )
    got = scope_follower_values_at(OBS, members, q, scope_col="layer")
    assert got.rows() == [
        ("l1", at(0), 150),
        ("l1", at(13), 170),
        ("l2", at(13), 50),
        ("l3", at(13), 0),  # member never observed
        ("l4", at(13), 0),  # no members
    ]


def test_steps_per_day() -> None:
    steps, starts = follower_steps(OBS, every="1d")
    assert sorted(starts.collect().rows()) == [("acc_1", 100), ("acc_2", 50)]
    # acc_1: its first day ends at 120 (from the first value 100), the next at 90.
    assert steps.collect().rows() == [
        ("acc_1", T0, 20),
        ("acc_1", at(24), -30),
        ("acc_2", T0, 0),
    ]
