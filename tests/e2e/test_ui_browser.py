"""The Dagster UI renders our asset graph, schedule, partitions and column descriptions, in a
real headless Chromium.

Runs `metrics demo` (what `make demo` runs: the sample landing zone, the whole pipeline) into a
temporary folder, starts `dg dev` as `make ui` does on a free loopback port, then drives
Debian's Chromium with Playwright (`.ci/run` installs the browser from Debian's packages). Set
UPDATE_SCREENSHOT=1 to refresh docs/asset-graph.png from this test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from metrics.model.tables import ROLLUPS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _location_loaded(base: str) -> bool:
    query = {
        "query": "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    }
    req = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps(query).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        entries = json.load(resp)["data"]["workspaceOrError"]["locationEntries"]
    return any(e["name"] == "social_metrics" and e["loadStatus"] == "LOADED" for e in entries)


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, date, int]]:
    """The UI's base URL, the first partition and how many partitions the demo materialized."""
    if CHROMIUM is None:
        pytest.fail("Chromium is missing: `apt-get install chromium` (.ci/run does this).")
    root = tmp_path_factory.mktemp("ui")
    raw, warehouse, home = root / "raw", root / "warehouse", root / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "pipelines" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "METRICS_RAW_DIR": str(raw),
        "METRICS_WAREHOUSE_DIR": str(warehouse),
    }
    env.pop("METRICS_FIRST_LANDING_DATE", None)  # pinned for in-process tests: discover it here
    demo = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    today = datetime.now(UTC).date()
    first = min(date.fromisoformat(p.name) for p in (raw / "catalog").iterdir())
    port = _free_port()
    log = open(root / "dagster-dev.log", "wb")  # noqa: SIM115 - closed in the teardown
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dg")),
            "dev",
            "-w",
            "workspace.yaml",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if _location_loaded(base):
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"dg dev did not load: {(root / 'dagster-dev.log').read_text()[-3000:]}"
                )
            time.sleep(1)
        yield base, first, (today - first).days + 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def page(dagster_ui: tuple[str, date, int]):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        yield context.new_page()
        browser.close()


def _open(page, url: str) -> None:
    """Go to a UI page and dismiss the first-visit community dialog if it shows."""
    page.goto(url, wait_until="domcontentloaded")
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=5_000)
        skip.click()
    except Exception:
        pass


def test_asset_graph_shows_our_groups_and_assets(dagster_ui, page, tmp_path: Path) -> None:
    base, _, _ = dagster_ui
    _open(page, f"{base}/asset-groups")
    for group in ("ingest", "normalize", "hourly", "rollups"):
        page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    shot = (
        ROOT / "docs" / "asset-graph.png"
        if os.environ.get("UPDATE_SCREENSHOT")
        else tmp_path / "graph.png"
    )
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    expected = {
        "normalize": ("post_observations", "period_observations", "quarantine", "posts"),
        "rollups": ("rollup_hour", "rollup_day", "rollup_week", "warehouse_views"),
    }
    for group, names in expected.items():
        _open(page, f"{base}/locations/social_metrics/asset-groups/{group}/lineage")
        for name in names:
            page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)


def test_schedule_page_shows_the_nightly_schedule(dagster_ui, page) -> None:
    base, _, _ = dagster_ui
    _open(page, f"{base}/locations/social_metrics/schedules/nightly_schedule")
    page.get_by_text("nightly_schedule").first.wait_for(timeout=60_000)
    page.get_by_text("landing_job").first.wait_for(timeout=30_000)
    body = page.inner_text("body")
    assert "UTC" in body


def test_the_demo_partitions_are_all_materialized(dagster_ui, page) -> None:
    base, first, partitions = dagster_ui
    _open(page, f"{base}/assets/rollup_day?view=partitions")
    page.get_by_text("Materialized (", exact=False).first.wait_for(timeout=60_000)
    body = page.inner_text("body")
    materialized = re.search(r"Materialized \((\d+)\)", body)
    assert materialized is not None and int(materialized.group(1)) == partitions
    missing = re.search(r"Missing \((\d+)\)", body)
    assert missing is None or int(missing.group(1)) == 0, body[:3000]
    assert first.isoformat() in body  # the range picker starts at the demo's first catalog


def test_an_asset_page_shows_column_descriptions(dagster_ui, page) -> None:
    base, _, _ = dagster_ui
    (views,) = [c for c in ROLLUPS["day"].columns if c.name == "views"]
    shown = views.description.replace("`", "")  # the UI renders it as markdown
    _open(page, f"{base}/assets/rollup_day")
    page.get_by_text("Column name", exact=True).first.wait_for(timeout=60_000)
    page.get_by_text(shown, exact=True).first.wait_for(timeout=30_000)
    body = page.inner_text("body")
    assert "Int64" in body and shown in body
