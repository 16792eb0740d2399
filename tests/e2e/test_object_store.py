"""The S3 fixture is a real store: it keeps what is put, lists by prefix, and refuses a request
signed with the wrong secret."""

from __future__ import annotations

import pyarrow.fs as pafs
import pytest

from tests.helpers.object_store import ObjectStore


def test_put_list_get_and_auth(object_store: ObjectStore, s3_prefix: str) -> None:
    fs = object_store.filesystem()
    prefix = s3_prefix.removeprefix("s3://")
    for name, body in {"a/1.json": b"one", "a/2.json": b"two", "b/3.json": b"three"}.items():
        with fs.open_output_stream(f"{prefix}/{name}") as out:
            out.write(body)
    key_prefix = prefix.split("/", 1)[1]
    assert object_store.keys(key_prefix) == [
        f"{key_prefix}/a/1.json",
        f"{key_prefix}/a/2.json",
        f"{key_prefix}/b/3.json",
    ]
    with fs.open_input_stream(f"{prefix}/b/3.json") as src:
        assert src.read() == b"three"

    wrong = pafs.S3FileSystem(
        endpoint_override=object_store.endpoint.removeprefix("http://"),
        scheme="http",
        access_key=object_store.access_key,
        secret_key="not-the-secret",
        region=object_store.region,
    )
    with pytest.raises(OSError):
        wrong.get_file_info(f"{prefix}/a/1.json")
