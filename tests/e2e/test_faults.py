"""Fault injection: a run that dies anywhere is finished by the next run, row for row.

This suite is the regression net of the write path. Each case builds a warehouse up to the day
before a landing date, lets the run of that date die at a named crash point (metrics/faults.py)
or under a real `kill -9` of its process group, then runs again, and asserts that every table
partition holds the same rows as in a clean run over the same landing zone, and that the ledger
owes nothing. "Again" is either the same landing date or the next one: both must converge.

"Same" is table content read through the Delta log (tests/helpers/pipeline.py `table_digests`:
rows sorted on every column, so a duplicated row differs), not bytes on disk: Delta names its
files at random and keeps replaced ones until a vacuum. Until the re-run, the versions the
manifest names still read exactly as they did before the crashed run began.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from metrics import faults
from metrics.ingest.normalize import landing_dates
from metrics.warehouse import ledger, manifest
from tests.helpers.pipeline import make_landing, run, table_digests

ROOT = Path(__file__).resolve().parents[2]
RERUN_TIMEOUT_S = 240

# Between and inside every step, in the order a run reaches them. `@n` dies at the n-th pass
# of a point that sits in a loop, after some partitions are written and before the others.
POINTS = [
    "catalog.entities_written",
    "normalize.table_written@1",
    "normalize.table_written@3",
    "normalize.table_committed@2",
    "normalize.written",
    "posts.written",
    "hourly.day_written@1",
    "hourly.day_written@3",
    "hourly.written",
    "rollups.partition_written@1",
    "rollups.partition_written@7",
    "rollups.written",
    "views.written",
]


class Zone:
    """A landing zone, the warehouse before the day a run dies on, and the clean results.

    The run dies on the busiest landing date (`crash`); "the next date" is the one after it,
    which holds late files only.
    """

    def __init__(self, root: Path) -> None:
        self.raw, _ = make_landing(root)
        days = landing_dates(self.raw)
        self.root = root
        self.crash, self.next = days[3], days[4]
        self.before = root / "before"
        run(self.raw, self.before, days[0], days[2])
        self.published = _published(self.before)
        self.expected = {}
        for last in (self.crash, self.next):
            clean = root / f"clean-{last}"
            run(self.raw, clean, days[0], last)
            self.expected[last] = table_digests(clean)

    def copy(self, name: str) -> Path:
        target = self.root / name
        shutil.copytree(self.before, target)
        return target


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Zone:
    return Zone(tmp_path_factory.mktemp("faults"))


def _published(warehouse: Path) -> dict[str, str]:
    """Digests of the table versions the manifest names: what a reader answers from."""
    return table_digests(warehouse, manifest.read(warehouse)["tables"])


def _crash_in_process(zone: Zone, warehouse: Path, day: date, fault: str) -> None:
    """Run one landing date and let it die at `fault` (raised, so no step code runs after it)."""
    name, _, nth = fault.partition("@")
    os.environ[faults.ENV] = f"{name}:raise" + (f"@{nth}" if nth else "")
    faults._reached.clear()
    try:
        with pytest.raises(faults.InjectedCrash):
            run(zone.raw, warehouse, day, day)
    finally:
        del os.environ[faults.ENV]
        faults._reached.clear()
    assert _published(warehouse) == zone.published, "a crashed run changed what readers see"


def _assert_converged(zone: Zone, warehouse: Path, last: date) -> None:
    expected = zone.expected[last]
    got = table_digests(warehouse)
    assert sorted(got) == sorted(expected), "a table partition is missing or extra"
    differ = [path for path, digest in got.items() if expected[path] != digest]
    assert not differ, f"partitions differ from a clean run: {differ[:5]}"
    assert ledger.read(warehouse).settled, ledger.read(warehouse).describe()


@pytest.mark.xdist_group("faults_same")
@pytest.mark.parametrize("fault", POINTS)
def test_rerun_of_the_same_date_converges(zone: Zone, fault: str) -> None:
    warehouse = zone.copy(f"same-{fault}")
    _crash_in_process(zone, warehouse, zone.crash, fault)
    run(zone.raw, warehouse, zone.crash, zone.crash)
    _assert_converged(zone, warehouse, zone.crash)


# A run that died before normalize began wrote nothing of its date, so only a run of that date
# loads it (docs/operations.md); from normalize on, a run of any later date finishes it.
@pytest.mark.xdist_group("faults_later")
@pytest.mark.parametrize("fault", [p for p in POINTS if not p.startswith("catalog.")])
def test_run_of_the_next_date_converges(zone: Zone, fault: str) -> None:
    warehouse = zone.copy(f"later-{fault}")
    _crash_in_process(zone, warehouse, zone.crash, fault)
    run(zone.raw, warehouse, zone.next, zone.next)
    _assert_converged(zone, warehouse, zone.next)


def _cli(zone: Zone, warehouse: Path, day: date, home: Path, fault: str | None = None):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DAGSTER_HOME": str(home),
        "METRICS_RAW_DIR": str(zone.raw),
        "METRICS_WAREHOUSE_DIR": str(warehouse),
        **({faults.ENV: fault} if fault else {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "nightly", "--date", day.isoformat()],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _rerun_cli(zone: Zone, warehouse: Path, day: date, home: Path) -> None:
    proc = _cli(zone, warehouse, day, home)
    try:
        out, _ = proc.communicate(timeout=RERUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"the re-run after a crash did not finish in {RERUN_TIMEOUT_S} s")
    assert proc.returncode == 0, out.decode()[-3000:]


@pytest.mark.xdist_group("faults_same")
@pytest.mark.parametrize(
    "fault", ["normalize.table_written@2", "hourly.written", "rollups.written"]
)
def test_sigkill_at_a_crash_point_then_rerun_converges(
    zone: Zone, fault: str, tmp_path: Path
) -> None:
    warehouse = zone.copy(f"kill-{fault}")
    proc = _cli(zone, warehouse, zone.crash, tmp_path / "dh", fault)
    proc.communicate(timeout=RERUN_TIMEOUT_S)
    assert proc.returncode == -signal.SIGKILL
    assert _published(warehouse) == zone.published, "a killed run changed what readers see"
    _rerun_cli(zone, warehouse, zone.crash, tmp_path / "dh")
    _assert_converged(zone, warehouse, zone.crash)


# `kill -9` of the whole process group (the run and its parsing workers) when the run's log
# reaches a line: after normalize, at the adversary's `post_hourly:` line, after the rollups.
@pytest.mark.xdist_group("faults_later")
@pytest.mark.parametrize("line", [b"lines =", b"post_hourly:", b"rollups:"])
def test_kill_9_of_the_process_group_then_rerun_converges(
    zone: Zone, line: bytes, tmp_path: Path
) -> None:
    warehouse = zone.copy(f"kill9-{line.decode().strip(':= ')}")
    proc = _cli(zone, warehouse, zone.crash, tmp_path / "dh")
    assert proc.stdout is not None
    seen = b""
    for out in proc.stdout:
        seen += out
        if line in out:
            break
    else:
        pytest.fail(f"the run never logged {line!r}:\n{seen.decode()[-3000:]}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _published(warehouse) == zone.published, "a killed run changed what readers see"
    _rerun_cli(zone, warehouse, zone.crash, tmp_path / "dh")
    _assert_converged(zone, warehouse, zone.crash)
