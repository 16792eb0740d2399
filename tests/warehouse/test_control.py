"""The run state's shared machinery: control tables, claims, fenced commits, publications.

Every property here is about several writers at once, so the writers are real processes
(spawned, as separate run hosts would be) hammering one warehouse folder, and the assertions
are the ones a lost update, a doubled partition or a reused number would break.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from multiprocessing import get_context
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import CommitProperties, DeltaTable, Transaction
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction

from metrics.model.tables import LEDGER_TABLE, Column, Table
from metrics.warehouse import control, ledger, storage
from metrics.warehouse import manifest as published

DAYS = Table(
    "days",
    "test",
    "a row per writer per day",
    (Column("writer", pl.String(), "who wrote it"), Column("n", pl.Int64(), "a number")),
    "transform",
    partition=Column("day", pl.Date(), "day"),
)
D0 = date(2026, 3, 1)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.e2e)])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A warehouse root on a local disk, or on the real S3 server (put-if-absent commits)."""
    if request.param == "local":
        return str(tmp_path / "wh")
    return str(request.getfixturevalue("s3_prefix"))


def _version(warehouse: str | Path) -> int:
    dt = storage.open_table(warehouse, DAYS)
    assert dt is not None
    return dt.version()


def _history(warehouse: str | Path) -> list[dict]:
    dt = storage.open_table(warehouse, DAYS)
    assert dt is not None
    return dt.history()


def _pool(n: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn"))


def _owe_days(warehouse: str, writer: int, count: int) -> list[int]:
    """Add `count` rollup days of its own to the ledger, one update each; the epochs seen."""
    epochs = []
    for i in range(count):
        day = D0 + timedelta(days=100 * writer + i)

        def owe(state: ledger.Ledger, epoch: int, day: date = day) -> None:
            state.rollup_days[day] = epoch

        epochs.append(ledger.update(warehouse, owe).rollup_days[day])
    return epochs


def test_concurrent_ledger_updates_lose_nothing_and_epochs_are_unique(where: str) -> None:
    warehouse = where
    writers, each = 4, 6
    with _pool(writers) as pool:
        seen = list(pool.map(_owe_days, [warehouse] * writers, range(writers), [each] * writers))
    state = ledger.read(warehouse)
    expected = {D0 + timedelta(days=100 * w + i) for w in range(writers) for i in range(each)}
    assert set(state.rollup_days) == expected  # no writer's entry was lost
    epochs = [e for per_writer in seen for e in per_writer]
    assert len(set(epochs)) == len(epochs) == writers * each  # every commit its own epoch
    assert all(a < b for per_writer in seen for a, b in itertools.pairwise(per_writer))
    assert state.version == writers * each  # one commit per update, nothing else
    assert state.last_epoch == max(epochs)


def test_a_removal_keeps_an_entry_that_was_owed_again_meanwhile(tmp_path: Path) -> None:
    warehouse = str(tmp_path / "wh")

    def owe(state: ledger.Ledger, epoch: int) -> None:
        state.hourly[D0] = epoch

    first = ledger.update(warehouse, owe).hourly  # the hourly step reads this, folds, ...
    again = ledger.update(warehouse, owe).hourly[D0]  # ... while D0 is normalized again

    def hand_on(state: ledger.Ledger, _epoch: int) -> None:
        state.hourly = ledger.without(state.hourly, first)

    assert ledger.update(warehouse, hand_on).hourly == {D0: again}  # still owed, newer epoch
    assert ledger.update(warehouse, lambda s, _e: setattr(s, "hourly", {})).settled


def test_live_claims_are_left_and_dead_ones_adopted(tmp_path: Path) -> None:
    warehouse = str(tmp_path / "wh")
    d1, d2, d3 = D0, D0 + timedelta(days=1), D0 + timedelta(days=2)
    with ledger.normalizing(warehouse, [d1], owner="run-a", alive=lambda o: True):
        pass  # run-a died here: its claim on d1 stays
    with ledger.normalizing(warehouse, [d2], owner="run-b", alive=lambda o: True) as b:
        assert b.dates == [d2] and b.adopted == []  # run-a is alive: d1 is its to finish
        with ledger.normalizing(
            warehouse, [d2, d3], owner="run-c", alive=lambda o: o == "run-b"
        ) as c:
            assert c.adopted == [d1]  # run-a is dead: its date is c's now
            assert c.left == {d2: "run-b"}  # run-b is alive and normalizing d2
            assert c.dates == [d1, d3] and c.epoch > b.epoch
            ledger.normalized(warehouse, c)
        ledger.normalized(warehouse, b)
    state = ledger.read(warehouse)
    assert state.normalize == {}
    assert state.hourly == {d1: c.epoch, d2: b.epoch, d3: c.epoch}


def test_a_superseded_claim_hands_nothing_on(tmp_path: Path) -> None:
    warehouse = str(tmp_path / "wh")
    with ledger.normalizing(warehouse, [D0], owner="run-a", alive=lambda o: True) as old:
        pass
    with ledger.normalizing(warehouse, [], owner="run-b", alive=lambda o: False) as new:
        assert new.adopted == [D0]
    ledger.normalized(warehouse, old)  # the zombie finishes late: D0 is not its any more
    assert ledger.read(warehouse).normalize == {D0: ledger.Claim("run-b", new.epoch)}
    ledger.normalized(warehouse, new)
    assert ledger.read(warehouse).hourly == {D0: new.epoch}


def _write_days(warehouse: str, writer: int, days: int, epoch: int | None) -> None:
    """Commit `days` partitions of its own to DAYS, one commit each."""
    for i in range(days):
        day = (D0 + timedelta(days=writer * days + i)).isoformat()
        with storage.Batch(warehouse, DAYS, epoch) as batch:
            batch.put(day, pl.DataFrame({"writer": [str(writer)], "n": [i]}))


@pytest.mark.parametrize("epoch", [None, 5])
def test_concurrent_commits_to_other_partitions_all_land_once(where: str, epoch) -> None:
    """delta-rs treats a partition overwrite as a read of the whole table, so these commits
    conflict with each other although they touch different days; each is retried on the new
    version and lands exactly once."""
    warehouse = where
    writers, days = 3, 5
    with _pool(writers) as pool:
        list(pool.map(_write_days, [warehouse] * writers, range(writers), [days] * writers,
                      [epoch] * writers))  # fmt: skip
    table = storage.read(warehouse, DAYS)
    assert table.height == writers * days  # every partition once: none lost, none doubled
    assert table.group_by("day").len()["len"].to_list() == [1] * (writers * days)
    writes = [c for c in _history(warehouse) if c["operation"] == "WRITE"]
    assert len(writes) == writers * days  # one commit each: none was made twice


def _stage(root: Path, day: str, writer: str) -> AddAction:
    relative = f"day={day}/part-{uuid.uuid4().hex}.parquet"
    (root / f"day={day}").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"writer": [writer], "n": [1]}), root / relative)
    size = (root / relative).stat().st_size
    return AddAction(relative, size, {"day": day}, int(time.time() * 1000), True, "{}")


def test_two_writers_of_a_new_partition_conflict_only_with_the_partition_app_id(
    tmp_path: Path,
) -> None:
    """The delta-rs behaviour the fence rests on, pinned: two overwrites of a partition that
    did not exist, from the same snapshot, BOTH succeed (doubling its rows) unless each carries
    the partition's application transaction; with it, the second conflicts."""
    warehouse = tmp_path / "wh"
    with storage.Batch(warehouse, DAYS) as batch:
        batch.put("2026-03-01", pl.DataFrame({"writer": ["seed"], "n": [0]}))
    uri, schema = storage.table_uri(warehouse, DAYS), storage.arrow_schema(DAYS)

    def both(day: str, with_app_id: bool) -> list[str]:
        first, second = DeltaTable(uri), DeltaTable(uri)  # one snapshot, two writers
        for dt, who, epoch in ((first, "a", 1), (second, "b", 2)):
            apps = [Transaction(storage.app_id(DAYS, day), epoch)] if with_app_id else None
            with contextlib.suppress(CommitFailedError):
                dt.create_write_transaction(
                    [_stage(warehouse / "tables" / "days", day, who)],
                    mode="overwrite",
                    schema=schema,
                    partition_by=["day"],
                    partition_filters=[("day", "in", [day])],
                    commit_properties=CommitProperties(app_transactions=apps),
                )
        rows = storage.read(warehouse, DAYS).filter(pl.col("day") == date.fromisoformat(day))
        return sorted(rows["writer"].to_list())

    assert both("2026-03-02", with_app_id=False) == ["a", "b"]  # doubled: why app ids exist
    assert both("2026-03-03", with_app_id=True) == ["a"]


def test_a_superseded_writer_is_fenced_and_a_landed_commit_is_not_made_twice(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "wh"
    day = "2026-03-01"
    with storage.Batch(warehouse, DAYS, epoch=7) as newer:
        newer.put(day, pl.DataFrame({"writer": ["newer"], "n": [7]}))
    stale = storage.Batch(warehouse, DAYS, epoch=4)  # a run judged dead, still writing
    stale.put(day, pl.DataFrame({"writer": ["stale"], "n": [4]}))
    with pytest.raises(storage.Fenced, match="newer than this writer's 4"):
        stale.commit()
    assert storage.read(warehouse, DAYS)["writer"].to_list() == ["newer"]
    version = _version(warehouse)
    assert newer.commit() == version  # the same claim again: already landed, no new commit
    assert _version(warehouse) == version


def _publish(warehouse: str, tag: int, times: int) -> list[int]:
    numbers = []
    for i in range(times):
        numbers.append(published.publish(warehouse, {"t": 1000 * tag + i}, run=str(tag))["version"])
    return numbers


def test_concurrent_publications_take_distinct_numbers_and_the_file_ends_newest(
    where: str,
) -> None:
    warehouse = where
    hosts, each = 3, 4
    with _pool(hosts) as pool:
        got = list(pool.map(_publish, [warehouse] * hosts, range(hosts), [each] * hosts))
    numbers = sorted(n for per_host in got for n in per_host)
    assert numbers == list(range(1, hosts * each + 1))  # no number twice, none skipped
    history = published.history(warehouse)
    assert [m["version"] for m in history] == numbers
    assert len({json.dumps(m["tables"]) for m in history}) == hosts * each
    assert published.read(warehouse) == history[-1]  # manifest.json names the newest
    same = published.publish(warehouse, history[-1]["tables"])
    assert same["version"] == history[-1]["version"]  # nothing new: same state, same number


def test_the_ledger_lives_in_the_warehouse(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    epoch = ledger.claim(warehouse, "posts", "run-x")
    uri = storage.table_uri(warehouse, LEDGER_TABLE)
    assert uri == str(warehouse / "control" / "ledger") and os.path.isdir(f"{uri}/_delta_log")
    assert control.read(warehouse, LEDGER_TABLE).version == 1  # created, then claimed
    assert ledger.read(warehouse).steps == {"posts": ledger.Claim("run-x", epoch)}


def test_epochs_keep_increasing_after_the_ledger_is_deleted(tmp_path: Path) -> None:
    """Data commits keep the epochs of their claims; a ledger deleted (the documented repair)
    and started again must not hand out smaller ones, or every writer would be fenced."""
    import shutil

    warehouse = tmp_path / "wh"
    before = ledger.claim(warehouse, "posts", "run-x")
    shutil.rmtree(storage.table_uri(warehouse, LEDGER_TABLE))
    after = ledger.claim(warehouse, "posts", "run-y")
    assert after > before


def test_requested_dates_of_a_dead_run_are_adopted_and_a_live_run_keeps_its_own(
    tmp_path: Path,
) -> None:
    """A run records its dates before it exists in the instance; dying before it claims them
    for normalize, it leaves them requested, and the next run of any date takes them."""
    warehouse = tmp_path / "wh"
    d1, d2, d3 = D0, D0 + timedelta(days=1), D0 + timedelta(days=2)
    ledger.request(warehouse, [d1], "run-dead")
    ledger.request(warehouse, [d2], "run-slow")  # alive, not yet at its normalize step
    ledger.request(warehouse, [d2], "run-slow")  # asked again: nothing changes
    assert not ledger.read(warehouse).settled  # a request is a debt
    assert ledger.read(warehouse).requested[d2].owner == "run-slow"
    with ledger.normalizing(
        warehouse, [d3], owner="run-next", alive=lambda o: o == "run-slow"
    ) as claim:
        assert claim.adopted == [d1] and claim.dates == [d1, d3]
        ledger.normalized(warehouse, claim)
    state = ledger.read(warehouse)
    assert set(state.requested) == {d2}  # the live run's own request stays its own
    with ledger.normalizing(warehouse, [d2], owner="run-slow", alive=lambda o: True) as slow:
        assert slow.dates == [d2]
        ledger.normalized(warehouse, slow)
    state = ledger.read(warehouse)
    assert state.requested == {} and state.normalize == {}
    assert set(state.hourly) == {d1, d2, d3}
