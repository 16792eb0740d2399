"""Refuse a run that would empty the warehouse, before it writes anything.

A mistyped mount or a broken export job looks, to the pipeline, like a landing zone that says
"nothing exists": no files, no catalog, or a catalog that suddenly lacks most accounts. Folding
that in would publish an empty catalog and empty partitions, and every query would answer 404
after a green run. So a run first checks its inputs and stops, naming the path and the fix, while
the warehouse (and so every answer already served) stays as it was.

The checks, in order:

* the landing zone is a folder;
* a catalog snapshot is in reach: at least one accepted `catalog/<date>/catalog.json` (the newest
  wins, whatever landing dates the run covers, since attribution follows the newest);
* the catalog does not drop more than `METRICS_MAX_ACCOUNT_LOSS` (a share, default 0.5) of the
  accounts the warehouse serves now, at once. Set it to 1 to accept a deliberate cut.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from metrics.config import RAW_ENV, ConfigError
from metrics.ingest.catalog import Catalog
from metrics.model.tables import CATALOG_ACCOUNTS_TABLE
from metrics.objects import RawRoot
from metrics.warehouse import storage
from metrics.warehouse.location import Warehouse

MAX_LOSS_ENV = "METRICS_MAX_ACCOUNT_LOSS"
DEFAULT_MAX_LOSS = 0.5


@dataclass(frozen=True)
class Verdict:
    """What the guard found: `problems` (empty when the run may go on) and the figures behind it,
    for the asset check's metadata."""

    problems: tuple[str, ...]
    accounts_served: int
    accounts_kept: int

    @property
    def ok(self) -> bool:
        return not self.problems


def max_account_loss() -> float:
    raw = os.environ.get(MAX_LOSS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_LOSS
    try:
        share = float(raw)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise ConfigError(
            f"{MAX_LOSS_ENV}={raw!r} is not a share between 0 and 1; set it to e.g. "
            f"{DEFAULT_MAX_LOSS} (the default), or 1 to accept any cut of the catalog."
        )
    return share


def check_inputs(raw: RawRoot, warehouse: Warehouse, catalog: Catalog) -> Verdict:
    """Whether a run may write, with `catalog` the snapshot it would publish
    (metrics.ingest.catalog.load_catalog)."""
    served = storage.read(warehouse, CATALOG_ACCOUNTS_TABLE, columns=["social_account_id"])
    served_ids = set(served["social_account_id"].to_list())
    if not raw.is_dir():
        return Verdict(
            (
                f"the landing zone {raw} does not exist (or is not a folder); point --raw or "
                f"{RAW_ENV} at the landing zone and run again. Nothing was written.",
            ),
            len(served_ids),
            0,
        )
    problems: list[str] = []
    if catalog.snapshot_date is None:
        why = "; ".join(f"{where}: {reason}" for where, reason in catalog.rejected)
        problems.append(
            f"no catalog snapshot in reach under {raw / 'catalog'}: land one at "
            "catalog/<YYYY-MM-DD>/catalog.json"
            + (f" (rejected: {why})" if why else "")
            + ". Nothing was written."
        )
    kept = served_ids & set(catalog.accounts["social_account_id"].to_list())
    if served_ids and not problems:
        lost = 1 - len(kept) / len(served_ids)
        limit = max_account_loss()
        if lost > limit:
            problems.append(
                f"the catalog snapshot {catalog.snapshot_file} keeps {len(kept)} of the "
                f"{len(served_ids)} accounts the warehouse serves ({lost:.0%} lost, more than "
                f"{MAX_LOSS_ENV}={limit:g}); fix the snapshot, or set {MAX_LOSS_ENV}=1 for a "
                "deliberate cut. Nothing was written."
            )
    return Verdict(tuple(problems), len(served_ids), len(kept))
