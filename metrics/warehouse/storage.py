"""The warehouse: one Delta Lake table per registry table, and a DuckDB views file.

Every table lives at `<warehouse>/tables/<table>/` (hive-partitioned Parquet plus `_delta_log/`),
on a local disk or under `s3://…` (metrics/warehouse/location.py); the run state's own control
tables at `<warehouse>/control/<table>/`. The one writer is `Batch`: a step stages one Parquet
file per partition it rewrites (so memory is bounded by a partition, not by the batch) and
commits them all as ONE Delta transaction that overwrites exactly the partitions it names. A
reader sees all of a step's partitions or none; a writer killed before its commit leaves the
previous version in place and only unreferenced files, which no reader lists and the
maintenance vacuum removes.

Each commit of a step that holds a claim (metrics/warehouse/ledger.py) carries one Delta
application transaction per partition it replaces, `<table>/<key>=<value>` at the claim's epoch.
That does three things Delta alone would not (each checked against delta-rs 1.6):

* two commits replacing the same partition always conflict, even a partition that did not exist
  yet (without it, two writers of a new partition would both succeed and double its rows);
* a writer whose claim was superseded (its partition already carries a newer epoch) is fenced:
  it stops with `Fenced` instead of overwriting newer rows with older ones;
* a commit that already landed is recognised on retry, so it is never made twice.

Commits that conflict only because delta-rs treats the replaced partitions as a read of the
whole table (a concurrent commit to *other* partitions) are simply retried on the new version;
retries are bounded, so no writer waits forever.

Readers go through the log, never a glob: files an overwrite removed stay on storage until they
are vacuumed, so a glob would count them twice. `scan(..., versions=)` reads the table versions
a manifest names (metrics/serve reads exactly those); without `versions` it reads the newest
commit, which is what the write path wants. DuckDB holds one writer per file and locks out
readers in other processes, so local `metrics.duckdb` only holds views over the explicit Parquet
files of the published versions, rebuilt aside and swapped in with `os.replace`; plain DuckDB
opens it without extensions.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction

from metrics.model import tables
from metrics.model.tables import Table
from metrics.warehouse import location
from metrics.warehouse.location import Location, Warehouse

TABLES_DIR = tables.TABLES_FOLDER
DUCKDB_FILE = "metrics.duckdb"
COMMIT_ATTEMPTS = 20
COMMIT_BACKOFF_SECONDS = (0.05, 2.0)  # first and longest wait between attempts, before jitter
OBSERVATION_TABLES = tuple(t.name for t in tables.OBSERVATIONS)

# Hive keys that are dates, so DuckDB and polars read them as DATE, not strings.
DATE_KEYS = tables.DATE_KEYS

Versions = Mapping[str, int]


def _entry(table: Table | str) -> Table:
    return table if isinstance(table, Table) else tables.table(table)


def table_uri(warehouse: Warehouse, table: Table | str) -> str:
    """Where an analyst points `pl.scan_delta`, `deltalake.DeltaTable` or `delta_scan`."""
    entry = _entry(table)
    return location.of(warehouse).join(entry.folder, entry.name)


def _arrow_type(dtype: pl.DataType) -> pa.DataType:
    if dtype == pl.String:
        return pa.string()
    if dtype == pl.Int64:
        return pa.int64()
    if dtype == pl.Date:
        return pa.date32()
    if isinstance(dtype, pl.Datetime):
        return pa.timestamp(dtype.time_unit, dtype.time_zone)
    raise TypeError(f"no Delta type for {dtype}")  # the registry holds only the four above


def arrow_schema(table: Table | str) -> pa.Schema:
    """The Delta schema of a table: the file columns, then the partition key."""
    entry = _entry(table)
    return pa.schema([(n, _arrow_type(d)) for n, d in entry.read_schema.items()])


def open_table(
    warehouse: Warehouse, table: Table | str, version: int | None = None
) -> DeltaTable | None:
    """The Delta table at `version` (default: the newest), or None before its first commit."""
    loc = location.of(warehouse)
    try:
        return DeltaTable(
            table_uri(loc, table), version=version, storage_options=loc.storage_options() or None
        )
    except TableNotFoundError:
        return None


def _stat(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _stats(df: pl.DataFrame) -> str:
    """Delta file statistics (row count, min/max, nulls) so any engine can skip files."""
    lows, highs = df.min().row(0, named=True), df.max().row(0, named=True)
    nulls = df.null_count().row(0, named=True)
    return json.dumps(
        {
            "numRecords": df.height,
            "minValues": {k: _stat(v) for k, v in lows.items() if v is not None},
            "maxValues": {k: _stat(v) for k, v in highs.items() if v is not None},
            "nullCount": nulls,
        }
    )


@dataclass(frozen=True)
class Staged:
    """A partition file written but not yet committed: what a worker process hands back to the
    process that commits (AddAction is plain data, so it pickles)."""

    table: str
    value: str | None
    action: AddAction
    rows: int


def stage(warehouse: Warehouse, table: Table | str, value: str | None, df: pl.DataFrame) -> Staged:
    """Write `df` as a new Parquet file of partition `value`, invisible until a `Batch` commits
    it. Statistics and a fixed compression make the bytes a pure function of the frame."""
    loc, entry = location.of(warehouse), _entry(table)
    frame = df.select(list(entry.schema))
    key = entry.partition_key
    folder = f"{key}={value}/" if key else ""
    relative = f"{folder}part-{uuid.uuid4().hex}.zstd.parquet"
    fs, base = loc.filesystem()
    path = f"{base}/{entry.folder}/{entry.name}/{relative}"
    if loc.is_local:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with fs.open_output_stream(path) as out:
        frame.write_parquet(
            out,  # type: ignore[arg-type]  # a pyarrow NativeFile is a binary IO
            compression="zstd",
            compression_level=3,
            statistics=True,
        )
    size = fs.get_file_info(path).size or 0
    partition = {key: value} if key else {}
    action = AddAction(relative, size, partition, int(time.time() * 1000), True, _stats(frame))
    return Staged(entry.name, value, action, frame.height)


class Fenced(RuntimeError):
    """A commit refused because a newer claim has written one of its partitions since: the
    writer's claim was taken over (its run was judged dead), and its rows may be older."""


def app_id(table: Table | str, value: str | None) -> str:
    """The Delta application id of one partition of a table (the table, when unpartitioned)."""
    entry = _entry(table)
    return f"{entry.name}/{entry.partition_key}={value}" if entry.partition_key else entry.name


def create_table(
    warehouse: Warehouse, table: Table | str, configuration: Mapping[str, str] | None = None
) -> DeltaTable:
    """The table, created empty if it does not exist yet. Creation is its own commit, so that
    the first rows, like every later ones, go through the fenced, conflict-checked overwrite.
    Hosts may race to create it: whoever loses (an existing table, or a lost put-if-absent of
    version 0) opens the winner's."""
    loc, entry = location.of(warehouse), _entry(table)
    found = open_table(loc, entry)
    if found is not None:
        return found
    try:
        return DeltaTable.create(
            table_uri(loc, entry),
            arrow_schema(entry),
            partition_by=[entry.partition_key] if entry.partition_key else None,
            mode="ignore",
            configuration=dict(configuration) if configuration else None,
            storage_options=loc.storage_options() or None,
        )
    except Exception:
        found = open_table(loc, entry)
        if found is None:
            raise
        return found


def _newest_commit(dt: DeltaTable, key: str, value: str) -> int | None:
    """The newest version whose commit metadata has `key` = `value`. It is nearly always the
    newest commit or the one before, and every commit read is a round trip on an object store,
    so the log is read back a little at a time."""
    for depth in (2, 10, 50):
        for commit in dt.history(limit=depth):
            if commit.get(key) == value:
                return int(commit["version"])
        if depth > dt.version():
            break
    return None


class Batch:
    """One Delta commit replacing some partitions of one table (or all of an unpartitioned one).

    `put(value, df)` stages the partition's Parquet file at once (`adopt` takes one staged by
    another process); `drop(value)` names a partition to empty; leaving the `with` block commits
    them all, or, on an exception, commits nothing (the previous version stays). Nothing staged
    is visible before the commit.

    `epoch` is the claim the writing step holds (metrics/warehouse/ledger.py `claim`), `run` the
    run that holds it; with an epoch the commit is fenced and idempotent (module docstring).
    Writers without a claim (tests, fixtures) pass none.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        table: Table | str,
        epoch: int | None = None,
        run: str | None = None,
    ) -> None:
        self.location = location.of(warehouse)
        self.table = _entry(table)
        self.uri = table_uri(self.location, self.table)
        self.key = self.table.partition_key
        self.epoch = epoch
        self.run = run
        self.actions: list[AddAction | RemoveAction] = []
        self.values: set[str] = set()
        self.bytes = 0
        self.rows = 0
        self.version: int | None = None

    def put(self, value: str | None, df: pl.DataFrame) -> int:
        """Stage `df` as the whole content of partition `value`; return the bytes written."""
        staged = stage(self.location, self.table, value, df)
        self.adopt(staged)
        return staged.action.size

    def adopt(self, staged: Staged) -> None:
        """Add a partition file staged elsewhere (a worker process) to this commit."""
        assert staged.table == self.table.name, (staged.table, self.table.name)
        self.actions.append(staged.action)
        if staged.value is not None:
            self.values.add(staged.value)
        self.bytes += staged.action.size
        self.rows += staged.rows

    def drop(self, value: str) -> None:
        """Empty partition `value` in this commit (a rebuild no longer produces it)."""
        self.values.add(value)

    def _apps(self) -> list[str]:
        if not self.key:
            return [app_id(self.table, None)]
        return [app_id(self.table, v) for v in sorted(self.values)]

    def _check_fence(self, current: DeltaTable) -> bool:
        """True when this commit already landed (a retry after an unclear failure); raise
        `Fenced` when a newer claim wrote one of the partitions."""
        if self.epoch is None:
            return False
        seen = {app: current.transaction_version(app) for app in self._apps()}
        newer = {app: v for app, v in seen.items() if v is not None and v > self.epoch}
        if newer:
            app, epoch = next(iter(sorted(newer.items())))
            raise Fenced(
                f"{self.uri}: partition {app} was written under claim {epoch}, newer than this "
                f"writer's {self.epoch}: another run took this work over (this run was judged "
                "dead, or a newer run claimed the same dates). Nothing was committed; the "
                "newer run's rows stand. Re-run this landing date if that run failed too."
            )
        return all(v == self.epoch for v in seen.values())

    def commit(self) -> int | None:
        """Publish the staged partitions as one version (its number); None when there was
        nothing to do. Conflicts are retried on the newer version, a bounded number of times."""
        if self.key and not self.values:
            return None
        schema = arrow_schema(self.table)
        partition_by = [self.key] if self.key else None
        filters = [(self.key, "in", sorted(self.values))] if self.key else None
        token = uuid.uuid4().hex
        metadata: dict[str, str] = {"metrics.commit": token}
        if self.epoch is not None:
            metadata["metrics.epoch"] = str(self.epoch)
        if self.run is not None:
            metadata["metrics.run"] = self.run
        apps = (
            [Transaction(a, self.epoch) for a in self._apps()] if self.epoch is not None else None
        )
        properties = CommitProperties(custom_metadata=metadata, app_transactions=apps)
        pause, longest = COMMIT_BACKOFF_SECONDS
        for _ in range(COMMIT_ATTEMPTS):
            current = create_table(self.location, self.table)
            if self._check_fence(current):
                self.version = current.version()
                return self.version
            try:
                current.create_write_transaction(
                    self.actions,
                    mode="overwrite",
                    schema=schema,
                    partition_by=partition_by,
                    partition_filters=filters,
                    commit_properties=properties,
                )
            except CommitFailedError:
                time.sleep(pause * (0.5 + random.random()))
                pause = min(longest, pause * 2)
                continue
            current.update_incremental()  # the snapshot, moved on to our commit (and any after)
            found = _newest_commit(current, "metrics.commit", token)
            self.version = current.version() if found is None else found
            return self.version
        raise CommitFailedError(
            f"{self.uri}: the commit conflicted with other writers {COMMIT_ATTEMPTS} times in a "
            "row; nothing was committed. Run again once the other runs have finished."
        )

    def __enter__(self) -> Batch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self.commit()


def write_partition(
    warehouse: Warehouse,
    table: Table | str,
    df: pl.DataFrame,
    key: str | None = None,
    value: str | None = None,
    epoch: int | None = None,
    run: str | None = None,
) -> int | None:
    """Replace one partition (or the whole unpartitioned table) with `df`, as one commit;
    return the version committed."""
    with Batch(warehouse, table, epoch, run) as batch:
        batch.put(value, df)
    return batch.version


def committed_by(warehouse: Warehouse, table: Table | str, run: str) -> int | None:
    """The newest version of `table` that `run` committed (from the commit's own metadata, so
    the Delta log itself says which run made which version), None if it made none lately."""
    dt = open_table(warehouse, table)
    return None if dt is None else _newest_commit(dt, "metrics.run", run)


def partition_values(
    warehouse: Warehouse, table: Table | str, key: str, versions: Versions | None = None
) -> list[str]:
    """The values of `key` that have a partition in the version read, sorted."""
    dt = _pinned(warehouse, table, versions)
    if dt is None:
        return []
    return sorted({str(p[key]) for p in dt.partitions() if p.get(key) is not None})


def _pinned(
    warehouse: Warehouse, table: Table | str, versions: Versions | None
) -> DeltaTable | None:
    name = _entry(table).name
    if versions is None:
        return open_table(warehouse, table)
    if name not in versions:
        return None
    return open_table(warehouse, table, versions[name])


def files(
    warehouse: Warehouse,
    table: Table | str,
    values: Iterable[str] | None = None,
    versions: Versions | None = None,
) -> list[str]:
    """The Parquet files (absolute paths or URIs) of a table version, or of some partitions."""
    entry = _entry(table)
    dt = _pinned(warehouse, entry, versions)
    if dt is None:
        return []
    if values is None or entry.partition_key is None:
        return sorted(dt.file_uris())
    wanted = sorted(set(values))
    if not wanted:
        return []
    return sorted(dt.file_uris(file_pruning_predicate=[(entry.partition_key, "in", wanted)]))


def _polars_options(loc: Location) -> dict[str, str] | None:
    if loc.is_local:
        return None
    options = loc.storage_options()
    options.pop("aws_conditional_put", None)
    return {k.lower(): v for k, v in options.items()}


def scan(
    warehouse: Warehouse,
    table: Table | str,
    values: Iterable[str] | None = None,
    versions: Versions | None = None,
) -> pl.LazyFrame:
    """The one way to read a table: a lazy scan of all of it, or of the partitions whose key has
    one of `values`, with the file columns then the key (typed as the registry says), at the
    version `versions` names (default: the newest).

    A table, or a partition, without a file reads as nothing: an absent table is an empty frame
    with the registry's schema, never an error.
    """
    entry = _entry(table)
    loc = location.of(warehouse)
    found = files(loc, entry, values, versions)
    if not found:
        return pl.LazyFrame(schema=entry.read_schema)
    options = _polars_options(loc)
    key = entry.partition
    if key is None:
        return pl.scan_parquet(found, storage_options=options)
    return pl.scan_parquet(
        found,
        hive_partitioning=True,
        hive_schema={key.name: key.dtype},
        storage_options=options,
    ).select(list(entry.read_schema))


def read(
    warehouse: Warehouse,
    table: Table | str,
    values: Iterable[str] | None = None,
    columns: Iterable[str] | None = None,
    versions: Versions | None = None,
) -> pl.DataFrame:
    """`scan` collected: the table or the given partitions, optionally only some columns."""
    frame = scan(warehouse, table, values, versions)
    return (frame.select(list(columns)) if columns is not None else frame).collect()


def current_versions(
    warehouse: Warehouse, among: Iterable[Table] = tables.TABLES
) -> dict[str, int]:
    """The newest committed version of every table (of `among`) that has one."""
    found = {}
    for entry in among:
        dt = open_table(warehouse, entry)
        if dt is not None:
            found[entry.name] = dt.version()
    return found


def _view_query(file_list: list[str], entry: Table) -> str:
    """The explicit Parquet files of a table version, or, before it has any, no rows with the
    registry's columns."""
    if file_list:
        quoted = ", ".join("'" + f.replace("'", "''") + "'" for f in file_list)
        hive = ", hive_partitioning = true" if entry.partition_key else ""
        return f"SELECT * FROM read_parquet([{quoted}]{hive}, union_by_name = true)"
    columns = ", ".join(
        f'CAST(NULL AS {tables.sql_type(dtype)}) AS "{name}"'
        for name, dtype in entry.read_schema.items()
    )
    return f"SELECT {columns} WHERE false"


def rebuild_views(warehouse: Warehouse, versions: Versions | None = None) -> str | None:
    """Rebuild local `metrics.duckdb` (one view per registry table over the files of `versions`,
    default the newest) aside, then swap it in atomically; None for an object-store warehouse,
    where engines read the Delta tables themselves.

    Views use absolute paths so the file works from any working directory; readers that hold the
    old file open keep reading it until they reconnect (vacuum keeps retained versions' files).
    """
    loc = location.of(warehouse)
    if not loc.is_local:
        return None
    pinned = dict(current_versions(loc) if versions is None else versions)
    loc.path.mkdir(parents=True, exist_ok=True)
    final = loc.path / DUCKDB_FILE
    tmp = loc.path / f".{DUCKDB_FILE}.{uuid.uuid4().hex}.tmp"
    # Imported here: every spawned normalize worker imports this module, only views need DuckDB.
    import duckdb

    try:
        con = duckdb.connect(str(tmp))
        try:
            for entry in tables.TABLES:
                query = _view_query(files(loc, entry, versions=pinned), entry)
                con.execute(f'CREATE VIEW "{entry.name}" AS {query}')
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(f"{tmp.name}.wal").unlink(missing_ok=True)
    return str(final)


def as_of(warehouse: Warehouse, versions: Versions | None = None) -> str | None:
    """The latest `collected_at` of any observation, as spec §5's `as_of` wants it.

    Read from the Delta log's file statistics, so it costs no data file read at all.
    """
    latest: datetime | None = None
    for entry in tables.OBSERVATIONS:
        dt = _pinned(warehouse, entry, versions)
        if dt is None:
            continue
        adds = pl.DataFrame(dt.get_add_actions(flatten=True))
        column = "max.collected_at"
        if column in adds.columns and adds.height:
            value = adds[column].max()
            if isinstance(value, datetime) and (latest is None or value > latest):
                latest = value
    if latest is None:
        return None
    aware = latest if latest.tzinfo else latest.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
