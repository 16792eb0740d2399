"""Is a run still running? The Dagster instance answers, for runs on every host.

The ledger (metrics/warehouse/ledger.py) lets a run adopt the landing dates of a dead run's
claim, and leaves a live run's dates to it; "dead" is read here from the instance the runs share
(SQLite on one machine, Postgres for many):

* a run the instance reports finished (or does not know) is dead;
* a run still marked in progress is dead once its heartbeat is stale: CLI runs stamp the tag
  `metrics/heartbeat` every `heartbeat_interval()` seconds (pipelines/run.py), and a process
  killed with SIGKILL, or a host that lost power, stops stamping. After
  `METRICS_HEARTBEAT_TIMEOUT_SECONDS` (default 60) without a stamp, any host may judge it dead;
* a run without the tag (launched by the daemon, the UI or a schedule) is alive while the
  instance says so: its launcher's run monitoring fails it when its worker dies.

Hosts compare their own clock with the stamping host's, so their clocks must agree to well within
the timeout (NTP does).
"""

from __future__ import annotations

import os
import time

import dagster as dg

HEARTBEAT_TAG = "metrics/heartbeat"
HEARTBEAT_TIMEOUT_ENV = "METRICS_HEARTBEAT_TIMEOUT_SECONDS"
DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 60.0
BEATS_PER_TIMEOUT = 6


def heartbeat_timeout() -> float:
    """How long a run may go without a heartbeat before it is judged dead."""
    raw = os.environ.get(HEARTBEAT_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_HEARTBEAT_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ValueError(
            f"{HEARTBEAT_TIMEOUT_ENV}={raw!r} is not a positive number of seconds; set it to "
            f"e.g. {DEFAULT_HEARTBEAT_TIMEOUT_SECONDS:.0f}, or unset it for the default."
        )
    return value


def heartbeat_interval() -> float:
    """How often a running CLI run stamps its heartbeat."""
    return heartbeat_timeout() / BEATS_PER_TIMEOUT


def stale(run: dg.DagsterRun, now: float | None = None) -> bool:
    """True when `run` carries a heartbeat older than the timeout."""
    beat = run.tags.get(HEARTBEAT_TAG)
    if not beat:
        return False
    return (now if now is not None else time.time()) - float(beat) > heartbeat_timeout()


def is_alive(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether the run `run_id` may still be writing (module docstring)."""
    run = instance.get_run_by_id(run_id)
    return run is not None and not run.is_finished and not stale(run)


def liveness(context: dg.AssetExecutionContext):
    """The `alive` check the ledger takes, over this run's instance."""
    instance = context.instance
    return lambda run_id: is_alive(instance, run_id)
