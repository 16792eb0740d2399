"""The S3 fixture is a real store: it keeps what is put, lists by prefix, and refuses a request
signed with the wrong secret."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from tests.helpers import processes
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


def test_the_server_dies_with_a_killed_test_process(tmp_path: Path) -> None:
    """A test process killed outright runs no teardown; its server must not outlive it."""
    script = (
        "import sys, time; from pathlib import Path; "
        "from tests.helpers.object_store import running_object_store\n"
        "with running_object_store(Path(sys.argv[1])):\n"
        "    print('ready', flush=True); time.sleep(600)\n"
    )
    root = Path(__file__).resolve().parents[2]
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "store")],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    servers: list[processes.Proc] = []
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        servers = [
            p for p in processes.descendants(holder.pid) if "weed" in processes.command_line(p)
        ]
        assert servers, "the fixture started no weed process"
        holder.kill()
        holder.wait(10)
        deadline = time.monotonic() + 30
        while any(processes.alive(p) for p in servers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(processes.alive(p) for p in servers), "weed outlived its test process"
    finally:
        holder.kill()
        holder.wait(10)
        for server in servers:  # when this test fails, it leaves no server behind either
            if processes.alive(server):
                os.kill(server[0], signal.SIGKILL)
