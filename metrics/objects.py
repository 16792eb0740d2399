"""A landing zone on an object store (`s3://bucket/prefix`), behind the few path operations the
ingest code uses on a local landing zone.

The landing zone is a folder by default, and every reader of it (metrics/ingest/layout.py's walk,
the normalizer's streamed reads, the catalog loader, the guard) works on `pathlib.Path`. For an
object store, `ObjectPath` offers the same small surface: `/` and `joinpath`, `name`,
`relative_to(...).as_posix()`, `open("rb")` (a stream, read block by block: a gzip is inflated as
it arrives, never downloaded whole), `read_bytes()`, `stat().st_size`/`st_mtime_ns`, `is_dir()`,
`exists()`; and `list_objects()`, the one listing call, which returns every object under a prefix
with its size and LastModified. Nothing else of pathlib is promised.

The client is pyarrow's S3 filesystem (pyarrow is a dependency already, and the warehouse's
plain objects go through it too, metrics/warehouse/location.py), configured from the standard
variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), `AWS_REGION`
(or `AWS_DEFAULT_REGION`), `AWS_ENDPOINT_URL` for a non-AWS store (`http://` for plain http).

An object store has no folders, symbolic links or FIFOs: a key is a regular file whose parts are
its path, keys ending in `/` (folder markers some tools write) are folders, and the mtime is the
object's LastModified, so the layout's quarantine rules apply unchanged, except the ones about
links and special files, which cannot occur.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

import pyarrow.fs as pafs

SCHEMES = ("s3://", "s3a://")


def is_object_uri(value: str | os.PathLike[str]) -> bool:
    return os.fspath(value).startswith(SCHEMES)


@functools.cache
def _filesystem(region: str | None, endpoint: str | None) -> pafs.S3FileSystem:
    options: dict[str, object] = {}
    if region:
        options["region"] = region
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
    return pafs.S3FileSystem(**options)  # type: ignore[arg-type]


def filesystem() -> pafs.S3FileSystem:
    """The S3 client for the current AWS_* settings (one per distinct setting, reused)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return _filesystem(region, os.environ.get("AWS_ENDPOINT_URL"))


@dataclass(frozen=True)
class ObjectStat:
    """What `stat()` gives for an object: enough for the layout (size, mtime, a regular file)."""

    st_size: int
    st_mtime_ns: int


@dataclass(frozen=True)
class ObjectInfo:
    """One object of a listing: its key parts below the listed prefix, size and LastModified."""

    parts: tuple[str, ...]
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ObjectPath:
    """`s3://bucket/key`, with the pathlib-like operations listed in the module docstring."""

    uri: str

    def __post_init__(self) -> None:
        if not is_object_uri(self.uri):
            raise ValueError(f"{self.uri} is not an s3:// URI")
        object.__setattr__(self, "uri", self.uri.rstrip("/"))

    def __str__(self) -> str:
        return self.uri

    @property
    def _key(self) -> str:
        """`bucket/key`, as pyarrow names it."""
        return self.uri.split("://", 1)[1]

    @property
    def name(self) -> str:
        return PurePosixPath(self._key).name

    @property
    def parts(self) -> tuple[str, ...]:
        return PurePosixPath(self._key).parts

    def __truediv__(self, other: str) -> ObjectPath:
        return ObjectPath(f"{self.uri}/{other.strip('/')}")

    def joinpath(self, *others: str) -> ObjectPath:
        path = self
        for other in others:
            path = path / other
        return path

    def relative_to(self, other: ObjectPath) -> PurePosixPath:
        return PurePosixPath(self._key).relative_to(other._key)

    def _info(self) -> pafs.FileInfo:
        return filesystem().get_file_info(self._key)

    def exists(self) -> bool:
        return self._info().type != pafs.FileType.NotFound or self.is_dir()

    def is_dir(self) -> bool:
        """A prefix is a folder when an object lies below it (or the bucket exists, for a
        bucket's root)."""
        try:
            below = filesystem().get_file_info(
                pafs.FileSelector(self._key, allow_not_found=True, recursive=False)
            )
        except OSError:
            return False
        return bool(below) or (
            len(self.parts) == 1 and self._info().type == pafs.FileType.Directory
        )

    def is_symlink(self) -> bool:
        return False

    def stat(self) -> ObjectStat:
        info = self._info()
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(f"no object {self.uri}")
        return ObjectStat(int(info.size or 0), int(info.mtime_ns or 0))

    def open(self, mode: str = "rb") -> BinaryIO:
        """A stream of the object's bytes, fetched as it is read."""
        if mode != "rb":
            raise ValueError("objects of the landing zone are only read")
        # compression=None: pyarrow would otherwise inflate a `.gz` by its name; the layout's
        # reader inflates it itself, member by member, with its own limits.
        return cast(BinaryIO, filesystem().open_input_stream(self._key, compression=None))

    def read_bytes(self) -> bytes:
        with self.open() as src:
            return src.read()

    def list_objects(self) -> Iterator[ObjectInfo]:
        """Every object below this prefix (recursively, keys in any order), with the key's parts
        relative to it; folder markers (keys ending in `/`) are skipped."""
        base = self._key
        infos = filesystem().get_file_info(
            pafs.FileSelector(base, allow_not_found=True, recursive=True)
        )
        for info in infos:
            if info.type != pafs.FileType.File or info.path.endswith("/"):
                continue
            rel = PurePosixPath(info.path).relative_to(base)
            yield ObjectInfo(rel.parts, int(info.size or 0), int(info.mtime_ns or 0))


# What every landing-zone reader takes: a local folder or an object-store prefix.
RawRoot = Path | ObjectPath


def raw_root(value: str | os.PathLike[str] | ObjectPath) -> RawRoot:
    """A landing zone from a flag or an environment value: `s3://…` is an object-store prefix,
    anything else a local folder (resolved)."""
    if isinstance(value, ObjectPath):
        return value
    text = os.fspath(value)
    return ObjectPath(text) if is_object_uri(text) else Path(text).resolve()
