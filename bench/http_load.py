"""HTTP load on loopback: `metrics serve` against a warehouse, driven by an asyncio client.

    python bench/http_load.py --warehouse /tmp/bench_wh [--requests 10000] [--rate 500]
    python bench/http_load.py --warehouse /tmp/bench_wh --workers 2

Starts the server in its own process on a free 127.0.0.1 port with a temporary keys file (one
key per organization, made with `metrics keys create`), waits for it, then sends the four
request shapes of `bench/query_latency.py` in rotation with `httpx.AsyncClient`:

1. closed loop: `--concurrency` connections each send the next request as soon as the
   previous one answers, `--requests` in all: the throughput the server (and this client,
   sharing the machine) can reach;
2. open loop at `--rate` requests/s (the target, 500): requests start on a fixed schedule
   whatever the answers do, and latency runs from the scheduled start, so a stalled server
   cannot hide its queue (no coordinated omission).

Every response must be a 200; anything else, or a transport error, counts as an error. Both
phases are bounded by `--requests` and `--max-seconds`. The server is stopped at the end.

`--mix` runs instead whether one long series can stall the others (spec §5, "one request
never holds the server for long"): open loop at `--rate` (default 1,000 req/s with --mix) of
the four small shapes, alone and with `--large-per-second` maximal queries added (an
organization, every metric, 5,000 day buckets in America/Los_Angeles: the most buckets the
limit allows, each a local midnight asked of the zone, ~1 MB of JSON). The two scenarios run
in blocks A B B A of `--mix-seconds` each on the same server, so drift in the machine's other
load falls on both alike; the small queries' p99 is reported for each, beside the large ones'.

`--workers N` is passed to `metrics serve --workers N`; with an older `metrics serve` that has
no such flag the script runs the same app through `python -m uvicorn --factory
metrics.http:create_app --workers N` (the factory reads METRICS_WAREHOUSE_DIR and
METRICS_KEYS_FILE).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import record
from bench.query_latency import PEER_METRICS, request_shapes

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_keys(keys_file: Path, orgs: list[str], env: dict[str, str]) -> dict[str, str]:
    """One read key per organization, printed once by `metrics keys create`."""
    out = {}
    for org in orgs:
        done = subprocess.run(
            [str(BIN / "metrics"), "keys", "create", "--org", org, "--keys-file", str(keys_file)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        out[org] = done.stdout.strip().splitlines()[0]
    return out


def serve_supports_workers(env: dict[str, str]) -> bool:
    done = subprocess.run(
        [str(BIN / "metrics"), "serve", "--help"], env=env, capture_output=True, text=True
    )
    return "--workers" in done.stdout


def start_server(
    warehouse: Path, keys_file: Path, port: int, workers: int, env: dict[str, str], log: Path
) -> tuple[subprocess.Popen, str]:
    if workers == 1 or serve_supports_workers(env):
        cmd = [str(BIN / "metrics"), "--warehouse", str(warehouse), "serve"]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--keys-file", str(keys_file)]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        how = "metrics serve"
    else:
        cmd = [sys.executable, "-m", "uvicorn", "--factory", "metrics.serve.http:create_app"]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        how = "uvicorn --factory metrics.http:create_app"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    return proc, how


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM to the server we started (its own session: workers included), then SIGKILL."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def server_cpu_seconds(pid: int) -> float:
    """CPU time of the server process and its direct children (uvicorn workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields[1] is ppid; utime and stime are fields 14 and 15 of the full line.
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def machine_busy_seconds() -> float:
    """CPU time spent by every process on the machine (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def large_requests(warehouse: Path, n_ids: int, seed: int) -> list[tuple]:
    """Maximal queries: organizations, every metric, MAX_BUCKETS local days ending at as_of."""
    from metrics.serve.query import METRICS
    from metrics.serve.window import MAX_BUCKETS

    shapes = request_shapes(warehouse, n_ids, seed)
    org_shape = next(f for f in shapes.values() if f(random.Random(0))["scope"] == "organization")
    rng = random.Random(seed)
    out = []
    for _ in range(n_ids):
        kw = org_shape(rng)
        until = date.fromisoformat(kw["until"])
        since = until - timedelta(days=MAX_BUCKETS)
        params = [("scope", "organization"), ("id", kw["id"]), ("since", since.isoformat())]
        params += [("until", until.isoformat()), ("granularity", "day")]
        params += [("tz", "America/Los_Angeles"), *(("metrics", m) for m in METRICS)]
        out.append((f"/v1/projects/{kw['project_id']}/metrics", params, kw["org_id"]))
    return out


def http_requests(warehouse: Path, n_ids: int, seed: int, n: int) -> list[tuple]:
    """`n` (path, params, org) triples rotating over the four shapes."""
    shapes = list(request_shapes(warehouse, n_ids, seed).values())
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kw = shapes[i % len(shapes)](rng)
        params = [(k, kw[k]) for k in ("scope", "id", "since", "until", "granularity", "tz")]
        params += [("metrics", m) for m in PEER_METRICS]
        out.append((f"/v1/projects/{kw['project_id']}/metrics", params, kw["org_id"]))
    return out


class HttpxClient:
    """httpx.AsyncClient with a bounded pool: the ordinary Python client."""

    def __init__(self, port: int, keys: dict[str, str], connections: int) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=httpx.Timeout(30.0)
        )
        self.keys = keys

    async def ready(self) -> bool:
        try:
            return (await self.client.get("/openapi.json")).status_code == 200
        except httpx.HTTPError:
            return False

    async def send(self, req: tuple) -> bool:
        path, params, org = req
        try:
            headers = {"Authorization": f"Bearer {self.keys[org]}"}
            r = await self.client.get(path, params=params, headers=headers)
            await r.aread()
            return r.status_code == 200
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        await self.client.aclose()


class RawClient:
    """HTTP/1.1 keep-alive over asyncio streams with pre-encoded requests: a client that costs
    a small fraction of the server's CPU, so that on a 2-core machine it measures the server."""

    def __init__(self, port: int, keys: dict[str, str], connections: int) -> None:
        self.port, self.keys = port, keys
        self.slots: asyncio.Queue = asyncio.Queue()
        for _ in range(connections):
            self.slots.put_nowait(None)
        self.encoded: dict[int, bytes] = {}

    def _encode(self, req: tuple) -> bytes:
        key = id(req)
        if key not in self.encoded:
            path, params, org = req
            self.encoded[key] = (
                f"GET {path}?{urlencode(params)} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Authorization: Bearer {self.keys[org]}\r\n\r\n"
            ).encode()
        return self.encoded[key]

    async def _get(self, raw: bytes) -> int:
        conn = await self.slots.get()
        try:
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", self.port)
            reader, writer = conn
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = None
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length is None:
                raise ValueError("response without Content-Length")
            await reader.readexactly(length)
        except BaseException:
            if conn is not None:
                conn[1].close()
            self.slots.put_nowait(None)
            raise
        self.slots.put_nowait(conn)
        return status

    async def ready(self) -> bool:
        try:
            raw = f"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n"
            return await self._get(raw.encode()) == 200
        except (OSError, ValueError, asyncio.IncompleteReadError):
            return False

    async def send(self, req: tuple) -> bool:
        try:
            return await self._get(self._encode(req)) == 200
        except (OSError, ValueError, asyncio.IncompleteReadError):
            return False

    async def close(self) -> None:
        while not self.slots.empty():
            conn = self.slots.get_nowait()
            if conn is not None:
                conn[1].close()


def _summary(latencies: list[float], errors: int, seconds: float) -> dict:
    latencies = sorted(latencies)
    n = len(latencies)

    def pct(q: float) -> float:
        return round(latencies[min(int(q * n), n - 1)] * 1e3, 2) if n else float("nan")

    return {
        "requests": n,
        "seconds": round(seconds, 2),
        "rps": round(n / seconds, 1) if seconds else 0.0,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1e3, 2) if n else float("nan"),
        "errors": errors,
    }


async def closed_loop(client, reqs: list, concurrency: int, limit: float) -> dict:
    latencies: list[float] = []
    errors = 0
    next_i = 0
    deadline = time.perf_counter() + limit

    async def worker() -> None:
        nonlocal next_i, errors
        while next_i < len(reqs) and time.perf_counter() < deadline:
            req = reqs[next_i]
            next_i += 1
            t0 = time.perf_counter()
            ok = await client.send(req)
            latencies.append(time.perf_counter() - t0)
            errors += not ok

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return _summary(latencies, errors, time.perf_counter() - start)


async def open_loop(client, reqs: list, rate: float, limit: float) -> dict:
    latencies: list[float] = []
    errors = 0
    n = min(len(reqs), int(rate * limit))

    async def one(req, scheduled: float) -> None:
        nonlocal errors
        ok = await client.send(req)
        latencies.append(time.perf_counter() - scheduled)
        errors += not ok

    start = time.perf_counter()
    tasks = []
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(reqs[i], scheduled)))
    await asyncio.gather(*tasks)
    out = _summary(latencies, errors, time.perf_counter() - start)
    out["target_rps"] = rate
    return out


async def mixed_open_loop(
    client, small: list, large: list, rate: float, seconds: float, large_per_second: float
) -> dict:
    """Open loop: `rate` small requests/s, plus `large_per_second` large ones (mid-second)."""
    latencies: dict[str, list[float]] = {"small": [], "large": []}
    errors = {"small": 0, "large": 0}
    plan = [(i / rate, small[i % len(small)], "small") for i in range(int(rate * seconds))]
    n_large = int(seconds * large_per_second)
    plan += [((k + 0.5) / large_per_second, large[k % len(large)], "large") for k in range(n_large)]
    plan.sort(key=lambda p: p[0])

    async def one(req, scheduled: float, kind: str) -> None:
        ok = await client.send(req)
        latencies[kind].append(time.perf_counter() - scheduled)
        errors[kind] += not ok

    start = time.perf_counter()
    tasks = []
    for offset, req, kind in plan:
        scheduled = start + offset
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(req, scheduled, kind)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    out = {"small": _summary(latencies["small"], errors["small"], elapsed)}
    if n_large:
        out["large"] = _summary(latencies["large"], errors["large"], elapsed)
    out["raw"] = latencies  # pooled over blocks by the caller, then dropped
    return out


async def mix(args, client, small: list, large: list, server_pid: int) -> dict:
    """Blocks A B B A (A: small only; B: small plus large), pooled per scenario."""
    pooled: dict[str, dict[str, list[float]]] = {"alone": {"small": []}, "with_large": {}}
    errors = {"alone": 0, "with_large": 0}
    blocks = []
    cpu = {"alone": 0.0, "with_large": 0.0}
    others = {"alone": 0.0, "with_large": 0.0}
    for name in ("alone", "with_large", "with_large", "alone"):
        per_s = args.large_per_second if name == "with_large" else 0
        cpu0, client0, busy0 = (
            server_cpu_seconds(server_pid),
            client_cpu_seconds(),
            machine_busy_seconds(),
        )
        block = await mixed_open_loop(client, small, large, args.rate, args.mix_seconds, per_s)
        cpu[name] += server_cpu_seconds(server_pid) - cpu0
        ours = server_cpu_seconds(server_pid) - cpu0 + client_cpu_seconds() - client0
        others[name] += machine_busy_seconds() - busy0 - ours
        for kind, values in block.pop("raw").items():
            if values:
                pooled[name].setdefault(kind, []).extend(values)
        errors[name] += sum(b["errors"] for b in block.values())
        blocks.append({"scenario": name, **{k: v["p99_ms"] for k, v in block.items()}})
    seconds = 2 * args.mix_seconds
    out: dict = {"blocks_p99_ms": blocks}
    for name, kinds in pooled.items():
        out[name] = {kind: _summary(v, 0, seconds) for kind, v in kinds.items()}
        out[name]["errors"] = errors[name]
        requests = sum(len(v) for v in kinds.values())
        out[name]["server_cpu_ms_per_req"] = round(cpu[name] / max(requests, 1) * 1e3, 2)
        # Cores' worth of CPU that neither the server nor this client used: other people's
        # work on a shared machine (about 0 when the figures are the server's alone).
        out[name]["other_cores"] = round(others[name] / seconds, 2)
    return out


async def drive(
    args, port: int, keys: dict[str, str], reqs: list, server_pid: int, large: list
) -> dict:
    kind = RawClient if args.client == "raw" else HttpxClient
    client = kind(port, keys, args.connections)
    try:
        deadline = time.perf_counter() + 120
        while not await client.ready():
            if time.perf_counter() > deadline:
                raise SystemExit("the server did not come up within 120 s")
            await asyncio.sleep(0.2)
        warm = await closed_loop(client, reqs[: args.warmup], args.concurrency, 60)
        if warm["errors"]:
            raise SystemExit(f"{warm['errors']} errors during warmup")
        if args.mix:
            for req in large[:4]:
                if not await client.send(req):
                    raise SystemExit("a maximal query did not answer 200")
            return {"mix": await mix(args, client, reqs, large, server_pid)}
        phases = {
            "closed_loop": lambda: closed_loop(client, reqs, args.concurrency, args.max_seconds)
        }
        if args.rate:
            phases["open_loop"] = lambda: open_loop(client, reqs, args.rate, args.max_seconds)
        result = {}
        for name, run in phases.items():
            cpu_s, cpu_c = server_cpu_seconds(server_pid), client_cpu_seconds()
            result[name] = await run()
            done = max(result[name]["requests"], 1)
            result[name]["server_cpu_ms_per_req"] = round(
                (server_cpu_seconds(server_pid) - cpu_s) / done * 1e3, 2
            )
            result[name]["client_cpu_ms_per_req"] = round(
                (client_cpu_seconds() - cpu_c) / done * 1e3, 2
            )
        return result
    finally:
        await client.close()


def _run(coro):
    """asyncio.run, on uvloop when it is installed (uvicorn's own loop)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Throughput and latency of `metrics serve` on loopback under an asyncio "
        "client; records bench/out/http.jsonl."
    )
    parser.add_argument("--warehouse", type=Path, required=True, help="a built warehouse")
    parser.add_argument("--requests", type=int, default=10_000, help="per phase")
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop connections")
    parser.add_argument("--connections", type=int, default=64, help="client connection pool")
    parser.add_argument(
        "--rate",
        type=float,
        help="open-loop requests/s (0 skips the phase; default 500, or 1000 with --mix)",
    )
    parser.add_argument(
        "--mix",
        action="store_true",
        help="instead of the two phases: small queries alone vs with large ones (A B B A)",
    )
    parser.add_argument("--mix-seconds", type=float, default=12.5, help="per --mix block")
    parser.add_argument(
        "--large-per-second", type=float, default=1.0, help="maximal queries/s in --mix"
    )
    parser.add_argument("--max-seconds", type=float, default=60, help="time bound per phase")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="raw: pre-encoded HTTP/1.1 on asyncio streams (light); httpx: httpx.AsyncClient",
    )
    parser.add_argument("--ids", type=int, default=20, help="ids to rotate over per shape")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the keys file and server log")
    args = parser.parse_args()
    if args.rate is None:
        args.rate = 1000.0 if args.mix else 500.0
    warehouse = args.warehouse.resolve()

    n_small = int(args.rate * args.mix_seconds) if args.mix else args.requests
    reqs = http_requests(warehouse, args.ids, args.seed, max(n_small, args.warmup))
    large = large_requests(warehouse, args.ids, args.seed) if args.mix else []
    orgs = sorted({org for _, _, org in reqs})
    tmp = Path(tempfile.mkdtemp(prefix="bench_http_"))
    keys_file = tmp / "keys.json"
    env = dict(os.environ, METRICS_WAREHOUSE_DIR=str(warehouse), METRICS_KEYS_FILE=str(keys_file))
    keys = create_keys(keys_file, orgs, env)
    load_before = os.getloadavg()
    port = free_port()
    proc, how = start_server(warehouse, keys_file, port, args.workers, env, tmp / "server.log")
    try:
        result = _run(drive(args, port, keys, reqs, proc.pid, large))
    finally:
        stop_server(proc)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    record(
        "http",
        {
            "warehouse": str(warehouse),
            "server": how,
            "workers": args.workers,
            "client": args.client,
            "concurrency": args.concurrency,
            "connections": args.connections,
            "shapes": "project 30d/day, post 7d/hour, org 90d/week, project 30d/day LA",
            **(
                {
                    "rate": args.rate,
                    "large": "org, all metrics, 5,000 days by day, America/Los_Angeles",
                    "large_per_second": args.large_per_second,
                    "mix_seconds_per_block": args.mix_seconds,
                }
                if args.mix
                else {}
            ),
            **result,
            # The machine's other load: figures taken with it above ~2 (of 2 cores) are not
            # the server's alone.
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "errors": sum(r["errors"] for r in result.values() if "errors" in r)
            if not args.mix
            else sum(result["mix"][s]["errors"] for s in ("alone", "with_large")),
            **({"server_log": str(tmp / "server.log")} if args.keep else {}),
        },
    )


if __name__ == "__main__":
    main()
