"""A landing date another run is normalizing is waited for, and taken over if that run dies.

Another host's run killed with SIGKILL is judged dead only once its heartbeat is stale, so a run
started right after the crash first finds its date held by a run that still counts as alive.
Leaving the date to it would let this run succeed without loading it; it waits instead, and
claims the date the moment its holder is judged dead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from metrics.ingest.catalog import load_catalog
from metrics.ingest.steps import normalize_landing_dates
from metrics.model.tables import POST_OBSERVATIONS_TABLE
from metrics.warehouse import ledger, storage
from tests.helpers.landing import envelope, write_catalog, write_lines

DAY = date(2026, 3, 5)
VIDEOS = {"code": 0, "data": {"videos": [{"item_id": "10", "video_views": 7}]}}


def _zone(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    write_catalog(raw, "2026-03-01")
    line = envelope("tiktok", "business/video/list", "acc_tt", "2026-03-05T06:00:00Z", VIDEOS)
    write_lines(raw, f"tiktok/{DAY}/v.jsonl", [line])
    return raw


def _normalize(raw: Path, warehouse: Path, alive, wait: float) -> list[date]:
    with ThreadPoolExecutor(1) as pool:
        stats = normalize_landing_dates(
            raw,
            warehouse,
            [DAY],
            load_catalog(raw),
            pool,
            owner="run-b",
            alive=alive,
            wait_for_left=wait,
        )
        return [s.landing_date for s in stats]


def test_a_date_held_by_a_run_later_judged_dead_is_taken_over(tmp_path: Path) -> None:
    raw, warehouse = _zone(tmp_path), tmp_path / "wh"
    with ledger.normalizing(warehouse, [DAY], owner="run-a", alive=lambda o: True):
        pass  # run-a claimed the date, then died (killed on another host)
    verdicts = iter([True, True])  # alive at the claim and at the first look, then stale

    def alive(owner: str) -> bool:
        return owner != "run-a" or next(verdicts, False)

    assert _normalize(raw, warehouse, alive, wait=30.0) == [DAY]
    state = ledger.read(warehouse)
    assert state.normalize == {} and list(state.hourly) == [DAY]
    assert storage.read(warehouse, POST_OBSERVATIONS_TABLE)["views"].to_list() == [7]


def test_a_date_a_live_run_keeps_is_left_to_it_after_the_wait(tmp_path: Path) -> None:
    raw, warehouse = _zone(tmp_path), tmp_path / "wh"
    with ledger.normalizing(warehouse, [DAY], owner="run-a", alive=lambda o: True):
        pass
    assert _normalize(raw, warehouse, lambda o: True, wait=0.5) == []
    assert ledger.read(warehouse).normalize[DAY].owner == "run-a"  # still its to finish
