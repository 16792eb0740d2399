"""What `metrics backfill`/`nightly` print while a run executes: one line per step as Dagster
records it, before the summary (pipelines/report.py).

The run executes in this process (`execute_in_process`), and every event it records passes
through `DagsterInstance.handle_new_event`, which calls the listeners registered for the run id
(`instance.add_event_listener`). So `Progress` is such a listener: it sees each step start and
end, each failed or warning check and each log line of our assets the moment they are stored,
the same events the UI shows. Dagster's own console logger is silenced for these runs
(`run.QUIET`), so these lines are the only ones and do not interleave with a second stream.

On a terminal a spinner names the running step and its elapsed time; anywhere else (a pipe, a
CI log, a test) only the plain lines are printed, one per event, never a redrawn status.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType

import dagster as dg
from rich.console import Console
from rich.status import Status

Entry = dg.EventLogEntry
# How the in-process executor says it skips a step whose inputs failed (a log line, no
# STEP_SKIPPED event): "Dependencies for step X failed: [...]. Not executing."
_NOT_EXECUTING = "Not executing."


class Progress:
    """An event listener for one run that prints its steps as they happen."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._status: Status | None = None
        self._step = ""
        self._started = 0.0
        self._written: set[str] = set()

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self._status = self.console.status("starting the run")
            self._status.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _line(self, text: str, style: str = "") -> None:
        self.console.print(text, style=style or None, soft_wrap=True, markup=False, highlight=False)

    def __call__(self, entry: Entry) -> None:
        event = entry.dagster_event
        if event is None:
            level = (
                logging.getLevelName(entry.level) if isinstance(entry.level, str) else entry.level
            )
            if entry.step_key and entry.user_message.endswith(_NOT_EXECUTING):
                self._skipped(entry.step_key)
            elif isinstance(level, int) and level >= logging.INFO and entry.user_message:
                style = "yellow" if level >= logging.WARNING else "dim"
                self._line(f"       {entry.user_message}", style)
            return
        step = event.step_key or ""
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_START:
            self._step, self._started = step, time.monotonic()
            self._line(f"start  {step}")
            if self._status is not None:
                self._status.update(f"running {step}")
        elif kind == dg.DagsterEventType.STEP_SUCCESS:
            seconds = event.step_success_data.duration_ms / 1000
            self._line(f"ok     {step} ({seconds:.1f} s)", "green")
        elif kind == dg.DagsterEventType.STEP_FAILURE:
            self._line(f"FAIL   {step}: {_failure(event)}", "red")
        elif kind == dg.DagsterEventType.STEP_SKIPPED:
            self._skipped(step)
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            self._materialized(event)
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.asset_check_evaluation_data
            if not check.passed:
                warn = check.severity == dg.AssetCheckSeverity.WARN
                self._line(
                    f"       check {'warning' if warn else 'FAILED'} {check.check_name} on "
                    f"{check.asset_key.to_user_string()}",
                    "yellow" if warn else "red",
                )

    def _skipped(self, step: str) -> None:
        self._line(f"skip   {step} (a step or blocking check before it failed)", "yellow")

    def _materialized(self, event: dg.DagsterEvent) -> None:
        # A run over many landing dates records one event per partition, each with the run's
        # totals: the first one per asset says it all.
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        asset = materialization.asset_key.to_user_string()
        if asset in self._written:
            return
        self._written.add(asset)
        meta = materialization.metadata
        rows = meta.get("dagster/row_count", meta.get("rows_written"))
        count = f" ({getattr(rows, 'value', rows):,} rows)" if rows is not None else ""
        self._line(f"       wrote {asset}{count}")


def _failure(event: dg.DagsterEvent) -> str:
    """The first line of why a step failed: our `Failure` description, else the error."""
    data = event.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description.splitlines()[0]
    if data.error is not None:
        return data.error.message.strip().splitlines()[0]
    return "failed"
