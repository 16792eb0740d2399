"""How fast the Dagster UI answers and how cleanly it stops: `make ui`'s command vs its peers.

    python bench/ui_startup.py --raw data/raw --warehouse data/warehouse [--runs 3] \
        [--before-root /path/to/a/checkout/of/the/old/commit]

For each command (the old `dagster dev`, `dg dev`, and `make ui`, which runs `dg dev`) on a free
loopback port with a fresh DAGSTER_HOME: seconds until GET /server_info answers 200, seconds
until the GraphQL workspace reports the code location LOADED, then, after SIGTERM to the
command's own process only, seconds until every process it started is gone, and how many were
still alive after STOP_BOUND seconds (then killed). `--before-root` runs the old command in a
checkout of the old commit (with this environment), so "before" is the old command on the old
code. Appends to bench/out/ui_startup.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import record
from tests.helpers.processes import alive, descendants

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
STOP_BOUND = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def commands(port: int) -> dict[str, list[str]]:
    where = ["-w", "workspace.yaml", "--host", "127.0.0.1", "--port", str(port)]
    return {
        "dagster dev (before)": [str(BIN / "dagster"), "dev", *where],
        "dg dev": [str(BIN / "dg"), "dev", *where],
        "make ui (dg dev via pipelines/ui.py)": ["make", "-s", "ui", f"UI_PORT={port}"],
    }


def loaded(base: str) -> bool:
    query = (
        b'{"query": "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"}'
    )
    req = urllib.request.Request(
        f"{base}/graphql", data=query, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        entries = json.load(resp)["data"]["workspaceOrError"]["locationEntries"]
    return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


def server_info(base: str) -> bool:
    with urllib.request.urlopen(f"{base}/server_info", timeout=5) as resp:
        return resp.status == 200


def _as_from_a_terminal() -> None:
    """SIGINT and SIGTERM at their defaults, whatever this script inherited (a background
    shell ignores SIGINT; tests/e2e/test_make_ui.py covers that case)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def measure(name: str, argv: list[str], base: str, env: dict[str, str], cwd: Path) -> dict:
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_as_from_a_terminal,
    )
    first_200 = location = None
    seen: set[tuple[int, str]] = set()
    try:
        while location is None and time.monotonic() - start < 180:
            seen |= descendants(proc.pid)
            try:
                if first_200 is None and server_info(base):
                    first_200 = time.monotonic() - start
                if first_200 is not None and loaded(base):
                    location = time.monotonic() - start
            except OSError:
                pass
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        seen |= descendants(proc.pid)
        stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        while time.monotonic() - stop < STOP_BOUND:
            if proc.poll() is not None and not any(alive(p) for p in seen):
                break
            time.sleep(0.05)
        stopped = time.monotonic() - stop
        left = sorted(p for p in seen if alive(p))
        top_left = proc.poll() is None
    finally:
        for child in seen:
            if alive(child):
                os.kill(child[0], signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return {
        "command": name,
        "argv": " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv)),
        "seconds_to_server_info_200": round(first_200, 2) if first_200 else None,
        "seconds_to_location_loaded": round(location, 2) if location else None,
        "seconds_to_stop_after_sigterm": round(stopped, 2),
        "processes_started": len(seen) + 1,
        "processes_left_after_sigterm": len(left) + top_left,
        "exit_code": proc.returncode,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raw", type=Path, default=ROOT / "data" / "raw")
    parser.add_argument("--warehouse", type=Path, default=ROOT / "data" / "warehouse")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated command names")
    parser.add_argument("--before-root", type=Path, default=ROOT, help="where the old one runs")
    args = parser.parse_args()
    for run in range(args.runs):
        port = free_port()
        for name, argv in commands(port).items():
            if args.only and name not in args.only.split(","):
                continue
            home = Path(tempfile.mkdtemp(prefix="ui_bench_home_"))
            shutil.copyfile(ROOT / "pipelines" / "dagster.yaml", home / "dagster.yaml")
            env = {
                **os.environ,
                "DAGSTER_HOME": str(home),
                "METRICS_RAW_DIR": str(args.raw.resolve()),
                "METRICS_WAREHOUSE_DIR": str(args.warehouse.resolve()),
            }
            cwd = args.before_root if "before" in name else ROOT
            result = measure(name, argv, f"http://127.0.0.1:{port}", env, cwd)
            result["cwd"] = str(cwd)
            record("ui_startup", {"run": run + 1, **result})
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
