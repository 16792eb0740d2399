"""One account's simulation: each post's metric curves, the poll schedule, the follower gauge.

The platform body modules (`metrics.sample.bodies`, above this one) turn each day's polls into
native responses; this module owns the state they share and the truth folded from exactly what
was written.
"""

from __future__ import annotations

import random
import time
from typing import NamedTuple

import numpy as np
import orjson

from metrics.model import scopes
from metrics.sample.batch import DAY_MS, Task
from metrics.sample.catalog import Account
from metrics.sample.defects import REASON, RECORD_VARIANTS, Injector, truncate
from metrics.sample.followers import follower_body
from metrics.sample.platforms import (
    COMMENTS,
    FOLLOWER_ENDPOINT,
    LIKES,
    N_SERIES,
    REACH,
    SAVES,
    SHARES,
    TRUTH_METRICS,
    VIEWS,
    WATCH_MS,
    b64id,
    iso,
    trunc3,
)
from metrics.sample.writer import Writer

_X_EPOCH_MS = 1_288_834_974_657
_REMOVAL_RATE = 0.015

_CAPTIONS = (
    "Behind the scenes of our spring drop",
    "3 ways to style it",
    "New colourway is live 🌸",
    "Q&A with the team",
    "You asked, we listened",
    "Day in the life at HQ ☕",
    "Tutorial: start to finish",
    "Can't stop won't stop 🔥",
)


class DayPolls(NamedTuple):
    """One day's polls of an account, for its platform's body module (`bodies.poll_day`)."""

    first: int  # the first poll's place in the whole schedule
    times: list[int]  # epoch ms of each poll
    values: np.ndarray  # (polls, posts, series) lifetime counters each poll sees
    published: list[int]  # how many posts (in publication order) exist at each poll
    gauge: list[int]  # the follower count at each poll


class AccountSim:
    """Posts with saturating growth curves, polled on an irregular schedule.

    Lifetime counters = floor(curve) minus cumulative random removals (unlikes, spam sweeps),
    so they mostly grow and occasionally dip. The truth is updated from exactly what is written.
    """

    def __init__(self, acc: Account, task: Task, inj: Injector, writer: Writer) -> None:
        self.acc = acc
        self.task = task
        self.inj = inj
        self.writer = writer
        self.platform = acc.platform
        self.nrng = np.random.default_rng([task.seed, acc.index, 0x5EED])
        self.prng = random.Random(task.seed * 1_000_003 + acc.index)
        nrng, prng = self.nrng, self.prng
        n = task.posts_per_account
        start_s = task.start_ms / 1000
        window_s = task.days * 86400

        self.followers = float(np.clip(np.exp(nrng.normal(np.log(15_000), 1.4)), 80, 3e7))
        self.f_drift = self.followers * nrng.uniform(-0.0002, 0.0012)
        self.f_sd = max(0.8, self.followers * 0.0004)

        old = nrng.random(n) < 0.2
        pub = np.where(
            old,
            start_s - nrng.uniform(3600, 45 * 86400, n),
            start_s + nrng.uniform(0, window_s, n),
        )
        self.pub = np.sort(np.floor(pub)).astype(np.int64)
        self.pub_f = self.pub.astype(np.float64)
        self.old = self.pub < start_s
        self.vmax = self.followers * np.exp(nrng.normal(-0.3, 1.0, n)) * 2 + 40
        self.tau_h = np.exp(nrng.normal(np.log(10), 0.7, n))
        ratio = np.empty((n, N_SERIES))
        ratio[:, VIEWS] = 1.0
        ratio[:, REACH] = nrng.uniform(0.5, 0.92, n)
        ratio[:, LIKES] = nrng.uniform(0.02, 0.12, n)
        ratio[:, COMMENTS] = nrng.uniform(0.001, 0.012, n)
        ratio[:, SHARES] = nrng.uniform(0.001, 0.02, n)
        ratio[:, SAVES] = nrng.uniform(0.001, 0.03, n)
        ratio[:, WATCH_MS] = nrng.uniform(1500, 15000, n)  # ms watched per view
        self.ratio = ratio
        self.removed = np.zeros((n, N_SERIES), dtype=np.int64)

        # Irregular polls: a per-account phase plus jitter, never reordering consecutive polls.
        interval = task.interval_ms
        n_polls = task.days * DAY_MS // interval + 2
        k = np.arange(n_polls, dtype=np.int64)
        phase = int(nrng.integers(0, max(1, interval * 6 // 10)))
        jitter = nrng.integers(0, max(1, interval * 35 // 100), n_polls)
        polls = task.start_ms + phase + k * interval + jitter
        self.polls = polls[polls < task.start_ms + task.days * DAY_MS]
        per_day = max(1, round(86_400_000 / interval))
        self.list_every = max(1, per_day // 2)
        self.report_every = max(1, per_day // 4)
        self.list_phase = prng.randrange(self.list_every)
        self.report_phase = prng.randrange(self.report_every)

        self.native = self._native_ids()
        pub_list = self.pub.tolist()
        self.post_ids = [scopes.post_id(self.platform, nid) for nid in self.native]
        self.pub_iso = [iso(s * 1000) for s in pub_list]
        self.ct_int = pub_list
        self.ct_str = [str(s) for s in pub_list]
        self.ig_ts = [time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(s)) for s in pub_list]
        self.x_ts = [time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(s)) for s in pub_list]
        self.caption = [prng.choice(_CAPTIONS) for _ in range(n)]
        self.duration = [round(prng.uniform(6, 90), 3) for _ in range(n)]
        kinds = [prng.random() for _ in range(n)]
        self.ig_kind = [
            ("VIDEO", "REELS")
            if u < 0.5
            else ("IMAGE", "FEED")
            if u < 0.8
            else ("CAROUSEL_ALBUM", "FEED")
            for u in kinds
        ]
        # Media posted before the business conversion never gets insights (error 2108006).
        self.no_insights = [bool(o) and prng.random() < 0.3 for o in self.old.tolist()]
        self.quote_frac = nrng.uniform(0.05, 0.3, n)

        self.last = np.zeros((n, len(TRUTH_METRICS)), dtype=np.int64)
        self.seen = np.zeros(n, dtype=bool)
        self.pub_known = np.zeros(n, dtype=bool)
        self.day_rows: dict[tuple[int, int], list[int]] = {}
        self.last_followers: tuple[int, str] | None = None
        self.seq = 0

    def _native_ids(self) -> list[str]:
        acc, n = self.acc, len(self.pub)
        slot = acc.platform_index
        if self.platform == "tiktok":
            # TikTok item ids carry the creation second in their high bits.
            return [
                str((int(s) << 32) | ((slot & 0xFFFFF) << 12) | i) for i, s in enumerate(self.pub)
            ]
        if self.platform == "x":
            ms = [int(s) * 1000 + self.prng.randrange(1000) for s in self.pub]
            return [
                str(((m - _X_EPOCH_MS) << 22) | ((slot & 0x3FF) << 12) | i)
                for i, m in enumerate(ms)
            ]
        if self.platform == "instagram":
            return [
                str(17_900_000_000_000_000 + slot * 10**10 + i * 10**6 + self.prng.randrange(10**6))
                for i in range(n)
            ]
        return [b64id(self.prng, 10) + self.prng.choice("AEIMQUYcgkosw048") for _ in range(n)]

    # -- model -----------------------------------------------------------------------------------

    def curve(self, t_s: np.ndarray) -> np.ndarray:
        """Cumulative views at times `t_s` (K,) for every post: fast rise, long flat tail."""
        age_h = (t_s[:, None] - self.pub_f[None, :]) / 3600.0
        a = np.maximum(age_h, 0.0) / self.tau_h[None, :]
        return np.where(age_h > 0, self.vmax * (-np.expm1(-a) + 0.03 * np.log1p(a)), 0.0)

    def _values(self, t_ms: np.ndarray) -> np.ndarray:
        base = np.floor(self.curve(t_ms / 1000.0)[:, :, None] * self.ratio[None]).astype(np.int64)
        k, n, m = base.shape
        events = self.nrng.random((k, n, m)) < _REMOVAL_RATE
        frac = self.nrng.uniform(0.001, 0.012, (k, n, m))
        amount = np.where(events, np.ceil(base * frac), 0).astype(np.int64)
        cum = self.removed[None] + np.cumsum(amount, axis=0)
        self.removed = cum[-1]
        return np.maximum(base - cum, 0)

    # -- output ----------------------------------------------------------------------------------

    def _emit(self, endpoint: str, t_ms: int, raw: bytes, bad: tuple | None = None) -> None:
        self.seq += 2
        self.writer.add(endpoint, t_ms, (self.acc.index, self.seq), raw, bad)

    def envelope(self, endpoint: str, t_ms: int, response: object, request: dict | None) -> dict:
        u = self.prng.random()
        env: dict = {
            "platform": self.platform,
            "endpoint": endpoint,
            "social_account_id": self.acc.id,
            "collected_at": iso(t_ms, 0 if u < 0.85 else 1 if u < 0.93 else 2),
        }
        if request is not None:
            env["request"] = request
        env["response"] = response
        return env

    def finish(
        self,
        endpoint: str,
        t_ms: int,
        env: dict,
        records: list[dict] | None = None,
        eligible: list[int] | None = None,
    ) -> tuple[bool, int | None]:
        """Spoil (maybe), serialize and emit; returns (line usable, spoiled record index)."""
        inj = self.inj
        variant = inj.pick(endpoint, t_ms, len(records or ()), len(eligible or ()))
        spoiled_record = None
        if variant in RECORD_VARIANTS:
            # `pick` offers a record variant only when there are eligible records.
            assert eligible is not None and records is not None
            spoiled_record = inj.rng.choice(eligible)
            inj.spoil_record(variant, records[spoiled_record])
        raw = orjson.dumps(env)
        if variant is None or variant in RECORD_VARIANTS or variant == "blank":
            bad = (spoiled_record, REASON[variant]) if variant in RECORD_VARIANTS else None
            self._emit(endpoint, t_ms, raw, bad)
            if variant == "blank":
                self.writer.add(
                    endpoint, t_ms, (self.acc.index, self.seq + 1), b"", (None, "malformed_json")
                )
            return True, spoiled_record
        raw = truncate(raw, inj.rng) if variant == "truncated" else inj.spoil_line(variant, env)
        self._emit(endpoint, t_ms, raw, (None, REASON[variant]))
        return False, None

    def day_polls(self, day: int) -> DayPolls | None:
        """The polls of window day `day` and what each sees (None when the day has none),
        advancing the metric curves' removals and the follower gauge to the day's end."""
        t0 = self.task.start_ms + day * DAY_MS
        k0, k1 = np.searchsorted(self.polls, [t0, t0 + DAY_MS])
        if k1 <= k0:
            return None
        times = self.polls[k0:k1]
        vals = self._values(times)
        steps = self.nrng.normal(self.f_drift, self.f_sd, len(times))
        gauge = []
        for step in steps.tolist():
            self.followers = max(0.0, self.followers + step)
            gauge.append(round(self.followers))
        published = np.searchsorted(self.pub_f, times / 1000.0, side="left").tolist()
        return DayPolls(int(k0), times.tolist(), vals, published, gauge)

    def poll_followers(self, t_ms: int, followers: int) -> None:
        endpoint = FOLLOWER_ENDPOINT[self.platform]
        response = follower_body(self.acc, followers, self.prng)
        ok, _ = self.finish(endpoint, t_ms, self.envelope(endpoint, t_ms, response, None))
        self.writer.summary.follower_snapshots += 1
        if ok:
            value = trunc3(followers) if self.platform == "youtube" else followers
            self.last_followers = (value, iso(t_ms // 1000 * 1000))

    def update(
        self,
        truth: np.ndarray,
        mask: np.ndarray,
        c: int,
        skip: list[int],
        published: bool = True,
    ) -> None:
        """Fold one pull into the truth; polls come in time order, so the last write wins.
        `published`: the pull says when its posts were published (an insights fetch does not)."""
        usable = np.zeros(len(self.pub), dtype=bool)
        usable[:c] = True
        usable[skip] = False
        np.copyto(self.last, truth, where=mask & usable[:, None])
        self.seen |= usable
        if published:
            self.pub_known |= usable
