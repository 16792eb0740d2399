"""The table registry: every warehouse table declared once, with its columns, types, units,
meanings and partition key.

Everything else derives from `TABLES`: the polars schemas below (`POST_OBSERVATIONS`, `ROLLUP`,
...), the lists of tables the stages write and read (`NORMALIZED`, `OBSERVATIONS`, `DATE_KEYS`),
the DuckDB views' sources and the Dagster column schemas (assets/), and the column sections of
docs/data-dictionary.md (`python -m metrics.model.dictionary` regenerates them;
tests/model/test_tables.py fails when the committed doc differs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import polars as pl

from metrics.model.measures import POST_METRICS
from metrics.model.scopes import Granularity

UTC_TS = pl.Datetime("us", "UTC")
STRING = pl.String()
INT = pl.Int64()
DATE = pl.Date()

# Which step writes a table: the catalog step, normalize (per landing date, and `posts` from
# its sightings), the transform step (hourly increments and rollups), or the run-state protocol
# (the control tables: what is owed, and the published manifests).
Stage = Literal["catalog", "normalize", "transform", "control"]
# The folders under the warehouse root: analysts' tables, and the run state's control tables.
TABLES_FOLDER = "tables"
CONTROL_FOLDER = "control"


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    meaning: str
    unit: str | None = None
    nullable: bool = False

    @property
    def description(self) -> str:
        """The meaning with its unit, as the Dagster UI shows it."""
        return f"{self.meaning} [{self.unit}]" if self.unit else self.meaning


@dataclass(frozen=True)
class Table:
    name: str
    summary: str  # a few words, the data dictionary's heading
    meaning: str  # one line: what a row is
    columns: tuple[Column, ...]
    stage: Stage
    partition: Column | None = None  # the hive key (`<key>=<value>/` folders), if partitioned
    observations: bool = False  # platform snapshots; `as_of` is their latest `collected_at`
    row_key: tuple[str, ...] = ()  # a control table's key: the columns its merges match on

    @property
    def partition_key(self) -> str | None:
        return self.partition.name if self.partition else None

    @property
    def folder(self) -> str:
        """Where the table lives under the warehouse root: analysts' tables in `tables/`, the
        run-state protocol's own in `control/`, so a listing of `tables/` is the data alone."""
        return CONTROL_FOLDER if self.stage == "control" else TABLES_FOLDER

    @property
    def schema(self) -> dict[str, pl.DataType]:
        """The columns stored in each Parquet file (the hive key is in the path, not the file)."""
        return {c.name: c.dtype for c in self.columns}

    @property
    def read_schema(self) -> dict[str, pl.DataType]:
        """The columns of a scan with hive partitioning: the file columns, then the key."""
        key = {self.partition.name: self.partition.dtype} if self.partition else {}
        return self.schema | key

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.schema)


def _c(name: str, dtype: pl.DataType, meaning: str, unit: str | None = None) -> Column:
    return Column(name, dtype, meaning, unit)


def _null(name: str, dtype: pl.DataType, meaning: str, unit: str | None = None) -> Column:
    return Column(name, dtype, meaning, unit, nullable=True)


def _metrics(
    meaning: str, *, nullable: bool = False, override: Mapping[str, str] | None = None
) -> tuple[Column, ...]:
    """One BIGINT column per post metric (`watch_time_ms` in ms, the rest counts)."""
    override = override or {}
    return tuple(
        Column(
            m,
            INT,
            override.get(m, meaning),
            "ms" if m == "watch_time_ms" else "count",
            nullable,
        )
        for m in POST_METRICS
    )


def _key(name: str, meaning: str) -> Column:
    return _c(name, DATE, f"hive key: {meaning}")


LANDING_DATE = _key("landing_date", "the UTC day the file arrived (its date folder)")
POST_ID = _c("platform_post_id", STRING, "`pst_<platform>_<native id>`")
ACCOUNT_ID = _c("social_account_id", STRING, "the account whose export returned the row")
COLLECTED_AT = _c(
    "collected_at", UTC_TS, "when the collector received the response, truncated to the second"
)
LANDING_FILE = _c("landing_file", STRING, "the file the record came from, relative to `<raw>`")
LINE = _c("line", INT, "1-based line of the record in `landing_file`")
PROVENANCE = (COLLECTED_AT, LANDING_FILE, LINE)


# What a platform says about a post's media, declared once for `post_sightings` and `posts`.
MEDIA_COLUMNS = (
    _null(
        "media_kind",
        STRING,
        "newest known kind: TikTok `media_type` (default `VIDEO`), Instagram "
        "`media_product_type` or `media_type`, `video` (YouTube), `tweet` (X)",
    ),
    _null(
        "media_type",
        STRING,
        "newest known `media_type` as the platform says it: Instagram `IMAGE`, `VIDEO`, "
        "`CAROUSEL_ALBUM`; TikTok `VIDEO`, `PHOTO`; null where the platform does not say "
        "(YouTube, X, an Instagram insights fetch, a TikTok export without the field)",
    ),
    _null(
        "media_product_type",
        STRING,
        "newest known Instagram `media_product_type`: `FEED`, `REELS`, `STORY`; null where the "
        "platform does not say (every other platform)",
    ),
)
MEDIA: tuple[str, ...] = tuple(c.name for c in MEDIA_COLUMNS)


def _platform(values: str) -> Column:
    return _c("platform", STRING, values)


CATALOG_ENTITIES_TABLE = Table(
    "catalog_entities",
    "organizations, projects and layers of the newest catalog",
    "One row per organization, project and project layer of the newest accepted catalog snapshot.",
    (
        _c("id", STRING, "the entity's id (`org_…`, `prj_…`, `lyr_…`)"),
        _c("kind", STRING, "`organization`, `project` or `project_layer`"),
        _c("name", STRING, "display name"),
        _c("org_id", STRING, "own or ancestor organization id"),
        _null("project_id", STRING, "own or ancestor project id; null for an organization"),
        _null("project_layer_id", STRING, "own layer id; null above the layer level"),
    ),
    "catalog",
)

CATALOG_ACCOUNTS_TABLE = Table(
    "catalog_accounts",
    "the newest catalog, one row per account",
    "One row per social account of the newest accepted catalog snapshot, with its ancestors.",
    (
        _c("social_account_id", STRING, "`acc_…`"),
        _platform("`tiktok`, `instagram`, `youtube`, `x`"),
        _c("native_id", STRING, "the platform's account id, always text"),
        _c("handle", STRING, "the account's handle"),
        _c("project_layer_id", STRING, "the layer the account belongs to"),
        _c("layer_kind", STRING, "`social_content` or `managed_ugc`"),
        _c("project_id", STRING, "the layer's project"),
        _c("org_id", STRING, "the project's organization"),
    ),
    "catalog",
)

POST_OBSERVATIONS_TABLE = Table(
    "post_observations",
    "lifetime snapshots (TikTok, Instagram, X)",
    "One row per post per pull that produced a usable record.",
    (
        POST_ID,
        _platform("`tiktok`, `instagram`, `x`"),
        ACCOUNT_ID,
        *PROVENANCE,
        *_metrics(
            "lifetime count at `collected_at`; null = unknown",
            nullable=True,
            override={"watch_time_ms": "lifetime watch time at `collected_at`; null = unknown"},
        ),
    ),
    "normalize",
    LANDING_DATE,
    observations=True,
)

PERIOD_OBSERVATIONS_TABLE = Table(
    "period_observations",
    "YouTube per-day rows",
    "One row per (video, Pacific day) per `reports.query` pull. Revisions are kept; the latest "
    "`collected_at` wins downstream (ties: later file, line).",
    (
        POST_ID,
        _platform("`youtube`"),
        ACCOUNT_ID,
        _c("day", DATE, "the America/Los_Angeles calendar day the row covers"),
        _c(
            "period_start",
            UTC_TS,
            "that day's local midnight in UTC (days are 23 or 25 hours long at DST changes)",
        ),
        _c("period_end", UTC_TS, "the next local midnight in UTC"),
        *PROVENANCE,
        *_metrics(
            "the day's value (may be negative: platform corrections)",
            nullable=True,
            override={
                "watch_time_ms": "the day's `estimatedMinutesWatched` × 60 000",
                **dict.fromkeys(
                    ["reach", "impressions", "saves"],
                    "always null (YouTube does not report it)",
                ),
            },
        ),
    ),
    "normalize",
    LANDING_DATE,
    observations=True,
)

FOLLOWER_OBSERVATIONS_TABLE = Table(
    "follower_observations",
    "follower gauges",
    "One row per account per pull of its follower count.",
    (
        ACCOUNT_ID,
        _platform("`tiktok`, `instagram`, `youtube`, `x`"),
        *PROVENANCE,
        _c(
            "followers",
            INT,
            "TikTok `followers_count`, Instagram `followers_count`, YouTube `subscriberCount` "
            "(rounded by YouTube to 3 significant figures), X `followers_count`",
            "count",
        ),
    ),
    "normalize",
    LANDING_DATE,
    observations=True,
)

POST_SIGHTINGS_TABLE = Table(
    "post_sightings",
    "what each landing date learned about a post",
    "One row per post per landing date: its newest sighting and newest known publication time.",
    (
        POST_ID,
        _platform("`tiktok`, `instagram`, `youtube`, `x`"),
        _c("native_id", STRING, "the platform's post id, always text"),
        _c("social_account_id", STRING, "the account of the newest sighting"),
        _null(
            "published_at",
            UTC_TS,
            "newest known publication time: TikTok `create_time`, Instagram `timestamp`, YouTube "
            "`snippet.publishedAt` (from `videos.list`), X `created_at`",
        ),
        *MEDIA_COLUMNS,
        _c("first_seen_at", UTC_TS, "earliest `collected_at` of the post in this landing date"),
        _c("collected_at", UTC_TS, "`collected_at` of the newest sighting in this landing date"),
        _c("landing_file", STRING, "file of the newest sighting"),
        _c("line", INT, "line of the newest sighting"),
    ),
    "normalize",
    LANDING_DATE,
)

QUARANTINE_TABLE = Table(
    "quarantine",
    "everything that could not be used",
    "One row per line or record that could not be used, with its file, line, reason and raw text.",
    (
        _c("landing_file", STRING, "the file, relative to `<raw>`"),
        _c(
            "line",
            INT,
            "1-based line; 0 for a whole file: stray (not where §2 puts files, a link, another "
            "type) or not readable whole",
        ),
        _null(
            "record",
            INT,
            "null when the whole line is rejected; otherwise the index of the record inside the "
            "response (`videos[i]`, `data[i]`, `rows[i]`, `errors[i]`)",
        ),
        _c("reason", STRING, "a code, below"),
        _c("detail", STRING, "what was wrong, for a person"),
        _c("raw", STRING, "the line's text, or the record's JSON"),
    ),
    "normalize",
    LANDING_DATE,
)

POSTS_TABLE = Table(
    "posts",
    "one row per post",
    "One row per post, rebuilt every run from every landing date's sightings.",
    (
        POST_ID,
        _platform("`tiktok`, `instagram`, `youtube`, `x`"),
        _c("native_id", STRING, "the platform's post id, always text"),
        _c("social_account_id", STRING, "from the newest sighting"),
        _null("published_at", UTC_TS, "newest known publication time (null if never reported)"),
        *MEDIA_COLUMNS,
        _c("first_seen_at", UTC_TS, "earliest `collected_at`"),
        _c("last_seen_at", UTC_TS, "latest `collected_at`"),
        _null("published_known_since", DATE, "first landing date that reported `published_at`"),
    ),
    "normalize",
)

DAY_KEY = _key("day", "the UTC day of the row's hour")

POST_HOURLY_TABLE = Table(
    "post_hourly",
    "hourly increments per post",
    "Hourly increments per post (spec §3.1–3.3): one row per (post, UTC hour) with a "
    "non-zero metric.",
    (
        POST_ID,
        _c("hour", UTC_TS, "start of the UTC hour"),
        *_metrics("the part of each increment apportioned to this hour (spec §3); may be negative"),
    ),
    "transform",
    DAY_KEY,
)

_ROLLUP_COLUMNS = (
    _c(
        "scope",
        STRING,
        "`platform_post`, `social_account`, `project_layer`, `project`, `organization`",
    ),
    _c("id", STRING, "the entity's id"),
    _c("bucket_start", UTC_TS, "bucket start (UTC)"),
    *(
        _null(
            name,
            STRING,
            "the entity's own id or its ancestor's (null below its level), from the newest catalog",
        )
        for name in (
            "org_id",
            "project_id",
            "project_layer_id",
            "social_account_id",
            "platform_post_id",
        )
    ),
    *_metrics("sum of `post_hourly` over the bucket"),
    _c(
        "followers",
        INT,
        "F(bucket end): the sum over the scope's accounts of each account's last follower "
        "snapshot strictly before the bucket end (before its first snapshot: its first value; "
        "0 without any). 0 for `platform_post`",
        "count",
    ),
    _c(
        "follower_delta",
        INT,
        "F(bucket end) − F(bucket start). 0 for `platform_post`",
        "count",
    ),
    _c(
        "posts_published",
        INT,
        "posts whose `published_at` falls in the bucket (posts without a known `published_at` "
        "are never counted)",
        "count",
    ),
)


def _rollup(name: str, summary: str, meaning: str, key: Column) -> Table:
    return Table(name, summary, meaning, _ROLLUP_COLUMNS, "transform", key)


ROLLUP_HOUR_TABLE = _rollup(
    "rollup_hour",
    "hour buckets",
    "Hour buckets per scope and id (spec §4).",
    _key("day", "the UTC day of `bucket_start`"),
)
ROLLUP_DAY_TABLE = _rollup(
    "rollup_day",
    "UTC-day buckets",
    "UTC-day buckets per scope and id.",
    _key("day", "the UTC day of `bucket_start`"),
)
ROLLUP_WEEK_TABLE = _rollup(
    "rollup_week",
    "ISO-week buckets",
    "ISO-week buckets (from Monday 00:00 UTC) per scope and id.",
    _key("week", "the Monday of `bucket_start`'s ISO week"),
)

# In the order of the flow: catalog, normalized, posts, hourly, rollups.
TABLES: tuple[Table, ...] = (
    CATALOG_ENTITIES_TABLE,
    CATALOG_ACCOUNTS_TABLE,
    POST_OBSERVATIONS_TABLE,
    PERIOD_OBSERVATIONS_TABLE,
    FOLLOWER_OBSERVATIONS_TABLE,
    POST_SIGHTINGS_TABLE,
    QUARANTINE_TABLE,
    POSTS_TABLE,
    POST_HOURLY_TABLE,
    ROLLUP_HOUR_TABLE,
    ROLLUP_DAY_TABLE,
    ROLLUP_WEEK_TABLE,
)

# The run state, kept in the warehouse itself so that every run host shares it
# (metrics/warehouse/ledger.py and storage.py; docs/incremental.md). Small, unpartitioned,
# rewritten by optimistic Delta commits; not views, not Dagster assets.
LEDGER_TABLE = Table(
    "ledger",
    "what each step still owes",
    "One row per debt of the write path (a landing date being normalized, normalized but not "
    "folded into `post_hourly`, or not rolled up; a `post_hourly` day not rolled up), per step "
    "claim, and the catalog the rollups were built with; no debt rows means settled.",
    (
        _c(
            "kind",
            STRING,
            "`normalize`, `hourly`, `rollup_landing`, `rollup_day`, `step`, `catalog` or `epoch`",
        ),
        _c("key", STRING, "the landing date or day (`YYYY-MM-DD`), the step's name, or empty"),
        _c("owner", STRING, "the Dagster run id that made the entry"),
        _c(
            "epoch",
            INT,
            "the epoch of the claim behind the entry (row `epoch`: the newest): every commit "
            "the claim fences carries it as a Delta application transaction",
        ),
        _c(
            "value",
            STRING,
            "the hash of the catalog the rollups were built with (`catalog`); JSON of table "
            "-> version, the state the last rollup refresh read and made (`cut`)",
        ),
    ),
    "control",
    row_key=("kind", "key"),
)

MANIFESTS_TABLE = Table(
    "manifests",
    "the published warehouse versions",
    "One row per published warehouse version: the table versions one run finished with. The "
    "newest row is what `manifest.json` holds; older rows are time travel, kept for the "
    "retention.",
    (
        _c("version", INT, "the warehouse version, one above the previous publication"),
        _c("tables", STRING, "JSON: table name -> the Delta version readers load"),
        _null("as_of", STRING, "the latest `collected_at` of those versions (`…Z`)"),
        _c("published_at", UTC_TS, "when it was published"),
        _c("run_id", STRING, "the run (or maintenance) that published it"),
    ),
    "control",
    row_key=("version",),
)

CONTROL_TABLES: tuple[Table, ...] = (LEDGER_TABLE, MANIFESTS_TABLE)
BY_NAME: dict[str, Table] = {t.name: t for t in (*TABLES, *CONTROL_TABLES)}


def table(name: str) -> Table:
    """The registry entry of `name`; a KeyError names the unknown table."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a warehouse table (metrics/model/tables.py)") from None


# What normalize writes, one partition per landing date, in writing order.
NORMALIZED: tuple[Table, ...] = tuple(
    t for t in TABLES if t.stage == "normalize" and t.partition_key == "landing_date"
)
# Platform snapshots: `as_of` is their latest `collected_at`.
OBSERVATIONS: tuple[Table, ...] = tuple(t for t in TABLES if t.observations)
# granularity -> rollup table
ROLLUPS: dict[Granularity, Table] = {
    "hour": ROLLUP_HOUR_TABLE,
    "day": ROLLUP_DAY_TABLE,
    "week": ROLLUP_WEEK_TABLE,
}
# Hive keys that are dates, so DuckDB and polars read them as DATE, not strings.
DATE_KEYS: tuple[str, ...] = tuple(
    dict.fromkeys(t.partition.name for t in TABLES if t.partition and t.partition.dtype == DATE)
)

# The polars schemas by their historical names (the columns inside each Parquet file).
CATALOG_ENTITIES = CATALOG_ENTITIES_TABLE.schema
CATALOG_ACCOUNTS = CATALOG_ACCOUNTS_TABLE.schema
POST_OBSERVATIONS = POST_OBSERVATIONS_TABLE.schema
PERIOD_OBSERVATIONS = PERIOD_OBSERVATIONS_TABLE.schema
FOLLOWER_OBSERVATIONS = FOLLOWER_OBSERVATIONS_TABLE.schema
POST_SIGHTINGS = POST_SIGHTINGS_TABLE.schema
QUARANTINE = QUARANTINE_TABLE.schema
POSTS = POSTS_TABLE.schema
POST_HOURLY = POST_HOURLY_TABLE.schema
ROLLUP = ROLLUP_DAY_TABLE.schema


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with the exact column types, so empty partitions still carry a schema."""
    return pl.DataFrame(schema=schema)


_SQL_TYPES = {"String": "VARCHAR", "Int64": "BIGINT", "Date": "DATE"}


def sql_type(dtype: pl.DataType) -> str:
    """The Parquet/DuckDB type the data dictionary names (and the empty views declare)."""
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if dtype.time_zone == "UTC" else "TIMESTAMP"
    return _SQL_TYPES[type(dtype).__name__]
