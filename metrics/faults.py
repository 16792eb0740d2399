"""Named fault points, so tests can crash or stop a real run at a known moment.

Crash and signal handling can only be tested deterministically if a test can make the pipeline
die, or wait to be signalled, at a chosen place. `point(name)` does nothing unless the
environment variable METRICS_FAULT names it: a comma-separated list of `name[:action]` entries,
where the action is `kill` (SIGKILL this process, the default) or `pause` (announce the pause on
stderr, then wait for a signal). Production never sets the variable, so a point costs one
environment lookup.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

ENV = "METRICS_FAULT"
ACTIONS = ("kill", "pause")
PAUSED = "METRICS_FAULT paused at"  # the stderr line a test waits for before signalling


def _parse(spec: str) -> dict[str, str]:
    """`a,b:pause` -> {"a": "kill", "b": "pause"}; a typo fails loudly rather than never firing."""
    points: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        name, _, action = entry.partition(":")
        action = action or "kill"
        if action not in ACTIONS:
            raise ValueError(
                f"{ENV} entry {entry!r} has unknown action {action!r}; "
                f"use `name`, `name:kill` or `name:pause`"
            )
        points[name] = action
    return points


def point(name: str) -> None:
    """Kill or pause here if METRICS_FAULT names this point; otherwise return at once."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    action = _parse(spec).get(name)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "pause":
        print(f"{PAUSED} {name} (pid {os.getpid()})", file=sys.stderr, flush=True)
        if threading.current_thread() is threading.main_thread():
            # Returns once a signal handler has run; a handler that raises propagates from here.
            signal.pause()
        else:
            threading.Event().wait()
