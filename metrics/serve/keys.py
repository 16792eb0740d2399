"""API keys for the HTTP endpoint (spec §6): one organization and a set of scopes each.

A key is shown once, at creation; the file keeps only its SHA-256. Keys carry 256 bits of
randomness, so a plain digest is as strong as a slow password hash here and lets a request be
checked with one dictionary lookup. The file is replaced atomically under an exclusive lock,
and a server re-reads it when it changes, so a revocation takes effect on the next request.
A file that fails validation is never overwritten (every key would be lost) and never
half-applied: a running server keeps the keys it read last, a starting one refuses to start.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from metrics.model.scopes import ROOT as ORG

KEYS_ENV = "METRICS_KEYS_FILE"
DEFAULT_KEYS_FILE = "data/keys.json"
READ_SCOPE = "metrics:read"
# Every scope a key may carry; the file is refused if it names another (a typo would otherwise
# silently grant nothing). ads:read is for the paid-metrics endpoint, served elsewhere.
SCOPES: tuple[str, ...] = (READ_SCOPE, "ads:read")
_PREFIX = "lp_live_"

log = logging.getLogger(__name__)


def keys_file(flag: str | os.PathLike[str] | None = None) -> Path:
    """Flag first, then $METRICS_KEYS_FILE, then data/keys.json."""
    return Path(flag or os.environ.get(KEYS_ENV) or DEFAULT_KEYS_FILE).resolve()


@dataclass(frozen=True)
class Key:
    id: str
    org_id: str
    scopes: tuple[str, ...]
    sha256: str
    created_at: str
    revoked_at: str | None = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeysFileError(Exception):
    """The keys file exists but is not a keys file this code wrote: it is refused, never fixed.

    The message names the file, what is wrong with it and what to do, because the only safe
    repairs (restore a backup, edit the JSON) need a person: rewriting it would lose every key.
    """

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(
            f"The keys file {path} is corrupt: {problem}. Restore it from a backup or repair "
            f'the JSON by hand ({{"keys": [...]}}, as `metrics keys create` writes it); or, to '
            "start over, move it aside and create new keys with `metrics keys create`."
        )
        self.path = path
        self.problem = problem


_FIELDS = frozenset(("id", "org_id", "scopes", "sha256", "created_at", "revoked_at"))
_SHA256 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{12}")
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _row(i: int, row: object) -> Key:
    """One entry of the file as a Key, or the reason it is not one (with its position)."""
    where = f"entry {i}"
    if not isinstance(row, dict):
        raise ValueError(f"{where} is not an object")
    if isinstance(row.get("id"), str):
        where = f"entry {i} (key {row['id']})"
    missing = sorted(_FIELDS - {"revoked_at"} - row.keys())
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    if extra := sorted(row.keys() - _FIELDS):
        raise ValueError(f"{where} has unknown fields {', '.join(extra)}")
    if not (isinstance(row["id"], str) and _KEY_ID.fullmatch(row["id"])):
        raise ValueError(f"{where}: id must be 12 lowercase hex digits")
    if not (isinstance(row["org_id"], str) and ORG.fits(row["org_id"])):
        raise ValueError(f"{where}: org_id must be an organization id (org_…)")
    if not (isinstance(row["sha256"], str) and _SHA256.fullmatch(row["sha256"])):
        raise ValueError(f"{where}: sha256 must be 64 lowercase hex digits")
    scopes = row["scopes"]
    if not (isinstance(scopes, list) and scopes and all(isinstance(x, str) for x in scopes)):
        raise ValueError(f"{where}: scopes must be a non-empty list of strings")
    if unknown := [x for x in scopes if x not in SCOPES]:
        raise ValueError(
            f"{where}: unknown scope {', '.join(unknown)} (known: {', '.join(SCOPES)})"
        )
    for field in ("created_at", "revoked_at"):
        value = row.get(field)
        if not (value is None and field == "revoked_at") and not (
            isinstance(value, str) and _STAMP.fullmatch(value)
        ):
            raise ValueError(f"{where}: {field} must be a time like 2026-01-31T12:00:00Z")
    return Key(**{**row, "scopes": tuple(scopes)})


def _read(path: Path) -> list[Key]:
    """Every key in the file (none when there is no file), or KeysFileError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeysFileError(path, f"not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise KeysFileError(path, 'expected an object {"keys": [...]}')
    try:
        keys = [_row(i, row) for i, row in enumerate(doc["keys"], start=1)]
    except ValueError as exc:
        raise KeysFileError(path, str(exc)) from None
    for attr in ("id", "sha256"):
        counts = Counter(getattr(k, attr) for k in keys)
        if dup := next((v for v, n in counts.items() if n > 1), None):
            raise KeysFileError(path, f"two entries share the {attr} {dup}")
    return keys


def _write(path: Path, keys: list[Key]) -> None:
    """Replace the file atomically: a crash at any point leaves the old file or the new one.

    The temporary file sits in the same folder (os.replace is atomic only within one file
    system) and is fsynced before the rename, and the folder after it, so that after a power
    loss the name never points at an empty or half-written file.
    """
    data = (json.dumps({"keys": [asdict(k) for k in keys]}, indent=2) + "\n").encode()
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@contextmanager
def _locked(path: Path) -> Iterator[list[Key]]:
    """The keys, for a read-modify-write that no other `metrics keys` run interleaves with."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield _read(path)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create(path: Path, org_id: str, scopes: tuple[str, ...] = (READ_SCOPE,)) -> tuple[str, Key]:
    """A new key: (the secret, to show once; its stored record).

    ValueError for an org that is not an org id or a scope not in SCOPES, which the file would
    then refuse; KeysFileError, with nothing written, when the existing file is corrupt.
    """
    if not ORG.fits(org_id):
        raise ValueError(f"--org must be an organization id (org_…), not {org_id}.")
    if unknown := [x for x in scopes if x not in SCOPES]:
        raise ValueError(
            f"Unknown scope {', '.join(unknown)}; a key may carry {', '.join(SCOPES)}."
        )
    key_id = secrets.token_hex(6)
    secret = f"{_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    record = Key(key_id, org_id, tuple(dict.fromkeys(scopes)), _digest(secret), _now())
    with _locked(path) as keys:
        _write(path, [*keys, record])
    return secret, record


def revoke(path: Path, key_or_id: str) -> Key | None:
    """Revoke a live key given by its secret or its id; None when no live key matches."""
    digest = _digest(key_or_id)
    with _locked(path) as keys:
        for i, k in enumerate(keys):
            if k.revoked_at is None and (key_or_id == k.id or digest == k.sha256):
                keys[i] = replace(k, revoked_at=_now())
                _write(path, keys)
                return keys[i]
    return None


def list_keys(path: Path) -> list[Key]:
    """Every key in the file, revoked ones included; KeysFileError when it is corrupt."""
    return _read(path)


def check(path: Path) -> None:
    """KeysFileError unless `path` is missing or a valid keys file: for a server about to start."""
    _read(path)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _live(keys: list[Key]) -> dict[str, Key]:
    return {k.sha256: k for k in keys if k.revoked_at is None}


class KeyRing:
    """Live keys by digest, re-read when the file changes (one stat per lookup).

    The first read happens here, so a server refuses to start on a corrupt file
    (KeysFileError). Later, a file that turns corrupt (a hand edit, a full disk) is logged once
    per change of the file and the last good keys stay in force: refusing every request, or
    serving a 500 to each, would turn one bad write into an outage for every client.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reloading = threading.Lock()
        stamp = _stamp(path)
        self._state: tuple[tuple[int, int, int] | None, dict[str, Key]] = (
            stamp,
            _live(_read(path)),
        )

    def lookup(self, secret: str) -> Key | None:
        seen, live = self._state
        if _stamp(self.path) != seen:
            live = self._reload()
        return live.get(_digest(secret))

    def _reload(self) -> dict[str, Key]:
        with self._reloading:
            stamp = _stamp(self.path)
            seen, live = self._state
            if stamp == seen:  # another thread got here first
                return live
            try:
                live = _live(_read(self.path))
            except (KeysFileError, OSError) as exc:
                log.error(
                    "%s Until then the server keeps the live keys it read last (%d).",
                    exc,
                    len(live),
                )
            self._state = (stamp, live)
            return live
