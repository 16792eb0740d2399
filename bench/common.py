"""Shared helpers for the benchmark scripts: subprocess runs with peak RSS, machine facts."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

OUT = Path(__file__).with_name("out")


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_peak_rss_mb() -> float:
    """The largest peak RSS of any finished child process (the parsing workers)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_child(script: str, *args: str) -> dict:
    """Run `python bench/<script> ...` in a fresh process; it prints one JSON object last."""
    cmd = [sys.executable, str(Path(__file__).with_name(script)), *args]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> dict:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def record(name: str, result: dict) -> None:
    OUT.mkdir(exist_ok=True)
    with open(OUT / f"{name}.jsonl", "a") as fh:
        fh.write(json.dumps({**machine(), **result}) + "\n")
    print(json.dumps(result, indent=2))
