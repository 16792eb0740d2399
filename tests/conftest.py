"""Shared fixtures, and the `e2e` marker on everything under tests/e2e/.

The suite mirrors the package (tests/model, ingest, transform, serve, cli, sample; tests/docs
checks the Markdown); tests that run the whole pipeline through Dagster, kill processes or drive
a browser live in tests/e2e/ and are marked `e2e`, so `pytest -m "not e2e"` is the quick loop
while editing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.object_store import ObjectStore, running_object_store
from tests.helpers.warehouse import Warehouse, write_warehouse

E2E = Path(__file__).parent / "e2e"
# The partitions start where the landing zone's first catalog is (assets/partitions.py), found
# when the definitions are imported; the suite's landing zones are temporary, so pin the start
# before that import, or the suite would depend on whatever ./data/raw holds. Tests of the
# discovery itself unset it; subprocesses given their own environment discover it.
os.environ.setdefault("METRICS_FIRST_LANDING_DATE", "2026-01-01")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what a test recorded as its `summary` property (`record_property`), passed or
    not: how a test ran when that depends on the machine (tests/e2e/test_two_hosts.py says
    which isolation its hosts got). Properties travel in the reports, so this works under
    xdist too."""
    lines = [
        f"{report.nodeid}: {value}"
        for kind in ("passed", "failed", "error")
        for report in terminalreporter.stats.get(kind, [])
        for name, value in getattr(report, "user_properties", [])
        if name == "summary" and report.when == "call"
    ]
    if lines:
        terminalreporter.write_sep("-", "how these tests ran")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def hand_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Warehouse], Path]:
    """Write a hand-made warehouse (tests/helpers/warehouse.py) into a fresh folder: the rows
    are given, so every expected answer can be computed by hand."""

    def write(data: Warehouse) -> Path:
        return write_warehouse(tmp_path_factory.mktemp("wh"), data)

    return write


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """A real S3 server (SeaweedFS `weed mini`) on free loopback ports with a fresh bucket, for
    the whole session (one per xdist worker); stopped at the end.
    See tests/helpers/object_store.py."""
    with running_object_store(tmp_path_factory.mktemp("s3")) as store:
        yield store


@pytest.fixture
def s3_prefix(object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A fresh `s3://<bucket>/<unique prefix>` on the session's server, with the AWS_* variables
    that reach it set in this test's environment (and so in subprocesses it starts)."""
    for name, value in object_store.env.items():
        monkeypatch.setenv(name, value)
    return object_store.uri(f"t-{uuid.uuid4().hex[:12]}")
