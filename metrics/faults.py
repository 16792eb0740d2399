"""Named crash points for the fault-injection suite (tests/e2e/test_faults.py).

The write path calls `point("<step>.<moment>")` between and inside its steps. Normally that does
nothing. When the environment variable `METRICS_FAULT` names the point, the process dies there,
the way an evicted pod or a `kill -9` would, so a test can prove that the next run converges to
exactly what a clean run gives.

`METRICS_FAULT` is a comma-separated list of `name[:action][@n]`:

* `action` is `kill` (the default: SIGKILL to this process, no cleanup runs), `raise` (raise
  `InjectedCrash`, a BaseException that no `except Exception` swallows, so an in-process test
  sees the run stop at that point), or `pause` (print `PAUSED` on stderr, then wait until a
  signal arrives, so a test can signal a run at a known moment).
* `@n` fires at the n-th time this process reaches the point (default: the first), which is how
  a test dies in the middle of a loop, after some partitions are written and before the rest.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import Counter

ENV = "METRICS_FAULT"
ACTIONS = ("kill", "raise", "pause")
PAUSED = "METRICS_FAULT paused at"  # the stderr line a test waits for before signalling

_reached: Counter[str] = Counter()


class InjectedCrash(BaseException):
    """Raised at a crash point whose action is `raise`."""


def _parse(spec: str) -> dict[str, tuple[str, int]]:
    faults: dict[str, tuple[str, int]] = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        entry, _, nth = entry.partition("@")
        name, _, action = entry.partition(":")
        action = action or "kill"
        if action not in ACTIONS:  # a typo fails loudly rather than never firing
            raise ValueError(
                f"{ENV} entry {entry!r} has unknown action {action!r}; "
                "use `name`, `name:kill`, `name:raise` or `name:pause`, optionally with `@n`"
            )
        faults[name] = (action, int(nth) if nth else 1)
    return faults


def point(name: str) -> None:
    """Die here if `METRICS_FAULT` asks for it; otherwise return at once."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    wanted = _parse(spec).get(name)
    if wanted is None:
        return
    _reached[name] += 1
    action, nth = wanted
    if _reached[name] != nth:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "raise":
        raise InjectedCrash(f"injected crash at {name}")
    print(f"{PAUSED} {name} (pid {os.getpid()})", file=sys.stderr, flush=True)
    if threading.current_thread() is threading.main_thread():
        signal.pause()  # returns once a handler ran; a handler that raises propagates from here
    else:
        threading.Event().wait()
