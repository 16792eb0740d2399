"""Every path accounted for (spec §2): each hostile-input reproducer, with hand-computed answers.

Every test checks the exact quarantine rows (file, line, record, reason), the accounting
(lines read = used + quarantined; files found = read + quarantined, against the independent
recount) and that the good siblings are kept with their exact values.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from metrics.ingest.catalog import load_catalog
from metrics.ingest.normalize import (
    NormalizedPartition,
    landing_dates,
    normalize_partition,
    recount_landing,
)
from tests.helpers.landing import CATALOG, envelope, write_catalog, write_lines

DAY = date(2026, 3, 8)
D = DAY.isoformat()
TODAY = date(2026, 3, 9)  # so tomorrow, the newest valid landing date, is 2026-03-10
T0 = "2026-03-08T06:00:00Z"
FOLLOWERS = {"code": 0, "data": {"followers_count": 5}}


def run(raw: Path, day: date = DAY) -> NormalizedPartition:
    """Normalize one partition and check its books against the independent recount."""
    if not (raw / "catalog" / "2026-03-01").exists():
        write_catalog(raw, "2026-03-01")
    part = normalize_partition(raw, day, load_catalog(raw, TODAY), today=TODAY)
    acc = part.accounting
    recount = recount_landing(raw, day, TODAY)
    assert acc.balanced
    assert (recount.files, recount.lines) == (
        acc.files_read + acc.files_quarantined,
        acc.lines_read,
    )
    return part


def rows(part: NormalizedPartition) -> list[tuple]:
    return part.tables["quarantine"].select("landing_file", "line", "record", "reason").rows()


def books(part: NormalizedPartition) -> tuple[int, ...]:
    a = part.accounting
    return (a.files_read, a.files_quarantined, a.lines_read, a.lines_used, a.lines_quarantined)


def touch(path: Path, when: datetime) -> None:
    ns = int(when.timestamp()) * 1_000_000_000
    os.utime(path, ns=(ns, ns), follow_symlinks=False)


def test_integers_beyond_int64_are_quarantined_never_null(tmp_path: Path) -> None:
    def video(item: str, **fields: object) -> str:
        return json.dumps({"item_id": item, "create_time": 1772668800, **fields})

    videos = ",".join(
        [
            video("1", video_views=9223372036854775807, likes=3),  # int64 max: kept exactly
            video("2", video_views=9223372036854775808),  # orjson: an int, one past the max
            '{"item_id": "3", "video_views": 1e20}',
            video("4", likes="123456789012345678901234567890"),
            '{"item_id": "5", "create_time": 1e20}',
            video("6", total_time_watched=1e17),  # × 1000 ms = 1e20
            '{"item_id": "7", "create_time": 1000000000000000}',  # int64, but year 31 690 708
        ]
    )
    head = f'{{"platform":"tiktok","social_account_id":"acc_tt","collected_at":"{T0}",'
    tiktok = [
        head
        + '"endpoint":"business/video/list","response":{"code":0,"data":{"videos":['
        + videos
        + "]}}}",
        # orjson turns an integer beyond 64 bits unsigned into a float: still out of range.
        head + '"endpoint":"business/get","response":{"code":0,"data":{"followers_count":'
        "18446744073709551616}}}",
        head + '"endpoint":"business/get","response":{"code":0,"data":{"followers_count":'
        '"99999999999999999999"}}}',
        head + '"endpoint":"business/get","response":{"code":0,"data":{"followers_count":1e400}}}',
        envelope("tiktok", "business/get", "acc_tt", T0, FOLLOWERS),
    ]
    write_lines(tmp_path, f"tiktok/{D}/a.jsonl", tiktok)
    big = 2**62
    tweet = {"id": "9", "public_metrics": {"retweet_count": big, "quote_count": big}}
    report = {
        "columnHeaders": [{"name": "day"}, {"name": "video"}, {"name": "views"}],
        "rows": [["2026-03-07", "v1", -7], ["2026-03-07", "v2", -(2**63) - 1]],
    }
    write_lines(
        tmp_path,
        f"x/{D}/t.jsonl",
        [envelope("x", "tweets", "acc_x", T0, {"data": [tweet]})],
    )
    write_lines(
        tmp_path,
        f"youtube/{D}/r.jsonl",
        [envelope("youtube", "reports.query", "acc_yt", T0, report)],
    )
    part = run(tmp_path)
    tt = f"tiktok/{D}/a.jsonl"
    assert rows(part) == [
        (tt, 1, 1, "integer_out_of_range"),
        (tt, 1, 2, "integer_out_of_range"),
        (tt, 1, 3, "integer_out_of_range"),
        (tt, 1, 4, "integer_out_of_range"),
        (tt, 1, 5, "integer_out_of_range"),
        (tt, 1, 6, "timestamp_out_of_range"),
        (tt, 2, None, "integer_out_of_range"),
        (tt, 3, None, "integer_out_of_range"),
        (tt, 4, None, "integer_out_of_range"),
        (f"x/{D}/t.jsonl", 1, 0, "integer_out_of_range"),  # 2**62 + 2**62 = 2**63
        (f"youtube/{D}/r.jsonl", 1, 1, "integer_out_of_range"),
    ]
    obs = part.tables["post_observations"].select("platform_post_id", "views", "likes").rows()
    assert obs == [("pst_tiktok_1", 9223372036854775807, 3)]
    assert part.tables["follower_observations"]["followers"].to_list() == [5]
    assert part.tables["period_observations"].select("platform_post_id", "views").rows() == [
        ("pst_youtube_v1", -7)
    ]
    assert books(part) == (3, 0, 7, 4, 3)


def test_collected_at_after_the_landing_day_is_quarantined(tmp_path: Path) -> None:
    stamps = [
        "2026-03-08T23:59:59Z",  # the last second of the landing day: kept
        "2026-03-09T00:00:00Z",  # the first second after it
        "9999-12-31T23:59:59Z",  # would have become everyone's as_of
        "2026-03-09T00:30:00+01:00",  # 23:30Z on the landing day: kept
        "9999-12-31T23:59:59-01:00",  # year 10000 in UTC: used to crash the run
    ]
    lines = [envelope("tiktok", "business/get", "acc_tt", s, FOLLOWERS) for s in stamps]
    write_lines(tmp_path, f"tiktok/{D}/f.jsonl", lines)
    part = run(tmp_path)
    f = f"tiktok/{D}/f.jsonl"
    assert rows(part) == [
        (f, 2, None, "collected_after_landing"),
        (f, 3, None, "collected_after_landing"),
        (f, 5, None, "timestamp_out_of_range"),
    ]
    kept = part.tables["follower_observations"].select("line", "collected_at").rows()
    assert kept == [
        (4, datetime(2026, 3, 8, 23, 30, tzinfo=UTC)),
        (1, datetime(2026, 3, 8, 23, 59, 59, tzinfo=UTC)),
    ]
    assert books(part) == (1, 0, 5, 2, 3)


def test_files_outside_the_layout_are_quarantined_once_in_their_partition(
    tmp_path: Path,
) -> None:
    good = envelope("tiktok", "business/get", "acc_tt", T0, FOLLOWERS)
    noon = datetime(2026, 3, 8, 12, tzinfo=UTC)
    write_lines(tmp_path, f"tiktok/{D}/good.jsonl", [good])
    placed = {  # partition from the date folder
        f"tiktok/{D}/sub/x.jsonl": "unexpected_path",
        f"tiktok/{D}/dir.jsonl/inner.jsonl": "unexpected_path",
        f"myspace/{D}/a.jsonl": "unexpected_path",
        f"tiktok/{D}/notes.txt": "unsupported_file",
        f"catalog/{D}/extra.json": "unexpected_path",
    }
    by_mtime = {  # no valid date folder: partition from the mtime
        "README": "unexpected_path",
        "tiktok/loose.jsonl": "unexpected_path",
        "tiktok/2026-3-9/a.jsonl": "unexpected_path",
        "tiktok/20260309/a.jsonl": "unexpected_path",
        "tiktok/2099-01-01/a.jsonl": "future_landing_date",
        "catalog/notes.txt": "unexpected_path",
    }
    for rel in [*placed, *by_mtime]:
        touch(write_lines(tmp_path, rel, [good]), noon)
    # A future mtime is clamped to tomorrow: partition 2026-03-10, not 2030.
    touch(write_lines(tmp_path, "x/late.jsonl", [good]), datetime(2030, 1, 1, tzinfo=UTC))
    part = run(tmp_path)
    expected = sorted((rel, 0, None, why) for rel, why in {**placed, **by_mtime}.items())
    assert rows(part) == expected
    assert part.tables["quarantine"]["raw"].to_list() == [""] * len(expected)  # never opened
    # Only the good file is read: the stray copies of the same line are not used.
    assert part.tables["follower_observations"]["landing_file"].to_list() == [
        f"tiktok/{D}/good.jsonl"
    ]
    assert books(part) == (1, 11, 12, 1, 11)
    late = run(tmp_path, date(2026, 3, 10))
    assert rows(late) == [("x/late.jsonl", 0, None, "unexpected_path")]
    assert books(run(tmp_path, date(2026, 3, 9))) == (0, 0, 0, 0, 0)
    # The backfill plan covers every partition a file maps to, and never reaches 2099.
    assert landing_dates(tmp_path, TODAY) == [date(2026, 3, 1), DAY, date(2026, 3, 10)]


def test_symbolic_links_are_never_followed(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    outside = tmp_path / "outside"
    secret = write_lines(outside, "secret.jsonl", ["top secret"])
    (outside / "dir").mkdir()
    write_lines(outside, "dir/a.jsonl", [envelope("tiktok", "business/get", "acc_tt", T0, {})])
    write_lines(
        raw, f"tiktok/{D}/good.jsonl", [envelope("tiktok", "business/get", "acc_tt", T0, FOLLOWERS)]
    )
    folder = raw / "tiktok" / D
    (folder / "passwd.jsonl").symlink_to("/etc/passwd")
    (folder / "secret.jsonl").symlink_to(secret)
    (folder / "linked").symlink_to(outside / "dir", target_is_directory=True)
    (raw / "youtube").symlink_to(outside, target_is_directory=True)
    touch(raw / "youtube", datetime(2026, 3, 8, 9, tzinfo=UTC))
    write_catalog(raw, "2026-03-01")
    newer = raw / "catalog" / D
    newer.mkdir()
    (newer / "catalog.json").symlink_to(raw / "catalog" / "2026-03-01" / "catalog.json")
    part = run(raw)
    assert rows(part) == [
        (f"catalog/{D}/catalog.json", 0, None, "symbolic_link"),
        (f"tiktok/{D}/linked", 0, None, "symbolic_link"),
        (f"tiktok/{D}/passwd.jsonl", 0, None, "symbolic_link"),
        (f"tiktok/{D}/secret.jsonl", 0, None, "symbolic_link"),
        ("youtube", 0, None, "symbolic_link"),
    ]
    assert set(part.tables["quarantine"]["raw"]) == {""}
    assert part.tables["follower_observations"]["followers"].to_list() == [5]
    assert books(part) == (1, 5, 6, 1, 5)
    # The linked snapshot is no snapshot: the real one of 2026-03-01 stays in force.
    assert load_catalog(raw, TODAY).snapshot_file == "catalog/2026-03-01/catalog.json"


def _line(followers: int) -> bytes:
    body = {"code": 0, "data": {"followers_count": followers}}
    return json.dumps(envelope("tiktok", "business/get", "acc_tt", T0, body)).encode() + b"\n"


def test_a_truncated_gzip_keeps_its_readable_prefix(tmp_path: Path) -> None:
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    data = deflate.compress(_line(1) + _line(2) + b'{"platform": "tik')
    data += deflate.flush(zlib.Z_SYNC_FLUSH)  # every byte decodable, but no end of stream
    path = tmp_path / "tiktok" / D / "cut.jsonl.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    part = run(tmp_path)
    rel = f"tiktok/{D}/cut.jsonl.gz"
    assert rows(part) == [(rel, 0, None, "unreadable_file")]
    q = part.tables["quarantine"].row(0, named=True)
    assert q["raw"] == '{"platform": "tik'
    assert q["detail"] == "truncated gzip: the stream ends early; lines 1-2 before it are used"
    assert part.tables["follower_observations"].select("line", "followers").rows() == [
        (1, 1),
        (2, 2),
    ]
    assert books(part) == (0, 1, 3, 2, 1)


def test_a_corrupt_gzip_member_is_not_used_but_the_members_before_it_are(
    tmp_path: Path,
) -> None:
    second = bytearray(gzip.compress(_line(2) + _line(3), mtime=0))
    second[-8] ^= 0xFF  # break its CRC: its bytes decode, but cannot be trusted
    path = tmp_path / "tiktok" / D / "crc.jsonl.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(_line(1), mtime=0) + bytes(second))
    part = run(tmp_path)
    assert rows(part) == [(f"tiktok/{D}/crc.jsonl.gz", 0, None, "unreadable_file")]
    assert part.tables["follower_observations"].select("line", "followers").rows() == [(1, 1)]
    assert books(part) == (0, 1, 2, 1, 1)


def _catalog(**changes: object) -> dict:
    return {**json.loads(json.dumps(CATALOG)), **changes}


def test_a_bad_catalog_snapshot_is_rejected_whole(tmp_path: Path) -> None:
    accounts = CATALOG["social_accounts"]
    layers = CATALOG["project_layers"]
    moved = {**accounts[0], "id": "acc_new"}
    write_catalog(tmp_path, "2026-03-01")
    write_catalog(tmp_path, "2026-03-02", _catalog(social_accounts=[*accounts, accounts[0], moved]))
    write_catalog(
        tmp_path,
        "2026-03-03",
        _catalog(project_layers=[*layers, {**layers[0], "id": "lyr_x", "project_id": "prj_zz"}]),
    )
    write_catalog(
        tmp_path,
        "2026-03-04",
        _catalog(projects=[{"id": "prj_z", "org_id": "org_zz", "name": "Z"}]),
    )
    no_handle = {k: v for k, v in moved.items() if k != "handle"}
    write_catalog(tmp_path, "2026-03-05", _catalog(social_accounts=[*accounts, no_handle]))
    write_catalog(
        tmp_path, "2026-03-06", _catalog(social_accounts=[{**moved, "project_layer_id": "lyr_q"}])
    )
    write_catalog(
        tmp_path,
        "2026-03-07",
        _catalog(organizations=[*CATALOG["organizations"], {"id": "prj_a1", "name": "x"}]),
    )
    (tmp_path / "catalog" / D).mkdir()
    (tmp_path / "catalog" / D / "catalog.json").write_text('{"organizations": [')
    cat = load_catalog(tmp_path, TODAY)
    assert cat.snapshot_file == "catalog/2026-03-01/catalog.json"
    assert [why.split(": ", 1)[1] for _, why in cat.rejected] == [
        "repeated social_account id acc_tt",
        "layer lyr_x names unknown project prj_zz",
        "project prj_z names unknown org org_zz",
        "social_accounts[5] lacks the string field `handle`",
        "account acc_new names unknown layer lyr_q",
        "id prj_a1 is in both `organizations` and `projects`",
        "not valid JSON (unexpected end of data: line 1 column 20 (char 19))",
    ]
    assert [w for w, _ in cat.rejected] == [
        f"catalog/2026-03-0{i}/catalog.json" for i in range(2, 9)
    ]
    # An account named only by a rejected snapshot is unknown; the good snapshot still works.
    write_lines(
        tmp_path,
        f"tiktok/{D}/f.jsonl",
        [
            envelope("tiktok", "business/get", "acc_new", T0, FOLLOWERS),
            envelope("tiktok", "business/get", "acc_tt", T0, FOLLOWERS),
        ],
    )
    part = run(tmp_path)
    assert rows(part) == [(f"tiktok/{D}/f.jsonl", 1, None, "unknown_account")]
    # The snapshot files count as read files of their partition (catalog/D/catalog.json here).
    assert books(part) == (2, 0, 2, 1, 1)


def test_an_over_long_line_is_quarantined_from_a_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRICS_MAX_LINE_BYTES", "5000")
    long = "x" * 10_000
    lines = [_line(1).decode().strip(), long, _line(2).decode().strip() + " " * 4000]
    write_lines(tmp_path, f"tiktok/{D}/long.jsonl.gz", lines)
    part = run(tmp_path)
    assert rows(part) == [(f"tiktok/{D}/long.jsonl.gz", 2, None, "line_too_long")]
    q = part.tables["quarantine"].row(0, named=True)
    assert q["raw"] == "x" * 4096
    assert q["detail"].startswith("a line of 10000 bytes exceeds METRICS_MAX_LINE_BYTES=5000")
    assert part.tables["follower_observations"]["followers"].to_list() == [1, 2]
    assert books(part) == (1, 0, 3, 2, 1)


_BOMB_CHILD = """
import resource, sys
from datetime import date
from pathlib import Path
from metrics.ingest.catalog import load_catalog
from metrics.ingest.normalize import normalize_partition, recount_landing
size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
budget = size + (512 << 20)  # far below the bomb's 768 MiB, let alone what holding it costs
resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
raw, day, today = Path(sys.argv[1]), date(2026, 3, 8), date(2026, 3, 9)
part = normalize_partition(raw, day, load_catalog(raw, today), today=today)
a, q = part.accounting, part.tables["quarantine"]
r = recount_landing(raw, day, today)
print(a.files_read, a.lines_read, a.lines_used, a.lines_quarantined, r.files, r.lines)
print(q["line"].to_list(), q["reason"].to_list(), len(q["raw"][0]))
print(part.tables["follower_observations"]["followers"].to_list())
"""


def test_a_gzip_bomb_is_normalized_in_bounded_memory(tmp_path: Path) -> None:
    # 768 MiB of one endless line between two good lines, in 12 identical gzip members of 64 MiB
    # zeros (a multi-member gzip is valid; building it costs one 64 MiB compression).
    write_catalog(tmp_path, "2026-03-01")
    member = gzip.compress(b"0" * (64 << 20), compresslevel=1, mtime=0)
    path = tmp_path / "tiktok" / D / "bomb.jsonl.gz"
    path.parent.mkdir(parents=True)
    with path.open("wb") as f:
        f.write(gzip.compress(_line(1), mtime=0))
        for _ in range(12):
            f.write(member)
        f.write(gzip.compress(b"\n" + _line(2), mtime=0))
    assert path.stat().st_size < 4 << 20
    env = {**os.environ, "POLARS_MAX_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
    done = subprocess.run(
        [sys.executable, "-c", _BOMB_CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "1 3 2 1 1 3",
        "[2] ['line_too_long'] 4096",
        "[1, 2]",
    ]


def test_a_folder_before_the_first_partition_is_quarantined_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRICS_FIRST_LANDING_DATE", "2026-03-01")
    good = envelope("tiktok", "business/get", "acc_tt", T0, FOLLOWERS)
    write_lines(tmp_path, f"tiktok/{D}/good.jsonl", [good])
    touch(
        write_lines(tmp_path, "tiktok/2020-01-01/a.jsonl", [good]), datetime(2020, 1, 1, tzinfo=UTC)
    )
    # Its mtime (2020) is clamped to the first partition, which owns the stray file.
    first = run(tmp_path, date(2026, 3, 1))
    assert rows(first) == [("tiktok/2020-01-01/a.jsonl", 0, None, "before_first_landing_date")]
    assert "METRICS_FIRST_LANDING_DATE=2020-01-01" in first.tables["quarantine"]["detail"][0]
    assert books(first) == (1, 1, 1, 0, 1)  # the catalog read, the stray file quarantined
    assert books(run(tmp_path)) == (1, 0, 1, 1, 0)
    assert landing_dates(tmp_path, TODAY) == [date(2026, 3, 1), DAY]
