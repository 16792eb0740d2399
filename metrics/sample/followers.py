"""Each platform's native follower-gauge body (TikTok `business/get`, Instagram `user`,
YouTube `channels.list`, X `users`), from the account and its follower count.

Below the simulation (`timeline`, which polls the gauge) and the defects (`defects`, which lands
another platform's gauge in the wrong folder), so both take the same bodies without importing
the platform body modules that use the simulation.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from metrics.sample.catalog import Account
from metrics.sample.platforms import trunc3


def _tiktok(acc: Account, followers: int, rng: random.Random) -> dict:
    """`business/get`, with its own request id."""
    return {
        "code": 0,
        "message": "OK",
        "request_id": f"{rng.getrandbits(64):016x}",
        "data": {
            "username": acc.handle,
            "display_name": acc.handle.replace("_", " ").title(),
            "is_business_account": True,
            "followers_count": followers,
        },
    }


def _instagram(acc: Account, followers: int, rng: random.Random) -> dict:
    """`user`; `rng` is unused, kept for the common signature."""
    return {"id": acc.native_id, "username": acc.handle, "followers_count": followers}


def _youtube(acc: Account, followers: int, rng: random.Random) -> dict:
    """`channels.list`, the count abbreviated as YouTube shows it; `rng` is unused."""
    return {
        "kind": "youtube#channelListResponse",
        "items": [
            {
                "kind": "youtube#channel",
                "id": acc.native_id,
                "statistics": {"subscriberCount": str(trunc3(followers))},
            }
        ],
    }


def _x(acc: Account, followers: int, rng: random.Random) -> dict:
    """`users`; `rng` is unused, kept for the common signature."""
    return {
        "data": {
            "id": acc.native_id,
            "username": acc.handle,
            "public_metrics": {"followers_count": followers},
        }
    }


_FOLLOWER_BODY: dict[str, Callable[[Account, int, random.Random], dict]] = {
    "tiktok": _tiktok,
    "instagram": _instagram,
    "youtube": _youtube,
    "x": _x,
}


def follower_body(acc: Account, followers: int, rng: random.Random) -> dict:
    """The native follower-gauge body of `acc`'s platform."""
    return _FOLLOWER_BODY[acc.platform](acc, followers, rng)
