"""The run entry point: `backfill`, `nightly` and `clear_run`, the same job the UI and the
schedule launch. `pipelines/cli.py` calls these functions and turns their exceptions into exit
codes; nothing here exits the process.

Runs execute in this process against the Dagster instance in $DAGSTER_HOME, so they appear in
the UI's run history next to scheduled and UI-launched runs.

A run started here never outlives its process in the instance and never waits forever:

* Each run records its process (tags `metrics/pid`, `metrics/host`, `metrics/process_start`)
  and stamps a heartbeat (`metrics/heartbeat`, assets/runs.py) while it runs. Before a run
  starts, runs whose recorded process is gone (on this host) or whose heartbeat is stale (on
  any host sharing the instance) are marked failed and their pool slots freed, so a killed run
  cannot hold `warehouse_writer` or `duckdb_writer` for ever, and the ledger hands its claims
  to the next run.
* A run waits at most METRICS_SLOT_WAIT_SECONDS (default 300) for a pool slot that another run
  holds, then fails with a message naming that run and how to clear it. While it waits, the
  holder is judged as above every heartbeat interval, so a dead holder's slot is freed within
  about the heartbeat timeout. Dagster's own wait for
  a slot has no deadline and spins a CPU (see docs/operations.md, "Stuck runs and pool slots").
* SIGTERM and SIGINT end the run as failed, free its slots, and exit 143 / 130.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import select
import shutil
import signal
import socket
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType

import dagster as dg
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES
from rich.console import Console

from assets import runs as liveness
from metrics import config, faults
from metrics.ingest import guard, layout
from metrics.ingest.catalog import load_catalog
from metrics.ingest.normalize import landing_dates
from metrics.warehouse import ledger
from pipelines import report
from pipelines.progress import Progress

# Dagster's console logger is silenced: pipelines/progress.py prints each step, check and asset
# log line from the run's own events, on stdout, so no second stream interleaves with it.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


INSTANCE_TEMPLATE = Path(__file__).with_name("dagster.yaml")
# METRICS_INSTANCE picks the template an empty $DAGSTER_HOME gets: `sqlite` (the default, one
# host) or `postgres` (dagster.postgres.yaml: runs, events and ticks in PostgreSQL).
INSTANCE_ENV = "METRICS_INSTANCE"
INSTANCE_TEMPLATES = {
    "sqlite": INSTANCE_TEMPLATE,
    "postgres": Path(__file__).with_name("dagster.postgres.yaml"),
}

# A CLI run is created NOT_STARTED and marked STARTED a moment later; one killed in between
# stays NOT_STARTED for ever unless it is reaped too (it carries its process tags already).
UNFINISHED = [*IN_PROGRESS_RUN_STATUSES, dg.DagsterRunStatus.NOT_STARTED]

PID_TAG = "metrics/pid"
HOST_TAG = "metrics/host"
START_TAG = "metrics/process_start"
SLOT_WAIT_ENV = "METRICS_SLOT_WAIT_SECONDS"
DEFAULT_SLOT_WAIT_SECONDS = 300.0
POLL_SECONDS = 1.0
# After SIGTERM/SIGINT, Dagster raises the interrupt at its next checkpoint (inside a step's code,
# or when the next step starts). Only if that has not ended the run by then is it interrupted
# from outside; a run waiting for a slot has no checkpoint and is interrupted at once.
STOP_GRACE_SECONDS = 10.0
EXIT_SLOT_TIMEOUT = 75  # EX_TEMPFAIL: try again once the blocking run is gone


def instance_template() -> Path:
    """The dagster.yaml that METRICS_INSTANCE names (default `sqlite`)."""
    kind = os.environ.get(INSTANCE_ENV, "").strip().lower() or "sqlite"
    if kind not in INSTANCE_TEMPLATES:
        raise RunRefused(
            f"{INSTANCE_ENV}={kind!r} is not an instance kind; use one of "
            f"{', '.join(sorted(INSTANCE_TEMPLATES))} (default sqlite)."
        )
    return INSTANCE_TEMPLATES[kind]


def ensure_dagster_home() -> Path:
    """$DAGSTER_HOME (default .dagster_home) with our pools config, so CLI runs share the UI's.

    An existing dagster.yaml is the operator's and is kept; but asking for Postgres with
    METRICS_INSTANCE while $DAGSTER_HOME holds an instance without it is refused, since the runs
    would silently land in SQLite.
    """
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    template = instance_template()
    target = home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(template, target)
    elif template == INSTANCE_TEMPLATES["postgres"] and "postgres:" not in target.read_text():
        raise RunRefused(
            f"{INSTANCE_ENV}=postgres, but {target} is not a Postgres instance; point "
            f"DAGSTER_HOME at an empty folder (it gets {template.name}), or copy {template} "
            "over that file."
        )
    return home


def _instance() -> dg.DagsterInstance:
    """The instance of $DAGSTER_HOME, its storage created (or migrated) by one process at a time.

    A fresh instance creates its tables and stamps their schema version on first use; several
    runs started at once on a new DAGSTER_HOME (a parallel backfill) would race at that and
    leave two schema heads. A lock file in DAGSTER_HOME serializes that first use, and the
    SQLite and Postgres storages alike are then past it.
    """
    home = ensure_dagster_home()
    with open(home / ".instance.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        instance = dg.DagsterInstance.get()
        instance.get_runs(limit=1)
        instance.event_log_storage.get_concurrency_keys()
        instance.schedule_storage  # noqa: B018  (created on first access)
    return instance


def prepare_instance() -> None:
    """Create (or migrate) the instance's storage now, before processes share it."""
    with _instance():
        pass


class RunRefused(Exception):
    """A run that must not start, with what was wrong and how to fix it."""


def slot_wait_seconds() -> float:
    """The longest a run waits for a pool slot held by another run (METRICS_SLOT_WAIT_SECONDS)."""
    raw = os.environ.get(SLOT_WAIT_ENV, "").strip()
    if not raw:
        return DEFAULT_SLOT_WAIT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise RunRefused(
            f"{SLOT_WAIT_ENV}={raw!r} is not a number of seconds; "
            f"set it to e.g. {DEFAULT_SLOT_WAIT_SECONDS:.0f}, or unset it for the default."
        )
    return value


# --- which process runs a run, and is it still there ------------------------------------------


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) from /proc/<pid>/stat, None if unreadable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # comm may hold spaces and parentheses
    return fields[0], fields[19]  # fields 3 (state) and 22 (starttime) of proc(5)


def process_start_token(pid: int) -> str:
    """Boot id and start time of `pid`: equal tokens mean the same process, not a reused pid."""
    stat = _proc_stat(pid)
    if stat is None:
        return ""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    return f"{boot}/{stat[1]}"


def process_alive(pid: int, start_token: str = "") -> bool:
    """Whether `pid` is still the process that recorded `start_token` (any token if empty)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    stat = _proc_stat(pid)
    if stat is None:
        return not Path("/proc/self/stat").exists()  # without /proc, kill(0) is all we know
    if stat[0] in ("Z", "X"):  # exited, not yet reaped by its parent
        return False
    return not start_token or process_start_token(pid) == start_token


def process_tags() -> dict[str, str]:
    """Tags that let a later run tell whether this process is still executing its run: its
    process on this host, and a first heartbeat for every other host."""
    pid = os.getpid()
    return {
        PID_TAG: str(pid),
        HOST_TAG: socket.gethostname(),
        START_TAG: process_start_token(pid),
        liveness.HEARTBEAT_TAG: f"{time.time():.3f}",
    }


def run_process(run: dg.DagsterRun) -> tuple[int, str] | None:
    """(pid, start token) of the process on this host executing `run`; None if not known here."""
    pid = run.tags.get(PID_TAG, "")
    if run.tags.get(HOST_TAG) != socket.gethostname() or not pid.isdigit():
        return None
    return int(pid), run.tags.get(START_TAG, "")


# --- pool slots ---------------------------------------------------------------------------------


def _slot_runs(instance: dg.DagsterInstance) -> dict[str, set[str]]:
    """Run id -> the pools in which it holds or waits for a slot."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    runs: dict[str, set[str]] = defaultdict(set)
    for key, info in storage.get_concurrency_infos(sorted(storage.get_concurrency_keys())).items():
        for slot in info.claimed_slots:
            runs[slot.run_id].add(key)
        for step in info.pending_steps:
            runs[step.run_id].add(key)
    return runs


def _gone(run: dg.DagsterRun, now: float) -> str | None:
    """Why an unfinished run is dead, or None when it may still be running: its process is gone
    (judged on its own host, exactly), or its heartbeat is stale (judged from any host)."""
    proc = run_process(run)
    if proc is not None:
        if process_alive(*proc):
            return None
        return f"Run process {proc[0]} on {socket.gethostname()} is gone (killed or crashed)"
    if liveness.stale(run, now):
        beat = float(run.tags[liveness.HEARTBEAT_TAG])
        host = run.tags.get(HOST_TAG, "another host")
        return (
            f"Run on {host} sent no heartbeat for {now - beat:.0f} s (more than "
            f"{liveness.HEARTBEAT_TIMEOUT_ENV}={liveness.heartbeat_timeout():.0f}): its process "
            "or host is gone"
        )
    return None


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the runs that are dead and free the slots that no live run can use.

    A run killed with SIGKILL (or whose machine lost power) never reports its end: it stays
    STARTED and keeps its slots, and every later run needing those pools waits. Runs started by
    `metrics` are judged by their process on this host and by their heartbeat from any host
    (`_gone`); a run launched by the daemon or the UI carries neither and is left to its
    launcher's run monitoring. A finished run still holding slots has them freed, as Dagster's
    run monitoring does after `free_slots_after_run_end_seconds`. Returns one line per action.
    """
    done: list[str] = []
    now = time.time()
    slot_runs = _slot_runs(instance)
    candidates: dict[str, dg.DagsterRun | None] = {
        run.run_id: run
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED))
        if run_process(run) is not None or liveness.HEARTBEAT_TAG in run.tags
    }
    for run_id in slot_runs.keys() - candidates.keys():
        candidates[run_id] = instance.get_run_by_id(run_id)
    for run_id, run in candidates.items():
        if run is not None and not run.is_finished:
            why = _gone(run, now)
            if why is None:
                continue
            instance.report_run_failed(
                run, message=f"{why}; marked failed and its pool slots freed by another run."
            )
            done.append(f"run {run_id}: {why}; marked it failed")
        if run_id in slot_runs:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            why = "deleted" if run is None else run.status.value
            pools = ", ".join(sorted(slot_runs[run_id]))
            done.append(f"run {run_id} ({why}): freed its slots in {pools}")
    return done


@dataclass(frozen=True)
class Blocker:
    pool: str
    run_id: str | None  # None: the pool has no slots at all
    status: str
    where: str


def _describe(instance: dg.DagsterInstance, pool: str, run_id: str) -> Blocker:
    run = instance.get_run_by_id(run_id)
    if run is None:
        return Blocker(pool, run_id, "deleted", "no such run")
    proc = run_process(run)
    where = (
        f"pid {proc[0]} on {socket.gethostname()}, still running"
        if proc
        else "launched from the UI, a schedule or another host"
    )
    return Blocker(pool, run_id, run.status.value, where)


def blockers(
    instance: dg.DagsterInstance, pools: Iterable[str], own_run_id: str | None = None
) -> list[Blocker]:
    """The runs holding every slot of one of `pools` (pools with a free slot block nothing)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    found: list[Blocker] = []
    for pool, info in storage.get_concurrency_infos(sorted(set(pools))).items():
        if info.limit is None:
            continue  # no limit on this pool
        others = sorted({s.run_id for s in info.claimed_slots} - {own_run_id})
        if info.limit == 0:
            found.append(Blocker(pool, None, "", "the pool's limit is 0"))
        elif others and len(info.claimed_slots) >= info.limit:
            found.extend(_describe(instance, pool, run_id) for run_id in others)
    return found


class SlotWaitTimeout(Exception):
    """A run could not get a pool slot within METRICS_SLOT_WAIT_SECONDS."""

    def __init__(self, found: list[Blocker], waited: float, run_id: str | None = None) -> None:
        self.blockers = found
        subject = f"run {run_id}" if run_id else "the new run"
        lines = [f"error: {subject} waited {waited:.0f} s for a pool slot and gave up."]
        for b in found:
            if b.run_id is None:
                lines.append(
                    f"  pool {b.pool!r} has no slots. Give it one: "
                    f".venv/bin/dagster instance concurrency set {b.pool} 1"
                )
                continue
            lines.append(f"  pool {b.pool!r} is held by run {b.run_id} ({b.status}, {b.where}).")
        held = [b for b in found if b.run_id]
        if held:
            ids = " ".join(sorted({b.run_id for b in held if b.run_id}))
            lines += [
                "If that run is still working, let it finish and try again (or wait longer: "
                f"{SLOT_WAIT_ENV}=<seconds>).",
                "If it is stuck or its process is gone, clear it (marks it failed and frees its "
                f"slots): .venv/bin/metrics clear-run {ids}",
                "or in the UI: Runs -> the run -> "
                "Terminate, then its '...' menu -> Free concurrency slots.",
            ]
        super().__init__("\n".join(lines))


class RunStopped(KeyboardInterrupt):
    """Raised in the main thread to end a run: a signal, or a slot wait past its deadline.

    A KeyboardInterrupt, so Dagster ends the run the way it ends an interrupted one (failed).
    """


def job_pools(job: dg.JobDefinition) -> set[str]:
    # `pools` is on every NodeDefinition; for an op it is {pool}, or {} when the op has none.
    return {pool for node in job.graph.nodes for pool in node.definition.pools}


def ensure_pool_limits(instance: dg.DagsterInstance, pools: Iterable[str]) -> None:
    """Give every pool its default limit now, before a step of this run claims a slot in it.

    Dagster writes a pool's limit row in the first step that claims the pool. On PostgreSQL two
    runs doing that at once (the first runs of two hosts on a new instance) fail the loser's
    run: its INSERT's unique violation aborts the transaction in which its fallback UPDATE then
    runs (dagster-io/dagster#33552, open in 1.13). Done here, the loser's error only means that
    the row is there now.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    for pool in sorted(set(pools) - storage.get_concurrency_keys()):
        try:
            storage.initialize_concurrency_limit_to_default(pool)
        except Exception:
            if pool not in storage.get_concurrency_keys():
                raise


def wait_for_pools(instance: dg.DagsterInstance, pools: Iterable[str], timeout: float) -> None:
    """Wait (sleeping, not spinning) until no other run holds the slots of `pools`.

    Checked before the run is created, so the common case (another run is busy) never reaches
    Dagster's slot wait, which spins a CPU and has no deadline.
    """
    pools = sorted(set(pools))
    ensure_pool_limits(instance, pools)
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        for line in reap_dead_runs(instance):
            print(line, file=sys.stderr, flush=True)
        found = blockers(instance, pools)
        if not found:
            return
        if time.monotonic() >= deadline:
            raise SlotWaitTimeout(found, timeout)
        if not announced:
            held = ", ".join(f"{b.pool} (run {b.run_id})" for b in found)
            print(f"waiting up to {timeout:.0f} s for pool slots: {held}", file=sys.stderr)
            announced = True
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


# --- while the run executes ---------------------------------------------------------------------


def _raise_in_main_thread() -> None:
    """Make the main thread raise RunStopped at its next bytecode.

    Dagster captures SIGINT/SIGTERM during a run and raises them only at its own checkpoints; its
    loop waiting for a pool slot has none, so a signal alone cannot end a run stuck there.
    """
    ident = threading.main_thread().ident
    if ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(ident), ctypes.py_object(RunStopped)
        )


class _Signals:
    """Which of SIGINT/SIGTERM this process received, even while Dagster owns the handlers.

    Dagster swaps in its own handler for the run's duration, which drops the signal number; the
    wakeup fd still receives a byte per signal, whichever Python handler is installed.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    @property
    def fd(self) -> int:
        return self._read

    def drain(self) -> list[int]:
        try:
            data = os.read(self._read, 256)
        except BlockingIOError:
            data = b""
        new = [s for s in data if s in (signal.SIGINT, signal.SIGTERM)]
        self.received += new
        return new

    @contextmanager
    def installed(self) -> Iterator[_Signals]:
        stopping = {"raised": False}

        def handler(signum: int, _frame: FrameType | None) -> None:
            # Outside Dagster's execution: stop now, once. Later signals must not break cleanup.
            if not stopping["raised"]:
                stopping["raised"] = True
                raise RunStopped()

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        old_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        try:
            yield self
        finally:
            signal.set_wakeup_fd(old_fd)
            for s, h in old.items():
                signal.signal(s, h)
            self.drain()
            os.close(self._read)
            os.close(self._write)


class _Watchdog(threading.Thread):
    """Stamps the run's heartbeat, and ends the run when a step waits for a slot past the
    deadline or a signal goes unheeded."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        run_id: str,
        timeout: float,
        signals: _Signals | None,
    ) -> None:
        super().__init__(name="metrics-run-watchdog", daemon=True)
        self._ref = instance.get_ref()
        self._run_id = run_id
        self._timeout = timeout
        self._signals = signals
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.timed_out: SlotWaitTimeout | None = None

    def finish(self) -> None:
        """After this returns the watchdog will not interrupt the main thread."""
        with self._lock:
            self._done.set()

    def _interrupt(self) -> None:
        with self._lock:
            if not self._done.is_set():
                _raise_in_main_thread()
                self._done.set()

    def _beat(self, instance: dg.DagsterInstance) -> None:
        """Stamp this run's heartbeat (assets/runs.py): other hosts judge it alive by it. A
        stamp that fails (the instance's database briefly unreachable) is tried again at the
        next beat; a run that cannot stamp for the whole timeout is judged dead, and its next
        commit is fenced rather than racing the run that took its work over."""
        try:
            if instance.get_run_by_id(self._run_id) is not None:
                stamp = {liveness.HEARTBEAT_TAG: f"{time.time():.3f}"}
                instance.add_run_tags(self._run_id, stamp)
        except Exception as exc:
            print(f"warning: could not stamp the run's heartbeat: {exc}", file=sys.stderr)

    def _reap(self, instance: dg.DagsterInstance) -> None:
        """While a step waits: free a blocker as soon as it is judged dead (its process gone, or
        its heartbeat stale), not only once the wait reaches the deadline. A failure (the
        instance briefly unreachable) is tried again at the next beat, as the stamp is."""
        try:
            for line in reap_dead_runs(instance):
                print(line, file=sys.stderr, flush=True)
        except Exception as exc:
            print(f"warning: could not judge the runs holding slots: {exc}", file=sys.stderr)

    def _waiting(self, instance: dg.DagsterInstance) -> set[tuple[str, str]]:
        """(pool, step) pairs of this run waiting for a slot."""
        storage = instance.event_log_storage
        if not storage.supports_global_concurrency_limits:
            return set()
        infos = storage.get_concurrency_infos(sorted(storage.get_concurrency_keys()))
        waiting = set()
        for pool, info in infos.items():
            claimed = {s.step_key for s in info.claimed_slots if s.run_id == self._run_id}
            for step in info.pending_steps:
                if step.run_id == self._run_id and step.step_key not in claimed:
                    waiting.add((pool, step.step_key))
        return waiting

    def run(self) -> None:
        since: dict[tuple[str, str], float] = {}
        signalled_at: float | None = None
        beat_every = liveness.heartbeat_interval()
        beaten = reaped = time.monotonic()
        with dg.DagsterInstance.from_ref(self._ref) as instance:
            while not self._done.is_set():
                fds = [self._signals.fd] if self._signals else []
                select.select(fds, [], [], min(POLL_SECONDS, beat_every))
                if self._done.is_set():
                    return
                if time.monotonic() - beaten >= beat_every:
                    beaten = time.monotonic()
                    self._beat(instance)
                if self._signals and self._signals.drain() and signalled_at is None:
                    signalled_at = time.monotonic()
                now = time.monotonic()
                waiting = self._waiting(instance)
                if signalled_at is not None and (
                    waiting or now - signalled_at > STOP_GRACE_SECONDS
                ):
                    self._interrupt()
                    return
                since = {key: since.get(key, now) for key in waiting}
                if waiting and now - reaped >= beat_every:
                    reaped = now
                    self._reap(instance)
                overdue = sorted(key for key, t in since.items() if now - t >= self._timeout)
                if not overdue:
                    continue
                if reap_dead_runs(instance):
                    since = {}  # a blocker was dead and is cleared: the step can claim now
                    continue
                pools = [pool for pool, _ in overdue]
                found = blockers(instance, pools, self._run_id)
                self.timed_out = SlotWaitTimeout(found, self._timeout, self._run_id)
                run = instance.get_run_by_id(self._run_id)
                if run is not None and not run.is_finished:
                    instance.report_run_failed(run, message=str(self.timed_out))
                self._interrupt()
                return


def execute_with_deadline(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    *,
    tags: Mapping[str, str],
    run_config: Mapping[str, object] | None = None,
    slot_wait: float | None = None,
    signals: _Signals | None = None,
    listener: Callable[[dg.EventLogEntry], None] | None = None,
    run_id: str | None = None,
) -> tuple[dg.ExecuteInProcessResult | None, dg.DagsterRun]:
    """Run `job` in this process (as run `run_id`, default a new one); however it ends, the run
    is finished and holds no slot. `listener` is called with each event the run records, as it
    is recorded.

    Raises SlotWaitTimeout when a step waited longer than `slot_wait` seconds for a slot.
    The result is None when the run was stopped before Dagster could return one.
    """
    run_id = run_id or str(uuid.uuid4())
    timeout = slot_wait_seconds() if slot_wait is None else slot_wait
    watchdog = _Watchdog(instance, run_id, timeout, signals)
    result: dg.ExecuteInProcessResult | None = None
    if listener is not None:
        instance.add_event_listener(run_id, listener)
    try:
        watchdog.start()
        try:
            result = job.execute_in_process(
                instance=instance,
                run_id=run_id,
                tags={**tags, **process_tags()},
                raise_on_error=False,
                run_config=run_config,
            )
        finally:
            watchdog.finish()
    except RunStopped:
        if watchdog.timed_out is None and signals is None:
            raise
    finally:
        # Dagster frees the slot of a step that ends normally; an interrupted step keeps it.
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, message="The run's process was stopped.")
    if watchdog.timed_out is not None:
        raise watchdog.timed_out
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return result, run


def run_range(first: date, last: date, signals: _Signals | None = None) -> bool:
    """Materialize every asset for landing dates first..last (inclusive) in one run."""
    from pipelines.definitions import defs

    job = defs.resolve_job_def("landing_job")
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    wait = slot_wait_seconds()
    refuse_empty_inputs()
    console = Console()
    with _instance() as instance:
        wait_for_pools(instance, job_pools(job), wait)
        faults.point("pools_checked")
        # The dates are on record before the run exists: if this process dies from here on,
        # the next run of any date loads them (metrics/warehouse/ledger.py `request`).
        run_id = str(uuid.uuid4())
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        ledger.request(config.warehouse_dir(), days, run_id)
        print(f"materializing landing dates {first} .. {last}", flush=True)
        with Progress(console) as progress:
            result, run = execute_with_deadline(
                job,
                instance,
                tags=tags,
                run_config=QUIET,
                slot_wait=wait,
                signals=signals,
                listener=progress,
                run_id=run_id,
            )
    if result is not None:
        report.render(result, run, console)
    return run.status == dg.DagsterRunStatus.SUCCESS


def clear_run(run_id: str, force: bool = False) -> None:
    """Mark a run failed and free its pool slots: the way out when a run is stuck."""
    with _instance() as instance:
        run = instance.get_run_by_id(run_id)
        if run is None:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            print(f"no run {run_id} in {os.environ['DAGSTER_HOME']}; freed any slots it held")
            return
        proc = run_process(run)
        if not run.is_finished and proc and process_alive(*proc) and not force:
            raise RunRefused(
                f"run {run_id} is still running as pid {proc[0]} on this host. Stop it "
                f"with `kill {proc[0]}` (it then fails and frees its slots), or pass --force to "
                "mark it failed anyway."
            )
        if not run.is_finished:
            instance.report_run_failed(run, message="Marked failed by `metrics clear-run`.")
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        change = (
            "already " + run.status.value if run.is_finished else f"{run.status.value} -> FAILURE"
        )
        print(f"run {run_id}: {change}; its pool slots are free")


def refuse_empty_inputs() -> None:
    """RunRefused, before any run is created, when the inputs would empty the warehouse
    (metrics/ingest/guard.py; the catalog asset's blocking check says the same in the UI)."""
    from assets.partitions import FIRST_LANDING_DATE

    raw = config.raw_dir()
    catalog = load_catalog(raw, first=FIRST_LANDING_DATE)
    verdict = guard.check_inputs(raw, config.warehouse_dir(), catalog)
    if not verdict.ok:
        raise RunRefused("\n".join(verdict.problems))


def nightly_dates(day: date | None) -> tuple[date, date]:
    """The nightly's landing date: `day`, default yesterday (UTC)."""
    day = day or (datetime.now(UTC).date() - timedelta(days=1))
    return _in_partitions(day, day)


def backfill_dates(since: date | None, until: date | None) -> tuple[date, date]:
    """The backfill's range: `since`..`until`, each defaulting to the landing zone's first or
    last landing date (only ever partitions; folders dated outside them are quarantined)."""
    from assets.partitions import FIRST_LANDING_DATE  # after the CLI has exported --raw

    found = landing_dates(config.raw_dir(), first=FIRST_LANDING_DATE)
    if not found and not (since and until):
        raise RunRefused(
            f"no landing dates under {config.raw_dir()}; run `metrics generate` "
            f"or point {config.RAW_ENV} at a landing zone."
        )
    first = since or found[0]
    last = until or found[-1]
    if first > last:
        raise RunRefused(f"--since {first} is after --until {last}")
    return _in_partitions(first, last)


def _in_partitions(first: date, last: date) -> tuple[date, date]:
    """first..last, or RunRefused: a landing date must be a partition."""
    from assets.partitions import FIRST_LANDING_DATE as start

    end = layout.latest_landing_date()
    if first < start:
        raise RunRefused(
            f"landing date {first} is before the first partition {start} "
            f"({config.FIRST_LANDING_ENV} if set, else the oldest catalog snapshot under "
            f"{config.raw_dir()}); set {config.FIRST_LANDING_ENV}={first} (or earlier) and "
            "run again."
        )
    if last > end:
        raise RunRefused(f"landing date {last} is after tomorrow ({end}); no file has landed then.")
    return first, last


class RunSignalled(Exception):
    """A run stopped by SIGTERM or SIGINT; it is marked failed and its slots are free."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name}; the run is marked failed and its slots are free")


def run_stoppable(first: date, last: date) -> bool:
    """`run_range` with SIGTERM/SIGINT handled: the run ends failed with its slots freed, then
    RunSignalled says which signal. SlotWaitTimeout when a slot never came free."""
    signals = _Signals()
    with signals.installed():
        try:
            ok = run_range(first, last, signals=signals)
        except RunStopped:
            ok = False
    if signals.received and not ok:
        raise RunSignalled(signals.received[0])
    return ok
