"""A step waiting for a pool slot sleeps until its next claim check instead of spinning a CPU.

Dagster 1.13 computes the pause of its execution loop while a step waits for a slot as
`min([0, *intervals])`, which is never above zero, so the loop re-polls at full speed for as
long as another run holds the slot (dagster-io/dagster#20367 fixed it and was closed unmerged).
With one run that never matters; with parallel runs (`metrics backfill --parallel N`, several
sensor runs at once) every run queued behind the `warehouse_writer` pool burns a core that the
run holding the pool needs. `install()` replaces that one method with the intended
`max(0, min(intervals))`: the step re-checks when Dagster's own back-off (1 s growing to 15 s)
says so. Imported by pipelines/definitions.py, so it applies in every process that executes our
runs: the CLI, the code server's run workers, a Kubernetes run pod.
"""

from __future__ import annotations

import time

from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext

# Dagster's own method, kept so a test can tell when an upgrade has fixed it.
DAGSTER_INTERVAL = InstanceConcurrencyContext.interval_to_next_pending_claim_check


def _interval_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    if not self._pending_claims:
        return 0.0
    now = time.time()
    waits = [ready_at - now for ready_at in self._pending_timeouts.values()]
    return max(0.0, min(waits)) if waits else 0.0


def install() -> None:
    """Idempotent: patch Dagster's wait interval (see the module docstring)."""
    InstanceConcurrencyContext.interval_to_next_pending_claim_check = (  # type: ignore[method-assign]
        _interval_to_next_pending_claim_check
    )
