"""The columnar path takes a line only when it gives exactly what the per-line path gives.

metrics/ingest/columnar.py decodes lines of the large endpoints into strict shapes and checks
them over columns; any line it does not accept goes to the per-line path. So the proof is line by
line: for every line hypothesis builds (envelopes of every kind, hostile values, repeated keys,
numbers no double holds, odd timestamps, accounts of another platform, lines collected after
their landing date), either the columnar path hands it back, or its rows are the per-line
path's rows for that line and the per-line path quarantines nothing in it. A generated landing
zone with the generator's hostile lines then normalizes to the same tables and accounting with
and without the columnar path.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.ingest import columnar, normalize
from metrics.ingest.adapters import parse_timestamp
from metrics.ingest.adapters.values import EPOCH_MAX
from metrics.ingest.catalog import Catalog, load_catalog
from metrics.sample import generate
from tests.ingest.test_typed_decoding import CLEAN, STAMPS, VALUES, _lists, _tiktok_video, _tweet

LANDING_END = 1_772_755_200  # 2026-03-06T00:00:00Z: the end of landing date 2026-03-05
ACCOUNTS = {"acc_t": "tiktok", "acc_i": "instagram", "acc_y": "youtube", "acc_x": "x"}
CATALOG = Catalog(None, None, pl.DataFrame(), pl.DataFrame(), ACCOUNTS, ())


def _per_line(line: bytes, folder: str) -> tuple[dict[str, pl.DataFrame], list[tuple]]:
    """The per-line path alone on one line: its frames and its quarantine rows."""
    out = normalize._Builder(CATALOG)
    scope = normalize._FileScope(f"{folder}/2026-03-05/a.jsonl", folder, LANDING_END, CATALOG, out)
    normalize._judge_line(line, 1, scope, normalize.Accounting())
    frames = {
        "posts": normalize._frame(out.posts.take(), normalize._SNAPSHOT_ROWS),
        "followers": normalize._frame(out.followers.take(), normalize.FOLLOWER_OBSERVATIONS),
    }
    quarantine = list(zip(*out.quarantine.values(), strict=True))
    return frames, quarantine


def _columnar(line: bytes, folder: str) -> dict[str, pl.DataFrame] | None:
    """The columnar path alone on one line: its frames, or None when it hands the line back."""
    pending = columnar.Pending(ACCOUNTS)
    ref = columnar.FileRef(f"{folder}/2026-03-05/a.jsonl", folder, LANDING_END)
    if pending.take(ref, [(1, line)]):
        return None
    taken = pending.flush()
    if taken.handed_back:
        assert taken.accepted == 0
        return None
    assert taken.accepted == 1
    empty = {"posts": normalize._SNAPSHOT_ROWS, "followers": normalize.FOLLOWER_OBSERVATIONS}
    frames = {}
    for name, schema in empty.items():
        raw = getattr(taken, name)
        frames[name] = pl.DataFrame(schema=schema) if raw is None else normalize._frame(raw, schema)
    return frames


def _same_line(line: bytes, folder: str) -> bool:
    """Assert the contract for one line; True when the columnar path took it."""
    taken = _columnar(line, folder)
    if taken is None:
        return False
    frames, quarantine = _per_line(line, folder)
    assert quarantine == [], (line, quarantine)
    for name, frame in frames.items():
        assert taken[name].equals(frame), (name, line, taken[name], frame)
    return True


COLLECTED = st.one_of(
    st.sampled_from(
        [
            "2026-03-05T06:00:12Z",
            "2026-03-05T06:00:12.630Z",
            "2026-03-05T23:59:59.999999+00:00",
            "2026-03-05T01:00:00+0100",
            "2026-03-06T00:00:00Z",  # the end of the landing date: after it
            "2026-03-05T20:00:00-05:00",  # 01:00 on the 6th in UTC: after it
            "2026-03-05T06:00:12",
            "2026-03-05 06:00:12Z",
            "2026-03-05T06:00:12+01",
        ]
    ),
    STAMPS,
)


def _envelope(platform: Any, endpoint: str, account: Any, collected: Any, body: Any) -> dict:
    env: dict[str, Any] = {"platform": platform, "endpoint": endpoint}
    if account is not None:
        env["social_account_id"] = account
    env["collected_at"] = collected
    env["request"] = {"fields": "id"}
    env["response"] = body
    return env


def _follower_body(endpoint: str, value: Any) -> Any:
    return {
        "business/get": {"code": 0, "data": {"followers_count": value}},
        "user": {"id": "1", "followers_count": value},
        "channels.list": {"items": [{"statistics": {"subscriberCount": value}}]},
        "users": {"data": {"id": "1", "public_metrics": {"followers_count": value}}},
    }[endpoint]


COUNT = st.one_of(st.integers(0, 2**63 - 1), st.integers(0, 10**6).map(str), st.none())
SOUND_TWEET = st.fixed_dictionaries(
    {"id": st.sampled_from(["1785000000000000001", "2"])},
    optional={
        "created_at": st.sampled_from(["2026-03-04T13:22:10.000Z", "2026-03-04T13:22:10+0000"]),
        "public_metrics": st.fixed_dictionaries(
            {},
            optional=dict.fromkeys(
                ("impression_count", "like_count", "reply_count", "quote_count", "bookmark_count"),
                st.one_of(st.integers(0, 10**9), st.none()),
            )
            | {"retweet_count": st.one_of(st.integers(0, 2**63 - 1), st.none())},
        ),
    },
)


def _mostly(sound: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy:
    """Records of a response: sound ones, and now and then one the per-line path may reject."""
    return st.lists(st.one_of(sound, sound, sound, sound, sound, odd), max_size=4)


PLATFORM_OF = {
    "business/video/list": "tiktok",  # the per-line path's: every such line is handed back
    "business/get": "tiktok",
    "user": "instagram",
    "channels.list": "youtube",
    "tweets": "x",
    "users": "x",
}


@st.composite
def _line(draw: st.DrawFn) -> tuple[bytes, str]:
    endpoint = draw(st.sampled_from(sorted(PLATFORM_OF)))
    own = PLATFORM_OF[endpoint]
    platform: Any = own
    folder = own
    account: Any = next(a for a, p in ACCOUNTS.items() if p == own)
    collected: Any = draw(st.sampled_from(["2026-03-05T06:00:12Z", "2026-03-05T23:59:59.5+00:00"]))
    if draw(st.integers(0, 3)) == 0:
        # An envelope that may be wrong in any of the ways the per-line path names.
        platform = draw(st.sampled_from([own, own, own, "x", "myspace", 3]))
        folder = draw(st.sampled_from([own, own, own, "tiktok"]))
        account = draw(st.sampled_from([account, "acc_t", "acc_x", "acc_nobody", None, 7]))
        collected = draw(COLLECTED)
    if endpoint == "business/video/list":
        body: Any = {"code": draw(st.sampled_from([0] * 8 + ["0", 40001])), "data": {}}
        body["data"]["videos"] = draw(_lists(_tiktok_video))
    elif endpoint == "tweets":
        data = draw(
            st.one_of(
                _mostly(SOUND_TWEET, _tweet(VALUES, False)),
                SOUND_TWEET,
                _lists(_tweet),
                _tweet(VALUES, False),
            )
        )
        body = {"data": data}
        if draw(st.integers(0, 5)) == 0:
            body["errors"] = [{"title": "Not Found Error"}]
    else:
        body = _follower_body(endpoint, draw(st.one_of(COUNT, CLEAN, VALUES)))
    text = json.dumps(_envelope(platform, endpoint, account, collected, body))
    twist = draw(st.integers(0, 19))
    if twist == 0:
        # A repeated key: msgspec (and so the per-line path) keeps the last one.
        text = text.replace('"code": 0', '"code": 0, "code": 40100', 1)
        text = text.replace('"followers_count": ', '"followers_count": 1, "followers_count": ', 1)
        text = text.replace('"likes": ', '"likes": 5, "likes": ', 1)
    elif twist == 1:
        text = text.replace('{"fields": "id"}', '{"fields": 1e999}')  # no double holds it
    elif twist == 2:
        text = text.replace('"collected_at"', '"collected_at": "2026-03-05T01:00:00Z", "x"', 1)
    elif twist == 3:
        text = text.replace("}", ",}", 1)  # not JSON
    line = text.encode()
    if twist in (4, 5):
        # In a field nobody reads: msgspec skips it, orjson refuses it.
        odd = b'"note": 1e999, ' if twist == 4 else b'"note": "\xff", '
        line = line.replace(b'"id": "1', odd + b'"id": "1', 1)
    return line, folder


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(_line())
def test_a_line_the_columnar_path_takes_has_the_per_line_rows(case: tuple[bytes, str]) -> None:
    _same_line(*case)


def test_common_lines_are_taken() -> None:
    """The parity above is not the per-line path twice: sound lines of every endpoint the
    columnar path serves are taken by it, with hand-checked values."""
    collected = "2026-03-05T06:00:12Z"  # 1772690412
    lines = {
        "x": _envelope(
            "x",
            "tweets",
            "acc_x",
            collected,
            {
                "data": {
                    "id": "178",
                    "created_at": "2026-03-04T13:22:10.000Z",
                    "public_metrics": {"impression_count": 7, "retweet_count": 1, "quote_count": 2},
                }
            },
        ),
        "youtube": _envelope(
            "youtube",
            "channels.list",
            "acc_y",
            collected,
            {"items": [{"statistics": {"subscriberCount": "12300"}}]},
        ),
    }
    for folder, env in lines.items():
        assert _same_line(json.dumps(env).encode(), folder), folder
    x = _columnar(json.dumps(lines["x"]).encode(), "x")
    assert x is not None
    row = x["posts"].row(0, named=True)
    assert (row["platform_post_id"], row["views"], row["impressions"], row["shares"]) == (
        "pst_x_178",
        7,
        7,
        3,
    )
    assert row["reach"] is None and row["media_kind"] == "tweet"
    assert int(row["published_at"].timestamp()) == 1_772_630_530
    assert int(row["collected_at"].timestamp()) == 1_772_690_412
    video = _envelope("tiktok", "business/video/list", "acc_t", collected, {"data": {"videos": []}})
    assert _columnar(json.dumps(video).encode(), "tiktok") is None  # the per-line path's
    followers = _columnar(json.dumps(lines["youtube"]).encode(), "youtube")
    assert followers is not None and followers["followers"]["followers"].to_list() == [12300]


DIGIT = st.sampled_from("0123456789")


@st.composite
def _timestamp(draw: st.DrawFn) -> str:
    """Strings around the shape the columnar path reads, and some it does not."""
    year = draw(st.sampled_from(["1899", "1900", "1970", "2026", "2024", "2199", "2200", "9999"]))
    month = draw(st.sampled_from(["01", "02", "12", "13", "00", "2"]))
    day = draw(st.sampled_from(["01", "28", "29", "30", "31", "32"]))
    hour = draw(st.sampled_from(["00", "23", "24"]))
    minute = draw(st.sampled_from(["00", "59", "60"]))
    second = draw(st.sampled_from(["00", "59", "60"]))
    fraction = draw(st.sampled_from(["", ".5", ".999999", ".1234567", "."]))
    zone = draw(
        st.sampled_from(["Z", "+00:00", "+0000", "-05:30", "+23:59", "+24:00", "+01", "", "z"])
    )
    sep = draw(st.sampled_from(["T", "T", " "]))
    return f"{year}-{month}-{day}{sep}{hour}:{minute}:{second}{fraction}{zone}"


@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(_timestamp(), st.text(max_size=30)), min_size=1, max_size=20))
def test_epoch_seconds_is_parse_timestamp_or_null(texts: list[str]) -> None:
    got = columnar.epoch_seconds(pl.Series(texts, dtype=pl.String)).to_list()
    for text, seconds in zip(texts, got, strict=True):
        if seconds is not None:
            assert parse_timestamp(text) == seconds, text


def test_epoch_seconds_reads_the_common_forms() -> None:
    texts = [
        "2026-03-05T06:00:12Z",
        "2026-03-05T06:00:12.630Z",
        "2026-03-05T07:00:12+0100",
        "2026-03-05T00:30:12-05:30",
        "2024-02-29T00:00:00Z",
    ]
    got = columnar.epoch_seconds(pl.Series(texts)).to_list()
    assert got == [1_772_690_412] * 4 + [1_709_164_800]
    odd = [
        "2023-02-29T00:00:00Z",
        "2026-03-05T06:00:12",
        "2026-03-05 06:00:12Z",
        "2200-01-01T00:00:00Z",
    ]
    assert columnar.epoch_seconds(pl.Series(odd)).to_list() == [None] * 4
    assert EPOCH_MAX > 1_772_690_412


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("columnar_zone")
    generate.generate(raw, seed=11, accounts=12, posts_per_account=4, days=3)
    return raw


def _normalized(raw: Path) -> list[tuple[date, dict[str, pl.DataFrame], tuple]]:
    catalog = load_catalog(raw)
    out = []
    for day in normalize.landing_dates(raw):
        part = normalize.normalize_partition(raw, day, catalog)
        acc = part.accounting
        counts = (acc.lines_read, acc.lines_used, acc.lines_quarantined, acc.records_quarantined)
        tables = {n: df.sort(df.columns, nulls_last=True) for n, df in part.tables.items()}
        out.append((day, tables, (*counts, dict(acc.reasons))))
    return out


def test_a_generated_zone_normalizes_the_same_without_the_columnar_path(
    zone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = []
    flush = columnar.Pending.flush

    def counting(self: columnar.Pending) -> columnar.Taken:
        taken = flush(self)
        accepted.append(taken.accepted)
        return taken

    monkeypatch.setattr(columnar.Pending, "flush", counting)
    with_columnar = _normalized(zone)
    assert sum(accepted) > 1000  # most lines of the zone went that way
    monkeypatch.setattr(columnar.Pending, "take", lambda self, file, lines: list(lines))
    without = _normalized(zone)
    assert [(d, c) for d, _, c in with_columnar] == [(d, c) for d, _, c in without]
    assert any(c[2] for _, _, c in without)  # the zone holds bad lines
    for (day, tables, _), (_, reference, _) in zip(with_columnar, without, strict=True):
        for name, frame in tables.items():
            assert frame.equals(reference[name]), (day, name)
