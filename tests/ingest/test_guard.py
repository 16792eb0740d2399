"""Inputs that would empty the warehouse are refused before anything is written.

Hand-made cases over the tiny warehouse (tests/helpers/tiny.py: 6 accounts served): a missing
landing zone, a landing zone without a catalog, a catalog that drops most accounts at once.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from metrics.config import ConfigError
from metrics.ingest import guard
from metrics.ingest.catalog import load_catalog
from tests.helpers.landing import write_catalog
from tests.helpers.tiny import DATA


@pytest.fixture(scope="module")
def served(hand_warehouse) -> Path:
    return hand_warehouse(DATA)


def _verdict(raw: Path, warehouse: Path) -> guard.Verdict:
    return guard.check_inputs(raw, warehouse, load_catalog(raw))


def test_the_same_catalog_passes(served: Path, tmp_path: Path) -> None:
    write_catalog(tmp_path, "2026-04-01", DATA.catalog)
    verdict = _verdict(tmp_path, served)
    assert verdict.ok and (verdict.accounts_served, verdict.accounts_kept) == (6, 6)


def test_a_missing_landing_zone_names_the_path_and_the_fix(served: Path, tmp_path: Path) -> None:
    verdict = _verdict(tmp_path / "nonexistent", served)
    (problem,) = verdict.problems
    assert f"the landing zone {tmp_path / 'nonexistent'} does not exist" in problem
    assert "point --raw or METRICS_RAW_DIR at the landing zone" in problem


def test_a_landing_zone_without_a_catalog_is_refused(served: Path, tmp_path: Path) -> None:
    (tmp_path / "tiktok" / "2026-04-01").mkdir(parents=True)
    (problem,) = _verdict(tmp_path, served).problems
    assert problem.startswith(f"no catalog snapshot in reach under {tmp_path / 'catalog'}")


def test_a_rejected_catalog_is_no_catalog_and_says_why(served: Path, tmp_path: Path) -> None:
    path = tmp_path / "catalog" / "2026-04-01" / "catalog.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    (problem,) = _verdict(tmp_path, served).problems
    assert (
        "no catalog snapshot in reach" in problem and "catalog/2026-04-01/catalog.json" in problem
    )


def _keep(accounts: int) -> dict:
    catalog = copy.deepcopy(DATA.catalog)
    catalog["social_accounts"] = catalog["social_accounts"][:accounts]
    return catalog


def test_a_catalog_losing_more_than_half_the_accounts_is_refused(
    served: Path, tmp_path: Path
) -> None:
    write_catalog(tmp_path, "2026-04-01", DATA.catalog)
    write_catalog(tmp_path, "2026-04-02", _keep(2))  # the newest wins: 2 of 6 kept, 67 % lost
    verdict = _verdict(tmp_path, served)
    (problem,) = verdict.problems
    assert (verdict.accounts_served, verdict.accounts_kept) == (6, 2)
    assert "catalog/2026-04-02/catalog.json keeps 2 of the 6 accounts" in problem
    assert "(67% lost, more than METRICS_MAX_ACCOUNT_LOSS=0.5)" in problem


def test_losing_exactly_half_passes_and_the_share_is_configurable(
    served: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_catalog(tmp_path, "2026-04-02", _keep(3))  # 3 of 6 lost: 50 %, not more than 0.5
    assert _verdict(tmp_path, served).ok
    monkeypatch.setenv(guard.MAX_LOSS_ENV, "0.4")
    assert not _verdict(tmp_path, served).ok
    monkeypatch.setenv(guard.MAX_LOSS_ENV, "1")
    write_catalog(tmp_path, "2026-04-03", _keep(1))
    assert _verdict(tmp_path, served).ok
    monkeypatch.setenv(guard.MAX_LOSS_ENV, "half")
    with pytest.raises(ConfigError, match="METRICS_MAX_ACCOUNT_LOSS='half' is not a share"):
        _verdict(tmp_path, served)


def test_an_empty_warehouse_accepts_any_first_catalog(tmp_path: Path) -> None:
    write_catalog(tmp_path / "raw", "2026-04-01", _keep(1))
    assert _verdict(tmp_path / "raw", tmp_path / "warehouse").ok
