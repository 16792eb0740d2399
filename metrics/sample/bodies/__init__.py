"""Each platform's native response shapes, one module per platform.

Every module has `follower_body` (the follower gauge) and `poll` (one poll of the account's
posts, written through the simulation); platform field names live here, and in `defects`,
which spoils some of them.
"""

from __future__ import annotations

import random

from metrics.sample.bodies import instagram, tiktok, x, youtube
from metrics.sample.catalog import Account

_FOLLOWER_BODY = {
    "tiktok": tiktok.follower_body,
    "instagram": instagram.follower_body,
    "youtube": youtube.follower_body,
    "x": x.follower_body,
}


def follower_body(acc: Account, followers: int, rng: random.Random) -> dict:
    """The native follower-gauge body of `acc`'s platform."""
    return _FOLLOWER_BODY[acc.platform](acc, followers, rng)
