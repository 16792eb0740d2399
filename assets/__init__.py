"""Thin Dagster asset definitions over the `metrics` domain package."""

import warnings

import dagster as dg

# Single-run backfill policies and pools are the documented way to run ranges; their
# beta/preview notices would otherwise print on every code-location load.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def column_schema(schema: dict) -> dg.TableSchema:
    """A table's columns and types for the UI's Columns tab, from metrics/model/tables.py."""
    return dg.TableSchema(
        columns=[dg.TableColumn(name, str(dtype)) for name, dtype in schema.items()]
    )
