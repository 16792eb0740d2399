"""Run hosts on one machine that share nothing but an S3 server and a Postgres server.

A "host" is what a run pod or a VM is to the write path: its own hostname (so
pipelines/run.py's process check, which trusts the `metrics/host` tag, cannot see another
host's processes, and only the heartbeat judges a run that died there), its own process ids,
its own local disk (DAGSTER_HOME, working directory, HOME and TMPDIR), and the network. What the
hosts share is what a deployment shares: the landing zone and the warehouse on the object store
(SeaweedFS, tests/helpers/object_store.py) and the Dagster instance on Postgres
(tests/helpers/postgres.py).

How real the isolation is depends on what the machine allows; `isolation()` picks the best:

* `netns` (root with CAP_NET_ADMIN): every host is a network namespace joined to the servers'
  namespace by a veth pair, plus a UTS, PID and mount namespace. Its `/tmp` is a tmpfs of its
  own, its code (this checkout) is mounted read-only, and its `/proc` shows its own processes
  only. The servers run in a namespace of their own, bound to the address of a bridge there; a
  veth from this (the test's) namespace reaches them too. The subnet is a /24 of 198.18.0.0/15
  (RFC 2544, benchmarking), chosen unused on this machine; nothing touches a public interface.
* `namespaces` (no network namespaces, but `unshare` works, as root or in a user namespace):
  the same hosts without their own network; the servers listen on loopback.
* `processes` (no namespaces at all): separate processes with separate folders, on this host's
  name, so the process check (not the heartbeat) judges their dead runs.

`METRICS_TEST_HOST_ISOLATION=<level>` asks for a level (to check a fallback); a level the machine
cannot give is an error, never a silent downgrade.

A run on a host is a `Job`: the command, started in a new session (so `kill()` SIGKILLs the whole
process group: the run and its parsing workers), its output in a file, and a wait that fails
with that output when it is overdue. Everything is stopped when the lab closes; if the test
process itself dies, each host's PID namespace dies with it (its init gets SIGKILL), and the
next lab removes network namespaces that a dead test process left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import postgres
from tests.helpers.object_store import ObjectStore, running_object_store

ROOT = Path(__file__).resolve().parents[2]
ISOLATION_ENV = "METRICS_TEST_HOST_ISOLATION"
LEVELS = ("netns", "namespaces", "processes")
HOST_DIR = "/tmp/metrics-host"  # a host's private folder, as the host sees it (namespace levels)
PREFIX = "mh"  # of every network namespace and link a lab makes: mh<pid><role>
PR_SET_PDEATHSIG = 1
START_TIMEOUT_S = 30.0

# The init of a host's PID namespace: name the host, give it a private /tmp and a read-only view
# of the code, say "ready", then reap every orphan (killed runs' children end up here).
_INIT = r"""
import os, socket, subprocess, sys, time
name, private, code, hide_tmp = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
def mount(*args):
    subprocess.run(["mount", *args], check=True)
socket.sethostname(name)
if hide_tmp:
    mount("-t", "tmpfs", "-o", "mode=1777,size=4g", "host-tmp", "/tmp")
else:
    os.makedirs(private, exist_ok=True)
    mount("-t", "tmpfs", "-o", "mode=0755,size=4g", "host-disk", private)
mount("--bind", code, code)
mount("-o", "remount,bind,ro", code)
for sub in ("work", "home", "tmp", "dagster"):
    os.makedirs(os.path.join(private, sub), exist_ok=True)
print("ready", flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.5)
"""


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """In a child before it starts: get `sig` when the process that started it dies, however
    (a killed pytest runs no `finally`)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, sig)


def _ok(*cmd: str) -> bool:
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _unshare_prefix() -> list[str] | None:
    """The `unshare` that makes a host's UTS, PID and mount namespaces here, or None."""
    base = ["unshare", "--uts", "--pid", "--mount", "--fork", "--mount-proc", "--kill-child"]
    for extra in ([], ["--user", "--map-root-user"]):
        if _ok(*base[:-1], *extra, "true"):
            return [*base, *extra]
    return None


def _netns_possible() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("nsenter") is None:
        return False
    probe = f"{PREFIX}{os.getpid()}probe"
    try:
        return _ok("ip", "netns", "add", probe) and _ok(
            "ip", "-n", probe, "link", "set", "lo", "up"
        )
    finally:
        _ok("ip", "netns", "del", probe)


def isolation() -> str:
    """The most real isolation this machine gives (module docstring), or the one asked for."""
    wanted = os.environ.get(ISOLATION_ENV, "").strip()
    if wanted and wanted not in LEVELS:
        raise ValueError(f"{ISOLATION_ENV}={wanted!r}: use one of {', '.join(LEVELS)}")
    found = "processes"
    if shutil.which("nsenter") and _unshare_prefix() is not None:
        found = "netns" if _netns_possible() else "namespaces"
    if not wanted:
        return found
    if LEVELS.index(wanted) < LEVELS.index(found):
        raise RuntimeError(f"{ISOLATION_ENV}={wanted}, but this machine only allows {found}")
    return wanted


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")


def remove_leftovers() -> list[str]:
    """Delete the network namespaces and links of labs whose test process is gone."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False)
    netns = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    names = {m.group(1) for m in re.finditer(r"^\d+: ([^:@]+)", links.stdout, re.M)} | netns
    removed = []
    for name in sorted(names):
        found = re.fullmatch(rf"{PREFIX}(\d+)[a-z]\w*", name)
        if found is None or _pid_alive(int(found.group(1))):
            continue
        if _ok("ip", "netns", "del", name) if name in netns else _ok("ip", "link", "del", name):
            removed.append(name)
    return removed


class Network:
    """The servers' network namespace with a bridge, and a veth from it to each member: this
    process's namespace and every host's own network namespace."""

    def __init__(self) -> None:
        self.tag = f"{PREFIX}{os.getpid()}"
        self.subnet = self._free_subnet()
        hosts = list(self.subnet.hosts())
        self.server_ip = str(hosts[0])
        self._next = 1
        self.server_ns = f"{self.tag}s"
        self.namespaces: list[str] = []
        self.links: list[str] = []

    @staticmethod
    def _free_subnet() -> ipaddress.IPv4Network:
        used = subprocess.run(
            ["ip", "-4", "-o", "route", "show", "table", "all"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        used += subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
        start = os.getpid() % 512
        for i in range(512):
            n = (start + i) % 512
            net = ipaddress.IPv4Network(f"198.{18 + n // 256}.{n % 256}.0/24")
            if f"198.{18 + n // 256}.{n % 256}." not in used:
                return net
        raise RuntimeError("no /24 of 198.18.0.0/15 is free on this machine")

    @property
    def cidr(self) -> str:
        return str(self.subnet)

    def _address(self) -> str:
        self._next += 1
        return str(list(self.subnet.hosts())[self._next - 1])

    def setup(self) -> None:
        ns = self.server_ns
        _run("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run("ip", "-n", ns, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", ns, "addr", "add", f"{self.server_ip}/24", "dev", "br0")
        _run("ip", "-n", ns, "link", "set", "br0", "up")
        self._join(None, f"{self.tag}r")

    def _join(self, netns: str | None, link: str) -> str:
        """A veth from the bridge to `netns` (None: this process's namespace); its address."""
        peer = f"{link}b"
        _run("ip", "link", "add", link, "type", "veth", "peer", "name", peer)
        if netns is None:
            self.links.append(link)
        _run("ip", "link", "set", peer, "netns", self.server_ns)
        _run("ip", "-n", self.server_ns, "link", "set", peer, "master", "br0", "up")
        address = self._address()
        inside = ["ip"] if netns is None else ["ip", "-n", netns]
        if netns is not None:
            _run("ip", "link", "set", link, "netns", netns)
            _run(*inside, "link", "set", link, "name", "eth0")
            link = "eth0"
        _run(*inside, "addr", "add", f"{address}/24", "dev", link)
        _run(*inside, "link", "set", link, "up")
        return address

    def add_host(self, index: int) -> tuple[str, str]:
        """A network namespace for host `index`, joined to the bridge: (its name, its address)."""
        ns = f"{self.tag}h{index}"
        _run("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        return ns, self._join(ns, f"{self.tag}h{index}")

    def teardown(self) -> None:
        for link in self.links:
            _ok("ip", "link", "del", link)
        for ns in reversed(self.namespaces):
            _ok("ip", "netns", "del", ns)


class JobTimeout(AssertionError):
    """A job that did not end in time (it is killed first); the message holds its output."""


@dataclass
class Job:
    """One command on one host: a new session, so `kill` takes its whole process group. It is
    reaped with wait4, so `cpu_s` holds the CPU seconds of the command and of every process it
    waited for (a run and its parsing workers)."""

    host: str
    args: tuple[str, ...]
    proc: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)
    killed_at: float | None = None
    ended_at: float | None = None
    cpu_s: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.host}: {' '.join(self.args)}"

    def elapsed(self) -> float:
        return (self.ended_at or time.monotonic()) - self.started

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def poll(self) -> int | None:
        """The exit status once it has ended (negative: the signal), else None."""
        if self.proc.returncode is None:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.ended_at = time.monotonic()
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.cpu_s = usage.ru_utime + usage.ru_stime
        return self.proc.returncode

    def _killpg(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def kill(self) -> bool:
        """SIGKILL the job's process group (nothing runs after it: no `finally`, no handler);
        False when it had ended already."""
        if self.poll() is not None:
            return False
        self.killed_at = self.elapsed()
        self._killpg()
        self.wait(30)
        return True

    def wait(self, timeout: float) -> int:
        """The exit status (negative: the signal); JobTimeout with the output when overdue."""
        deadline = time.monotonic() + timeout
        while (code := self.poll()) is None:
            if time.monotonic() >= deadline:
                self._killpg()
                self.wait(30)
                raise JobTimeout(
                    f"{self.label} did not finish in {timeout:.0f} s (killed):\n"
                    f"{self.output()[-6000:]}"
                )
            time.sleep(0.05)
        return code


class Host:
    """One run host (module docstring): `start` runs a command there."""

    def __init__(
        self, name: str, level: str, directory: Path, netns: str | None, address: str
    ) -> None:
        self.name = name
        self.level = level
        self.address = address  # where the host is on the lab's network ("" when shared)
        self.logs = directory  # this process's folder for the host's job logs
        self.logs.mkdir(parents=True, exist_ok=True)
        self._jobs = 0
        self._init: subprocess.Popen[bytes] | None = None
        self._init_pid = 0
        self._enter: list[str] = []
        if level == "processes":
            self.private = directory / "disk"
            for sub in ("work", "home", "tmp", "dagster"):
                (self.private / sub).mkdir(parents=True, exist_ok=True)
            return
        code_in_tmp = any(
            Path(p).resolve().is_relative_to("/tmp") for p in (ROOT, sys.prefix, sys.executable)
        )
        self.private = Path(HOST_DIR if not code_in_tmp else f"/run/{PREFIX}{os.getpid()}-{name}")
        prefix = _unshare_prefix()
        assert prefix is not None  # isolation() said namespaces work
        wrap = ["ip", "netns", "exec", netns] if netns else []
        cmd = [*wrap, *prefix, sys.executable, "-c", _INIT, name, str(self.private), str(ROOT)]
        cmd.append("0" if code_in_tmp else "1")
        self._init = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        assert self._init.stdout is not None
        ready, _, _ = select.select([self._init.stdout], [], [], START_TIMEOUT_S)
        line = self._init.stdout.readline().decode().strip() if ready else ""
        if line != "ready":
            self.stop()
            rest = self._init.stdout.read().decode(errors="replace")
            raise RuntimeError(
                f"host {name} did not start within {START_TIMEOUT_S:.0f} s: {line} {rest}"
            )
        self._init_pid = self._child_of(self._init.pid)
        enter = ["nsenter", f"--target={self._init_pid}", "--uts", "--pid", "--mount"]
        if netns:
            enter.append("--net")
        if "--user" in prefix:
            enter.append("--user")
        self._enter = [*enter, "--", "env", "-C", str(self.private / "work")]

    @staticmethod
    def _child_of(unshare: int) -> int:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            children = Path(f"/proc/{unshare}/task/{unshare}/children").read_text().split()
            if children:
                return int(children[0])
            time.sleep(0.05)
        raise RuntimeError(f"unshare {unshare} started no init process")

    def env(self, extra: Mapping[str, str]) -> dict[str, str]:
        """The environment of a process on this host: its own HOME, TMPDIR and DAGSTER_HOME."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.private / "home"),
            "TMPDIR": str(self.private / "tmp"),
            "DAGSTER_HOME": str(self.private / "dagster"),
            **extra,
        }

    def start(self, args: Sequence[str], env: Mapping[str, str]) -> Job:
        """Run `args` on this host, in a session of its own, output to a log file here."""
        self._jobs += 1
        log = self.logs / f"job-{self._jobs:02d}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*self._enter, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=self.private / "work" if self.level == "processes" else None,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        return Job(self.name, tuple(args), proc, log)

    def run(self, args: Sequence[str], env: Mapping[str, str], timeout: float) -> str:
        """`start` and wait: the output, or AssertionError with it when the command failed."""
        job = self.start(args, env)
        code = job.wait(timeout)
        assert code == 0, f"{job.label} exited {code}:\n{job.output()[-6000:]}"
        return job.output()

    def stop(self) -> None:
        """Power the host off: SIGKILL its init, which takes every process of the host."""
        if self._init is None or self._init.poll() is not None:
            return
        if self._init_pid > 0:  # never 0: kill(0) would signal this process's own group
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._init_pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self._init.kill()
        self._init.wait(timeout=30)


@dataclass
class Lab:
    """The servers and the hosts; `describe()` says how isolated they are."""

    isolation: str
    store: ObjectStore
    pg: postgres.Postgres
    hosts: dict[str, Host]
    subnet: str | None

    def describe(self) -> str:
        if self.isolation == "netns":
            where = ", ".join(f"{h.name} {h.address}" for h in self.hosts.values())
            return (
                f"isolation netns: hosts in their own network, UTS, PID and mount namespaces "
                f"({where}; private /tmp, code read-only), servers in a namespace of their own "
                f"on {self.pg.address} ({self.subnet})"
            )
        if self.isolation == "namespaces":
            return (
                "isolation namespaces: hosts in their own UTS, PID and mount namespaces (private "
                "/tmp, code read-only); no network namespaces here, servers on loopback"
            )
        return (
            "isolation processes: no namespaces here; separate processes and folders on one "
            "hostname, so the process check, not the heartbeat, judges a dead run"
        )


@contextlib.contextmanager
def lab(directory: Path, names: Sequence[str] = ("host-a", "host-b")) -> Iterator[Lab]:
    """Start the servers and the hosts `names`; stop them all on the way out."""
    level = isolation()
    with contextlib.ExitStack() as stack:
        network: Network | None = None
        address, clients = "127.0.0.1", None
        wrap: tuple[str, ...] = ()
        if level == "netns":
            remove_leftovers()
            network = Network()
            stack.callback(network.teardown)
            network.setup()
            address, clients = network.server_ip, network.cidr
            wrap = ("ip", "netns", "exec", network.server_ns)
        store = stack.enter_context(
            running_object_store(directory / "s3", bucket="two-hosts", ip=address, wrap=wrap)
        )
        pg = postgres.start(address, clients, wrap)
        stack.callback(pg.stop)
        hosts = {}
        for i, name in enumerate(names):
            netns, host_ip = network.add_host(i) if network else (None, "")
            host = Host(name, level, directory / name, netns, host_ip)
            stack.callback(host.stop)
            hosts[name] = host
        yield Lab(level, store, pg, hosts, network.cidr if network else None)


def upload(store: ObjectStore, folder: Path, uri: str) -> None:
    """Copy a local folder (a generated landing zone) key for key under `uri` (`s3://…`)."""
    fs = store.filesystem()
    base = uri.removeprefix("s3://")
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with fs.open_output_stream(f"{base}/{path.relative_to(folder).as_posix()}") as out:
            out.write(path.read_bytes())


def run_env(
    lab: Lab, raw: str, warehouse: str, database: str = postgres.DATABASE, **extra: str
) -> dict[str, str]:
    """What every host's `metrics` runs get: the landing zone and warehouse on the object store,
    the Dagster instance on the lab's Postgres (database `database`), plus `extra`."""
    return {
        **lab.store.env,
        **lab.pg.env(database),
        "METRICS_INSTANCE": "postgres",
        "METRICS_RAW_DIR": raw,
        "METRICS_WAREHOUSE_DIR": warehouse,
        **extra,
    }


def metrics_command(*args: str) -> list[str]:
    """The `metrics` console script (pipelines/cli.py) as a host runs it."""
    return [sys.executable, "-m", "pipelines.cli", *args]
