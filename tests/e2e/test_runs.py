"""Killed runs free their pool slots, slot waits are bounded, and a signal stops the whole run.

Every test has its own DAGSTER_HOME (a copy of pipelines/dagster.yaml, pools limited to one
slot) and runs the real `python -m pipelines.cli` / `metrics` processes on a tiny landing zone.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets import runs as liveness
from metrics import faults
from metrics.ingest.normalize import landing_dates
from metrics.warehouse import storage
from pipelines import run as runs
from tests.helpers.pipeline import make_landing

ROOT = Path(__file__).resolve().parents[2]
POOLS = ("warehouse_writer", "duckdb_writer")

pytestmark = pytest.mark.xdist_group("dagster")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "dagster_home"
    path.mkdir()
    shutil.copyfile(runs.INSTANCE_TEMPLATE, path / "dagster.yaml")
    return path


@pytest.fixture
def instance(home: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(home)) as inst:
        yield inst


@pytest.fixture
def env(tmp_path: Path, home: Path) -> dict[str, str]:
    raw, _ = make_landing(tmp_path, accounts=4, posts_per_account=1, days=2)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DAGSTER_HOME": str(home),
        "METRICS_RAW_DIR": str(raw),
        "METRICS_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
        "METRICS_WORKERS": "2",
    }


def _fake_run(instance: dg.DagsterInstance, pid: int, *pools: str) -> str:
    """A STARTED run recorded as executed by `pid` on this host, holding a slot in each pool."""
    run_id = str(uuid.uuid4())
    tags = {
        runs.PID_TAG: str(pid),
        runs.HOST_TAG: socket.gethostname(),
        runs.START_TAG: runs.process_start_token(pid),
    }
    instance.add_run(
        dg.DagsterRun(
            job_name="landing_job", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags
        )
    )
    storage = instance.event_log_storage
    for pool in pools:
        storage.initialize_concurrency_limit_to_default(pool)
        assert storage.claim_concurrency_slot(pool, run_id, f"step_in_{pool}").is_claimed
    return run_id


def _holders(instance: dg.DagsterInstance) -> dict[str, set[str]]:
    storage = instance.event_log_storage
    infos = storage.get_concurrency_infos(sorted(storage.get_concurrency_keys()))
    return {
        pool: {s.run_id for s in info.claimed_slots} | {p.run_id for p in info.pending_steps}
        for pool, info in infos.items()
    }


def _status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def _exited_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _pipeline(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_process_is_told_from_a_reused_pid() -> None:
    me = os.getpid()
    assert runs.process_alive(me, runs.process_start_token(me))
    assert not runs.process_alive(me, runs.process_start_token(me) + "0")  # same pid, other start
    assert not runs.process_alive(_exited_pid())


def test_fault_points_fire_only_when_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(faults.ENV, raising=False)
    faults.point("anything")
    monkeypatch.setenv(faults.ENV, "other, another:pause")
    faults.point("anything")
    monkeypatch.setenv(faults.ENV, "anything:explode")
    with pytest.raises(ValueError, match="unknown action 'explode'"):
        faults.point("anything")
    code = "from metrics.faults import point; point('here'); print('survived')"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, faults.ENV: "elsewhere:pause,here"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL and "survived" not in proc.stdout


def test_dead_run_is_failed_and_its_slots_freed_before_the_next_run(
    env: dict[str, str], instance: dg.DagsterInstance
) -> None:
    dead = _fake_run(instance, _exited_pid(), *POOLS)
    proc = _pipeline(env, "backfill")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"run {dead}" in proc.stderr  # says what it cleared
    assert _status(instance, dead) == dg.DagsterRunStatus.FAILURE
    assert all(dead not in ids for ids in _holders(instance).values())
    (new,) = [r for r in instance.get_runs() if r.run_id != dead]
    assert new.status == dg.DagsterRunStatus.SUCCESS
    assert new.tags[runs.PID_TAG].isdigit() and new.tags[runs.HOST_TAG] == socket.gethostname()


def _run_elsewhere(
    instance: dg.DagsterInstance, status: dg.DagsterRunStatus, beat_age: float, *pools: str
) -> str:
    """A run recorded as executed on another host, with a heartbeat `beat_age` seconds old."""
    run_id = str(uuid.uuid4())
    tags = {
        runs.PID_TAG: "1",  # on its own host; meaningless here
        runs.HOST_TAG: f"not-{socket.gethostname()}",
        liveness.HEARTBEAT_TAG: f"{time.time() - beat_age:.3f}",
    }
    instance.add_run(dg.DagsterRun(job_name="landing_job", run_id=run_id, status=status, tags=tags))
    for pool in pools:
        instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
        assert instance.event_log_storage.claim_concurrency_slot(pool, run_id, "step").is_claimed
    return run_id


def test_runs_of_other_hosts_are_judged_by_their_heartbeat(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another host's process cannot be checked: a stale heartbeat alone says it is dead, and
    a run killed after it was created but before it started (NOT_STARTED) is no exception."""
    monkeypatch.setenv(liveness.HEARTBEAT_TIMEOUT_ENV, "30")
    started = dg.DagsterRunStatus.STARTED
    stale = _run_elsewhere(instance, started, 120, "warehouse_writer")
    fresh = _run_elsewhere(instance, started, 0, "duckdb_writer")
    never_started = _run_elsewhere(instance, dg.DagsterRunStatus.NOT_STARTED, 120)
    waiting = _run_elsewhere(instance, dg.DagsterRunStatus.NOT_STARTED, 0)
    here = str(uuid.uuid4())  # killed here before it started: its process is gone
    pid = _exited_pid()
    tags = {runs.PID_TAG: str(pid), runs.HOST_TAG: socket.gethostname(), runs.START_TAG: "x"}
    not_started = dg.DagsterRunStatus.NOT_STARTED
    instance.add_run(
        dg.DagsterRun(job_name="landing_job", run_id=here, status=not_started, tags=tags)
    )

    done = runs.reap_dead_runs(instance)
    assert _status(instance, stale) == dg.DagsterRunStatus.FAILURE
    assert _status(instance, never_started) == dg.DagsterRunStatus.FAILURE
    assert _status(instance, here) == dg.DagsterRunStatus.FAILURE
    assert _status(instance, fresh) == started
    assert _status(instance, waiting) == dg.DagsterRunStatus.NOT_STARTED
    assert _holders(instance) == {"warehouse_writer": set(), "duckdb_writer": {fresh}}
    assert any(stale in line and "sent no heartbeat for 12" in line for line in done), done


def test_live_blocker_makes_a_new_run_fail_within_the_bound_naming_it(
    env: dict[str, str], instance: dg.DagsterInstance
) -> None:
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        blocker = _fake_run(instance, sleeper.pid, "warehouse_writer")
        proc = _pipeline({**env, runs.SLOT_WAIT_ENV: "5"}, "backfill", timeout=90)
        assert proc.returncode == runs.EXIT_SLOT_TIMEOUT, proc.stdout + proc.stderr
        assert f"held by run {blocker}" in proc.stderr
        assert f"metrics clear-run {blocker}" in proc.stderr
        assert f"pid {sleeper.pid}" in proc.stderr
        # A live run is never stolen from: it keeps its state and its slot.
        assert _status(instance, blocker) == dg.DagsterRunStatus.STARTED
        assert _holders(instance)["warehouse_writer"] == {blocker}
        # Once the blocker's process is gone, the next run clears it and succeeds.
        sleeper.kill()
        sleeper.wait()
        assert _pipeline(env, "backfill").returncode == 0
        assert _status(instance, blocker) == dg.DagsterRunStatus.FAILURE
    finally:
        sleeper.kill()
        sleeper.wait()


@dg.op(pool="warehouse_writer")
def _writes() -> int:
    return 1


_small_job = dg.GraphDefinition(name="small", node_defs=[_writes]).to_job()


def test_step_waiting_inside_a_run_gives_up_at_the_deadline(instance: dg.DagsterInstance) -> None:
    """The slot is taken after the pre-run check: Dagster's own wait would never end."""
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        blocker = _fake_run(instance, sleeper.pid, "warehouse_writer")
        with pytest.raises(runs.SlotWaitTimeout) as caught:
            runs.execute_with_deadline(_small_job, instance, tags={}, slot_wait=2)
        assert f"held by run {blocker}" in str(caught.value)
        (mine,) = [r for r in instance.get_runs() if r.run_id != blocker]
        assert mine.status == dg.DagsterRunStatus.FAILURE
        assert _holders(instance)["warehouse_writer"] == {blocker}
        failure = instance.get_records_for_run(
            mine.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records
        assert any(blocker in (r.event_log_entry.message or "") for r in failure)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_step_gets_the_slot_of_a_run_that_stopped_beating_after_the_heartbeat_timeout(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder is on another host and stops beating (killed there) while the step waits:
    it is judged dead within about the heartbeat timeout (3 s), not at the slot deadline."""
    monkeypatch.setenv(liveness.HEARTBEAT_TIMEOUT_ENV, "3")
    blocker = _run_elsewhere(instance, dg.DagsterRunStatus.STARTED, 0, "warehouse_writer")
    began = time.monotonic()
    _, run = runs.execute_with_deadline(_small_job, instance, tags={}, slot_wait=90)
    waited = time.monotonic() - began
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert _status(instance, blocker) == dg.DagsterRunStatus.FAILURE
    assert waited < 45, f"waited {waited:.0f} s: the blocker was judged only at the deadline"


def _session(sid: int) -> list[str]:
    """Live (non-zombie) processes of session `sid`."""
    out = subprocess.run(
        ["ps", "-e", "-o", "sid=,stat=,pid=,args="], capture_output=True, text=True, check=True
    ).stdout
    return [
        line
        for line in out.splitlines()
        if line.split()[0] == str(sid) and not line.split()[1].startswith("Z")
    ]


@pytest.mark.parametrize(
    "point",
    [
        "catalog.written",  # a step holds the warehouse_writer slot
        "normalize.date_written",  # the parsing workers are alive
    ],
)
def test_sigterm_to_backfill_stops_the_whole_run_and_frees_its_slots(
    env: dict[str, str], instance: dg.DagsterInstance, point: str
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "backfill"],
        cwd=ROOT,
        env={**env, faults.ENV: f"{point}:pause"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # the run is paused inside its step: signal it now
            seen.append(line)
            if line.startswith(faults.PAUSED):
                break
        else:
            pytest.fail("the run never reached the fault point:\n" + "".join(seen))
        (running,) = instance.get_runs()
        assert running.status == dg.DagsterRunStatus.STARTED
        proc.send_signal(signal.SIGTERM)  # the `metrics` wrapper only, as a service manager would
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, out
    deadline = time.monotonic() + 15  # the kernel reaps the group's last processes
    while _session(proc.pid):
        assert time.monotonic() < deadline, f"left behind: {_session(proc.pid)}"
        time.sleep(0.2)
    assert _status(instance, running.run_id) in (
        dg.DagsterRunStatus.FAILURE,
        dg.DagsterRunStatus.CANCELED,
    )
    assert all(not ids for ids in _holders(instance).values())
    assert _pipeline(env, "backfill").returncode == 0


def test_clear_run_refuses_a_live_run_and_clears_a_stuck_one(
    home: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        live = _fake_run(instance, sleeper.pid, "warehouse_writer")
        with pytest.raises(runs.RunRefused, match=f"still running as pid {sleeper.pid}"):
            runs.clear_run(live)
        assert _status(instance, live) == dg.DagsterRunStatus.STARTED
        runs.clear_run(live, force=True)
        assert _status(instance, live) == dg.DagsterRunStatus.FAILURE
        assert _holders(instance)["warehouse_writer"] == set()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_stray_date_folders_do_not_break_the_default_backfill(env: dict[str, str]) -> None:
    raw = Path(env["METRICS_RAW_DIR"])
    found = landing_dates(raw)
    landed = datetime.combine(found[-1], datetime.min.time(), tzinfo=UTC).timestamp()
    for day in ("2099-01-01", "2020-01-01"):
        (raw / "tiktok" / day).mkdir(parents=True)
        (raw / "tiktok" / day / "x.jsonl").write_text("{}\n")
        os.utime(raw / "tiktok" / day / "x.jsonl", (landed, landed))  # it arrived on found[-1]
    proc = _pipeline(env, "backfill")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"materializing landing dates {found[0]} .. {found[-1]}" in proc.stdout
    q = storage.scan(Path(env["METRICS_WAREHOUSE_DIR"]), "quarantine").collect()
    stray = q.filter(pl.col("landing_file").str.contains("/(2020|2099)-01-01/"))
    assert sorted(stray.select("landing_file", "line", "reason").rows()) == [
        ("tiktok/2020-01-01/x.jsonl", 0, "before_first_landing_date"),
        ("tiktok/2099-01-01/x.jsonl", 0, "future_landing_date"),
    ]
