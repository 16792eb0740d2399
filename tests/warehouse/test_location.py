"""A warehouse location is a local path or an s3:// URI, parsed in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics import config
from metrics.warehouse import location


def test_local_paths_resolve_and_s3_uris_stay_as_given(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    local = location.of("wh")
    assert local.is_local and local.path == tmp_path / "wh"
    assert local.join("tables", "posts") == str(tmp_path / "wh" / "tables" / "posts")
    remote = location.of("s3://bucket/some/prefix/")
    assert not remote.is_local and remote.uri == "s3://bucket/some/prefix"
    assert remote.join("manifest.json") == "s3://bucket/some/prefix/manifest.json"
    with pytest.raises(ValueError, match="object-store warehouse"):
        remote.path  # noqa: B018  # a Path would silently mean a local folder "s3:"
    assert config.warehouse_dir("s3://bucket/p/") == "s3://bucket/p"
    assert location.of(remote) is remote


def test_storage_options_come_from_the_aws_variables(monkeypatch) -> None:
    for name in ("AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")
    assert location.of("/tmp/x").storage_options() == {}
    assert location.of("s3://b/p").storage_options() == {
        "AWS_ACCESS_KEY_ID": "id",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "aws_conditional_put": "etag",
    }


UNSAFE_RENAME = location.UNSAFE_RENAME_ENV
ROOT = Path(__file__).resolve().parents[2]
# What the project ships and runs: its code, its images and charts, its build and CI.
SHIPPED = ["metrics", "assets", "pipelines", "bench", "deploy", ".ci", "Dockerfile", "Makefile"]
# The one shipped file that names the switch: to refuse it.
REFUSES = Path("metrics/warehouse/location.py")


def test_no_shipped_file_sets_the_unsafe_rename_switch() -> None:
    """Delta commits on S3 are put-if-absent (`aws_conditional_put`); `AWS_S3_ALLOW_UNSAFE_RENAME`
    would let two writers of one version both win, so nothing the project ships may set it: the
    only file naming it is the one that refuses it."""
    files = [
        p
        for name in SHIPPED
        for p in ([ROOT / name] if (ROOT / name).is_file() else sorted((ROOT / name).rglob("*")))
        if "__pycache__" not in p.parts
    ]
    naming = [
        p.relative_to(ROOT)
        for p in files
        if p.is_file() and UNSAFE_RENAME.encode() in p.read_bytes().upper()
    ]
    assert len(files) > 50, "the scan found the shipped files"
    assert naming == [REFUSES]


def test_an_object_store_warehouse_refuses_unsafe_renames(monkeypatch) -> None:
    """delta-rs reads the switch from the environment itself, so leaving it out of the storage
    options would not neutralize it: an `s3://` warehouse refuses to open while it is set."""
    monkeypatch.setenv(UNSAFE_RENAME, "true")
    with pytest.raises(location.UnsafeCommits, match=f"Unset {UNSAFE_RENAME}"):
        location.of("s3://bucket/wh").storage_options()
    assert location.of("/tmp/local-wh").storage_options() == {}  # a local disk renames safely
    monkeypatch.setenv(UNSAFE_RENAME, "false")
    options = location.of("s3://b/p").storage_options()
    assert options["aws_conditional_put"] == "etag"
    assert UNSAFE_RENAME not in {k.upper() for k in options}
