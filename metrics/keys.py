"""API keys for the HTTP endpoint (CONTRACT §6): one organization and a set of scopes each.

A key is shown once, at creation; the file keeps only its SHA-256. Keys carry 256 bits of
randomness, so a plain digest is as strong as a slow password hash here and lets a request be
checked with one dictionary lookup. The file is replaced atomically under an exclusive lock,
and a server re-reads it when it changes, so a revocation takes effect on the next request.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

KEYS_ENV = "METRICS_KEYS_FILE"
DEFAULT_KEYS_FILE = "data/keys.json"
READ_SCOPE = "metrics:read"
_PREFIX = "lp_live_"


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


def _read(path: Path) -> list[Key]:
    try:
        rows = json.loads(path.read_bytes())["keys"]
    except FileNotFoundError:
        return []
    return [Key(**{**row, "scopes": tuple(row["scopes"])}) for row in rows]


def _write(path: Path, keys: list[Key]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(json.dumps({"keys": [asdict(k) for k in keys]}, indent=2) + "\n")
        tmp.chmod(0o600)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
    """A new key: (the secret, to show once; its stored record)."""
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
    return _read(path)


class KeyRing:
    """Live keys by digest, re-read when the file changes (one stat per lookup)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._state: tuple[tuple[int, int, int] | None, dict[str, Key]] = (None, {})

    def lookup(self, secret: str) -> Key | None:
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        seen, live = self._state
        if stamp != seen:
            live = {k.sha256: k for k in _read(self.path) if k.revoked_at is None}
            self._state = (stamp, live)
        return live.get(_digest(secret))
