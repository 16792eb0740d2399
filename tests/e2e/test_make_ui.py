"""`make ui` stops cleanly: after SIGTERM to make alone (what `kill` or a supervisor sends), after
Ctrl+C (SIGINT to the whole foreground process group), and after SIGTERM when it was started
with SIGINT ignored (a background job: `make ui &` in a script, nohup), every process it started
is gone within STOP_BOUND seconds, none left behind for a later `make ui` to collide with.
Plain `dg dev` fails the last case: Dagster maps SIGTERM onto SIGINT's handler, so it ignores
SIGTERM too (pipelines/ui.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.processes import alive, command_line, descendants

ROOT = Path(__file__).resolve().parents[2]
STOP_BOUND = 30.0
START_BOUND = 300.0
pytestmark = pytest.mark.xdist_group("browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _loaded(base: str) -> bool:
    fields = "locationEntries { loadStatus }"
    query = {"query": f"{{ workspaceOrError {{ ... on Workspace {{ {fields} }} }} }}"}
    req = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps(query).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        entries = json.load(resp)["data"]["workspaceOrError"]["locationEntries"]
    return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("how", ["SIGTERM to make", "Ctrl+C", "SIGTERM to a background make"])
def test_make_ui_stops_with_every_process_it_started(tmp_path: Path, how: str) -> None:
    (tmp_path / "warehouse").mkdir()  # a warehouse exists: `make ui` skips the demo
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "METRICS_RAW_DIR": str(tmp_path / "raw"),
        "METRICS_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
    }
    log = tmp_path / "make-ui.log"
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "-s", "ui", f"UI_PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives a job
            preexec_fn=_ignore_sigint if "background" in how else None,
        )
    started: set[tuple[int, str]] = set()
    try:
        deadline = time.monotonic() + START_BOUND
        while True:
            started |= descendants(make.pid)
            try:
                if _loaded(f"http://127.0.0.1:{port}"):
                    break
            except OSError:
                pass
            assert make.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        started |= descendants(make.pid)
        # make, dg dev, the webserver, the daemon and the code server (and its gRPC child)
        assert len(started) >= 4, [command_line(p) for p in started]
        if how == "Ctrl+C":
            os.killpg(make.pid, signal.SIGINT)
        else:
            make.send_signal(signal.SIGTERM)
        stop = time.monotonic()
        while time.monotonic() - stop < STOP_BOUND:
            if make.poll() is not None and not any(alive(p) for p in started):
                break
            time.sleep(0.1)
        left = [command_line(p) for p in sorted(started) if alive(p)]
        assert make.returncode in (-signal.SIGTERM, -signal.SIGINT, 2), make.returncode
        assert make.poll() is not None, f"make still running after {STOP_BOUND} s"
        assert left == [], left
        assert "KeyboardInterrupt received" in log.read_text()  # dg dev's own clean shutdown
        assert "SupersessionWarning" not in log.read_text()
    finally:
        for proc in started:
            if alive(proc):
                os.kill(proc[0], signal.SIGKILL)
        if make.poll() is None:
            make.kill()
        make.wait()
        shutil.rmtree(tmp_path / "dagster_home", ignore_errors=True)
