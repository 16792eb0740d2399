"""The column sections of docs/data-dictionary.md, generated from the table registry.

Each `<!-- columns: <table> [<table> ...] -->` … `<!-- /columns -->` region of the doc holds
the generated meaning and column table of the named tables (several only when they share their
columns: the rollups); the prose around the regions is written by hand.
`python -m metrics.model.dictionary` rewrites the regions; tests/model/test_tables.py fails when the
committed doc is not what this module generates.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from metrics.model.reasons import REASONS
from metrics.model.tables import Table, sql_type, table

DICTIONARY = Path(__file__).resolve().parents[2] / "docs" / "data-dictionary.md"
_REGION = re.compile(
    r"(<!-- columns: (?P<names>[a-z_ ]+) -->\n)(?P<body>.*?)(<!-- /columns -->)", re.S
)


_REASONS = re.compile(r"(<!-- reasons -->\n)(?P<body>.*?)(<!-- /reasons -->)", re.S)
_CLASS_ORDER = ("file", "envelope", "body", "record", "value")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(tables: Iterable[Table]) -> str:
    """The column section of one or more tables with the same columns (the rollups)."""
    group = list(tables)
    first = group[0]
    if any(t.columns != first.columns for t in group):
        raise ValueError(f"{[t.name for t in group]} do not share their columns")
    lines = []
    if len(group) == 1:
        lines += [first.meaning, ""]
    else:
        lines += [f"- `{t.name}` (by `{t.partition_key}`): {t.meaning}" for t in group] + [""]
    lines += ["| column | type | unit | meaning |", "|---|---|---|---|"]
    keys = {t.partition.name: t.partition for t in group if t.partition}
    if len(keys) == 1:
        lines += [f"| `{k.name}` | DATE |  | {_cell(k.meaning)} |" for k in keys.values()]
    elif keys:
        lines.append(
            f"| {', '.join(f'`{k}`' for k in keys)} | DATE |  | hive key, as listed above |"
        )
    for c in first.columns:
        kind = sql_type(c.dtype) + (", nullable" if c.nullable else "")
        lines.append(f"| `{c.name}` | {kind} | {c.unit or ''} | {_cell(c.meaning)} |")
    return "\n".join(lines) + "\n"


def reasons_markdown() -> str:
    """The quarantine reasons of metrics/model/reasons.py, by class, with an example each."""
    lines = ["| class | reason | `line` / `record` | example |", "|---|---|---|---|"]
    for kind in _CLASS_ORDER:
        for r in (r for r in REASONS if r.kind == kind):
            level = "0 (whole file)" if r.level == "0" else r.level
            lines.append(f"| {kind} | `{r.code}` | {level} | {_cell(r.example)} |")
    return "\n".join(lines) + "\n"


def render_dictionary(text: str) -> str:
    """`text` (the data dictionary) with every `<!-- columns: … -->` region and the
    `<!-- reasons -->` region regenerated."""

    def fill(match: re.Match[str]) -> str:
        group = [table(n) for n in match["names"].split()]
        return f"{match[1]}{markdown(group)}{match[4]}"

    text = _REGION.sub(fill, text)
    return _REASONS.sub(lambda m: f"{m[1]}{reasons_markdown()}{m[3]}", text)


def documented(text: str) -> list[str]:
    """The tables the data dictionary has a generated column section for, in order."""
    return [n for m in _REGION.finditer(text) for n in m["names"].split()]


def main(argv: list[str]) -> int:
    """`python -m metrics.model.dictionary [--check]`: regenerate the data dictionary's column
    sections in place, or with --check exit 1 when the committed doc differs."""
    text = DICTIONARY.read_text()
    new = render_dictionary(text)
    if "--check" in argv:
        return int(new != text)
    DICTIONARY.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
