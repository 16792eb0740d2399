"""`metrics backfill`/`nightly` talk while they run: a line per step as Dagster records it, in
the order the steps run, then the summary; plain lines when stdout is not a terminal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from metrics.ingest.normalize import landing_dates
from tests.helpers.pipeline import make_landing

ROOT = Path(__file__).resolve().parents[2]
# landing_job's steps in execution order (each waits for the one before: pipelines/definitions.py)
STEPS = ["catalog", "normalized", "posts", "hourly_and_rollups", "warehouse_views"]
pytestmark = pytest.mark.xdist_group("pipeline")


def _env(tmp_path: Path, raw: Path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "pipelines" / "dagster.yaml", home / "dagster.yaml")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DAGSTER_HOME": str(home),
        "METRICS_RAW_DIR": str(raw),
        "METRICS_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
        "METRICS_WORKERS": "2",
    }


def _cli(env: dict[str, str], *args: str, code: str = "pass") -> subprocess.CompletedProcess:
    """`metrics ARGS` in a fresh process whose stdout is a pipe, not a terminal; `code` runs
    first in that process."""
    main = f"import sys; from pipelines import cli, run; {code}; sys.exit(cli.main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", main, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _index(lines: list[str], text: str) -> int:
    found = [i for i, line in enumerate(lines) if line.startswith(text)]
    assert found, f"no line starts with {text!r}:\n" + "\n".join(lines)
    return found[0]


def test_backfill_reports_each_step_in_order_then_the_summary(tmp_path: Path) -> None:
    raw, _ = make_landing(tmp_path, accounts=4, posts_per_account=1, days=2)
    days = landing_dates(raw)
    quiet_day = days[-1] + timedelta(days=1)  # inside the run, no file landed on it
    proc = _cli(_env(tmp_path, raw), "backfill", "--until", quiet_day.isoformat())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    summary = _index(lines, "run ")
    assert lines[summary].split()[2] == "SUCCESS:"
    order = []
    for step in STEPS:
        start, ok = _index(lines, f"start  {step}"), _index(lines, f"ok     {step} (")
        assert start < ok < summary
        order += [start, ok]
    assert order == sorted(order)  # one step after the other, each started before it ended
    # What a step logs appears between its start and its end, as it happens.
    normalized = lines[_index(lines, "start  normalized") : _index(lines, "ok     normalized")]
    assert f"       {quiet_day}: no files landed on this date" in normalized
    assert "       wrote quarantine (" in "\n".join(normalized)
    views = lines[_index(lines, "start  warehouse_views") : summary]
    assert "       check warning freshness on warehouse_views" in views
    # The summary repeats both.
    assert f"no files landed on {quiet_day}" in lines[summary:]
    assert any(line.startswith("check warning freshness on warehouse_views:") for line in lines)
    # Not a terminal: no spinner frames, colours or redrawn lines.
    assert "\x1b" not in proc.stdout and "\r" not in proc.stdout


def test_a_failed_blocking_check_fails_the_run_and_says_so(tmp_path: Path) -> None:
    raw, _ = make_landing(tmp_path, accounts=4, posts_per_account=1, days=2)
    day = landing_dates(raw)[-1]
    shutil.rmtree(raw / "catalog")  # no catalog in reach: the inputs_present check fails
    # The CLI refuses these inputs before a run starts (tests/e2e/test_refusals.py); a run the
    # UI or the schedule launches has no such step, so skip it here to reach the asset check.
    code = "run.refuse_empty_inputs = lambda: None"
    # Without a catalog the partitions would start yesterday; configure them to hold `day`.
    env = {**_env(tmp_path, raw), "METRICS_FIRST_LANDING_DATE": day.isoformat()}
    proc = _cli(env, "nightly", "--date", day.isoformat(), code=code)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    failed = _index(lines, "FAIL   catalog: no catalog snapshot in reach under")
    check = _index(lines, "       check FAILED inputs_present on catalog")
    summary = _index(lines, "run ")
    assert _index(lines, "start  catalog") < check < failed < summary
    for step in STEPS[1:]:
        assert _index(lines, f"skip   {step} ") < summary
        assert not [line for line in lines if line.startswith(f"ok     {step}")]
    assert lines[summary].split()[2] == "FAILURE:"
    assert _index(lines, "check FAILED inputs_present on catalog:") > summary
