"""Where the landing partitions start (metrics/ingest/layout.py `first_landing_date`): the
setting, else the oldest catalog snapshot, else yesterday; and the walk judges folders against
that same date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from metrics.config import ConfigError
from metrics.ingest import layout
from metrics.ingest.normalize import landing_dates
from tests.helpers.landing import write_catalog, write_lines

TODAY = date(2026, 3, 9)


@pytest.fixture(autouse=True)
def discover(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METRICS_FIRST_LANDING_DATE", raising=False)  # pinned by tests/conftest.py


def test_the_oldest_catalog_snapshot_starts_the_partitions(tmp_path: Path) -> None:
    write_catalog(tmp_path, "2026-03-04")
    write_catalog(tmp_path, "2026-03-02")
    (tmp_path / "catalog" / "2026-02-01").mkdir()  # a date folder without a snapshot
    (tmp_path / "catalog" / "2026-01-15").mkdir()
    (tmp_path / "catalog" / "2026-01-15" / "notes.txt").write_text("not a snapshot")
    (tmp_path / "catalog" / "20260101").mkdir()  # not a YYYY-MM-DD name
    write_catalog(tmp_path, "2026-03-11")  # after tomorrow (2026-03-10): stray, not a start
    (tmp_path / "catalog" / "2026-01-01").symlink_to(tmp_path / "catalog" / "2026-03-02")
    write_lines(tmp_path, "tiktok/2020-01-01/a.jsonl", ["{}"])  # platform folders never count
    assert layout.first_landing_date(tmp_path, TODAY) == date(2026, 3, 2)


def test_without_a_catalog_the_partitions_start_yesterday(tmp_path: Path) -> None:
    assert layout.first_landing_date(tmp_path / "missing", TODAY) == date(2026, 3, 8)
    write_lines(tmp_path, "tiktok/2026-03-01/a.jsonl", ["{}"])
    assert layout.first_landing_date(tmp_path, TODAY) == date(2026, 3, 8)


def test_the_setting_wins_and_a_bad_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_catalog(tmp_path, "2026-03-02")
    monkeypatch.setenv("METRICS_FIRST_LANDING_DATE", "2026-02-20")
    assert layout.first_landing_date(tmp_path, TODAY) == date(2026, 2, 20)
    monkeypatch.setenv("METRICS_FIRST_LANDING_DATE", "2026-02-30")
    with pytest.raises(ConfigError, match="METRICS_FIRST_LANDING_DATE='2026-02-30' is not a"):
        layout.first_landing_date(tmp_path, TODAY)


def test_a_platform_folder_before_the_first_catalog_is_stray_with_the_fix(tmp_path: Path) -> None:
    write_catalog(tmp_path, "2026-03-02")
    write_lines(tmp_path, "tiktok/2026-03-01/early.jsonl", ["{}"])
    write_lines(tmp_path, "tiktok/2026-03-03/a.jsonl", ["{}"])
    entries = {e.rel: e for e in layout.walk(tmp_path, TODAY)}
    early = entries["tiktok/2026-03-01/early.jsonl"]
    assert (early.kind, early.reason) == ("stray", "before_first_landing_date")
    assert "METRICS_FIRST_LANDING_DATE=2026-03-01" in early.detail
    assert entries["tiktok/2026-03-03/a.jsonl"].kind == "data"
    # Passed through explicitly, the same date decides (what a run's assets do).
    passed = {e.rel: e for e in layout.walk(tmp_path, TODAY, first=date(2026, 3, 1))}
    assert passed["tiktok/2026-03-01/early.jsonl"].kind == "data"
    assert min(landing_dates(tmp_path, TODAY)) >= date(2026, 3, 2)
    assert min(landing_dates(tmp_path, TODAY, first=date(2026, 3, 1))) == date(2026, 3, 1)
