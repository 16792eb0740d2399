"""The S3 fixture is a real store: it keeps what is put, lists by prefix, refuses a request
signed with the wrong secret, and its conditional puts are atomic (the fixture refuses a server
on which two concurrent `If-None-Match: *` PUTs of one key both win)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from tests.helpers import processes
from tests.helpers.object_store import (
    RACERS,
    RACES,
    ObjectStore,
    check_conditional_puts,
    signed_put,
)


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


def _send(store: ObjectStore, key: str, body: bytes, headers: dict[str, str]) -> int:
    path, signed = signed_put(store, key, body, headers)
    conn = http.client.HTTPConnection(store.endpoint.removeprefix("http://"), timeout=30)
    try:
        conn.request("PUT", path, body=body, headers=signed)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_a_conditional_put_creates_once_and_is_refused_after(object_store: ObjectStore) -> None:
    """The fixture's signed PUT is what S3 accepts, and `If-None-Match: *` means put-if-absent:
    200 for a new key, 412 once it exists, and the first body stays."""
    key = f"conditional/{uuid.uuid4().hex}"
    assert _send(object_store, key, b"first", {"If-None-Match": "*"}) == 200
    assert _send(object_store, key, b"second", {"If-None-Match": "*"}) == 412
    with object_store.filesystem().open_input_stream(f"{object_store.bucket}/{key}") as src:
        assert src.read() == b"first"
    check_conditional_puts(object_store)  # the session's server passed it at start; again now


class _Store(ThreadingHTTPServer):
    """A stand-in S3 server for the check itself: put-if-absent either under a lock (atomic) or
    as SeaweedFS did before 4.18: the condition checked, the body taken, then the key created."""

    def __init__(self, atomic: bool) -> None:
        self.atomic = atomic
        self.keys: set[str] = set()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Store

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        store, create_only = self.server, self.headers.get("If-None-Match") == "*"
        with store.lock if store.atomic else contextlib.nullcontext():
            absent = self.path not in store.keys
            time.sleep(0.05)  # the upload between the check and the create
            with store.lock if not store.atomic else contextlib.nullcontext():
                if absent or not create_only:
                    store.keys.add(self.path)
        self.send_response(200 if absent or not create_only else 412)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("atomic", [True, False], ids=["atomic", "check-then-create"])
def test_the_fixture_refuses_a_server_where_two_conditional_puts_win(atomic: bool) -> None:
    server = _Store(atomic)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = ObjectStore(
            endpoint=f"http://127.0.0.1:{server.server_address[1]}",
            bucket="b",
            access_key="k",
            secret_key="s",
        )
        if atomic:
            check_conditional_puts(store)
            assert len(server.keys) == RACES
        else:
            with pytest.raises(RuntimeError, match=rf"let {RACERS} of {RACERS} concurrent PUTs"):
                check_conditional_puts(store)
    finally:
        server.shutdown()
        server.server_close()
