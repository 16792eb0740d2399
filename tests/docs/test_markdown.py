"""The Markdown a reader sees speaks of the project, and every link in it lands.

Every `.md` file of the repository (outside tool and data folders) is parsed with markdown-it-py
(CommonMark, the parser `rich` uses), so a link wrapped over two lines or sitting in a table is
read as a link, and a code span is not. Anchors are GitHub's: the heading's text lower-cased,
punctuation dropped, spaces as hyphens, `-1`, `-2`… on repeats.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[2]
# Generated or ignored folders (.gitignore: `data/*` but its README, `bench/out/`).
_GENERATED = Path("data")
_PRUNED = {Path("bench/out")}
# A work item's number: the docs name the feature instead ("the Delta Lake warehouse").
_WORK_ITEM = re.compile(r"\b(issue|ticket)s?\s*#?\s*\d", re.IGNORECASE)
_PARSER = MarkdownIt("commonmark").enable("table")


def _markdown_files() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        rel = Path(folder).relative_to(ROOT)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in ("__pycache__", "node_modules")
            and not d.endswith(".egg-info")
            and rel != _GENERATED
            and rel / d not in _PRUNED
        )
        found += [Path(folder) / f for f in sorted(files) if f.endswith(".md")]
    return found


DOCS = _markdown_files()


def _tokens(path: Path) -> Iterator[Token]:
    """Every token of the file, inline children included."""
    for token in _PARSER.parse(path.read_text()):
        yield token
        yield from token.children or ()


def _slug(text: str) -> str:
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """The anchors GitHub gives the file's headings."""
    tokens = _PARSER.parse(path.read_text())
    seen: dict[str, int] = {}
    out = set()
    for opening, inline in itertools.pairwise(tokens):
        if opening.type != "heading_open":
            continue
        shown = [c for c in inline.children or () if c.type in ("text", "code_inline")]
        text = "".join(c.content for c in shown)
        slug = _slug(text)
        out.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return frozenset(out)


def links(path: Path) -> list[str]:
    """Every link and image target of the file, as written."""
    out = []
    for token in _tokens(path):
        if token.type == "link_open":
            out.append(str(token.attrs["href"]))
        elif token.type == "image":
            out.append(str(token.attrs["src"]))
    return out


def test_the_docs_are_found() -> None:
    names = {str(p.relative_to(ROOT)) for p in DOCS}
    assert {"README.md", "BENCHMARKS.md", "docs/specification.md", "data/README.md"} <= names


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_name_features_not_work_items(path: Path) -> None:
    hits = [
        f"line {n}: {line.strip()}"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if _WORK_ITEM.search(line)
    ]
    assert not hits, "name the feature, not the issue that asked for it:\n" + "\n".join(hits)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_lands_inside_the_repository(path: Path) -> None:
    broken = []
    for href in links(path):
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            broken.append(f"{href}: outside the repository")
            continue
        target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
        if not target.is_relative_to(ROOT) or not target.exists():
            broken.append(f"{href}: no such file in the repository")
        elif parts.fragment and (
            target.suffix != ".md" or unquote(parts.fragment) not in anchors(target)
        ):
            broken.append(f"{href}: no heading with that anchor in {target.relative_to(ROOT)}")
    assert not broken, f"{path.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_anchors_follow_github(tmp_path: Path) -> None:
    """The slug rule itself, on headings of the shapes the docs use (worked out by hand)."""
    page = tmp_path / "page.md"
    page.write_text(
        "# Quarantine — everything that could not be used\n"
        "## Top performers (`bench/query_latency.py`)\n"
        "## Input\n### Input\n## Input\n"
        "## 7. Ranking, comparison, breakdown and export (§7)\n"
    )
    assert anchors(page) == {
        "quarantine--everything-that-could-not-be-used",
        "top-performers-benchquery_latencypy",
        "input",
        "input-1",
        "input-2",
        "7-ranking-comparison-breakdown-and-export-7",
    }
