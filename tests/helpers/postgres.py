"""A throwaway PostgreSQL server for tests: initdb + pg_ctl in a temporary folder, loopback only.

Debian's `postgresql` package (installed by .ci/ensure-postgres) puts the server binaries in
/usr/lib/postgresql/<version>/bin. The server refuses to run as root, so when the tests run as
root the cluster belongs to the `postgres` user the package creates, and its folder lives
outside pytest's root-only temp tree. The socket goes into the same folder (never
/var/run/postgresql), the port is a free one chosen by the kernel, and `stop` removes it all.
By default it listens on loopback; `start(address, clients, wrap)` puts it on another address
(inside a network namespace of its own, tests/helpers/hosts.py) and lets `clients` (a CIDR) in.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "metrics"
PASSWORD = "metrics-test"
DATABASE = "dagster"


def server_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin folder, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Postgres:
    """A running cluster: connect with `env()` (the variables dagster.postgres.yaml reads)."""

    bin: Path
    root: Path
    port: int
    owner: str | None  # the OS user running the server (None: the current user)
    address: str = "127.0.0.1"
    wrap: tuple[str, ...] = ()  # the command the server's tools run under (ip netns exec <ns>)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def pid(self) -> int:
        """The postmaster's process id (its backends are its children)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def _cmd(self, *args: str) -> list[str]:
        user = ["runuser", "-u", self.owner, "--"] if self.owner else []
        return [*self.wrap, *user, *args]

    def env(self, database: str = DATABASE) -> dict[str, str]:
        return {
            "DAGSTER_PG_HOST": self.address,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": USER,
            "DAGSTER_PG_PASSWORD": PASSWORD,
            "DAGSTER_PG_DB": database,
        }

    def psql(self, sql: str, database: str = DATABASE) -> str:
        """Run `sql` in a database (default the Dagster one) over TCP with the test user; the
        output, unaligned."""
        out = self._client("psql", "-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql)
        return out.stdout.strip()

    def _client(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        """A client program of the cluster, over TCP as the test user; fails on its failure."""
        connect = ["-h", self.address, "-p", str(self.port), "-U", USER]
        return subprocess.run(
            [str(self.bin / program), *connect, *args],
            env={**os.environ, "PGPASSWORD": PASSWORD},
            check=True,
            capture_output=True,
            text=True,
        )

    def stop(self) -> None:
        subprocess.run(
            self._cmd(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> None:
        """Another database in this cluster (an instance of its own for a second Dagster)."""
        self._client("createdb", name)


def start(
    address: str = "127.0.0.1", clients: str | None = None, wrap: tuple[str, ...] = ()
) -> Postgres:
    """initdb a new cluster with a password user and a `dagster` database, start it on
    `address` (clients from the `clients` CIDR allowed too, beside loopback), return it."""
    bin_dir = server_bin()
    if bin_dir is None:
        raise RuntimeError(
            "PostgreSQL server binaries are missing: run `bash .ci/ensure-postgres` "
            "(installs Debian's 'postgresql'; `make test` and .ci/run do this)."
        )
    owner = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="metrics-pg-", dir="/tmp"))
    if owner:
        info = pwd.getpwnam(owner)
        os.chown(root, info.pw_uid, info.pw_gid)
    pg = Postgres(bin_dir, root, free_port(), owner, address, wrap)
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if owner:
        os.chown(pwfile, info.pw_uid, info.pw_gid)
    subprocess.run(
        [
            *pg._cmd(
                str(bin_dir / "initdb"), "-D", str(pg.data), "-U", USER, "--pwfile", str(pwfile)
            ),
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    if clients:
        with (pg.data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {clients} scram-sha-256\n")
    options = f"-p {pg.port} -k {root} -h {address} -c fsync=off"
    subprocess.run(
        [
            *pg._cmd(str(bin_dir / "pg_ctl"), "-D", str(pg.data), "-l", str(root / "log")),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            pg.create_database(DATABASE)
            return pg
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                pg.stop()
                raise
            time.sleep(0.5)
