"""The entity tree (organization > project > layer > account) from catalog snapshots.

Attribution always uses the newest snapshot (spec §1), while ingest accepts an account
that any snapshot ever named: an export of an account that was later removed is still real
data, and rejecting it would make old partitions change when a new catalog lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import orjson
import polars as pl

from metrics.ingest import layout
from metrics.model.tables import CATALOG_ACCOUNTS, CATALOG_ENTITIES
from metrics.objects import RawRoot

ENTITIES = CATALOG_ENTITIES


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


def catalog_files(
    raw: RawRoot, today: date | None = None, first: date | None = None
) -> list[tuple[date, RawRoot]]:
    """Every `catalog/<YYYY-MM-DD>/catalog.json`, oldest first, where metrics/ingest/layout.py puts
    snapshots: a folder that is not a date or is dated after tomorrow, a symbolic link or any
    other file is stray (quarantined by its partition's run), never a snapshot that could win."""
    entries = layout.walk(raw, today, top=layout.CATALOG_DIR, first=first)
    return [(e.landing_date, raw / e.rel) for e in entries if e.kind == "catalog"]


_LISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "organizations": ("organization", ("id", "name")),
    "projects": ("project", ("id", "org_id", "name")),
    "project_layers": ("project_layer", ("id", "project_id", "kind", "name")),
    "social_accounts": (
        "social_account",
        ("id", "project_layer_id", "platform", "native_id", "handle"),
    ),
}


def parse_snapshot(text: bytes, where: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Turn one catalog document into (entities, accounts) frames, or raise CatalogError.

    A snapshot is all or nothing: one bad entity rejects it whole, because a tree with a hole
    (a repeated id, a dangling parent) would misattribute data silently, or fail every later run.
    """
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CatalogError(f"{where}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise CatalogError(f"{where}: expected a JSON object with organizations/projects/…")

    list_of: dict[str, str] = {}  # id -> the entity list that holds it

    def rows(key: str) -> dict[str, dict[str, str]]:
        kind, fields = _LISTS[key]
        items = doc.get(key)
        if not isinstance(items, list):
            raise CatalogError(f"{where}: `{key}` must be a list")
        out: dict[str, dict[str, str]] = {}
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise CatalogError(f"{where}: {key}[{i}] is not an object")
            for f in fields:
                if not isinstance(item.get(f), str):
                    raise CatalogError(f"{where}: {key}[{i}] lacks the string field `{f}`")
            ident = item["id"]
            if ident in list_of:
                if list_of[ident] == key:
                    raise CatalogError(f"{where}: repeated {kind} id {ident}")
                raise CatalogError(f"{where}: id {ident} is in both `{list_of[ident]}` and `{key}`")
            list_of[ident] = key
            out[ident] = item
        return out

    orgs = rows("organizations")
    projects = rows("projects")
    layers = rows("project_layers")
    accounts = list(rows("social_accounts").values())
    for p in projects.values():
        if p["org_id"] not in orgs:
            raise CatalogError(f"{where}: project {p['id']} names unknown org {p['org_id']}")
    for lyr in layers.values():
        if lyr["project_id"] not in projects:
            raise CatalogError(
                f"{where}: layer {lyr['id']} names unknown project {lyr['project_id']}"
            )
    for a in accounts:
        if a["project_layer_id"] not in layers:
            raise CatalogError(
                f"{where}: account {a['id']} names unknown layer {a['project_layer_id']}"
            )

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


def load_catalog(raw: RawRoot, today: date | None = None, first: date | None = None) -> Catalog:
    """Read every snapshot; the newest valid one wins, and each rejected one is reported with its
    reason (`rejected`), so the run can say which snapshot it kept instead."""
    newest: tuple[date, str, pl.DataFrame, pl.DataFrame] | None = None
    known: dict[str, str] = {}
    rejected: list[tuple[str, str]] = []
    for day, file in catalog_files(raw, today, first):
        where = file.relative_to(raw).as_posix()  # type: ignore[arg-type]
        try:
            try:
                text = file.read_bytes()
            except OSError as exc:
                raise CatalogError(f"{where}: cannot read ({exc.strerror or exc})") from exc
            entities, accounts = parse_snapshot(text, where)
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
