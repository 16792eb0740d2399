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
    assert local.state_dir == tmp_path / "wh"
    remote = location.of("s3://bucket/some/prefix/")
    assert not remote.is_local and remote.uri == "s3://bucket/some/prefix"
    assert remote.join("manifest.json") == "s3://bucket/some/prefix/manifest.json"
    with pytest.raises(ValueError, match="object-store warehouse"):
        remote.path  # noqa: B018  # a Path would silently mean a local folder "s3:"
    assert remote.state_dir == tmp_path / ".metrics_state" / "bucket" / "some" / "prefix"
    monkeypatch.setenv(location.STATE_ENV, str(tmp_path / "st"))
    assert remote.state_dir == tmp_path / "st"
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
