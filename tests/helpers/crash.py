"""Kill a real `metrics` process at an instant, and judge the warehouse it leaves behind.

Two ways to pick the instant, both SIGKILL of the whole process group (the run and its parsing
workers), as an evicted pod or the OOM killer would do it:

* `kill_after`: at an elapsed time since the process started. Elapsed time reaches every kind
  of moment (imports, the Dagster instance, parsing, the steps), but rarely the few
  milliseconds of a commit.
* `kill_at`: at one durable event of the run (`Event`), found by tracing a clean run
  (`trace_events`) and reached again with `strace` fault injection. strace holds the thread
  that makes the event's system call (`delay_exit`), either after the call ran (`after`) or
  with the call replaced by a failure that never returns (`error=EIO`, `before`); once strace
  has printed the call, the test kills the group, so nothing of the run happens after it.
  (strace 6.1, Debian 12's, ignores `signal=KILL` injection under `--seccomp-bpf`, which keeps
  the tracing overhead low; `delay_exit` works there.)

What a warehouse is judged by goes through `state_of`, the one place to repoint when the
run-state protocol changes.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

from metrics.warehouse import ledger, storage
from metrics.warehouse import manifest as published
from tests.helpers.pipeline import table_digests

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "pipelines.cli"]
FREEZE = "120s"  # how long strace holds the thread at the event; the kill comes within ms
POLL_S = 0.005
STRACE_HINT = (
    "strace is missing: install Debian's 'strace' package (`bash .ci/ensure-strace` does it; "
    "`make test` runs that)"
)


def cli(args: list[str], env: Mapping[str, str], log: Path, *, prefix: list[str] | None = None):
    """Start `metrics <args>` (pipelines/cli.py) in a session of its own, output into `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [*(prefix or []), *CLI, *args],
            cwd=ROOT,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGKILL the process group `proc` leads, and wait until no member of it is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(POLL_S)
    raise AssertionError(
        f"process group {proc.pid} still has members {timeout:.0f} s after SIGKILL"
    )


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no output)"


def run_to_end(args: list[str], env: Mapping[str, str], log: Path, timeout: float) -> float:
    """Run `metrics <args>` to its end; its wall time in seconds. Fails with its output if it
    fails or outlives `timeout`."""
    began = time.monotonic()
    proc = cli(args, env, log)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise AssertionError(
            f"`metrics {' '.join(args)}` ran past {timeout:.0f} s:\n{tail(log)}"
        ) from None
    assert proc.returncode == 0, f"`metrics {' '.join(args)}` failed:\n{tail(log)}"
    return time.monotonic() - began


def kill_after(
    args: list[str], env: Mapping[str, str], log: Path, seconds: float
) -> subprocess.Popen:
    """Start `metrics <args>` and SIGKILL its process group `seconds` after the start (unless
    it has ended by then: `returncode` then says how)."""
    began = time.monotonic()
    proc = cli(args, env, log)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=max(0.0, seconds - (time.monotonic() - began)))
    if proc.returncode is None:
        kill_group(proc)
    return proc


# --- durable events ------------------------------------------------------------------------------

# A Delta log entry staged by delta-rs: of a data table (`tables/`) or a control table
# (`control/`: the ledger, the manifests).
LOG_ENTRY = re.compile(
    r"/(?:tables|control)/(?P<table>[^/]+)/_delta_log/(?P<version>\d{20})\.json#(?P<n>\d+)$"
)
# `<pid> <call>(<first path>[, <second path>]...`, a dirfd argument skipped (strace -f output)
CALL = re.compile(
    r'^(?P<pid>\d+) +(?P<call>\w+)\((?:AT_FDCWD, )?"(?P<a>[^"]*)"'
    r'(?:, (?:AT_FDCWD, )?"(?P<b>[^"]*)")?'
)


@dataclass(frozen=True)
class Event:
    """One durable step of a run.

    `commit`: a Delta commit of `table` (a data table, or a control table: the `ledger`, the
    `manifests`), the `nth` of this run: delta-rs writes the log entry staged as
    `<table>/_delta_log/<version>.json#1` and publishes it by `linkat` onto `<version>.json`
    (put-if-absent on a local disk). `replace`: the `nth` atomic file replace (`rename`) by the
    run's main thread: the views file, then `manifest.json`.
    `target` is what the event publishes, relative to the warehouse.
    """

    kind: str
    nth: int
    target: str
    table: str = ""
    version: int = -1

    @property
    def id(self) -> str:
        if self.kind == "commit":
            return f"commit-{self.table}" + (f"@{self.nth}" if self.nth > 1 else "")
        return f"replace-{self.nth:02d}"

    def strace(self, warehouse: Path, before: bool) -> list[str]:
        """strace arguments that hold the run's thread at this event, after its system call or
        instead of it (`before`)."""
        call = "linkat" if self.kind == "commit" else "rename"
        inject = f"inject={call}:" + ("error=EIO:" if before else "") + f"delay_exit={FREEZE}"
        if self.kind == "commit":
            staged = Path(storage.table_uri(warehouse, self.table)) / "_delta_log"
            return [
                "-e",
                f"trace={call}",
                "-P",
                f"{staged}/{self.version:020d}.json#1",
                "-e",
                inject,
            ]
        return ["-e", f"trace={call}", "-e", f"{inject}:when={self.nth}"]


def strace_binary() -> str:
    found = shutil.which("strace")
    assert found, STRACE_HINT
    return found


def trace_events(
    args: list[str], env: Mapping[str, str], warehouse: Path, log: Path, timeout: float
) -> list[Event]:
    """Run `metrics <args>` to its end under strace and list its durable events in order."""
    trace = log.with_suffix(".strace")
    prefix = [strace_binary(), "-f", "--seccomp-bpf", "-qq", "-e", "signal=none", "-o", str(trace)]
    prefix += ["-e", "trace=execve,linkat,rename"]
    proc = cli(args, env, log, prefix=prefix)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise AssertionError(f"the traced run ran past {timeout:.0f} s:\n{tail(log)}") from None
    assert proc.returncode == 0, f"the traced run failed:\n{tail(log)}"
    return parse_trace(trace.read_text(), warehouse)


def parse_trace(text: str, warehouse: Path) -> list[Event]:
    """The durable events of a strace log: the Delta log entries linked into place under
    `warehouse`, and every rename of the first process (the run's main thread), in order."""
    main: str | None = None
    events: list[Event] = []
    commits: dict[str, int] = {}
    renames = 0
    for line in text.splitlines():
        found = CALL.match(line)
        if found is None:
            continue
        pid, call, first, second = found["pid"], found["call"], found["a"], found["b"] or ""
        if call == "execve":
            main = main or pid
        elif call == "linkat" and (entry := LOG_ENTRY.search(first)) and line.endswith("= 0"):
            table = entry["table"]
            commits[table] = commits.get(table, 0) + 1
            events.append(
                Event(
                    "commit",
                    commits[table],
                    _relative(second, warehouse),
                    table,
                    int(entry["version"]),
                )
            )
        elif call == "rename" and pid == main:
            renames += 1
            events.append(Event("replace", renames, _relative(second, warehouse)))
    return events


def _relative(path: str, warehouse: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(path).relative_to(warehouse))
    return path


def kill_at(
    args: list[str],
    env: Mapping[str, str],
    warehouse: Path,
    log: Path,
    event: Event,
    before: bool,
    timeout: float,
) -> None:
    """Start `metrics <args>` under strace, hold it at `event` and SIGKILL its process group
    there. Fails when the run ends, or outlives `timeout`, without reaching the event."""
    trace = log.with_suffix(".strace")
    prefix = [strace_binary(), "-f", "--seccomp-bpf", "-qq", "-e", "signal=none", "-o", str(trace)]
    proc = cli(args, env, log, prefix=prefix + event.strace(warehouse, before))
    deadline = time.monotonic() + timeout
    try:
        while b"(DELAYED)" not in (trace.read_bytes() if trace.exists() else b""):
            if proc.poll() is not None:
                raise AssertionError(
                    f"the run ended ({proc.returncode}) without reaching {event}:\n{tail(log)}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"the run did not reach {event} in {timeout:.0f} s")
            time.sleep(POLL_S)
    finally:
        kill_group(proc)


# --- judging a warehouse ------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """What a warehouse answers and owes.

    `tables`: a digest of every partition at the newest commit (tests/helpers/pipeline.py
    `table_digests`); `published`: the same for the versions readers answer from (the
    manifest's); `debts`: the work the warehouse records as owed to its steps ("" for none);
    `running` and `slots`: runs the instance holds as not finished (queued, not started,
    started...), and the pool slots runs hold.
    """

    tables: dict[str, str]
    published: dict[str, str]
    debts: str
    running: tuple[str, ...]
    slots: tuple[str, ...]

    @property
    def settled(self) -> bool:
        """Nothing owed, no run left unfinished, no pool slot held."""
        return not (self.debts or self.running or self.slots)

    @property
    def owed(self) -> str:
        parts = [f"owes {self.debts}"] if self.debts else []
        parts += [f"run unfinished {r}" for r in self.running]
        parts += [f"slot held in {s}" for s in self.slots]
        return "; ".join(parts) or "nothing"


def state_of(warehouse: Path, home: Path) -> State:
    """The one seam between the crash suite and the run-state protocol (the ledger, the
    manifest and the Dagster instance in $DAGSTER_HOME `home`): repoint this when it changes."""
    owed = ledger.read(warehouse)
    manifest = published.read(warehouse)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        running = tuple(
            f"{r.run_id} {r.status.value}"
            for r in instance.get_runs(filters=dg.RunsFilter(statuses=NOT_FINISHED_STATUSES))
        )
        events = instance.event_log_storage
        infos = events.get_concurrency_infos(sorted(events.get_concurrency_keys()))
        held = tuple(
            sorted({f"{pool}: {s.run_id}" for pool, i in infos.items() for s in i.claimed_slots})
        )
    return State(
        tables=table_digests(warehouse),
        published=table_digests(warehouse, manifest["tables"]) if manifest else {},
        debts="" if owed.settled else owed.describe(),
        running=running,
        slots=held,
    )


_RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_LEDGER_VERSION = re.compile(r"^ledger version \d+: ")


def fingerprint(state: State) -> tuple:
    """What the runs after a kill can depend on, without what differs between equal states
    (run ids, the ledger's version number): every table's rows, the published versions' rows,
    the debts, the unfinished runs' statuses and the slots held. Equal fingerprints make equal
    runs after them, so a state already judged need not be run again."""

    def anonymous(text: str) -> str:
        return _RUN_ID.sub("<run>", _LEDGER_VERSION.sub("", text))

    return (
        tuple(sorted(state.tables.items())),
        tuple(sorted(state.published.items())),
        anonymous(state.debts),
        tuple(sorted(anonymous(r) for r in state.running)),
        tuple(sorted(anonymous(s) for s in state.slots)),
    )


def runs_recorded(home: Path) -> list[str]:
    """The runs the instance in `home` knows, with their status."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return [f"{r.run_id} {r.status.value}" for r in instance.get_runs()]


def differences(got: Mapping[str, str], want: Mapping[str, str]) -> list[str]:
    """The partitions (`<table>/<key>=<value>`) that are missing, extra or different."""
    missing = [f"missing {p}" for p in sorted(want.keys() - got.keys())]
    extra = [f"extra {p}" for p in sorted(got.keys() - want.keys())]
    differ = [f"differs {p}" for p in sorted(want.keys() & got.keys()) if got[p] != want[p]]
    return missing + extra + differ


def copy_pair(warehouse: Path, home: Path, to: Path) -> tuple[Path, Path]:
    """Copy a warehouse and its DAGSTER_HOME (a killed run's record and slots included) under
    `to`."""
    shutil.copytree(warehouse, to / "warehouse", symlinks=True)
    shutil.copytree(home, to / "dagster_home", symlinks=True)
    return to / "warehouse", to / "dagster_home"


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """An in-process run must not hang: past `seconds`, dump every thread's stack on stderr and
    end this (pytest worker) process, which fails the test that was running."""
    faulthandler.dump_traceback_later(seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
