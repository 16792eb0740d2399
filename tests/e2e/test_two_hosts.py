"""Two run hosts, one warehouse on S3, one Dagster instance on Postgres: crashes of concurrent
runs on either host converge to a clean single-host build, row for row.

The hosts are made by tests/helpers/hosts.py (network, UTS, PID and mount namespaces where the
machine allows it; the test's summary line says which isolation it got). Each host has its own
hostname, processes, DAGSTER_HOME, working directory and /tmp; the landing zone and the
warehouse are on the SeaweedFS server and the Dagster instance in the one Postgres, which is all
they share. So a run killed on one host is judged dead on the other by its heartbeat alone
(assets/runs.py, pipelines/run.py `_gone`), which the test sets to a few seconds.

The scenario, with its kill instants and hosts drawn from a seed (the test id's CRC, so a
failure replays): host A backfills the first landing dates while host B backfills the later
ones; one of the two is SIGKILLed (its whole process group) at a random instant, and its work
is run again at once on the other host, while the survivor still runs. Then both hosts run the
nightly of the same date at once, one of them is killed, and the work is run again on either
host; any run that ends otherwise than in success is run again until done (bounded). Every
command has a timeout that fails the test with its output, so no run can wait forever.

Then: every table partition reads exactly as in the clean build (`table_digests`: no lost or
doubled row), the versions the manifest names read the same, the ledger owes nothing, the
published warehouse versions are distinct and contiguous with `manifest.json` naming the newest,
the read function answers exactly as over the clean build, and in the instance every run is
finished (the killed ones failed by their heartbeat) and no pool slot is held. The clean build is
one backfill of every date on host A alone, into a warehouse and a Postgres database of its own.

The summary line (pytest's terminal summary, "how these tests ran") says which isolation the
hosts got, how many dead runs were judged by heartbeat and by process, and how many landing
dates a run left to a run that was already dead but not yet judged so (within the heartbeat
timeout of its death): such a run succeeds without those dates, and a later run adopts them
(docs/incremental.md), so the story notes them and the end state must still converge.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from metrics.ingest.normalize import landing_dates
from metrics.warehouse import ledger, manifest
from pipelines import run as runs
from tests.helpers import hosts
from tests.helpers.hosts import Host, Job, Lab
from tests.helpers.pipeline import make_landing, project_answers, table_digests

pytestmark = pytest.mark.xdist_group("two_hosts")

HEARTBEAT_S = 6  # METRICS_HEARTBEAT_TIMEOUT_SECONDS: a killed run is judged dead this soon
SLOT_WAIT_S = 90  # METRICS_SLOT_WAIT_SECONDS: the longest a run waits for another's slot
JOB_TIMEOUT_S = 300  # any one command; past it the test fails with the command's output
ATTEMPTS = 4  # runs of one piece of work before the test gives up on it
ZONE = dict(accounts=4, posts_per_account=2, days=6, interval_minutes=360)
CLEAN_DB = "clean"
# How long a half backfill and a nightly take, two at once, against the clean backfill alone
# (measured on 2 cores): kill instants are drawn over the whole of the victim's expected life.
BACKFILL_SCALE, NIGHTLY_SCALE = 1.1, 0.6
SEED_ENV = "METRICS_TEST_SEED"  # replay or explore another draw; default: the test id's CRC


@dataclass
class Zone:
    """The landing zone on the object store and the clean single-host build over it."""

    raw: str
    days: list[date]
    clean: str  # the clean build's warehouse
    digests: dict[str, str]
    answers: list[dict]
    seconds: float  # the clean backfill's wall time: the scale of the kill instants


def _extra() -> dict[str, str]:
    return {
        "METRICS_WORKERS": "1",
        "METRICS_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_S),
        "METRICS_SLOT_WAIT_SECONDS": str(SLOT_WAIT_S),
        "METRICS_FIRST_LANDING_DATE": "2026-01-01",
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with (
        hosts.lab(tmp_path_factory.mktemp("two-hosts")) as made,
        pytest.MonkeyPatch.context() as mp,
    ):
        for name, value in made.store.env.items():
            mp.setenv(name, value)  # this process reads the warehouse too
        yield made


@pytest.fixture(scope="module")
def zone(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Zone:
    """A generated zone of nine landing dates on S3, and one backfill of all of it on host A
    alone, into a warehouse and a Dagster database of its own."""
    local, _ = make_landing(tmp_path_factory.mktemp("zone"), **ZONE)
    days = landing_dates(local)
    assert len(days) >= 9
    raw, clean = lab.store.uri("raw"), lab.store.uri("clean")
    hosts.upload(lab.store, local, raw)
    lab.pg.create_database(CLEAN_DB)
    host = lab.hosts["host-a"]
    env = host.env(hosts.run_env(lab, raw, clean, CLEAN_DB, **_extra()))
    began = time.monotonic()
    host.run(hosts.metrics_command("backfill"), env, JOB_TIMEOUT_S)
    seconds = time.monotonic() - began
    answers = project_answers(clean)
    assert any(a["totals"].get("views") for a in answers)  # the comparison is not of zeros
    return Zone(raw, days, clean, table_digests(clean), answers, seconds)


@dataclass
class Work:
    """A run that must end in success, on whichever host, however many attempts it takes."""

    args: tuple[str, ...]
    jobs: list[Job] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return bool(self.jobs) and self.jobs[-1].poll() == 0


class Scenario:
    """Starts work on hosts, kills at drawn instants, runs again what did not succeed, and
    keeps the story for the failure message."""

    def __init__(self, lab: Lab, zone: Zone, warehouse: str, seed: int) -> None:
        self.lab = lab
        self.rng = random.Random(seed)
        self.env = hosts.run_env(lab, zone.raw, warehouse, **_extra())
        self.names = sorted(lab.hosts)
        self.story: list[str] = [
            lab.describe(),
            f"seed {seed}; the clean backfill took {zone.seconds:.1f}s",
        ]
        self.began = time.monotonic()
        self.warehouse = warehouse
        self.kills = 0
        self.left_to_the_dead = 0
        self.works: list[Work] = []
        self.reported: list[Job] = []

    def judged(self) -> dict[str, int]:
        """How many dead runs the runs judged by the heartbeat (another host's run) and by the
        process (their own host's), each run once (two runs may judge one at the same time)."""
        text = "\n".join(j.output() for w in self.works for j in w.jobs)
        return {
            how: len(set(re.findall(rf"^run ([0-9a-f-]{{36}}): [^\n]*{marker}", text, re.M)))
            for how, marker in (
                ("by heartbeat", "sent no heartbeat"),
                ("by process", "is gone \\(killed or crashed\\)"),
            )
        }

    def say(self, line: str) -> None:
        self.story.append(f"{time.monotonic() - self.began:6.1f}s {line}")

    def start(self, work: Work, host: Host) -> Job:
        if work not in self.works:
            self.works.append(work)
        job = host.start(hosts.metrics_command(*work.args), host.env(self.env))
        work.jobs.append(job)
        self.say(f"start {job.label}")
        return job

    def kill_at(self, job: Job, instant: float) -> bool:
        """SIGKILL `job` once it has run `instant` seconds; False if it ended before."""
        while job.poll() is None and job.elapsed() < instant:
            time.sleep(0.05)
        if not job.kill():
            self.say(f"exit {job.proc.returncode} before the kill at {instant:.1f}s: {job.label}")
            return False
        self.kills += 1
        self.say(f"SIGKILL {job.label} at {job.killed_at:.1f}s")
        return True

    def other(self, name: str) -> Host:
        return self.lab.hosts[next(n for n in self.names if n != name)]

    def finish(self, works: list[Work]) -> None:
        """Wait for every work's last job; run again (on a drawn host) what did not succeed.
        A job that was not killed must succeed: a failure of a live run is a finding."""
        deadline = time.monotonic() + JOB_TIMEOUT_S * ATTEMPTS
        while not all(w.done for w in works):
            for work in works:
                job = work.jobs[-1]
                code = job.wait(deadline - time.monotonic())
                if job.killed_at is None and job not in self.reported:
                    self.reported.append(job)
                    self.say(f"exit {code} after {job.elapsed():.1f}s: {job.label}")
                if code == 0:
                    continue
                assert job.killed_at is not None, self.failure(f"{job.label} failed", job)
                assert len(work.jobs) < ATTEMPTS, self.failure(f"{work.args} never succeeded")
                self.start(work, self.lab.hosts[self.rng.choice(self.names)])

    def failure(self, what: str, job: Job | None = None) -> str:
        tail = ""
        if job is not None:
            tail = f"\n--- its output ---\n{job.output()[-6000:]}{self.errors(job)}"
        return f"{what}\n" + "\n".join(self.story) + tail

    def errors(self, job: Job) -> str:
        """The errors the instance holds for the job's run (the CLI prints a run's failure
        only when a step failed)."""
        found = re.search(r"^run ([0-9a-f-]{36}) ", job.output(), re.M)
        if not found:
            return ""
        rows = self.lab.pg.psql(
            "SELECT event FROM event_logs WHERE run_id = '" + found.group(1) + "' AND "
            "dagster_event_type IN ('PIPELINE_FAILURE', 'RUN_FAILURE', 'STEP_FAILURE')"
        )
        lines = []
        for row in rows.splitlines():
            data = json.loads(row)["dagster_event"]["event_specific_data"] or {}
            error = data.get("error") or {}
            while error:
                lines.append(f"{error.get('cls_name')}: {error.get('message', '').strip()}")
                error = error.get("cause") or error.get("context") or {}
        return "\n--- its run's errors in the instance ---\n" + "\n".join(lines)

    def overlap(self, first: Work, second: Work, scale: float) -> None:
        """`first` on one host and `second` on the other at once; one of them is killed at an
        instant drawn over `scale` seconds and its work run again at once on the other host."""
        a, b = self.rng.sample(self.names, 2)
        jobs = [self.start(first, self.lab.hosts[a])]
        time.sleep(self.rng.uniform(0, 1.5))
        jobs.append(self.start(second, self.lab.hosts[b]))
        pick = self.rng.randrange(2)
        instant = self.rng.uniform(0.05, 0.95) * scale
        if jobs[pick].poll() is not None and jobs[pick].elapsed() < instant:
            pick = 1 - pick  # it ended early (a crash would have been asserted): the other one
        if self.kill_at(jobs[pick], instant):
            self.start((first, second)[pick], self.other(jobs[pick].host))
        self.finish([first, second])
        self.owed_to_the_dead()

    def owed_to_the_dead(self) -> None:
        """Note landing dates still claimed or requested by a finished run once every run here
        succeeded: a run that started within the heartbeat timeout of another host's death left
        that run's dates to it (docs/incremental.md), and only a later run adopts them."""
        state = ledger.read(self.warehouse)
        for kind, held in (("claimed", state.normalize), ("requested", state.requested)):
            for day, claim in sorted(held.items()):
                status = self.lab.pg.psql(f"SELECT status FROM runs WHERE run_id = '{claim.owner}'")
                self.say(f"{day} still {kind} by run {claim.owner} ({status or 'no such run'})")
                self.left_to_the_dead += 1


def _instance(lab: Lab, home: Path, mp: pytest.MonkeyPatch) -> dg.DagsterInstance:
    """The shared instance, opened from this process (a third host, by its name)."""
    for name, value in lab.pg.env().items():
        mp.setenv(name, value)
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(runs.INSTANCE_TEMPLATES["postgres"].read_text())
    return dg.DagsterInstance.from_config(str(home))


def test_crashes_on_two_hosts_converge_to_one_clean_build(
    lab: Lab,
    zone: Zone,
    request: pytest.FixtureRequest,
    record_property,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = int(os.environ.get(SEED_ENV) or zlib.crc32(request.node.nodeid.encode()))
    warehouse = lab.store.uri("warehouse")
    scenario = Scenario(lab, zone, warehouse, seed)
    d = [day.isoformat() for day in zone.days]
    half = len(d[:-1]) // 2

    early = Work(("backfill", "--since", d[0], "--until", d[half - 1]))
    late = Work(("backfill", "--since", d[half], "--until", d[-2]))
    scenario.overlap(early, late, zone.seconds * BACKFILL_SCALE)
    same = [Work(("nightly", "--date", d[-1])) for _ in range(2)]
    scenario.overlap(same[0], same[1], zone.seconds * NIGHTLY_SCALE)

    story = scenario.failure
    assert scenario.kills >= 1, story("no kill landed: the runs ended before every instant")
    got = table_digests(warehouse)
    assert sorted(got) == sorted(zone.digests), story("a table partition is missing or extra")
    differ = sorted(p for p in got if got[p] != zone.digests[p])
    assert not differ, story(f"partitions differ from the clean build: {differ[:8]}")
    state = ledger.read(warehouse)
    assert state.settled, story(state.describe())

    numbers = manifest.numbers(warehouse)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), story(f"{numbers}")
    newest = manifest.read(warehouse)
    assert newest == manifest.history(warehouse)[-1], story(f"manifest.json is {newest}")
    assert table_digests(warehouse, newest["tables"]) == zone.digests, story("published differ")
    assert project_answers(warehouse) == zone.answers, story("answers differ")

    time.sleep(HEARTBEAT_S + 1)  # every killed run's heartbeat is stale now
    monkeypatch.setenv("METRICS_HEARTBEAT_TIMEOUT_SECONDS", str(HEARTBEAT_S))
    with _instance(lab, tmp_path / "home", monkeypatch) as instance:
        reaped = runs.reap_dead_runs(instance)
        statuses = Counter(r.status.value for r in instance.get_runs())
    jobs = [j for w in scenario.works for j in w.jobs]
    ok = sum(j.poll() == 0 for j in jobs)
    seen = story(f"runs in the instance: {dict(statuses)}; reaped now: {reaped}")
    assert set(statuses) <= {"SUCCESS", "FAILURE"}, seen  # none left unfinished
    # A run killed after its success was recorded is a success; one killed before its process
    # created it is not in the instance at all.
    assert ok <= statuses["SUCCESS"] <= ok + scenario.kills, seen
    assert statuses["FAILURE"] <= scenario.kills and statuses.total() <= len(jobs), seen
    held = lab.pg.psql("SELECT count(*) FROM concurrency_slots WHERE run_id IS NOT NULL")
    assert held == "0", story(f"{held} pool slots still held")

    judged = ", ".join(f"{n} {how}" for how, n in scenario.judged().items())
    summary = (
        f"{lab.describe()}; seed {seed}; {len(jobs)} runs, {scenario.kills} killed; dead runs "
        f"judged: {judged}; dates left to a dead run until a later run: "
        f"{scenario.left_to_the_dead}"
    )
    record_property("summary", summary)
    print("\n".join(scenario.story))
