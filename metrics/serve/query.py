"""The read function (spec §5): `metrics.connect(warehouse).query(...)`.

A `Store` answers from an in-memory `Index` of the warehouse (see `metrics.serve.index`) and
swaps in a new one when the pipeline publishes a new `manifest.json`: the stat per query costs a
few microseconds (an object-store warehouse reads the manifest at most every
`_REMOTE_POLL_SECONDS`), the reload runs on a background thread, and queries in flight keep the
index they started with. The index holds exactly the table versions the manifest names, so a
run committing meanwhile is never seen half-way. `connect(..., version=N)` or `as_of_time=`
pins an older manifest instead (time travel: "what did we report yesterday"); such a store
never reloads. Nothing is ever opened for writing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from metrics import config
from metrics.model.measures import ADDITIVE, ENGAGEMENTS, METRICS, PAID_METRICS
from metrics.model.scopes import POST, ROOT, SCOPE, SCOPES
from metrics.serve import breakdown as breakdowns
from metrics.serve import compare as compares
from metrics.serve import listing as listings
from metrics.serve import top
from metrics.serve import window as windows
from metrics.serve.coverage import coverage
from metrics.serve.errors import NotFoundError, ValidationError
from metrics.serve.grain import Key
from metrics.serve.index import Index, load, read_manifest
from metrics.warehouse import location
from metrics.warehouse import manifest as published
from metrics.warehouse.location import Location, Warehouse

log = logging.getLogger(__name__)

_COLUMN = {name: i for i, name in enumerate(ADDITIVE)}
_ENGAGED = [_COLUMN[m] for m in ENGAGEMENTS]
_RELOAD_RETRY_SECONDS = 1.0
_LOAD_ATTEMPTS = 3
_REMOTE_POLL_SECONDS = 5.0


def _metric_names(scope: str, metrics: Sequence[str] | str | None) -> list[str]:
    """The requested metrics in order, without repeats; `a,b` items are split."""
    if isinstance(metrics, str):
        metrics = [metrics]
    names = [n for item in metrics or () for n in item.split(",") if n]
    if not names:
        return list(SCOPE[scope].default_metrics)
    for name in names:
        if name in PAID_METRICS:
            raise ValidationError(
                f"Unknown metric: {name}. Use /v1/projects/:projectId/ads-metrics for paid metrics."
            )
        if name not in METRICS:
            raise ValidationError(f"Unknown metric: {name}.")
        if name not in SCOPE[scope].metrics:
            raise ValidationError(f"{name} is not available for scope {scope}.")
    return list(dict.fromkeys(names))


def _check_request(scope: str | None, id: str | None, granularity: str) -> tuple[str, str]:
    """(scope, id), once scope, granularity and id fit together."""
    if not scope:
        raise ValidationError("Missing scope.")
    if scope not in SCOPES:
        raise ValidationError(f"Unknown scope: {scope}. Use one of {', '.join(SCOPES)}.")
    if granularity not in windows.GRANULARITIES:
        *others, last = windows.GRANULARITIES
        raise ValidationError(
            f"Unknown granularity: {granularity}. Use {', '.join(others)} or {last}."
        )
    if not id:
        raise ValidationError("Missing id.")
    declared = SCOPE[scope]
    if not declared.fits(id):
        raise ValidationError(
            f"id {id} does not fit scope {scope}: expected an id starting {declared.id_prefix}."
        )
    if granularity not in declared.granularities:
        allowed = " or ".join(declared.granularities)
        raise ValidationError(f"Scope {scope} accepts granularity {allowed}.")
    return scope, id


def _check_visible(index: Index, org_id: str, project_id: str, scope: str, id: str) -> None:
    """404 unless the project is the org's and the entity sits in it; one message either way."""
    if index.projects.get(project_id) != org_id:
        raise NotFoundError(f"Project {project_id} not found.")
    if scope == ROOT.name:
        if id != org_id:
            raise NotFoundError(f"organization {id} not found.")
    elif index.homes.get((scope, id)) != (org_id, project_id):
        raise NotFoundError(f"{scope} {id} not found in project {project_id}.")


def _values(name: str, sums: np.ndarray, ends: np.ndarray, starts: np.ndarray) -> list[Any]:
    """One metric over spans: `sums` rows are additive sums, `ends`/`starts` F at their edges."""
    if name == "followers":
        return ends.tolist()
    if name == "follower_delta":
        return (ends - starts).tolist()
    if name == "engagement_rate":
        # Python division of exact integers: the nearest float to the true ratio.
        engaged = sums[:, _ENGAGED].sum(axis=1).tolist()
        views = sums[:, _COLUMN["views"]].tolist()
        return [e / max(v, 1) for e, v in zip(engaged, views, strict=True)]
    return sums[:, _COLUMN[name]].tolist()


def _block(
    index: Index, key: Key, names: list[str], window: windows.Window
) -> tuple[windows.Buckets, list[dict[str, Any]], dict[str, Any]]:
    """(buckets, series, totals) of one window."""
    buckets = windows.buckets(window)
    prefix, gauge = index.measure(key, buckets.edges)
    sums = np.diff(prefix, axis=0)
    columns = [_values(n, sums, gauge[1:], gauge[:-1]) for n in names]
    keys = ("bucket", *names)
    series = [
        dict(zip(keys, row, strict=True)) for row in zip(buckets.labels, *columns, strict=True)
    ]
    if buckets.partial_first:
        series[0]["partial"] = True
    if buckets.partial_last:
        series[-1]["partial"] = True
    whole = (prefix[-1:] - prefix[:1], gauge[-1:], gauge[:1])
    totals = {n: _values(n, *whole)[0] for n in names}
    totals["post_count"] = index.activity.count(key, window.since, window.until)
    return buckets, series, totals


def _breakdown(
    index: Index, key: Key, group_by: str, names: list[str], window: windows.Window
) -> list[dict[str, Any]]:
    """Spec §7's `breakdown`: per group, the totals' metrics; first metric desc, then key."""
    groups = breakdowns.groups(index, key, group_by, window.since, window.until)
    columns = [_values(n, groups.sums, groups.ends, groups.starts) for n in names]
    # Groups come in key order, so a stable sort on the first metric breaks ties by key.
    order = np.argsort(-np.asarray(columns[0]), kind="stable").tolist()
    fields = (*names, "post_count")
    values = list(zip(*columns, groups.post_count.tolist(), strict=True))
    return [
        {"key": groups.keys[i], "totals": dict(zip(fields, values[i], strict=True))} for i in order
    ]


def _answer(
    index: Index,
    key: Key,
    names: list[str],
    window: windows.Window,
    compare: str | None = None,
    group_by: str | None = None,
) -> dict:
    """The 200 body for a checked request."""
    buckets, series, totals = _block(index, key, names, window)
    body: dict[str, Any] = {
        "scope": key[0],
        "id": key[1],
        "window": window.echo(),
        "as_of": index.as_of,
        "coverage": coverage(
            buckets.edges, buckets.labels, index.as_of, index.tree.platforms(key), names
        ),
        "series": series,
        "totals": totals,
    }
    if compare is not None:
        before = compares.previous(window, compare)
        _, previous_series, previous_totals = _block(index, key, names, before)
        echo = before.echo()
        body["previous"] = {
            "window": {"since": echo["since"], "until": echo["until"]},
            "series": previous_series,
            "totals": previous_totals,
        }
        body["change"] = compares.change(totals, previous_totals)
    if group_by is not None:
        body["breakdown"] = _breakdown(index, key, group_by, names, window)
    return body


class _Stamp:
    """What changes when a new manifest is published: the local file's identity (one stat), or
    for an object store the manifest's version, read at most every few seconds."""

    def __init__(self, warehouse: Location) -> None:
        self.warehouse = warehouse
        self._checked = 0.0
        self._remote: object = None

    def __call__(self) -> object:
        if self.warehouse.is_local:
            try:
                st = os.stat(self.warehouse.path / published.MANIFEST_FILE)
            except FileNotFoundError:
                return None
            return (st.st_ino, st.st_mtime_ns, st.st_size)
        if time.monotonic() - self._checked >= _REMOTE_POLL_SECONDS:
            self._remote = read_manifest(self.warehouse).get("version")
            self._checked = time.monotonic()
        return self._remote


def pinned_manifest(
    warehouse: Location, version: int | None = None, as_of_time: datetime | None = None
) -> dict[str, Any]:
    """The kept manifest of warehouse version `version`, or the last one published at or before
    `as_of_time`; `ValidationError` naming the versions kept when there is none."""
    kept_manifests = published.history(warehouse)
    numbers = [m["version"] for m in kept_manifests]
    kept = f"kept versions: {numbers[0]}..{numbers[-1]}" if numbers else "no version is kept yet"
    if version is not None:
        if version not in numbers:
            raise ValidationError(
                f"Warehouse version {version} is not kept ({kept}); older ones were vacuumed "
                "after the retention period (METRICS_RETENTION_DAYS)."
            )
        return kept_manifests[numbers.index(version)]
    assert as_of_time is not None
    chosen = None
    for manifest in kept_manifests:
        if datetime.fromisoformat(manifest["published_at"]) <= as_of_time:
            chosen = manifest
    if chosen is None:
        raise ValidationError(
            f"No warehouse version was published at or before {as_of_time.isoformat()} ({kept})."
        )
    return chosen


class Store:
    """A read-only, thread-safe handle on one warehouse; reuse it for every query."""

    def __init__(self, warehouse: Warehouse, manifest: dict[str, Any] | None = None) -> None:
        self.warehouse = location.of(warehouse)
        self._pinned = manifest
        self._reloading = threading.Lock()
        self._retry_at = 0.0
        self._stamper = _Stamp(self.warehouse)
        self._stamp = self._stamper()
        self._index = self._load()

    @property
    def version(self) -> int | None:
        """The warehouse version (manifest number) this store answers from."""
        return self._index.version

    def _load(self) -> Index:
        """Load, retrying when vacuum removes a file between listing and reading it."""
        for _ in range(_LOAD_ATTEMPTS - 1):
            try:
                return load(self.warehouse, self._pinned)
            except (OSError, pl.exceptions.PolarsError) as exc:
                log.warning("warehouse changed while loading (%s); retrying", exc)
                time.sleep(0.2)
        return load(self.warehouse, self._pinned)

    def refresh(self) -> bool:
        """Reload now if the manifest changed since the last load; True when it did."""
        with self._reloading:
            return self._reload()

    def _reload(self) -> bool:
        if self._pinned is not None:
            return False
        stamp = self._stamper()
        if stamp == self._stamp:
            return False
        changed = read_manifest(self.warehouse).get("version") != self._index.version
        if changed:
            self._index = self._load()
        self._stamp = stamp
        return changed

    def _background_reload(self) -> None:
        try:
            self._reload()
        except Exception:
            log.exception("reloading %s failed; serving the previous version", self.warehouse)
            self._retry_at = time.monotonic() + _RELOAD_RETRY_SECONDS
        finally:
            self._reloading.release()

    def _check_for_new_version(self) -> None:
        if (
            self._pinned is None
            and self._stamper() != self._stamp
            and time.monotonic() >= self._retry_at
            and self._reloading.acquire(blocking=False)
        ):
            threading.Thread(target=self._background_reload, daemon=True).start()

    def query(
        self,
        *,
        org_id: str,
        project_id: str,
        scope: str | None,
        id: str | None,
        metrics: Sequence[str] | str | None = None,
        since: windows.Instant | None = None,
        until: windows.Instant | None = None,
        granularity: str | None = "day",
        tz: str | None = "UTC",
        now: windows.Instant | None = None,
        compare: str | None = None,
        group_by: str | None = None,
    ) -> dict[str, Any]:
        """The 200 body of the endpoint, or `ValidationError` (422) / `NotFoundError` (404).

        `compare` adds `previous` and `change`, `group_by` adds `breakdown` (spec §7).
        """
        self._check_for_new_version()
        index = self._index
        granularity = granularity or "day"
        scope, id = _check_request(scope, id, granularity)
        names = _metric_names(scope, metrics)
        compare = compares.check(compare)
        group_by = breakdowns.check(scope, group_by)
        window = windows.resolve(since, until, granularity, tz or "UTC", now)
        _check_visible(index, org_id, project_id, scope, id)
        return _answer(index, (scope, id), names, window, compare, group_by)

    def top_performers(
        self,
        *,
        org_id: str,
        project_id: str,
        scope: str | None,
        id: str | None,
        metric: str | None = "views",
        since: windows.Instant | None = None,
        until: windows.Instant | None = None,
        tz: str | None = "UTC",
        limit: int | str | None = 10,
        platform: str | None = None,
        published: str | None = "any",
        min_views: int | str | None = 0,
        now: windows.Instant | None = None,
    ) -> dict[str, Any]:
        """The scope's posts ranked by `metric` over the window (spec §7); the same 422/404
        rules as `query`. See `metrics.serve.top`."""
        self._check_for_new_version()
        index = self._index
        if scope == POST.name:
            raise ValidationError(
                f"Top performers ranks the posts of a scope above them; use one of "
                f"{', '.join(top.SCOPES_RANKED)}, not {scope}."
            )
        scope, id = _check_request(scope, id, "day")
        name = top.check_metric(metric)
        options = top.check_options(limit, platform, published, min_views)
        window = windows.resolve(since, until, None, tz or "UTC", now)
        _check_visible(index, org_id, project_id, scope, id)
        return top.answer(index, scope, id, name, window, *options)

    def daily_views(self, body: dict[str, Any]) -> dict[str, list[int]]:
        """Each item's views per local day of a `top_performers` body's window, by post id."""
        return top.daily_views(self._index, body)

    def list(
        self,
        kind: str,
        *,
        org_id: str | None = None,
        project_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Entities of one kind (`metrics.serve.listing.KINDS`) inside org_id and project_id.

        `NotFoundError` for an unknown org or a project not in it, `ValidationError` for an
        unknown kind; see `metrics.serve.listing`.
        """
        self._check_for_new_version()
        frame = self._index.listing.select(kind, org_id, project_id)
        return listings.rows(frame, limit)

    def count(self, kind: str, *, org_id: str | None = None, project_id: str | None = None) -> int:
        """How many entities `list` would return without a limit."""
        return self._index.listing.select(kind, org_id, project_id).height


def connect(
    warehouse: Warehouse | None = None,
    *,
    version: int | None = None,
    as_of_time: datetime | None = None,
) -> Store:
    """Open the warehouse read-only (default: `--warehouse`, $METRICS_WAREHOUSE_DIR, data/…), at
    the published state, or pinned to warehouse version `version` / the state published at or
    before `as_of_time`."""
    root = location.of(config.warehouse_dir() if warehouse is None else warehouse)
    if version is None and as_of_time is None:
        return Store(root)
    return Store(root, pinned_manifest(root, version, as_of_time))
