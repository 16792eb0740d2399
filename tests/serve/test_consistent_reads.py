"""A reader that reloads while the next run commits answers from one published state, never a mix.

Two warehouse states differ in every table the index reads: the catalog (a project's name), the
hourly rollups and the day rollups. `write_warehouse` commits them table by table, the manifest
last, exactly as a run does; readers reload as fast as they can meanwhile. Every answer must be
the whole of state A or the whole of state B: were the index to read the newest commits instead
of the manifest's versions, a reload between two table commits would pair A's name with B's
views (or hour sums with day sums of different states), and the set check below would fail.
"""

from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import metrics
from tests.helpers.tiny import DATA, P1, t
from tests.helpers.warehouse import Warehouse, write_warehouse

WINDOW: dict[str, Any] = {"since": "2026-04-01", "until": "2026-04-02", "metrics": ["views"]}


def _state_b() -> Warehouse:
    catalog = copy.deepcopy(DATA.catalog)
    catalog["projects"][0]["name"] = "Renamed"
    return Warehouse(
        catalog=catalog,
        posts=DATA.posts,
        hourly=[*DATA.hourly, (P1, t("2026-04-01T10:00"), {"views": 1000})],
        followers=DATA.followers,
    )


def _observe(store: metrics.Store) -> tuple[str, int, int]:
    """(project name, views by hour, views by day) for one window, from one index."""
    name = store.list("projects", project_id="prj_a1")[0]["name"]
    by = {}
    for granularity in ("hour", "day"):
        body = store.query(
            org_id="org_a",
            project_id="prj_a1",
            scope="platform_post",
            id=P1,
            granularity=granularity,
            **WINDOW,
        )
        by[granularity] = body["totals"]["views"]
    return name, by["hour"], by["day"]


def test_every_answer_during_commits_is_one_whole_state(tmp_path) -> None:
    b = _state_b()
    root = write_warehouse(tmp_path, DATA)
    store = metrics.connect(root)
    state_a = _observe(store)
    write_warehouse(root, b)
    store.refresh()
    state_b = _observe(store)
    assert state_a == ("Launch", 150, 150) and state_b == ("Renamed", 1150, 1150)

    answers: list[tuple[str, int, int]] = []
    stop = threading.Event()

    def reader() -> None:
        own = metrics.connect(root)
        while not stop.is_set():
            own.refresh()  # reload whenever a manifest was published, as often as possible
            answers.append(_observe(own))

    with ThreadPoolExecutor(2) as pool:
        readers = [pool.submit(reader) for _ in range(2)]
        for state in (DATA, b, DATA, b, DATA, b):
            write_warehouse(root, state)
        stop.set()
        for r in readers:
            r.result()
    assert answers, "the readers never answered"
    assert set(answers) <= {state_a, state_b}, set(answers) - {state_a, state_b}
