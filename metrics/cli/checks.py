"""What the command line checks before (or after) the read function: dates in our own words and
"did you mean" hints for near misses of scopes, granularities, metrics, time zones and key scopes.

The read function stays the judge of a request (its 422 bodies are the spec's, word for word);
these hints only add a line on stderr that names the closest valid value.
"""

from __future__ import annotations

import difflib
import zoneinfo
from collections.abc import Iterable, Sequence
from functools import cache

from metrics.model.measures import METRICS, PAID_METRICS
from metrics.model.scopes import GRANULARITIES, SCOPES

# Abbreviations people type for a zone; an abbreviation is not a zone (PST has no DST), so each
# points at the IANA zone most people mean by it.
ZONE_ABBREVIATIONS: dict[str, str] = {
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "GMT": "UTC",
    "BST": "Europe/London",
    "CET": "Europe/Paris",
    "CEST": "Europe/Paris",
    "IST": "Asia/Kolkata",
    "JST": "Asia/Tokyo",
    "AEST": "Australia/Sydney",
    "AEDT": "Australia/Sydney",
}


def close_matches(word: str, choices: Iterable[str]) -> list[str]:
    """The choices closest to `word`, best first (case-insensitive)."""
    by_lower = {c.lower(): c for c in choices}
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=3, cutoff=0.6)
    return [by_lower[m] for m in found]


def did_you_mean(flag: str, word: str, choices: Sequence[str]) -> str | None:
    """`did you mean --flag X?` for a word that is not a choice but is close to one."""
    if word in choices:
        return None
    found = close_matches(word, choices)
    if not found:
        return f"{flag} {word} is not one of: {', '.join(choices)}"
    return f"did you mean {flag} {' or '.join(found)}? ({word} is not one of: {', '.join(choices)})"


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def zone_hint(name: str) -> str | None:
    """A hint for a name that is not an IANA zone; None when it is one."""
    if name in _zones():
        return None
    if (full := ZONE_ABBREVIATIONS.get(name.upper())) is not None:
        return f"{name} is an abbreviation, not a zone; did you mean --tz {full}?"
    found = close_matches(name, _zones())
    if not found:
        return "--tz takes an IANA zone name such as UTC, Europe/London or America/Los_Angeles"
    return f"did you mean --tz {' or '.join(found)}?"


def query_hints(
    scope: str | None, granularity: str, metrics: Sequence[str] | None, tz: str
) -> list[str]:
    """Hints for every near miss in a query's choices (empty when each is valid)."""
    hints = []
    if scope and (hint := did_you_mean("--scope", scope, SCOPES)):
        hints.append(hint)
    if hint := did_you_mean("--granularity", granularity, GRANULARITIES):
        hints.append(hint)
    for item in metrics or ():
        for name in filter(None, item.split(",")):
            if name in METRICS or name in PAID_METRICS:
                continue
            if found := close_matches(name, METRICS):
                hints.append(f"did you mean --metrics {' or '.join(found)}? (not {name})")
            else:
                hints.append(f"{name} is not a metric; known metrics: {', '.join(METRICS)}")
    if hint := zone_hint(tz):
        hints.append(hint)
    return hints
