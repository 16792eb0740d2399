"""How `metrics query --format table|csv` shows what spec §7 adds to a body: the change against
the previous window (an arrow and a sign), the breakdown by group, and the CSV of the series.

Kept apart from `metrics.cli.query` (the command's wiring and the series table) so each piece
stays small; the CSV itself is `metrics.serve.export`'s, the same bytes the endpoint sends.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

DASH = "–"


def number(name: str, value: Any, span: dict[str, Any] | None = None) -> str:
    """A value for people. A rate over a span without positive views has no base to speak of
    (its value divides by max(views, 1)), so it shows as "–" rather than, say, -4800 %."""
    if name == "engagement_rate":
        if span is not None and span.get("views", 1) <= 0:
            return DASH
        return f"{value:.2%}"
    return f"{value:,}"


def change_cell(name: str, change: dict[str, Any]) -> str:
    """`▲ +120 (+25.0%)`, `▼ −3 (−1.5%)`, `= 0 (+0.0%)`; a rate's change is in points (pp);
    `pct` is null on a zero base and shows as "–"."""
    diff, pct = change["abs"], change["pct"]
    arrow = "▲" if diff > 0 else "▼" if diff < 0 else "="
    if diff == 0:
        amount = "0"
    elif name == "engagement_rate":
        amount = f"{diff * 100:+.2f} pp"
    else:
        amount = f"{diff:+,}"
    share = DASH if pct is None else f"{pct:+.1%}"
    return f"{arrow} {amount} ({share})".replace("-", "−")


def render_breakdown(body: dict[str, Any], unreported: set[str], console: Console) -> None:
    """One row per group, in the body's order, with the requested metrics and post_count."""
    names = list(body["totals"])
    table = Table(title=f"breakdown of {body['scope']} {body['id']}")
    table.add_column("group")
    for name in names:
        table.add_column(name, justify="right")
    for row in body["breakdown"]:
        totals = row["totals"]
        cells = (DASH if n in unreported else number(n, totals[n], totals) for n in names)
        table.add_row(row["key"], *cells)
    console.print(table)
