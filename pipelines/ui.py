"""`make ui`: `dg dev` (webserver, daemon, code server) that SIGTERM and Ctrl+C always stop.

Why a wrapper: Dagster maps SIGTERM onto whatever SIGINT does (`dagster._utils.interrupts`:
`signal.signal(SIGTERM, signal.getsignal(SIGINT))`), in `dg dev` and in every process it starts.
A process started with SIGINT ignored, as POSIX shells start background jobs (`make ui &`,
nohup, many supervisors), therefore ignores SIGTERM too, and `dg dev` cannot be stopped short
of SIGKILL, which orphans its webserver, daemon and code server. So `dg dev` runs here with
SIGINT and SIGTERM at their defaults, in a process group of its own; either signal to this
process becomes one SIGINT to `dg dev`, whose own shutdown stops everything it started. If it
has not exited after STOP_GRACE_SECONDS, its whole process group is killed.

    .venv/bin/python -m pipelines.ui -w workspace.yaml --host 127.0.0.1 --port 3000
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

STOP_GRACE_SECONDS = 20.0
POLL_SECONDS = 0.5


def _default_signals() -> None:
    """In the child, before exec: SIGINT and SIGTERM do what Dagster expects of them."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv: list[str]) -> int:
    dg = Path(sys.executable).with_name("dg")
    stop: list[tuple[int, float]] = []  # the first signal and when it came
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        if not stop:
            stop.append((signum, time.monotonic()))
            for child in children:
                child.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    proc = subprocess.Popen(
        [str(dg), "dev", *argv], preexec_fn=_default_signals, start_new_session=True
    )
    children.append(proc)
    if stop:  # a signal came while it started
        proc.send_signal(signal.SIGINT)
    while True:
        try:
            code = proc.wait(timeout=POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            if stop and time.monotonic() - stop[0][1] > STOP_GRACE_SECONDS:
                # Not reaped yet, so its process group is still ours to kill.
                os.killpg(proc.pid, signal.SIGKILL)
    return 128 + stop[0][0] if stop else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
