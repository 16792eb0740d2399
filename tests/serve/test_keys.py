"""The keys file: atomic writes, validation on load, and what a corrupt file does to whom.

A corrupt file must never cost the keys in it: `metrics keys` refuses to rewrite it, a running
server keeps the keys it read last (and says so once), a starting server refuses to start.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metrics.serve import keys

ROOT = Path(__file__).resolve().parents[2]
GOOD_HASH = "a" * 64


def org_of(ring: keys.KeyRing, secret: str) -> str:
    key = ring.lookup(secret)
    assert key is not None, "no live key for the secret"
    return key.org_id


def entry(**changes) -> dict:
    row = {
        "id": "0123456789ab",
        "org_id": "org_a",
        "scopes": ["metrics:read"],
        "sha256": GOOD_HASH,
        "created_at": "2026-12-01T10:00:00Z",
        "revoked_at": None,
    }
    return {k: v for k, v in {**row, **changes}.items() if v != "<drop>"}


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- atomic writes ----------------------------------------------------------------------


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "keys.json"
    secret, _ = keys.create(path, "org_a")
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        keys.create(path, "org_b")
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []
    assert org_of(keys.KeyRing(path), secret) == "org_a"


# Run in a child process: `keys.create` whose write is cut after half the bytes by SIGKILL,
# as when the machine or the process dies mid-write.
KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from metrics.serve import keys

real_fdopen = os.fdopen

class HalfThenDie:
    def __init__(self, fh):
        self.fh = fh
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return False
    def write(self, data):
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        os.kill(os.getpid(), signal.SIGKILL)

os.fdopen = lambda fd, mode: HalfThenDie(real_fdopen(fd, mode))
keys.create(Path(sys.argv[1]), "org_b")
"""


def test_a_writer_killed_mid_write_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "keys.json"
    secret, _ = keys.create(path, "org_a")
    before = path.read_bytes()
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(path)], cwd=ROOT, capture_output=True
    )
    assert done.returncode == -9, done.stderr
    (leftover,) = temp_files(tmp_path)  # the half-written temp file, never renamed
    with pytest.raises(ValueError):
        json.loads((tmp_path / leftover).read_bytes())
    assert path.read_bytes() == before
    assert org_of(keys.KeyRing(path), secret) == "org_a"
    # The next writer is not confused by the leftover.
    other, _ = keys.create(path, "org_b")
    ring = keys.KeyRing(path)
    assert org_of(ring, secret) == "org_a" and org_of(ring, other) == "org_b"


def test_the_file_is_private_and_what_create_writes_is_valid(tmp_path):
    path = tmp_path / "keys.json"
    keys.create(path, "org_a", ("metrics:read", "ads:read"))
    assert path.stat().st_mode & 0o777 == 0o600
    (row,) = json.loads(path.read_text())["keys"]
    assert row["scopes"] == ["metrics:read", "ads:read"] and len(row["sha256"]) == 64
    keys.check(path)


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"keys": [', "not JSON"),
        ("", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[]", 'expected an object {"keys": [...]}'),
        ('{"keys": {}}', 'expected an object {"keys": [...]}'),
        ({"keys": ["x"]}, "entry 1 is not an object"),
        ({"keys": [entry(sha256="<drop>")]}, "entry 1 (key 0123456789ab) lacks sha256"),
        ({"keys": [entry(owner="me")]}, "entry 1 (key 0123456789ab) has unknown fields owner"),
        (
            {"keys": [entry(), entry(id="ba9876543210", sha256="ABC")]},
            "entry 2 (key ba9876543210): sha256 must be 64 lowercase hex digits",
        ),
        ({"keys": [entry(sha256="A" * 64)]}, "sha256 must be 64 lowercase hex digits"),
        ({"keys": [entry(id="x")]}, "entry 1 (key x): id must be 12 lowercase hex digits"),
        ({"keys": [entry(org_id="prj_a")]}, "org_id must be an organization id (org_…)"),
        (
            {"keys": [entry(scopes=["metrics:raed"])]},
            "unknown scope metrics:raed (known: metrics:read, ads:read)",
        ),
        ({"keys": [entry(scopes=[])]}, "scopes must be a non-empty list of strings"),
        ({"keys": [entry(scopes="metrics:read")]}, "scopes must be a non-empty list of strings"),
        ({"keys": [entry(created_at="yesterday")]}, "created_at must be a time like"),
        ({"keys": [entry(revoked_at=5)]}, "revoked_at must be a time like"),
        ({"keys": [entry(), entry(sha256="b" * 64)]}, "two entries share the id 0123456789ab"),
        ({"keys": [entry(), entry(id="ba9876543210")]}, f"share the sha256 {GOOD_HASH}"),
    ],
)
def test_a_corrupt_file_is_refused_with_what_is_wrong_and_the_fix(tmp_path, content, problem):
    path = tmp_path / "keys.json"
    if isinstance(content, dict):
        content = json.dumps(content)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(keys.KeysFileError) as info:
        keys.check(path)
    message = str(info.value)
    assert message.startswith(f"The keys file {path} is corrupt: ")
    assert problem in message
    assert "Restore it from a backup" in message and "metrics keys create" in message


def test_a_valid_file_with_a_revoked_key_loads(tmp_path):
    path = tmp_path / "keys.json"
    rows = [entry(), entry(id="ba9876543210", sha256="b" * 64, revoked_at="2026-12-01T11:00:00Z")]
    path.write_text(json.dumps({"keys": rows}))
    assert [k.revoked_at for k in keys.list_keys(path)] == [None, "2026-12-01T11:00:00Z"]


def test_no_file_means_no_keys(tmp_path):
    assert keys.KeyRing(tmp_path / "keys.json").lookup("lp_live_x") is None
    keys.check(tmp_path / "keys.json")


def test_create_refuses_what_the_file_would_refuse(tmp_path):
    path = tmp_path / "keys.json"
    with pytest.raises(ValueError, match="Unknown scope metrics:raed; a key may carry"):
        keys.create(path, "org_a", ("metrics:raed",))
    with pytest.raises(ValueError, match="--org must be an organization id"):
        keys.create(path, "prj_a")
    assert not path.exists()


def test_create_and_revoke_never_rewrite_a_corrupt_file(tmp_path):
    path = tmp_path / "keys.json"
    keys.create(path, "org_a")
    corrupt = path.read_bytes()[:-40]
    path.write_bytes(corrupt)
    with pytest.raises(keys.KeysFileError):
        keys.create(path, "org_a")
    with pytest.raises(keys.KeysFileError):
        keys.revoke(path, "0123456789ab")
    assert path.read_bytes() == corrupt


# --- a running server -------------------------------------------------------------------


def test_a_running_ring_keeps_the_last_good_keys_and_logs_each_change_once(tmp_path, caplog):
    path = tmp_path / "keys.json"
    secret, record = keys.create(path, "org_a")
    ring = keys.KeyRing(path)
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with caplog.at_level(logging.ERROR, logger="metrics.serve.keys"):
        for _ in range(5):
            assert ring.lookup(secret) == record
    (logged,) = caplog.records
    assert f"The keys file {path} is corrupt" in logged.getMessage()
    assert logged.getMessage().endswith("the server keeps the live keys it read last (1).")
    caplog.clear()
    path.write_text('{"keys": "none"}')  # another bad version: one more line
    with caplog.at_level(logging.ERROR, logger="metrics.serve.keys"):
        assert ring.lookup(secret) == record
        assert ring.lookup(secret) == record
    assert len(caplog.records) == 1
    # Repaired (restored, plus a revocation done by hand): the file rules again.
    rows = json.loads(good)["keys"]
    rows[0]["revoked_at"] = "2026-12-02T00:00:00Z"
    path.write_text(json.dumps({"keys": rows}))
    assert ring.lookup(secret) is None


def test_a_ring_refuses_to_start_on_a_corrupt_file(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text("{")
    with pytest.raises(keys.KeysFileError, match="is corrupt: not JSON"):
        keys.KeyRing(path)


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_serve_exits_with_the_file_and_the_fix(tmp_path, workers):
    path = tmp_path / "keys.json"
    path.write_text('{"keys": [{"id": "0123456789ab"}]}')
    command = [sys.executable, "-m", "pipelines.cli", "--warehouse", str(tmp_path / "warehouse")]
    command += ["serve", "--port", "0", "--workers", str(workers), "--keys-file", str(path)]
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"metrics serve: not starting. The keys file {path} is corrupt: entry 1 (key "
        "0123456789ab) lacks created_at, org_id, scopes, sha256. Restore it from a backup"
    )
