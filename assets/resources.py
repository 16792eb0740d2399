"""Resources, chosen in one place; paths come from METRICS_RAW_DIR / METRICS_WAREHOUSE_DIR."""

from __future__ import annotations

import dagster as dg

from metrics import config
from metrics.objects import RawRoot, raw_root
from metrics.warehouse import location
from metrics.warehouse.location import Location


class WarehouseResource(dg.ConfigurableResource):
    """Where the landing zone is read from and the warehouse is written to."""

    raw_dir: str
    warehouse_dir: str

    @property
    def raw(self) -> RawRoot:
        """A local folder or an `s3://` prefix (metrics/objects.py)."""
        return raw_root(self.raw_dir)

    @property
    def warehouse(self) -> Location:
        """A local folder or an `s3://` prefix (metrics/warehouse/location.py)."""
        return location.of(self.warehouse_dir)


def default_resources() -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(
            raw_dir=str(config.raw_dir()), warehouse_dir=str(config.warehouse_dir())
        )
    }
