"""The entity tree (organization > project > layer > account) from catalog snapshots.

Attribution always uses the newest snapshot (CONTRACT §1), while ingest accepts an account
that any snapshot ever named: an export of an account that was later removed is still real
data, and rejecting it would make old partitions change when a new catalog lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson
import polars as pl

from metrics.schema import CATALOG_ACCOUNTS

ENTITIES: dict[str, pl.DataType] = {
    "id": pl.String(),
    "kind": pl.String(),
    "name": pl.String(),
    "org_id": pl.String(),
    "project_id": pl.String(),
    "project_layer_id": pl.String(),
}


class CatalogError(ValueError):
    """A catalog snapshot that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Catalog:
    """The newest usable snapshot plus the union of accounts ever seen."""

    snapshot_date: date | None
    snapshot_file: str | None
    entities: pl.DataFrame
    accounts: pl.DataFrame
    known_account_platforms: dict[str, str]
    rejected: tuple[tuple[str, str], ...]

    @property
    def empty(self) -> bool:
        return self.snapshot_date is None


def catalog_files(raw: Path) -> list[tuple[date, Path]]:
    """Every `catalog/<YYYY-MM-DD>/catalog.json`, oldest first; odd folder names are skipped."""
    out: list[tuple[date, Path]] = []
    root = raw / "catalog"
    if not root.is_dir():
        return out
    for folder in sorted(root.iterdir()):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        file = folder / "catalog.json"
        if file.is_file():
            out.append((day, file))
    return out


def parse_snapshot(text: bytes, where: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Turn one catalog document into (entities, accounts) frames, or raise CatalogError."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CatalogError(f"{where}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise CatalogError(f"{where}: expected a JSON object with organizations/projects/…")

    def rows(key: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
        items = doc.get(key)
        if not isinstance(items, list):
            raise CatalogError(f"{where}: `{key}` must be a list")
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or any(not isinstance(item.get(f), str) for f in fields):
                raise CatalogError(f"{where}: {key}[{i}] needs string fields {', '.join(fields)}")
            out.append(item)
        return out

    orgs = {o["id"]: o for o in rows("organizations", ("id", "name"))}
    projects = {p["id"]: p for p in rows("projects", ("id", "org_id", "name"))}
    layers = {
        lyr["id"]: lyr for lyr in rows("project_layers", ("id", "project_id", "kind", "name"))
    }
    accounts = rows(
        "social_accounts", ("id", "project_layer_id", "platform", "native_id", "handle")
    )
    for p in projects.values():
        if p["org_id"] not in orgs:
            raise CatalogError(f"{where}: project {p['id']} names unknown org {p['org_id']}")
    for lyr in layers.values():
        if lyr["project_id"] not in projects:
            raise CatalogError(f"{where}: layer {lyr['id']} names unknown project")
    for a in accounts:
        if a["project_layer_id"] not in layers:
            raise CatalogError(f"{where}: account {a['id']} names unknown layer")

    entity_rows = (
        [(o["id"], "organization", o["name"], o["id"], None, None) for o in orgs.values()]
        + [(p["id"], "project", p["name"], p["org_id"], p["id"], None) for p in projects.values()]
        + [
            (
                lyr["id"],
                "project_layer",
                lyr["name"],
                projects[lyr["project_id"]]["org_id"],
                lyr["project_id"],
                lyr["id"],
            )
            for lyr in layers.values()
        ]
    )
    account_rows = []
    for a in accounts:
        lyr = layers[a["project_layer_id"]]
        project = projects[lyr["project_id"]]
        account_rows.append(
            (
                a["id"],
                a["platform"],
                a["native_id"],
                a["handle"],
                lyr["id"],
                lyr["kind"],
                project["id"],
                project["org_id"],
            )
        )
    entities = pl.DataFrame(entity_rows, schema=ENTITIES, orient="row").sort("id")
    account_frame = pl.DataFrame(account_rows, schema=CATALOG_ACCOUNTS, orient="row").sort(
        "social_account_id"
    )
    return entities, account_frame


def load_catalog(raw: Path) -> Catalog:
    """Read every snapshot; the newest one that parses wins, broken ones are reported."""
    newest: tuple[date, str, pl.DataFrame, pl.DataFrame] | None = None
    known: dict[str, str] = {}
    rejected: list[tuple[str, str]] = []
    for day, file in catalog_files(raw):
        where = file.relative_to(raw).as_posix()
        try:
            entities, accounts = parse_snapshot(file.read_bytes(), where)
        except CatalogError as exc:
            rejected.append((where, str(exc)))
            continue
        known.update(zip(accounts["social_account_id"], accounts["platform"], strict=True))
        newest = (day, where, entities, accounts)
    if newest is None:
        return Catalog(
            None,
            None,
            pl.DataFrame(schema=ENTITIES),
            pl.DataFrame(schema=CATALOG_ACCOUNTS),
            known,
            tuple(rejected),
        )
    day, where, entities, accounts = newest
    return Catalog(day, where, entities, accounts, known, tuple(rejected))
