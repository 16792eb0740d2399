"""Each platform's native response shapes for its posts, one module per platform.

Every module has `poll` (one day's polls of the account's posts, written through the
simulation, `metrics.sample.timeline`); `poll_day` runs the account's platform's. Platform
field names live here, in `metrics.sample.followers` (the follower gauge), and in `defects`,
which spoils some of them.
"""

from __future__ import annotations

from metrics.sample.bodies import instagram, tiktok, x, youtube
from metrics.sample.timeline import AccountSim

_POLL = {"tiktok": tiktok.poll, "instagram": instagram.poll, "x": x.poll}


def poll_day(sim: AccountSim, day: int) -> None:
    """Simulate window day `day` of `sim`'s account and write its platform's responses."""
    polls = sim.day_polls(day)
    if polls is None:
        return
    if sim.platform == "youtube":
        youtube.poll(sim, polls.first, polls.times, polls.values, polls.published, polls.gauge)
    else:
        _POLL[sim.platform](sim, polls.times, polls.values, polls.published, polls.gauge)
