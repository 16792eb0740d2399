"""The injected bad inputs: which lines and records to spoil, how, and under which reason.

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
- ``ambiguous_report``: a YouTube report without a ``video`` column whose request names two
  videos in ``filters``.
- ``missing_follower_count``: a follower body without its count field.
"""

from __future__ import annotations

import random

import orjson

from metrics.sample.batch import DAY_MS, Task
from metrics.sample.followers import follower_body
from metrics.sample.platforms import FOLLOWER_ENDPOINT, PLATFORMS

_POSTS_ENDPOINT = {"tiktok": "business/video/list", "instagram": "media", "x": "tweets"}
_FAKE_ENDPOINT = {
    "tiktok": "business/video/insights",
    "instagram": "stories",
    "youtube": "playlists.list",
    "x": "spaces",
}

# Per-line and per-record rates: rare enough to stay "a sprinkling", common enough to matter.
_BAD_LINE_RATE = 0.0005

REASON: dict[str, str] = {
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
    "ambiguous_report": "ambiguous_report",
    "no_follower_count": "missing_follower_count",
}
REASONS: tuple[str, ...] = tuple(sorted(set(REASON.values())))
RECORD_VARIANTS = frozenset({"non_numeric", "negative_counter", "naive_post_timestamp"})
# Every variant is forced once into the first batch of one platform, so even the smallest
# landing zone holds every kind.
_FORCED: dict[str, tuple[str, ...]] = {
    "tiktok": ("api_error", "truncated", "unknown_endpoint", "non_numeric", "no_account"),
    "instagram": (
        "naive_post_timestamp",
        "negative_counter",
        "no_collected_at",
        "unknown_platform",
        "no_follower_count",
    ),
    "youtube": (
        "naive_collected_at",
        "response_not_object",
        "folder_mismatch",
        "blank",
        "ambiguous_report",
    ),
    "x": ("unknown_account", "account_mismatch", "non_numeric", "negative_counter"),
}


class Injector:
    """Chooses which lines and records to spoil; the caller keeps them out of the truth."""

    def __init__(self, task: Task, rng: random.Random) -> None:
        self.platform = task.platform
        self.rng = rng
        self.foreign = task.foreign
        window_ms = task.days * DAY_MS
        forced = _FORCED[task.platform] if task.batch == 0 else ()
        # Armed early in the window so that a qualifying line surely follows.
        self.pending = [(v, task.start_ms + rng.randrange(max(1, window_ms // 2))) for v in forced]

    def _fits(self, variant: str, endpoint: str, n_records: int, n_eligible: int) -> bool:
        if variant in RECORD_VARIANTS:
            if endpoint != _POSTS_ENDPOINT.get(self.platform) or n_records < 2 or n_eligible < 1:
                return False
            return variant != "naive_post_timestamp" or self.platform == "instagram"
        if variant == "ambiguous_report":
            return self.platform == "youtube" and endpoint == "reports.query"
        if variant == "no_follower_count":
            return endpoint == FOLLOWER_ENDPOINT[self.platform]
        return variant != "api_error" or self.platform == "tiktok"

    def pick(self, endpoint: str, t_ms: int, n_records: int = 0, n_eligible: int = 0) -> str | None:
        for i, (variant, arm) in enumerate(self.pending):
            if t_ms >= arm and self._fits(variant, endpoint, n_records, n_eligible):
                del self.pending[i]
                return variant
        if self.rng.random() >= _BAD_LINE_RATE:
            return None
        options = [v for v in REASON if self._fits(v, endpoint, n_records, n_eligible)]
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
            # Only an insight the pipeline reads (the retired `impressions` is ignored).
            entry = rng.choice([e for e in rec["insights"]["data"] if e["name"] != "impressions"])
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
        elif variant == "ambiguous_report":
            # A day-only report while the request names several videos: rows of which video?
            body = env["response"]
            names = [h["name"] for h in body["columnHeaders"]]
            if "video" in names:
                at = names.index("video")
                body["columnHeaders"] = [h for h in body["columnHeaders"] if h["name"] != "video"]
                if "rows" in body:
                    body["rows"] = [[v for k, v in enumerate(r) if k != at] for r in body["rows"]]
            ids = [f"{rng.getrandbits(40):010x}" for _ in range(2)]
            env["request"] = {**env.get("request", {}), "dimensions": "day"}
            env["request"]["filters"] = "video==" + ",".join(ids)
            env["response"] = env.pop("response")  # keep `response` last, as collectors do
        elif variant == "no_follower_count":
            # The collector did not ask for the count field.
            body = env["response"]
            if self.platform == "tiktok":
                del body["data"]["followers_count"]
            elif self.platform == "instagram":
                del body["followers_count"]
            elif self.platform == "youtube":
                del body["items"][0]["statistics"]
            else:
                del body["data"]["public_metrics"]
        elif variant == "naive_collected_at":
            env["collected_at"] = env["collected_at"][:19]
        elif variant == "folder_mismatch":
            other = rng.choice([p for p in PLATFORMS if p != self.platform])
            acc = self.foreign[other]
            env = {
                "platform": acc.platform,
                "endpoint": FOLLOWER_ENDPOINT[acc.platform],
                "social_account_id": acc.id,
                "collected_at": env["collected_at"],
                "response": follower_body(acc, rng.randint(100, 90_000), rng),
            }
        return orjson.dumps(env)


def truncate(raw: bytes, rng: random.Random) -> bytes:
    """A strict prefix of a JSON object is never valid JSON; cut on an ASCII byte to keep UTF-8."""
    cut = rng.randrange(max(1, len(raw) // 4), len(raw) - 1)
    while cut > 1 and raw[cut] >= 0x80:
        cut -= 1
    return raw[:cut]
