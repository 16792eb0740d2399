"""Shared fixtures, and the `e2e` marker on everything under tests/e2e/.

The suite mirrors the package (tests/model, ingest, transform, serve, cli, sample); tests that
run the whole pipeline through Dagster, kill processes or drive a browser live in tests/e2e/ and
are marked `e2e`, so `pytest -m "not e2e"` is the quick loop while editing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.warehouse import Warehouse, write_warehouse

E2E = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def hand_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Warehouse], Path]:
    """Write a hand-made warehouse (tests/helpers/warehouse.py) into a fresh folder: the rows
    are given, so every expected answer can be computed by hand."""

    def write(data: Warehouse) -> Path:
        return write_warehouse(tmp_path_factory.mktemp("wh"), data)

    return write
