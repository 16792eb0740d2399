"""The series as CSV (spec §7 Export): what the endpoint sends for `format=csv` or
`Accept: text/csv`, and what `metrics query --format csv` prints.

A header `bucket,<metric>…,partial`, then one line per series entry in order; `partial` is
`true` or empty. Integers are written as they are and rates as Python's shortest round-trip
float (`repr`), so the file holds exactly the numbers of the JSON body. Lines end in CRLF
(RFC 4180). Only the series: `totals`, `previous` and `breakdown` stay in the JSON body.
"""

from __future__ import annotations

import csv
import io
from typing import Any

MEDIA_TYPE = "text/csv"
FORMATS: tuple[str, ...] = ("json", "csv")


def series_csv(body: dict[str, Any]) -> str:
    """The CSV text of the body's series."""
    names = [k for k in body["totals"] if k != "post_count"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["bucket", *names, "partial"])
    for row in body["series"]:
        writer.writerow(
            [row["bucket"], *(repr(row[n]) for n in names), "true" if row.get("partial") else ""]
        )
    return out.getvalue()


def wants_csv(accept: str | None) -> bool:
    """Whether an Accept header prefers text/csv over JSON (by q, ties to the first listed)."""
    best, best_q = None, 0.0
    for item in (accept or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if (
            media in (MEDIA_TYPE, "application/json", "*/*", "application/*", "text/*")
            and q > best_q
        ):
            best, best_q = media, q
    return best in (MEDIA_TYPE, "text/*")
