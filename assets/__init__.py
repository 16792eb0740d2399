"""Thin Dagster asset definitions over the `metrics` domain package."""

import warnings

import dagster as dg

from metrics.model.tables import Table
from metrics.warehouse import storage
from metrics.warehouse.location import Warehouse

# Single-run backfill policies and pools are the documented way to run ranges; their
# beta/preview notices would otherwise print on every code-location load.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def column_schema(table: Table) -> dg.TableSchema:
    """A table's columns as a scan reads them (the hive key last), with types, meanings and
    units, for the UI's Columns tab: all from the registry in metrics/model/tables.py."""
    columns = (*table.columns, *([table.partition] if table.partition else []))
    return dg.TableSchema(
        columns=[dg.TableColumn(c.name, str(c.dtype), description=c.description) for c in columns]
    )


def table_metadata(
    warehouse: Warehouse, table: Table | str, run: dg.DagsterRun
) -> dict[str, dg.MetadataValue]:
    """Where a materialized table is, and the Delta version this run committed to it (from the
    commit log: each commit names its run), so a materialization says which version it made;
    none when the run changed nothing in the table."""
    metadata: dict[str, dg.MetadataValue] = {
        "path": dg.MetadataValue.path(storage.table_uri(warehouse, table))
    }
    version = storage.committed_by(warehouse, table, run.run_id)
    if version is not None:
        metadata["delta_version"] = dg.MetadataValue.int(version)
    return metadata
