"""Deterministic, streaming sample landing zone (spec §2) with a machine-readable truth.

Why this exists: the pipeline has to be exercised on realistic, messy input at scale (late and
re-delivered files, gzip, counters that dip, revised per-day rows, every kind of bad line), and
its end-to-end numbers must be checkable without trusting the pipeline itself. The generator
therefore writes the raw exports *and* a truth file computed from exactly the bytes it wrote.

Determinism: every account draws from its own RNG seeded by ``(seed, account index)`` and every
collector batch (a fixed group of at most ``BATCH_SIZE`` accounts of one platform) from RNGs seeded
by ``(seed, platform, batch)``. Batches are independent work units, so a process pool changes
speed, never bytes.

Layout (``<out>`` is the landing-zone root)::

    catalog/<YYYY-MM-DD>/catalog.json                              # `start`, then a newer snapshot
    <platform>/<landing date>/<slug>-<YYYYMMDD>T<HH>-c<NN>.jsonl[.gz]
    <platform>/<landing date>/<slug>-<YYYYMMDD>T<HH>-c<NN>-resent.jsonl[.gz]   # exact re-delivery

``<YYYYMMDD>T<HH>`` is the UTC collection hour of the lines inside, ``c<NN>`` the collector batch,
``<slug>`` the endpoint (``video_list``, ``business_get``, ``media``, ``user``, ``videos_list``,
``reports_query``, ``channels_list``, ``tweets``, ``users``). The landing date is the collection
day, except for late files (1–3 days later) and re-deliveries (same bytes, 0–2 days after the
original landed).

Truth file (JSON, when ``truth`` is given)::

    {"generator": {"seed", "accounts", "posts_per_account", "days", "start", "interval_minutes"},
     "catalog_move": {"social_account_id", "from_layer", "to_layer", "landing_date"},
     "posts": [{"platform_post_id", "platform", "native_id", "social_account_id",
                "published_at" (ISO Z or null), "views", "reach", "impressions", "likes",
                "comments", "shares", "saves", "watch_time_ms"}],
     "followers": [{"social_account_id", "platform", "followers", "collected_at"}],
     "bad": [{"landing_file", "line", "record", "reason"}]}

``posts`` lists every post that at least one valid record or row mentions. A metric value is
the last valid lifetime value by ``collected_at`` (YouTube: the sum over (video, Pacific day) of
the latest row), i.e. what the post's hourly increments must sum to over all time; a metric
never known, or never reported by the platform, is 0. ``followers`` holds the last valid gauge
per account. ``bad`` lists every line or record the pipeline must quarantine (re-delivered copies
included); ``landing_file`` is relative to ``<out>`` (posix), ``line`` 1-based, ``record`` the
index in the response's post list (null for a whole line).

Reason codes, each bad item built to have a single defect, except ``unknown_platform`` whose
line also cannot match its folder (that reason wins):

- ``malformed_json``: a truncated line, or a blank line.
- ``invalid_envelope``: ``collected_at`` missing, ``social_account_id`` missing, or ``response``
  not an object.
- ``unknown_platform``, ``unknown_endpoint``, ``unknown_account`` (an ``acc_`` id in no catalog).
- ``platform_mismatch``: a valid line of another platform's account in this platform's folder,
  or a line whose account belongs to another platform.
- ``api_error``: a TikTok body with ``code`` ≠ 0.
- ``timestamp_without_zone``: ``collected_at`` without zone (whole line), or an Instagram
  ``timestamp`` without offset (one record).
- ``non_numeric`` / ``negative_counter``: one post record of an otherwise good response.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from metrics.model.measures import POST_METRICS

PLATFORMS: tuple[str, ...] = ("tiktok", "instagram", "youtube", "x")
BATCH_SIZE = 64

ENDPOINTS: dict[str, tuple[str, ...]] = {
    "tiktok": ("business/video/list", "business/get"),
    "instagram": ("media", "user"),
    "youtube": ("videos.list", "reports.query", "channels.list"),
    "x": ("tweets", "users"),
}
_POSTS_ENDPOINT = {"tiktok": "business/video/list", "instagram": "media", "x": "tweets"}
_FOLLOWER_ENDPOINT = {
    "tiktok": "business/get",
    "instagram": "user",
    "youtube": "channels.list",
    "x": "users",
}
_SLUG = {
    "business/video/list": "video_list",
    "business/get": "business_get",
    "media": "media",
    "user": "user",
    "videos.list": "videos_list",
    "reports.query": "reports_query",
    "channels.list": "channels_list",
    "tweets": "tweets",
    "users": "users",
}
_FAKE_ENDPOINT = {
    "tiktok": "business/video/insights",
    "instagram": "stories",
    "youtube": "playlists.list",
    "x": "spaces",
}

TRUTH_METRICS: tuple[str, ...] = POST_METRICS
# Internal per-post series, shared by all platforms: views, reach, likes, comments, shares,
# saves, watch time in ms. Each platform maps them onto its own field names.
_V, _R, _L, _C, _S, _SV, _W = range(7)
_N_INTERNAL = 7

_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_PACIFIC = ZoneInfo("America/Los_Angeles")
_X_EPOCH_MS = 1_288_834_974_657

# Per-line and per-record rates: rare enough to stay "a sprinkling", common enough to matter.
_BAD_LINE_RATE = 0.0005
_GZIP_RATE = 0.2
_LATE_RATE = 0.03
_RESEND_RATE = 0.006
_REMOVAL_RATE = 0.015

_REASON: dict[str, str] = {
    "truncated": "malformed_json",
    "blank": "malformed_json",
    "no_collected_at": "invalid_envelope",
    "no_account": "invalid_envelope",
    "response_not_object": "invalid_envelope",
    "unknown_platform": "unknown_platform",
    "unknown_endpoint": "unknown_endpoint",
    "folder_mismatch": "platform_mismatch",
    "account_mismatch": "platform_mismatch",
    "unknown_account": "unknown_account",
    "api_error": "api_error",
    "naive_collected_at": "timestamp_without_zone",
    "non_numeric": "non_numeric",
    "negative_counter": "negative_counter",
    "naive_post_timestamp": "timestamp_without_zone",
}
REASONS: tuple[str, ...] = tuple(sorted(set(_REASON.values())))
_RECORD_VARIANTS = frozenset({"non_numeric", "negative_counter", "naive_post_timestamp"})
# Every variant is forced once into the first batch of one platform, so even the smallest
# landing zone holds every kind.
_FORCED: dict[str, tuple[str, ...]] = {
    "tiktok": ("api_error", "truncated", "unknown_endpoint", "non_numeric", "no_account"),
    "instagram": (
        "naive_post_timestamp",
        "negative_counter",
        "no_collected_at",
        "unknown_platform",
    ),
    "youtube": ("naive_collected_at", "response_not_object", "folder_mismatch", "blank"),
    "x": ("unknown_account", "account_mismatch", "non_numeric", "negative_counter"),
}

_IG_FIELDS = "id,timestamp,media_type,media_product_type,like_count,comments_count,insights"
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


@dataclass
class GenerateSummary:
    """Counts of what was written; ``bad`` maps reason code to quarantinable items."""

    files: int = 0
    lines: int = 0
    bytes: int = 0
    json_bytes: int = 0
    gz_files: int = 0
    late_files: int = 0
    redeliveries: int = 0
    snapshots: int = 0
    period_rows: int = 0
    follower_snapshots: int = 0
    catalogs: int = 0
    bad: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, other: GenerateSummary) -> None:
        for name in (
            "files",
            "lines",
            "bytes",
            "json_bytes",
            "gz_files",
            "late_files",
            "redeliveries",
            "snapshots",
            "period_rows",
            "follower_snapshots",
            "catalogs",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        merged = Counter(self.bad)
        merged.update(other.bad)
        self.bad = dict(sorted(merged.items()))


@dataclass(frozen=True)
class _Account:
    index: int
    platform_index: int
    id: str
    platform: str
    native_id: str
    handle: str


@dataclass(frozen=True)
class _Task:
    platform: str
    batch: int
    accounts: tuple[_Account, ...]
    foreign: dict[str, _Account]
    seed: int
    start_ms: int
    days: int
    interval_ms: int
    posts_per_account: int
    out: str


@dataclass
class _TaskResult:
    platform: str
    batch: int
    summary: GenerateSummary
    posts: list[dict]
    followers: list[dict]
    bad: list[dict]


# ---------------------------------------------------------------------------------------------
# formatting helpers


def _iso(ms: int, style: int = 0) -> str:
    """Collector timestamps vary by client library: mostly `Z`, some millis, some `+00:00`."""
    s, milli = divmod(ms, 1000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))
    if style == 1:
        return f"{base}.{milli:03d}Z"
    if style == 2:
        return base + "+00:00"
    return base + "Z"


def _trunc3(n: int) -> int:
    """YouTube abbreviates public subscriber counts to 3 significant figures (floor)."""
    if n < 1000:
        return n
    scale = 10 ** (len(str(n)) - 3)
    return n // scale * scale


def _b64id(rng: random.Random, length: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(length))


# ---------------------------------------------------------------------------------------------
# catalog


def _build_catalog(seed: int, n_accounts: int) -> tuple[dict, list[_Account]]:
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
    accounts: list[_Account] = []
    rows = []
    per_platform = Counter()
    for i in range(n_accounts):
        platform = PLATFORMS[i % len(PLATFORMS)]
        if platform == "tiktok":
            native = "-000" + _b64id(rng, 28).replace("-", "x").replace("_", "y")
        elif platform == "instagram":
            native = f"17841{rng.randrange(10**11, 10**12)}"
        elif platform == "youtube":
            native = "UC" + _b64id(rng, 22)
        else:
            native = str(rng.randrange(10**18, 2 * 10**18))
        handle = f"{_BRANDS[i % len(_BRANDS)]}_{platform}{i}"
        account = _Account(i, per_platform[platform], rid("acc_"), platform, native, handle)
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


def _move_one_account(catalog: dict, seed: int) -> tuple[dict, dict]:
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


# ---------------------------------------------------------------------------------------------
# bad input


class _Injector:
    """Chooses which lines and records to spoil; the caller keeps them out of the truth."""

    def __init__(self, task: _Task, rng: random.Random) -> None:
        self.platform = task.platform
        self.rng = rng
        self.foreign = task.foreign
        window_ms = task.days * _DAY_MS
        forced = _FORCED[task.platform] if task.batch == 0 else ()
        # Armed early in the window so that a qualifying line surely follows.
        self.pending = [(v, task.start_ms + rng.randrange(max(1, window_ms // 2))) for v in forced]

    def _fits(self, variant: str, endpoint: str, n_records: int, n_eligible: int) -> bool:
        if variant in _RECORD_VARIANTS:
            if endpoint != _POSTS_ENDPOINT.get(self.platform) or n_records < 2 or n_eligible < 1:
                return False
            return variant != "naive_post_timestamp" or self.platform == "instagram"
        return variant != "api_error" or self.platform == "tiktok"

    def pick(self, endpoint: str, t_ms: int, n_records: int = 0, n_eligible: int = 0) -> str | None:
        for i, (variant, arm) in enumerate(self.pending):
            if t_ms >= arm and self._fits(variant, endpoint, n_records, n_eligible):
                del self.pending[i]
                return variant
        if self.rng.random() >= _BAD_LINE_RATE:
            return None
        options = [v for v in _REASON if self._fits(v, endpoint, n_records, n_eligible)]
        return self.rng.choice(options)

    def spoil_record(self, variant: str, rec: dict) -> None:
        rng = self.rng
        if variant == "naive_post_timestamp":
            rec["timestamp"] = rec["timestamp"][:-5]
            return
        bad: object = "n/a" if variant == "non_numeric" else -rng.randint(1, 40)
        if self.platform == "tiktok":
            rec[rng.choice(("video_views", "reach", "likes", "comments", "shares"))] = bad
        elif self.platform == "x":
            rec["public_metrics"][rng.choice(("like_count", "reply_count", "retweet_count"))] = bad
        else:
            entry = rng.choice(rec["insights"]["data"])
            entry["values"][0]["value"] = bad

    def spoil_line(self, variant: str, env: dict) -> bytes:
        """Returns the spoiled line; `truncated` and `blank` are handled by the caller."""
        rng = self.rng
        if variant == "no_collected_at":
            del env["collected_at"]
        elif variant == "no_account":
            del env["social_account_id"]
        elif variant == "response_not_object":
            env["response"] = rng.choice(
                ("upstream request timeout", ["rate limited"], None, "<html>502 Bad Gateway</html>")
            )
        elif variant == "unknown_platform":
            env["platform"] = rng.choice(("facebook", "linkedin", "threads", "snapchat"))
        elif variant == "unknown_endpoint":
            env["endpoint"] = _FAKE_ENDPOINT[self.platform]
        elif variant == "account_mismatch":
            others = [p for p in PLATFORMS if p != self.platform]
            env["social_account_id"] = self.foreign[rng.choice(others)].id
        elif variant == "unknown_account":
            env["social_account_id"] = f"acc_{rng.getrandbits(48):012x}ff"
        elif variant == "api_error":
            env["response"] = {
                "code": rng.choice((40001, 40100, 40105, 50002)),
                "message": rng.choice(
                    (
                        "Access token is invalid or expired.",
                        "Too many requests. Please retry later.",
                        "Internal service error.",
                    )
                ),
                "request_id": f"{rng.getrandbits(64):016x}",
                "data": {},
            }
        elif variant == "naive_collected_at":
            env["collected_at"] = env["collected_at"][:19]
        elif variant == "folder_mismatch":
            other = rng.choice([p for p in PLATFORMS if p != self.platform])
            acc = self.foreign[other]
            env = {
                "platform": acc.platform,
                "endpoint": _FOLLOWER_ENDPOINT[acc.platform],
                "social_account_id": acc.id,
                "collected_at": env["collected_at"],
                "response": _follower_response(acc, rng.randint(100, 90_000), rng),
            }
        return orjson.dumps(env)


def _truncate(raw: bytes, rng: random.Random) -> bytes:
    """A strict prefix of a JSON object is never valid JSON; cut on an ASCII byte to keep UTF-8."""
    cut = rng.randrange(max(1, len(raw) // 4), len(raw) - 1)
    while cut > 1 and raw[cut] >= 0x80:
        cut -= 1
    return raw[:cut]


def _follower_response(acc: _Account, followers: int, rng: random.Random) -> dict:
    """The native follower-gauge body of `acc`'s platform."""
    if acc.platform == "tiktok":
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
    if acc.platform == "instagram":
        return {"id": acc.native_id, "username": acc.handle, "followers_count": followers}
    if acc.platform == "youtube":
        return {
            "kind": "youtube#channelListResponse",
            "items": [
                {
                    "kind": "youtube#channel",
                    "id": acc.native_id,
                    "statistics": {"subscriberCount": str(_trunc3(followers))},
                }
            ],
        }
    return {
        "data": {
            "id": acc.native_id,
            "username": acc.handle,
            "public_metrics": {"followers_count": followers},
        }
    }


# ---------------------------------------------------------------------------------------------
# file writing


class _Writer:
    """Buffers one collection hour per endpoint, then writes it as one file and forgets it."""

    def __init__(self, task: _Task, rng: random.Random) -> None:
        self.out = Path(task.out)
        self.platform = task.platform
        self.batch = task.batch
        self.rng = rng
        self.buckets: dict[tuple[int, str], list[tuple]] = defaultdict(list)
        self.summary = GenerateSummary()
        self.bad: list[dict] = []
        self.file_no = 0
        # The first batch of every platform surely holds a late file and a re-delivery.
        self.force_late = rng.randrange(12) if task.batch == 0 else -1
        self.force_resend = rng.randrange(12) if task.batch == 0 else -1
        self.made_dirs: set[Path] = set()

    def add(self, endpoint: str, t_ms: int, order: tuple, raw: bytes, bad: tuple | None) -> None:
        self.buckets[(t_ms // _HOUR_MS, endpoint)].append((t_ms, order, raw, bad))

    def flush(self, before_hour: int | None = None) -> None:
        keys = sorted(k for k in self.buckets if before_hour is None or k[0] < before_hour)
        for key in keys:
            self._write(key[0], key[1], self.buckets.pop(key))

    def _put(self, landing: date, name: str, payload: bytes) -> str:
        folder = self.out / self.platform / landing.isoformat()
        if folder not in self.made_dirs:
            folder.mkdir(parents=True, exist_ok=True)
            self.made_dirs.add(folder)
        (folder / name).write_bytes(payload)
        return f"{self.platform}/{landing.isoformat()}/{name}"

    def _write(self, hour: int, endpoint: str, items: list[tuple]) -> None:
        rng = self.rng
        items.sort(key=lambda it: (it[0], it[1]))
        data = b"\n".join(it[2] for it in items) + b"\n"
        collected = datetime.fromtimestamp(hour * 3600, UTC)
        stem = f"{_SLUG[endpoint]}-{collected:%Y%m%dT%H}-c{self.batch:02d}"
        gz = rng.random() < _GZIP_RATE
        late = self.file_no == self.force_late or rng.random() < _LATE_RATE
        resend = self.file_no == self.force_resend or rng.random() < _RESEND_RATE
        landing = collected.date() + timedelta(days=rng.randint(1, 3) if late else 0)
        ext = ".jsonl.gz" if gz else ".jsonl"
        payload = gzip.compress(data, compresslevel=1, mtime=0) if gz else data
        copies = [(landing, stem + ext)]
        if resend:
            copies.append((landing + timedelta(days=rng.randint(0, 2)), f"{stem}-resent{ext}"))
        bad_lines = [(n, it[3]) for n, it in enumerate(items, 1) if it[3] is not None]
        s = self.summary
        for landing_day, name in copies:
            rel = self._put(landing_day, name, payload)
            for line, (record, reason) in bad_lines:
                self.bad.append(
                    {"landing_file": rel, "line": line, "record": record, "reason": reason}
                )
            s.files += 1
            s.lines += len(items)
            s.bytes += len(payload)
            s.json_bytes += len(data)
            s.gz_files += gz
        s.late_files += late
        s.redeliveries += resend
        self.file_no += 1


# ---------------------------------------------------------------------------------------------
# one account's simulation


class _AccountSim:
    """Posts with saturating growth curves, polled on an irregular schedule.

    Lifetime counters = floor(curve) minus cumulative random removals (unlikes, spam sweeps),
    so they mostly grow and occasionally dip. The truth is updated from exactly what is written.
    """

    def __init__(self, acc: _Account, task: _Task, inj: _Injector, writer: _Writer) -> None:
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
        ratio = np.empty((n, _N_INTERNAL))
        ratio[:, _V] = 1.0
        ratio[:, _R] = nrng.uniform(0.5, 0.92, n)
        ratio[:, _L] = nrng.uniform(0.02, 0.12, n)
        ratio[:, _C] = nrng.uniform(0.001, 0.012, n)
        ratio[:, _S] = nrng.uniform(0.001, 0.02, n)
        ratio[:, _SV] = nrng.uniform(0.001, 0.03, n)
        ratio[:, _W] = nrng.uniform(1500, 15000, n)  # ms watched per view
        self.ratio = ratio
        self.removed = np.zeros((n, _N_INTERNAL), dtype=np.int64)

        # Irregular polls: a per-account phase plus jitter, never reordering consecutive polls.
        interval = task.interval_ms
        n_polls = task.days * _DAY_MS // interval + 2
        k = np.arange(n_polls, dtype=np.int64)
        phase = int(nrng.integers(0, max(1, interval * 6 // 10)))
        jitter = nrng.integers(0, max(1, interval * 35 // 100), n_polls)
        polls = task.start_ms + phase + k * interval + jitter
        self.polls = polls[polls < task.start_ms + task.days * _DAY_MS]
        per_day = max(1, round(86_400_000 / interval))
        self.list_every = max(1, per_day // 2)
        self.report_every = max(1, per_day // 4)
        self.list_phase = prng.randrange(self.list_every)
        self.report_phase = prng.randrange(self.report_every)

        self.native = self._native_ids()
        pub_list = self.pub.tolist()
        self.post_ids = [f"pst_{self.platform}_{nid}" for nid in self.native]
        self.pub_iso = [_iso(s * 1000) for s in pub_list]
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
        return [_b64id(self.prng, 10) + self.prng.choice("AEIMQUYcgkosw048") for _ in range(n)]

    # -- model -----------------------------------------------------------------------------------

    def _curve(self, t_s: np.ndarray) -> np.ndarray:
        """Cumulative views at times `t_s` (K,) for every post: fast rise, long flat tail."""
        age_h = (t_s[:, None] - self.pub_f[None, :]) / 3600.0
        a = np.maximum(age_h, 0.0) / self.tau_h[None, :]
        return np.where(age_h > 0, self.vmax * (-np.expm1(-a) + 0.03 * np.log1p(a)), 0.0)

    def _values(self, t_ms: np.ndarray) -> np.ndarray:
        base = np.floor(self._curve(t_ms / 1000.0)[:, :, None] * self.ratio[None]).astype(np.int64)
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

    def _envelope(self, endpoint: str, t_ms: int, response: object, request: dict | None) -> dict:
        u = self.prng.random()
        env: dict = {
            "platform": self.platform,
            "endpoint": endpoint,
            "social_account_id": self.acc.id,
            "collected_at": _iso(t_ms, 0 if u < 0.85 else 1 if u < 0.93 else 2),
        }
        if request is not None:
            env["request"] = request
        env["response"] = response
        return env

    def _finish(
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
        if variant in _RECORD_VARIANTS:
            spoiled_record = inj.rng.choice(eligible)
            inj.spoil_record(variant, records[spoiled_record])
        raw = orjson.dumps(env)
        if variant is None or variant in _RECORD_VARIANTS or variant == "blank":
            bad = (spoiled_record, _REASON[variant]) if variant in _RECORD_VARIANTS else None
            self._emit(endpoint, t_ms, raw, bad)
            if variant == "blank":
                self.writer.add(
                    endpoint, t_ms, (self.acc.index, self.seq + 1), b"", (None, "malformed_json")
                )
            return True, spoiled_record
        raw = _truncate(raw, inj.rng) if variant == "truncated" else inj.spoil_line(variant, env)
        self._emit(endpoint, t_ms, raw, (None, _REASON[variant]))
        return False, None

    def run_day(self, day: int) -> None:
        t0 = self.task.start_ms + day * _DAY_MS
        k0, k1 = np.searchsorted(self.polls, [t0, t0 + _DAY_MS])
        if k1 <= k0:
            return
        times = self.polls[k0:k1]
        vals = self._values(times)
        steps = self.nrng.normal(self.f_drift, self.f_sd, len(times))
        gauge = []
        for step in steps.tolist():
            self.followers = max(0.0, self.followers + step)
            gauge.append(round(self.followers))
        published = np.searchsorted(self.pub_f, times / 1000.0, side="left").tolist()
        if self.platform == "youtube":
            self._youtube(int(k0), times.tolist(), vals, published, gauge)
        else:
            build = {"tiktok": self._tiktok, "instagram": self._instagram, "x": self._x}
            build[self.platform](times.tolist(), vals, published, gauge)

    def _followers(self, t_ms: int, followers: int) -> None:
        endpoint = _FOLLOWER_ENDPOINT[self.platform]
        response = _follower_response(self.acc, followers, self.prng)
        ok, _ = self._finish(endpoint, t_ms, self._envelope(endpoint, t_ms, response, None))
        self.writer.summary.follower_snapshots += 1
        if ok:
            value = _trunc3(followers) if self.platform == "youtube" else followers
            self.last_followers = (value, _iso(t_ms // 1000 * 1000))

    def _update(self, truth: np.ndarray, mask: np.ndarray, c: int, skip: list[int]) -> None:
        """Fold one pull into the truth; polls come in time order, so the last write wins."""
        usable = np.zeros(len(self.pub), dtype=bool)
        usable[:c] = True
        usable[skip] = False
        np.copyto(self.last, truth, where=mask & usable[:, None])
        self.seen |= usable
        self.pub_known |= usable

    def _tiktok(
        self, times: list[int], vals: np.ndarray, pubd: list[int], gauge: list[int]
    ) -> None:
        prng = self.prng
        n = len(self.pub)
        truth = np.zeros((len(times), n, len(TRUTH_METRICS)), dtype=np.int64)
        for dst, src in ((0, _V), (1, _R), (3, _L), (4, _C), (5, _S), (6, _SV), (7, _W)):
            truth[:, :, dst] = vals[:, :, src]
        mask = np.ones((n, len(TRUTH_METRICS)), dtype=bool)
        mask[:, 2] = False
        ints = ("video_views", "reach", "likes", "comments", "shares")
        for j, t in enumerate(times):
            c = pubd[j]
            rows = vals[j].tolist()
            ct = self.ct_str if prng.random() < 0.3 else self.ct_int
            fav = "favorities" if prng.random() < 0.25 else "favorites"
            recs = []
            order = list(range(c - 1, -1, -1))
            for i in order:
                v = rows[i]
                tt = v[_W] / 1000
                rec = {
                    "item_id": self.native[i],
                    "create_time": ct[i],
                    "media_type": "VIDEO",
                    "caption": self.caption[i],
                    "video_duration": self.duration[i],
                    "video_views": v[_V],
                    "reach": v[_R],
                    "likes": v[_L],
                    "comments": v[_C],
                    "shares": v[_S],
                    fav: v[_SV],
                    "total_time_watched": tt,
                    "average_time_watched": round(tt / v[_V], 3) if v[_V] else 0.0,
                }
                if prng.random() < 0.01:
                    key = prng.choice(ints)
                    rec[key] = str(rec[key])
                recs.append(rec)
            response = {
                "code": 0,
                "message": "OK",
                "request_id": f"{prng.getrandbits(64):016x}",
                "data": {"videos": recs, "has_more": False, "cursor": t},
            }
            request = {"business_id": self.acc.native_id, "max_count": 20}
            env = self._envelope("business/video/list", t, response, request)
            ok, bad = self._finish("business/video/list", t, env, recs, list(range(len(recs))))
            self.writer.summary.snapshots += len(recs)
            if ok:
                self._update(truth[j], mask, c, [] if bad is None else [order[bad]])
            self._followers(t + prng.randint(300, 4000), gauge[j])

    def _x(self, times: list[int], vals: np.ndarray, pubd: list[int], gauge: list[int]) -> None:
        prng = self.prng
        n = len(self.pub)
        quotes = np.floor(vals[:, :, _S] * self.quote_frac[None]).astype(np.int64)
        truth = np.zeros((len(times), n, len(TRUTH_METRICS)), dtype=np.int64)
        for dst, src in ((0, _V), (2, _V), (3, _L), (4, _C), (5, _S), (6, _SV)):
            truth[:, :, dst] = vals[:, :, src]
        mask = np.ones((n, len(TRUTH_METRICS)), dtype=bool)
        mask[:, [1, 7]] = False
        quote_rows = quotes.tolist()
        for j, t in enumerate(times):
            c = pubd[j]
            rows = vals[j].tolist()
            q = quote_rows[j]
            order = list(range(c - 1, -1, -1))
            # A post that vanished for a moment comes back as a partial error beside `data`.
            missing = (
                order.pop(prng.randrange(len(order))) if c > 1 and prng.random() < 0.02 else None
            )
            recs = []
            for i in order:
                v = rows[i]
                nid = self.native[i]
                recs.append(
                    {
                        "id": nid,
                        "text": self.caption[i],
                        "created_at": self.x_ts[i],
                        "edit_history_tweet_ids": [nid],
                        "public_metrics": {
                            "retweet_count": v[_S] - q[i],
                            "reply_count": v[_C],
                            "like_count": v[_L],
                            "quote_count": q[i],
                            "bookmark_count": v[_SV],
                            "impression_count": v[_V],
                        },
                    }
                )
            response: dict = {"data": recs, "meta": {"result_count": len(recs)}}
            if missing is not None:
                nid = self.native[missing]
                response["errors"] = [
                    {
                        "value": nid,
                        "detail": f"Could not find tweet with ids: [{nid}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "ids",
                        "resource_id": nid,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                ]
            request = {"tweet.fields": "created_at,public_metrics"}
            env = self._envelope("tweets", t, response, request)
            ok, bad = self._finish("tweets", t, env, recs, list(range(len(recs))))
            self.writer.summary.snapshots += len(recs)
            if ok:
                skip = [] if bad is None else [order[bad]]
                if missing is not None:
                    skip.append(missing)
                self._update(truth[j], mask, c, skip)
            self._followers(t + prng.randint(300, 4000), gauge[j])

    def _instagram(
        self, times: list[int], vals: np.ndarray, pubd: list[int], gauge: list[int]
    ) -> None:
        prng, nrng = self.prng, self.nrng
        k, n = len(times), len(self.pub)
        names = (
            "views",
            "reach",
            "likes",
            "comments",
            "shares",
            "saved",
            "ig_reels_video_view_total_time",
        )
        has = np.ones((n, 7), dtype=bool)
        has[:, 6] = [kind[1] == "REELS" for kind in self.ig_kind]
        present = nrng.random((k, n)) >= 0.06
        present &= ~np.array(self.no_insights)[None, :]
        known = present[:, :, None] & (nrng.random((k, n, 7)) >= 0.03) & has[None]
        drift = np.where(nrng.random((k, n, 2)) < 0.25, nrng.integers(-3, 4, (k, n, 2)), 0)
        like_field = np.maximum(vals[:, :, _L] + drift[:, :, 0], 0)
        comment_field = np.maximum(vals[:, :, _C] + drift[:, :, 1], 0)

        truth = np.zeros((k, n, len(TRUTH_METRICS)), dtype=np.int64)
        tmask = np.zeros((k, n, len(TRUTH_METRICS)), dtype=bool)
        for dst, src in ((0, _V), (1, _R), (5, _S), (6, _SV), (7, _W)):
            truth[:, :, dst] = vals[:, :, src]
            tmask[:, :, dst] = known[:, :, src]
        truth[:, :, 3] = np.where(known[:, :, 2], vals[:, :, _L], like_field)
        truth[:, :, 4] = np.where(known[:, :, 3], vals[:, :, _C], comment_field)
        tmask[:, :, 3] = True
        tmask[:, :, 4] = True

        known_l, like_l, comment_l = known.tolist(), like_field.tolist(), comment_field.tolist()
        for j, t in enumerate(times):
            c = pubd[j]
            rows = vals[j].tolist()
            kn = known_l[j]
            order = list(range(c - 1, -1, -1))
            recs, eligible = [], []
            for pos, i in enumerate(order):
                v = rows[i]
                mid = self.native[i]
                media_type, product = self.ig_kind[i]
                rec = {
                    "id": mid,
                    "timestamp": self.ig_ts[i],
                    "media_type": media_type,
                    "media_product_type": product,
                    "caption": self.caption[i],
                    "like_count": like_l[j][i],
                    "comments_count": comment_l[j][i],
                }
                flags = kn[i]
                if any(flags):
                    rec["insights"] = {
                        "data": [
                            {
                                "name": names[m],
                                "period": "lifetime",
                                "values": [{"value": v[m]}],
                                "id": f"{mid}/insights/{names[m]}/lifetime",
                            }
                            for m in range(7)
                            if flags[m]
                        ]
                    }
                    eligible.append(pos)
                recs.append(rec)
            response = {
                "data": recs,
                "paging": {"cursors": {"before": "QVFIUm", "after": "QVFIUn"}},
            }
            request = {"fields": _IG_FIELDS}
            env = self._envelope("media", t, response, request)
            ok, bad = self._finish("media", t, env, recs, eligible)
            self.writer.summary.snapshots += len(recs)
            if ok:
                self._update(truth[j], tmask[j], c, [] if bad is None else [order[bad]])
            self._followers(t + prng.randint(300, 4000), gauge[j])

    def _youtube(
        self, k0: int, times: list[int], vals: np.ndarray, pubd: list[int], gauge: list[int]
    ) -> None:
        prng = self.prng
        for j, t in enumerate(times):
            k = k0 + j
            c = pubd[j]
            self._followers(t + prng.randint(100, 2000), gauge[j])
            if (k + self.list_phase) % self.list_every == 0 and prng.random() < 0.8:
                self._videos_list(t + prng.randint(2000, 5000), vals[j].tolist(), c)
            if (k + self.report_phase) % self.report_every == 0 and prng.random() < 0.85:
                self._report(t + prng.randint(5000, 9000))

    def _videos_list(self, t: int, rows: list[list[int]], c: int) -> None:
        order = list(range(c - 1, -1, -1))
        items = [
            {
                "kind": "youtube#video",
                "id": self.native[i],
                "snippet": {
                    "publishedAt": self.pub_iso[i],
                    "channelId": self.acc.native_id,
                    "title": self.caption[i],
                },
                "statistics": {
                    "viewCount": str(rows[i][_V]),
                    "likeCount": str(rows[i][_L]),
                    "favoriteCount": "0",
                    "commentCount": str(rows[i][_C]),
                },
            }
            for i in order
        ]
        response = {
            "kind": "youtube#videoListResponse",
            "items": items,
            "pageInfo": {"totalResults": len(items)},
        }
        env = self._envelope("videos.list", t, response, {"part": "snippet,statistics"})
        ok, _ = self._finish("videos.list", t, env)
        if ok:
            self.seen[:c] = True
            self.pub_known[:c] = True

    def _report(self, t: int) -> None:
        """Per Pacific day rows for the last ~3 days; recent days are still incomplete."""
        prng, nrng = self.prng, self.nrng
        today = datetime.fromtimestamp(t / 1000, _PACIFIC).date()
        n_days = 4 if prng.random() < 0.2 else 3
        days = [today - timedelta(days=d) for d in range(n_days, 0, -1)]
        bounds = []
        for d in days:
            lo = datetime(d.year, d.month, d.day, tzinfo=_PACIFIC).timestamp()
            nxt = d + timedelta(days=1)
            hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=_PACIFIC).timestamp()
            bounds.append((lo, hi))
        edges = np.array([b[0] for b in bounds] + [bounds[-1][1]])
        cum = np.floor(self._curve(edges)[:, :, None] * self.ratio[None])
        final = np.diff(cum, axis=0)  # (days, posts, metrics)
        age_h = (t / 1000 - edges[1:]) / 3600.0
        done = np.where(
            age_h[:, None] < 24,
            nrng.uniform(0.55, 0.9, (len(days), len(self.pub))),
            np.where(age_h[:, None] < 48, nrng.uniform(0.9, 1.0, (len(days), len(self.pub))), 1.0),
        )
        got = np.floor(final * done[:, :, None]).astype(np.int64)
        views, likes, comments, shares = (got[:, :, m] for m in (_V, _L, _C, _S))
        minutes = got[:, :, _W] // 60_000
        # Rare corrections arrive as negative per-day values.
        fix = nrng.random(views.shape) < 0.004
        views = np.where(fix, -nrng.integers(1, 20, views.shape), views)
        exists = self.pub_f[None, :] < edges[1:, None]

        headers = [
            {"name": "day", "columnType": "DIMENSION", "dataType": "STRING"},
            {"name": "video", "columnType": "DIMENSION", "dataType": "STRING"},
        ] + [
            {"name": m, "columnType": "METRIC", "dataType": "INTEGER"}
            for m in ("views", "likes", "comments", "shares", "estimatedMinutesWatched")
        ]
        prng.shuffle(headers)
        position = [h["name"] for h in headers]
        cols = {
            "views": views.tolist(),
            "likes": likes.tolist(),
            "comments": comments.tolist(),
            "shares": shares.tolist(),
            "estimatedMinutesWatched": minutes.tolist(),
        }
        ex = exists.tolist()
        rows, keys = [], []
        for di, d in enumerate(days):
            label = d.isoformat()
            for i in range(len(self.pub)):
                if not ex[di][i]:
                    continue
                cell = {"day": label, "video": self.native[i]}
                for name, table in cols.items():
                    cell[name] = table[di][i]
                rows.append([cell[name] for name in position])
                keys.append((i, d.toordinal(), [cell[m] for m in cols]))
        response: dict = {"kind": "youtubeAnalytics#resultTable", "columnHeaders": headers}
        if rows and prng.random() >= 0.04:
            response["rows"] = rows
        else:
            keys = []
        request = {
            "ids": "channel==MINE",
            "startDate": days[0].isoformat(),
            "endDate": days[-1].isoformat(),
            "metrics": "views,likes,comments,shares,estimatedMinutesWatched",
            "dimensions": "day,video",
            "sort": "day",
        }
        env = self._envelope("reports.query", t, response, request)
        ok, _ = self._finish("reports.query", t, env)
        self.writer.summary.period_rows += len(keys)
        if ok:
            for i, day_no, values in keys:
                self.day_rows[(i, day_no)] = values
                self.seen[i] = True

    # -- truth -----------------------------------------------------------------------------------

    def truth(self) -> tuple[list[dict], list[dict]]:
        last = self.last
        if self.platform == "youtube":
            last = np.zeros_like(self.last)
            for (i, _day), (v, lk, cm, sh, minutes) in self.day_rows.items():
                last[i] += (v, 0, 0, lk, cm, sh, 0, minutes * 60_000)
        rows = []
        for i in np.flatnonzero(self.seen).tolist():
            row = {
                "platform_post_id": self.post_ids[i],
                "platform": self.platform,
                "native_id": self.native[i],
                "social_account_id": self.acc.id,
                "published_at": self.pub_iso[i] if self.pub_known[i] else None,
            }
            row.update(zip(TRUTH_METRICS, last[i].tolist(), strict=True))
            rows.append(row)
        followers = []
        if self.last_followers is not None:
            followers.append(
                {
                    "social_account_id": self.acc.id,
                    "platform": self.platform,
                    "followers": self.last_followers[0],
                    "collected_at": self.last_followers[1],
                }
            )
        return rows, followers


# ---------------------------------------------------------------------------------------------
# tasks


def _run_task(task: _Task) -> _TaskResult:
    p = PLATFORMS.index(task.platform)
    inj = _Injector(task, random.Random((task.seed * 31 + p) * 1_000_003 + task.batch * 2 + 1))
    writer = _Writer(task, random.Random((task.seed * 31 + p) * 1_000_003 + task.batch * 2 + 2))
    sims = [_AccountSim(acc, task, inj, writer) for acc in task.accounts]
    for day in range(task.days):
        for sim in sims:
            sim.run_day(day)
        writer.flush(before_hour=(task.start_ms + (day + 1) * _DAY_MS) // _HOUR_MS)
    writer.flush()
    posts, followers = [], []
    for sim in sims:
        post_rows, follower_rows = sim.truth()
        posts.extend(post_rows)
        followers.extend(follower_rows)
    writer.summary.bad = dict(Counter(b["reason"] for b in writer.bad))
    return _TaskResult(task.platform, task.batch, writer.summary, posts, followers, writer.bad)


def generate(
    out: Path,
    *,
    seed: int = 7,
    accounts: int = 12,
    posts_per_account: int = 5,
    days: int = 3,
    start: date = date(2026, 3, 2),
    interval_minutes: int = 30,
    truth: Path | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
    overwrite: bool = False,
) -> GenerateSummary:
    """Write a landing zone under `out` (and the truth file); byte-identical for a given seed.

    `workers` only changes speed. `overwrite` removes an earlier landing zone's `catalog/` and
    platform folders first; without it their presence is refused, because mixing two runs would
    silently break the truth. Other files under `out` are left alone.
    """
    if accounts < len(PLATFORMS):
        raise ValueError("accounts must be at least 4 (one per platform)")
    if posts_per_account < 1 or days < 1 or interval_minutes < 1:
        raise ValueError("posts_per_account, days and interval_minutes must be positive")
    began = time.perf_counter()
    say = progress or (lambda _msg: None)
    out = Path(out)
    earlier = [out / name for name in ("catalog", *PLATFORMS) if (out / name).exists()]
    if earlier and not overwrite:
        raise FileExistsError(
            f"{out} already holds a landing zone (use overwrite=True / --overwrite)"
        )
    for folder in earlier:
        shutil.rmtree(folder)
    out.mkdir(parents=True, exist_ok=True)

    summary = GenerateSummary()
    catalog, accs = _build_catalog(seed, accounts)
    newer, move = _move_one_account(catalog, seed)
    move["landing_date"] = (start + timedelta(days=days // 2 if days >= 3 else 1)).isoformat()
    for landing, body in ((start.isoformat(), catalog), (move["landing_date"], newer)):
        folder = out / "catalog" / landing
        folder.mkdir(parents=True, exist_ok=True)
        payload = orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"
        (folder / "catalog.json").write_bytes(payload)
        summary.catalogs += 1
        summary.files += 1
        summary.bytes += len(payload)
    say(f"catalog: {accounts} accounts, {len(catalog['project_layers'])} layers, 2 snapshots")

    foreign = {p: next(a for a in accs if a.platform == p) for p in PLATFORMS}
    start_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()) * 1000
    tasks = []
    for platform in PLATFORMS:
        mine = [a for a in accs if a.platform == platform]
        for b in range(0, len(mine), BATCH_SIZE):
            tasks.append(
                _Task(
                    platform=platform,
                    batch=b // BATCH_SIZE,
                    accounts=tuple(mine[b : b + BATCH_SIZE]),
                    foreign=foreign,
                    seed=seed,
                    start_ms=start_ms,
                    days=days,
                    interval_ms=interval_minutes * 60_000,
                    posts_per_account=posts_per_account,
                    out=str(out),
                )
            )
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    results: dict[tuple[str, int], _TaskResult] = {}

    def done(result: _TaskResult) -> None:
        results[(result.platform, result.batch)] = result
        s = result.summary
        say(
            f"[{len(results)}/{len(tasks)}] {result.platform} c{result.batch:02d}: "
            f"{s.files} files, {s.lines} lines, {s.bytes / 1e6:.1f} MB"
        )

    if n_workers == 1:
        for task in tasks:
            done(_run_task(task))
    else:
        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            for fut in as_completed([pool.submit(_run_task, t) for t in tasks]):
                done(fut.result())

    posts, followers, bad = [], [], []
    for task in tasks:
        result = results[(task.platform, task.batch)]
        summary.add(result.summary)
        posts.extend(result.posts)
        followers.extend(result.followers)
        bad.extend(result.bad)
    if truth is not None:
        posts.sort(key=lambda r: r["platform_post_id"])
        followers.sort(key=lambda r: r["social_account_id"])
        bad.sort(
            key=lambda r: (r["landing_file"], r["line"], -1 if r["record"] is None else r["record"])
        )
        body = {
            "generator": {
                "seed": seed,
                "accounts": accounts,
                "posts_per_account": posts_per_account,
                "days": days,
                "start": start.isoformat(),
                "interval_minutes": interval_minutes,
            },
            "catalog_move": move,
            "posts": posts,
            "followers": followers,
            "bad": bad,
        }
        truth = Path(truth)
        truth.parent.mkdir(parents=True, exist_ok=True)
        truth.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
    summary.seconds = round(time.perf_counter() - began, 3)
    say(
        f"done: {summary.files} files, {summary.lines} lines, {summary.bytes / 1e6:.1f} MB "
        f"on disk, {summary.snapshots} post snapshots in {summary.seconds:.1f}s"
    )
    return summary


# ---------------------------------------------------------------------------------------------
# command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Shared by `python -m metrics.sample.generate` and the `metrics generate` subcommand."""
    parser.add_argument("--out", type=Path, required=True, help="landing-zone root to write")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=12)
    parser.add_argument("--posts-per-account", type=int, default=5)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 2))
    parser.add_argument("--interval-minutes", type=int, default=30)
    parser.add_argument("--truth", type=Path, default=None, help="also write the truth JSON here")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: CPUs)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier landing zone under --out"
    )


def run(args: argparse.Namespace) -> int:
    """Runs the generator from parsed arguments; progress goes to stderr, the summary to stdout."""
    summary = generate(
        args.out,
        seed=args.seed,
        accounts=args.accounts,
        posts_per_account=args.posts_per_account,
        days=args.days,
        start=args.start,
        interval_minutes=args.interval_minutes,
        truth=args.truth,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
        workers=args.workers,
        overwrite=args.overwrite,
    )
    sys.stdout.write(orjson.dumps(asdict(summary), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="metrics generate", description="Write a deterministic sample landing zone."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
