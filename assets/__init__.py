"""Thin Dagster asset definitions over the `metrics` domain package."""

import warnings

import dagster as dg

from metrics.model.tables import Table

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
