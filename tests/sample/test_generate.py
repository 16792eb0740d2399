"""The sample generator: determinism, layout, bad input, and a truth that an independent reader
of the landing zone (written here from spec §2 alone) reproduces exactly."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from collections.abc import Hashable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from metrics.sample.generate import ENDPOINTS, PLATFORMS, REASONS, TRUTH_METRICS, generate, main


def _lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def _files(out: Path) -> list[Path]:
    return sorted(p for platform in PLATFORMS for p in (out / platform).rglob("*.jsonl*"))


def _envelopes(out: Path):
    for path in _files(out):
        for raw in _lines(path):
            try:
                env = json.loads(raw)
            except ValueError:
                continue
            if isinstance(env, dict) and isinstance(env.get("response"), dict):
                yield path, env


def _tree_hash(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, object]:
    root = tmp_path_factory.mktemp("zone")
    summary = generate(root / "raw", truth=root / "truth.json", workers=2)
    return root / "raw", json.loads((root / "truth.json").read_text()), summary


def test_same_seed_gives_identical_bytes_whatever_the_worker_count(tmp_path: Path) -> None:
    generate(tmp_path / "a", truth=tmp_path / "a.json", workers=1, days=2)
    generate(tmp_path / "b", truth=tmp_path / "b.json", workers=2, days=2)
    generate(tmp_path / "c", seed=8, workers=1, days=2)
    assert _tree_hash(tmp_path / "a") == _tree_hash(tmp_path / "b")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert _tree_hash(tmp_path / "a") != _tree_hash(tmp_path / "c")


def test_layout_catalog_platforms_endpoints(zone) -> None:
    out, truth, _ = zone
    snapshots = sorted((out / "catalog").glob("*/catalog.json"))
    assert [p.parent.name for p in snapshots] == ["2026-03-02", "2026-03-03"]
    first, newer = (json.loads(p.read_text()) for p in snapshots)
    assert set(first) == {"organizations", "projects", "project_layers", "social_accounts"}
    assert len(first["organizations"]) == 2
    assert {layer["kind"] for layer in first["project_layers"]} == {"social_content", "managed_ugc"}
    assert {a["platform"] for a in first["social_accounts"]} == set(PLATFORMS)
    old = {a["id"]: a["project_layer_id"] for a in first["social_accounts"]}
    new = {a["id"]: a["project_layer_id"] for a in newer["social_accounts"]}
    moved = [acc for acc in old if old[acc] != new[acc]]
    assert moved == [truth["catalog_move"]["social_account_id"]]

    seen = {(path.relative_to(out).parts[0], env["endpoint"]) for path, env in _envelopes(out)}
    expected = {(p, e) for p, endpoints in ENDPOINTS.items() for e in endpoints}
    assert expected <= seen
    assert any(p.name.endswith(".jsonl.gz") for p in _files(out))


def test_late_files_and_exact_redeliveries(zone) -> None:
    out, _, summary = zone
    late = 0
    for path in _files(out):
        landing = date.fromisoformat(path.parent.name)
        collected = {
            datetime.fromisoformat(env["collected_at"]).date()
            for raw in _lines(path)
            for env in [_try_json(raw)]
            if isinstance(env, dict) and isinstance(env.get("collected_at"), str)
        }
        assert max(collected) <= landing
        late += max(collected) < landing and "-resent" not in path.name
    assert late >= 1 and summary.late_files >= 1

    by_hash = defaultdict(list)
    for path in _files(out):
        by_hash[hashlib.sha256(path.read_bytes()).hexdigest()].append(path)
    copies = [
        sorted(group, key=lambda p: "-resent" in p.name)
        for group in by_hash.values()
        if len(group) > 1
    ]
    assert copies
    for original, resent in copies:
        assert resent.name == original.name.replace(".jsonl", "-resent.jsonl")
        assert resent.parent.name >= original.parent.name


def _try_json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def test_every_reason_is_injected(zone) -> None:
    _, truth, summary = zone
    reasons = {b["reason"] for b in truth["bad"]}
    assert reasons == set(REASONS)
    record_level = {b["reason"] for b in truth["bad"] if b["record"] is not None}
    assert {"non_numeric", "negative_counter", "timestamp_without_zone"} <= record_level
    assert sum(summary.bad.values()) == len(truth["bad"])


def test_snowflake_ids_stay_19_digit_strings(zone) -> None:
    out, _, _ = zone
    ids = []
    for _, env in _envelopes(out):
        body = env["response"]
        if env["endpoint"] == "business/video/list" and "data" in body:
            ids += [v["item_id"] for v in body["data"].get("videos", [])]
        elif env["endpoint"] == "tweets":
            data = body["data"]
            ids += [t["id"] for t in (data if isinstance(data, list) else [data])]
    assert ids
    for native in ids:
        assert type(native) is str and len(native) == 19 and int(native) > 2**53


def test_the_other_shapes_collectors_land_are_there(zone) -> None:
    """A share of each shape of CONTRACT §2's second table, and the retired `plays`."""
    out, _, _ = zone
    seen: dict[str, int] = defaultdict(int)
    for _, env in _envelopes(out):
        body, endpoint = env["response"], env["endpoint"]
        if endpoint == "tweets" and isinstance(body.get("data"), dict):
            seen["x single lookup"] += 1
        elif endpoint == "tweets":
            seen["x list"] += 1
        elif endpoint == "media" and "data" not in body:
            seen["instagram batch"] += 1
        elif endpoint == "media":
            seen["instagram list"] += 1
            names = {i["name"] for m in body["data"] for i in m.get("insights", {}).get("data", [])}
            seen["plays"] += "plays" in names
            seen["impressions"] += "impressions" in names
        elif endpoint == "media_insights":
            with_ids = all("id" in i for i in body["data"])
            seen["insights edge, ids" if with_ids else "insights edge, request only"] += 1
        elif endpoint == "reports.query":
            names = {h["name"] for h in body["columnHeaders"]}
            seen["day-only report" if "video" not in names else "day,video report"] += 1
    assert min(seen.values()) >= 1 and len(seen) == 10, dict(seen)
    assert seen["x single lookup"] < seen["x list"]
    assert seen["instagram batch"] < seen["instagram list"]


def test_youtube_headers_are_shuffled(zone) -> None:
    out, _, _ = zone
    orders = {
        tuple(h["name"] for h in env["response"]["columnHeaders"])
        for _, env in _envelopes(out)
        if env["endpoint"] == "reports.query"
        and "video" in {h["name"] for h in env["response"]["columnHeaders"]}
    }
    assert len(orders) > 3


def test_truth_matches_an_independent_reading(zone) -> None:
    out, truth, _ = zone
    posts, followers, bad = _reference(out)
    assert len(posts) > 40 and len(followers) == 12 and len(bad) >= 15
    assert bad == {(b["landing_file"], b["line"], b["record"], b["reason"]) for b in truth["bad"]}
    assert {f["social_account_id"]: f["followers"] for f in truth["followers"]} == followers
    assert {p["platform_post_id"]: p for p in truth["posts"]} == posts


def test_cli_and_refusal_to_mix_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["--out", str(tmp_path / "raw"), "--accounts", "4", "--days", "1"]
    assert main([*args, "--posts-per-account", "2", "--truth", str(tmp_path / "t.json")]) == 0
    assert json.loads(capsys.readouterr().out)["files"] > 0
    with pytest.raises(FileExistsError):
        main(args)
    assert main([*args, "--overwrite", "--seed", "3"]) == 0


# ---------------------------------------------------------------------------------------------
# An independent reader of the landing zone, straight from spec §2.


def _num(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(value)
    return float(value) if isinstance(value, str | float) else value


def _line_reason(env: object, folder: str, accounts: dict[str, str]) -> str | None:
    fields = ("platform", "endpoint", "social_account_id", "collected_at")
    if not isinstance(env, dict) or not isinstance(env.get("response"), dict):
        return "invalid_envelope"
    if not all(isinstance(env.get(k), str) for k in fields):
        return "invalid_envelope"
    platform = env["platform"]
    if platform not in ENDPOINTS:
        return "unknown_platform"
    if platform != folder:
        return "platform_mismatch"
    if env["endpoint"] not in ENDPOINTS[platform]:
        return "unknown_endpoint"
    if env["social_account_id"] not in accounts:
        return "unknown_account"
    if accounts[env["social_account_id"]] != platform:
        return "platform_mismatch"
    if datetime.fromisoformat(env["collected_at"]).tzinfo is None:
        return "timestamp_without_zone"
    body, endpoint = env["response"], env["endpoint"]
    if platform == "tiktok" and body.get("code") != 0:
        return "api_error"
    names = [h["name"] for h in body.get("columnHeaders", [])]
    if endpoint == "reports.query" and "video" not in names and len(_filtered(env)) != 1:
        return "ambiguous_report"
    count = {
        "business/get": lambda: body["data"].get("followers_count"),
        "user": lambda: body.get("followers_count"),
        "channels.list": lambda: body["items"][0].get("statistics", {}).get("subscriberCount"),
        "users": lambda: body["data"].get("public_metrics", {}).get("followers_count"),
    }.get(endpoint)
    if count is not None and count() is None:
        return "missing_follower_count"
    return None


def _filtered(env: dict) -> list[str]:
    """The videos of a report request's `filters` (`video==a,b`)."""
    filters = env.get("request", {}).get("filters", "")
    return filters.removeprefix("video==").split(",") if filters.startswith("video==") else []


def _record(platform: str, rec: dict) -> tuple[str, dict[str, int], str]:
    """(native id, known metrics, published_at); raises ValueError with the reason code."""
    parts: list = []  # X shares = retweets + quotes; each must be a valid counter on its own
    if platform == "tiktok":
        m = {
            "views": rec["video_views"],
            "reach": rec["reach"],
            "likes": rec["likes"],
            "comments": rec["comments"],
            "shares": rec["shares"],
            "saves": rec.get("favorites", rec.get("favorities")),
        }
        watch = round(_num(rec["total_time_watched"]) * 1000)
        published = datetime.fromtimestamp(int(rec["create_time"]), UTC)
        native = rec["item_id"]
    elif platform == "x":
        pm = rec["public_metrics"]
        m = {
            "views": pm["impression_count"],
            "impressions": pm["impression_count"],
            "likes": pm["like_count"],
            "comments": pm["reply_count"],
            "shares": None,
            "saves": pm["bookmark_count"],
        }
        parts = [pm["retweet_count"], pm["quote_count"]]
        watch = None
        published = datetime.fromisoformat(rec["created_at"])
        native = rec["id"]
    else:
        ins = {i["name"]: i["values"][0]["value"] for i in rec.get("insights", {}).get("data", [])}
        if "views" not in ins and "plays" in ins:
            ins["views"] = ins["plays"]  # the retired name of views
        m = {
            "views": ins.get("views"),
            "reach": ins.get("reach"),
            "likes": ins.get("likes", rec["like_count"]),
            "comments": ins.get("comments", rec["comments_count"]),
            "shares": ins.get("shares"),
            "saves": ins.get("saved"),
        }
        watch = ins.get("ig_reels_video_view_total_time")
        published = datetime.fromisoformat(rec["timestamp"])
        native = rec["id"]
    try:
        known = {k: int(_num(v)) for k, v in m.items() if v is not None}
        if platform == "x":
            parts = [int(_num(v)) for v in parts]
            known["shares"] = sum(parts)
        if watch is not None:
            known["watch_time_ms"] = int(_num(watch))
    except ValueError:
        raise ValueError("non_numeric") from None
    if min([*known.values(), *parts]) < 0:
        raise ValueError("negative_counter")
    if published.tzinfo is None:
        raise ValueError("timestamp_without_zone")
    return native, known, published.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reference(out: Path) -> tuple[dict, dict, set]:
    accounts: dict[str, str] = {}
    for snapshot in (out / "catalog").glob("*/catalog.json"):
        for acc in json.loads(snapshot.read_text())["social_accounts"]:
            accounts[acc["id"]] = acc["platform"]
    bad: set = set()
    latest: dict[str, dict[str, tuple]] = defaultdict(dict)
    day_rows: dict[tuple[str, str], tuple] = {}
    owner: dict[str, tuple[str, str]] = {}
    published: dict[str, str] = {}
    gauges: dict[str, tuple] = {}

    def keep(slot: dict, name: Hashable, key: tuple, value: object) -> None:
        if name not in slot or slot[name][0] < key:
            slot[name] = (key, value)

    for path in _files(out):
        rel = path.relative_to(out).as_posix()
        for n, raw in enumerate(_lines(path), 1):
            env = _try_json(raw)
            reason = (
                "malformed_json"
                if env is None
                else _line_reason(env, rel[: rel.index("/")], accounts)
            )
            if reason:
                bad.add((rel, n, None, reason))
                continue
            assert isinstance(env, dict)  # no reason: _line_reason found a valid envelope
            platform, endpoint, body = env["platform"], env["endpoint"], env["response"]
            key = (int(datetime.fromisoformat(env["collected_at"]).timestamp()), rel, n)
            records = {
                "business/video/list": lambda b: b["data"]["videos"],
                # The ?ids= batch lookup is a map keyed by media id, without `data`.
                "media": lambda b: b["data"] if "data" in b else list(b.values()),
                # The single-post lookup's `data` is one object.
                "tweets": lambda b: b["data"] if isinstance(b["data"], list) else [b["data"]],
            }.get(endpoint)
            if endpoint == "media_insights":
                media = env["request"]["media_id"]
                post = f"pst_instagram_{media}"
                assert all(i.get("id", media + "/").startswith(media + "/") for i in body["data"])
                ins = {i["name"]: i["values"][0]["value"] for i in body["data"]}
                if "views" not in ins and "plays" in ins:
                    ins["views"] = ins["plays"]
                insight_metrics = {
                    "views": "views",
                    "reach": "reach",
                    "likes": "likes",
                    "comments": "comments",
                    "shares": "shares",
                    "saved": "saves",
                    "ig_reels_video_view_total_time": "watch_time_ms",
                }
                owner.setdefault(post, ("instagram", env["social_account_id"]))
                for name, metric in insight_metrics.items():
                    if name in ins:
                        keep(latest[post], metric, key, ins[name])
            elif records:
                for i, rec in enumerate(records(body)):
                    try:
                        native, known, when = _record(platform, rec)
                    except ValueError as err:
                        bad.add((rel, n, i, str(err)))
                        continue
                    post = f"pst_{platform}_{native}"
                    owner[post], published[post] = (platform, env["social_account_id"]), when
                    for name, value in known.items():
                        keep(latest[post], name, key, value)
            elif endpoint == "videos.list":
                for item in body["items"]:
                    post = f"pst_youtube_{item['id']}"
                    owner[post] = ("youtube", env["social_account_id"])
                    published[post] = item["snippet"]["publishedAt"]
            elif endpoint == "reports.query":
                names = [h["name"] for h in body["columnHeaders"]]
                for row in body.get("rows", []):
                    cell = dict(zip(names, row, strict=True))
                    video = cell["video"] if "video" in cell else _filtered(env)[0]
                    post = f"pst_youtube_{video}"
                    owner.setdefault(post, ("youtube", env["social_account_id"]))
                    keep(day_rows, (post, cell["day"]), key, cell)
            else:
                value = {
                    "tiktok": lambda b: b["data"]["followers_count"],
                    "instagram": lambda b: b["followers_count"],
                    "youtube": lambda b: int(b["items"][0]["statistics"]["subscriberCount"]),
                    "x": lambda b: b["data"]["public_metrics"]["followers_count"],
                }[platform](body)
                keep(gauges, env["social_account_id"], key, value)

    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TRUTH_METRICS, 0))
    for (post, _day), (_key, cell) in day_rows.items():
        t = totals[post]
        for name in ("views", "likes", "comments", "shares"):
            t[name] += cell[name]
        t["watch_time_ms"] += cell["estimatedMinutesWatched"] * 60_000
    posts = {}
    for post, (platform, account) in owner.items():
        row = {
            "platform_post_id": post,
            "platform": platform,
            "native_id": post.split("_", 2)[2],
            "social_account_id": account,
            "published_at": published.get(post),
        }
        row.update(dict.fromkeys(TRUTH_METRICS, 0) | totals.get(post, {}))
        row.update({name: kv[1] for name, kv in latest[post].items()})
        posts[post] = row
    return posts, {acc: kv[1] for acc, kv in gauges.items()}, bad
