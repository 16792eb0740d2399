"""Where a warehouse lives: a local folder or an object-store prefix (`s3://bucket/prefix`).

Declared once, used by every module that takes a warehouse: `of()` turns a flag, an environment
value or a `Path` into a `Location`. Delta Lake (delta-rs) reaches either kind by URI; the one
plain object beside the tables (`manifest.json`) goes through a pyarrow filesystem for the same
URI. Credentials, endpoint and region come from the standard `AWS_*` variables
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
`AWS_ALLOW_HTTP=true` for a plain-http store on loopback), so nothing secret is ever in a URI.

Nothing of a warehouse lives on a run host: the run state is control tables inside the warehouse
(metrics/warehouse/control.py). On an object store, Delta commits are safe between hosts only
because each one is a put-if-absent (`If-None-Match: *`), so a warehouse refuses to open while
`AWS_S3_ALLOW_UNSAFE_RENAME` is set: with it, delta-rs would commit by a plain rename that two
writers can both win, losing one of the commits.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from metrics import config, objects

SCHEMES = objects.SCHEMES
UNSAFE_RENAME_ENV = "AWS_S3_ALLOW_UNSAFE_RENAME"


class UnsafeCommits(ValueError):
    """An object-store warehouse asked to commit without put-if-absent."""


@dataclass(frozen=True)
class Location:
    """A warehouse root: an absolute local path, or `s3://bucket/prefix` (no trailing slash)."""

    uri: str

    def __str__(self) -> str:
        return self.uri

    def __fspath__(self) -> str:
        """Local warehouses still open with any path API (`Path(location)`); a remote one
        refuses, because a path there would silently mean a local folder named `s3:`."""
        return str(self.path)

    @property
    def is_local(self) -> bool:
        return not self.uri.startswith(SCHEMES)

    @property
    def path(self) -> Path:
        if not self.is_local:
            raise ValueError(f"{self.uri} is an object-store warehouse, not a local folder")
        return Path(self.uri)

    def join(self, *parts: str) -> str:
        """The URI (or absolute path) of `parts` under this root."""
        return "/".join([self.uri, *parts])

    def storage_options(self) -> dict[str, str]:
        """delta-rs storage options: empty for a local folder; for S3, the standard variables
        that are set (delta-rs reads the same names; passing them pins what a run saw)."""
        if self.is_local:
            return {}
        if os.environ.get(UNSAFE_RENAME_ENV, "").strip().lower() not in ("", "false", "0"):
            raise UnsafeCommits(
                f"{UNSAFE_RENAME_ENV} is set: Delta commits to {self.uri} would then be plain "
                "renames, and two runs committing at once could both succeed and lose one of "
                f"the commits. Unset {UNSAFE_RENAME_ENV}; commits use conditional puts "
                "(If-None-Match), which AWS S3, MinIO, SeaweedFS and R2 honour."
            )
        names = (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ALLOW_HTTP",
        )
        options = {name: os.environ[name] for name in names if os.environ.get(name)}
        options.setdefault("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
        # Commits are put-if-absent; S3-compatible stores honour If-None-Match.
        options["aws_conditional_put"] = "etag"
        return options

    def filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and this root's path inside it."""
        if self.is_local:
            return pafs.LocalFileSystem(), self.uri
        fs = objects.filesystem()  # the one S3 client, shared with the landing zone
        return fs, self.uri.split("://", 1)[1]

    def read_text(self, name: str) -> str | None:
        """The object `name` under the root, or None when there is none."""
        fs, base = self.filesystem()
        try:
            with fs.open_input_stream(f"{base}/{name}") as src:
                return src.read().decode()
        except FileNotFoundError:
            return None
        except OSError as exc:
            if "NoSuchKey" in str(exc) or "Path does not exist" in str(exc):
                return None
            raise

    def write_text(self, name: str, text: str) -> None:
        """Publish `name` atomically: a local file through a temp file and `os.replace`; an
        object with one PUT (readers see the old object or the new one, never a part)."""
        if self.is_local:
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            try:
                with open(tmp, "w") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            return
        fs, base = self.filesystem()
        with fs.open_output_stream(f"{base}/{name}") as out:
            out.write(text.encode())

    def delete(self, name: str) -> None:
        fs, base = self.filesystem()
        with contextlib.suppress(FileNotFoundError):
            fs.delete_file(f"{base}/{name}")

    def list(self, folder: str) -> list[str]:
        """Names of the objects directly in `folder`, sorted."""
        fs, base = self.filesystem()
        infos = fs.get_file_info(pafs.FileSelector(f"{base}/{folder}", allow_not_found=True))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.File)


Warehouse = Location | str | os.PathLike[str]


def of(value: Warehouse) -> Location:
    """A `Location` from a flag, an environment value, a `Path` or a `Location`."""
    if isinstance(value, Location):
        return value
    return Location(config.warehouse_dir(value))
