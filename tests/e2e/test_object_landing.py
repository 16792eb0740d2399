"""A landing zone on a real S3 server reads exactly as the same zone on a local disk.

The zone (generated exports, gzipped ones among them, plus files that break the layout: a loose
file, an unknown folder, a future date folder, a wrong file type, a sub-folder) is written to a
local folder and uploaded key for key to an `s3://` prefix on the SeaweedFS fixture. Every reader
of the landing zone must then agree: the walk, the landing dates, the independent recount, the
catalog, the sensor's new-file grouping, each date's normalized tables, and a whole pipeline
run's warehouse.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars.testing
import pytest

from metrics.ingest import layout
from metrics.ingest.catalog import load_catalog
from metrics.ingest.normalize import landing_dates, normalize_partition, recount_landing
from metrics.ingest.watch import Cursor, new_landing_files
from metrics.objects import ObjectPath, raw_root
from tests.helpers.object_store import ObjectStore
from tests.helpers.pipeline import make_landing, run, table_contents

pytestmark = pytest.mark.xdist_group("object_store")


def _add_strays(raw: Path) -> None:
    future = (datetime.now(UTC).date() + timedelta(days=5)).isoformat()
    strays = {
        "README.txt": b"a loose file\n",
        "exports/2026-03-06/x.jsonl": b"{}\n",
        f"tiktok/{future}/late.jsonl": b"{}\n",
        "tiktok/2026-03-06/notes.csv": b"a,b\n",
        "tiktok/2026-03-06/sub/deeper.jsonl": b"{}\n",
        "catalog/2026-03-06/other.json": b"{}\n",
    }
    for rel, body in strays.items():
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        (raw / rel).write_bytes(body)


def _upload(store: ObjectStore, raw: Path, prefix: str) -> None:
    fs = store.filesystem()
    base = prefix.removeprefix("s3://")
    for path in sorted(p for p in raw.rglob("*") if p.is_file()):
        key = f"{base}/{path.relative_to(raw).as_posix()}"
        with fs.open_output_stream(key, compression=None) as out:
            out.write(path.read_bytes())


@pytest.fixture
def zones(object_store: ObjectStore, s3_prefix: str, tmp_path: Path) -> tuple[Path, ObjectPath]:
    raw, _ = make_landing(tmp_path, accounts=6, posts_per_account=2, days=3)
    _add_strays(raw)
    assert any(p.name.endswith(".gz") for p in raw.rglob("*"))
    _upload(object_store, raw, f"{s3_prefix}/raw")
    remote = raw_root(f"{s3_prefix}/raw")
    assert isinstance(remote, ObjectPath)
    return raw, remote


def _shape(entries: list[layout.Entry]) -> list[tuple]:
    """An entry without its mtime (a file's mtime on disk is not the object's LastModified)."""
    return [(e.rel, e.landing_date, e.kind, e.size, e.reason, e.detail) for e in entries]


def test_every_reader_of_the_landing_zone_agrees(zones: tuple[Path, ObjectPath]) -> None:
    local, remote = zones
    assert _shape(layout.walk(remote)) == _shape(layout.walk(local))
    reasons = {e.reason for e in layout.walk(remote) if e.kind == "stray"}
    assert {"unexpected_path", "future_landing_date", "unsupported_file"} <= reasons
    days = landing_dates(local)
    assert landing_dates(remote) == days
    for day in days:
        assert recount_landing(remote, day) == recount_landing(local, day)
    here, there = load_catalog(local), load_catalog(remote)
    assert (there.snapshot_date, there.snapshot_file) == (here.snapshot_date, here.snapshot_file)
    polars.testing.assert_frame_equal(there.accounts, here.accounts)
    assert new_landing_files(remote, Cursor())[0] == new_landing_files(local, Cursor())[0]
    for day in days:
        a = normalize_partition(local, day, here)
        b = normalize_partition(remote, day, there)
        assert a.accounting == b.accounting
        for name, frame in a.tables.items():
            polars.testing.assert_frame_equal(b.tables[name], frame)


def test_a_pipeline_run_from_the_object_store_equals_one_from_disk(
    zones: tuple[Path, ObjectPath], tmp_path: Path
) -> None:
    local, remote = zones
    days = landing_dates(local)
    run(local, tmp_path / "from_disk", days[0], days[-1])
    run(remote, tmp_path / "from_s3", days[0], days[-1])  # type: ignore[arg-type]
    a, b = table_contents(tmp_path / "from_disk"), table_contents(tmp_path / "from_s3")
    for name in a:
        polars.testing.assert_frame_equal(b[name], a[name])


def test_the_sensor_notices_a_late_object(zones: tuple[Path, ObjectPath], object_store) -> None:
    _, remote = zones
    _, cursor = new_landing_files(remote, Cursor())
    assert new_landing_files(remote, cursor)[0] == {}
    rel = "tiktok/2026-03-07/late-redelivery.jsonl"
    with object_store.filesystem().open_output_stream(f"{remote.uri[5:]}/{rel}") as out:
        out.write(b"{}\n")
    changes, _ = new_landing_files(remote, cursor)
    assert changes == {"2026-03-07": [rel]}


def test_sample_data_is_never_written_to_a_folder_named_s3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(["generate", "--out", "s3://bucket/raw"]) == 2
    assert "writes a local folder" in capsys.readouterr().err
    assert not (tmp_path / "s3:").exists()
