"""Every instant converges: a `metrics` run killed at any moment is finished by the next run.

tests/e2e/test_faults.py kills runs at named points of the write path; this suite kills them at
instants those points do not reach. Each case copies a warehouse with 8 days of history (and
its DAGSTER_HOME), starts a real `metrics nightly --date D` (or `metrics backfill` of 3 dates
with METRICS_WORKERS=2) as its own process group, SIGKILLs the whole group (the run and its
parsing workers) at one instant, and then checks:

* until a re-run, the versions the manifest names read exactly as before the killed run, or,
  once it published, exactly as a clean run's: readers never see a torn state;
* (a) a re-run of the same dates, and (b) on a copy of the killed warehouse and instance, a run
  of the next landing date, each give every table partition identical to a clean run's
  (tests/helpers/pipeline.py `table_digests`) and a settled state: nothing owed, no run left
  in progress, no pool slot held (tests/helpers/crash.py `state_of`, the seam to repoint when
  the run-state protocol changes).

Many instants leave the same state (the same rows in every table, the same debts, the same
unfinished runs and slots, up to run ids: tests/helpers/crash.py `fingerprint`), and the runs
after a kill are a function of that state, so each distinct state is run after once per worker
and its verdict stands for every case that leaves it. The runs after the kill execute in this
process, as the CLI's run does (pipelines/run.py: dead
runs reaped first, pool slots waited for with a deadline), with one parsing worker, under a
deadline that ends the worker with every thread's stack if one hangs. "A clean run" is the same
commands without the kill; a killed run that left no trace (neither its dates requested in the
ledger nor its run in the instance: it died starting up) left nothing to finish, so (b) then
expects the clean run of the next date alone. The
warehouses live in /dev/shm where there is one: a SIGKILL loses nothing the page cache holds,
and on a busy disk the runs otherwise wait on fsync.

The instants, per run kind:

* `elapsed` (`tNN-<fraction>`): 40 for the nightly, 12 for the backfill, one in each equal
  slice of a clean run's measured wall time at a place a fixed seed picks, from interpreter
  start-up and imports through the Dagster instance, the catalog, parsing, every step, the
  views and the manifest. Where an instant falls in the code varies with the machine's load.
* durable events, exact whatever the load: a clean run of each kind is traced
  (tests/helpers/crash.py `trace_events`) for its Delta commits (the `linkat` that publishes a
  log entry: of a data table, or of a control table, the `ledger` and the `manifests`) and the
  atomic file replaces of its main thread (`metrics.duckdb`, `manifest.json`); strace then
  holds the killed run's thread at one of them and the group is killed there.
  `commit-<table>[@n]-before`: the (n-th) log entry staged (`<version>.json#1`), not published;
  `commit-<table>[@n]-after`: published, and nothing else of the run has happened;
  `replace-NN`: just after the NN-th replace, which is also just before the next durable step.
  EVENTS lists the 20 of every run by default: inside the first commit of each step, between
  each step's last commit and the ledger update after it (quarantine -> the normalize
  hand-on, post_hourly -> the hourly hand-on, rollup_hour -> the settle), after each ledger
  update that opens or closes a step, and around each publication. METRICS_CRASH_SWEEP=all
  takes both sides of every commit, every replace, and 40 elapsed instants for the backfill.

Why the backfill has 12 elapsed instants, not 40: elapsed instants reach few distinct killed
states. Measured on the nightly (2 cores shared with other work, 2026-12-08): 40 elapsed
instants reached 6 distinct states (what was committed, what the ledger owed, the run's status,
what readers saw), 13 of them after the run had ended; the 35 durable events of a full sweep
reached 22; the only states elapsed instants alone reached were "no run yet", "run recorded
NOT_STARTED" and "run ended". The backfill's write path is the nightly's (the same steps and
commits; only normalize's parsing differs, one worker per date), so its 20 events carry the
coverage, and 12 elapsed instants (one in each twelfth of the run) reach those three states.
The two gaps this suite found in the file-based protocol it was first written against are
closed: a run that died before normalize claimed its dates was loaded only by a run of those
dates (now its dates are requested in the ledger before the run exists), and a run killed
before it started stayed NOT_STARTED for ever (now dead NOT_STARTED runs are reaped).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from assets.ingest import landing_zone
from assets.resources import WarehouseResource
from metrics.ingest.normalize import landing_dates
from metrics.model import tables
from pipelines import run as runs
from pipelines.definitions import all_assets, all_checks, landing_job
from tests.helpers import crash
from tests.helpers.pipeline import make_landing, run

RUN_TIMEOUT_S = 180.0
SLOT_WAIT_S = "30"
# METRICS_CRASH_SWEEP=all kills every kind of run at 40 elapsed instants and at every durable
# event of its traced clean run (both sides of every commit, after every replace): about three
# times the cases, for the lead's protocol work; the default fits the CI budget.
SWEEP = os.environ.get("METRICS_CRASH_SWEEP", "") == "all"
ELAPSED = {"nightly": 40, "backfill": 40 if SWEEP else 12}
SEEDS = {"nightly": 18, "backfill": 19}
WORKERS = "2"  # the killed runs' parsing workers
RERUN_WORKERS = "1"  # the runs after them: results do not depend on it, CPU does
TMPFS = Path("/dev/shm")
# Landing dates 0-7 are the history; 8 is the busiest (the nightly's date, the backfill's first),
# 9-11 hold late files only.
ZONE = dict(days=9, accounts=8, posts_per_account=3)
# The atomic replaces a clean run of each kind makes (metrics.duckdb, manifest.json), and its
# ledger commits: the request, the catalog claim, the normalize claim and hand-on, the posts
# claim, the hourly claim, the days owed, the hourly hand-on, the settle.
REPLACES = {"nightly": 2, "backfill": 2}
LEDGER_COMMITS = 9
TABLES = [t.name for t in tables.TABLES]
SIDES = ("before", "after")
# The durable events every run is killed at by default: inside the first commit of each step
# (its log entry staged, not published), between each step's last commit and the ledger update
# after it, and after the ledger updates and publications that end a step or the run.
EVENTS = [
    "commit-ledger-after",  # the run's dates requested; the run not yet in the instance
    "commit-ledger@2-before",  # the catalog step's claim being committed
    "commit-catalog_entities-before",
    "commit-catalog_accounts-after",  # the catalog published; normalize has not claimed yet
    "commit-ledger@3-after",  # the landing dates claimed for normalize
    "commit-post_observations-before",
    "commit-quarantine-after",  # every normalized table committed; not handed on
    "commit-ledger@4-after",  # handed on to the hourly step
    "commit-posts-after",
    "commit-ledger@7-after",  # the post_hourly days owed to the rollups; not committed
    "commit-post_hourly-before",
    "commit-post_hourly-after",  # post_hourly committed; the hourly hand-on not made
    "commit-ledger@8-after",  # handed on to the rollups
    "commit-rollup_week-before",
    "commit-rollup_hour-after",  # every rollup committed; their debts not settled
    "commit-ledger@9-after",  # settled, the cut recorded
    "replace-01",  # metrics.duckdb swapped in; no manifest yet
    "commit-manifests-before",
    "commit-manifests-after",  # the publication committed; manifest.json still the previous one
    "replace-02",  # manifest.json published; the run not yet recorded as a success
]

OBSERVATIONS = {t.name for t in tables.NORMALIZED}


@dataclass(frozen=True)
class Crashed:
    """What a killed run left: whether it left a trace (its run in the instance, or anything in
    the ledger: its dates requested first of all), the state, and the tables whose content it
    changed."""

    recorded: bool
    left: crash.State
    changed: list[str]


@dataclass(frozen=True)
class Kind:
    """A kind of run: its CLI arguments, its landing dates and the next date after them."""

    name: str
    first: int
    last: int

    def args(self, days: list[date]) -> list[str]:
        if self.first == self.last:
            return ["nightly", "--date", days[self.first].isoformat()]
        return [
            "backfill",
            "--since",
            days[self.first].isoformat(),
            "--until",
            days[self.last].isoformat(),
        ]


NIGHTLY = Kind("nightly", 8, 8)
BACKFILL = Kind("backfill", 8, 10)


def _instants(n: int, seed: int) -> list[float]:
    """n fractions of a run, one in each n-th of it, at a place the seed picks."""
    rng = random.Random(seed)
    return [round((i + rng.random()) / n, 3) for i in range(n)]


@dataclass
class Landing:
    """The landing zone, the warehouse of its first 8 days and an empty DAGSTER_HOME (its
    storage created), built once per module and copied per case."""

    root: Path
    raw: Path = field(init=False)
    days: list[date] = field(init=False)
    warehouse: Path = field(init=False)
    home: Path = field(init=False)

    def __post_init__(self) -> None:
        self.raw, _ = make_landing(self.root, **ZONE)
        self.days = landing_dates(self.raw)
        self.warehouse = self.root / "before" / "warehouse"
        self.home = self.root / "before" / "dagster_home"
        run(self.raw, self.warehouse, self.days[0], self.days[7])
        self.home.mkdir(parents=True)
        shutil.copyfile(runs.INSTANCE_TEMPLATE, self.home / "dagster.yaml")
        with dg.DagsterInstance.from_config(str(self.home)) as instance:
            instance.get_runs(limit=1)
            instance.event_log_storage.get_concurrency_keys()

    def env(self, warehouse: Path, home: Path, workers: str = WORKERS) -> dict[str, str]:
        """The environment of a `metrics` run over this landing zone."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "DAGSTER_HOME": str(home),
            "METRICS_RAW_DIR": str(self.raw),
            "METRICS_WAREHOUSE_DIR": str(warehouse),
            "METRICS_WORKERS": workers,
            "METRICS_FIRST_LANDING_DATE": os.environ["METRICS_FIRST_LANDING_DATE"],
            "METRICS_SLOT_WAIT_SECONDS": SLOT_WAIT_S,
        }

    def copy(self, to: Path) -> tuple[Path, Path]:
        return crash.copy_pair(self.warehouse, self.home, to)

    def rerun(self, warehouse: Path, home: Path, first: date, last: date) -> None:
        """A run of landing dates first..last, in this process, the way `metrics` runs one."""
        job = dg.Definitions(
            assets=[*all_assets, landing_zone],
            asset_checks=all_checks,
            jobs=[landing_job],
            resources={
                "warehouse": WarehouseResource(raw_dir=str(self.raw), warehouse_dir=str(warehouse))
            },
        ).resolve_job_def("landing_job")
        tags = {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
        with (
            pytest.MonkeyPatch.context() as env,
            crash.deadline(RUN_TIMEOUT_S),
            dg.DagsterInstance.from_config(str(home)) as instance,
        ):
            for name, value in self.env(warehouse, home, RERUN_WORKERS).items():
                env.setenv(name, value)
            runs.wait_for_pools(instance, runs.job_pools(job), float(SLOT_WAIT_S))
            result, record = runs.execute_with_deadline(
                job, instance, tags=tags, run_config=runs.QUIET, slot_wait=float(SLOT_WAIT_S)
            )
            if record.status != dg.DagsterRunStatus.SUCCESS:
                events = result.all_events if result else []
                failed = [e.message for e in events if e.is_step_failure]
                failed += [
                    f"check {data.check_name} on {data.asset_key.to_user_string()} failed"
                    for data in (e.event_specific_data for e in events)
                    if isinstance(data, dg.AssetCheckEvaluation) and not data.passed
                ]
                pytest.fail(f"the run of {first}..{last} ended {record.status.value}: {failed}")


@dataclass
class Reference:
    """What a clean run of one kind gives, how long it takes and the durable events it makes."""

    kind: Kind
    landing: Landing
    root: Path
    seconds: float = field(init=False)
    before: crash.State = field(init=False)
    clean: crash.State = field(init=False)
    clean_next: crash.State = field(init=False)
    next_alone: crash.State = field(init=False)
    events: list[crash.Event] = field(init=False)
    # killed state -> the verdict of the runs after it, judged once per state in this worker
    proven: dict[tuple, list[str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        land, days = self.landing, self.landing.days
        self.args = self.kind.args(days)
        self.dates = (days[self.kind.first], days[self.kind.last])
        self.next = days[self.kind.last + 1]
        self.before = crash.state_of(land.warehouse, land.home)
        wh, home = land.copy(self.root / "clean")
        self.seconds = crash.run_to_end(
            self.args, land.env(wh, home), self.root / "clean.log", RUN_TIMEOUT_S
        )
        # The faster of two clean runs: elapsed instants past a run's end kill nothing.
        twin, twin_home = land.copy(self.root / "timed")
        again = crash.run_to_end(
            self.args, land.env(twin, twin_home), self.root / "timed.log", RUN_TIMEOUT_S
        )
        self.seconds = min(self.seconds, again)
        self.clean = crash.state_of(wh, home)
        land.rerun(wh, home, self.next, self.next)
        self.clean_next = crash.state_of(wh, home)
        wh, home = land.copy(self.root / "alone")
        land.rerun(wh, home, self.next, self.next)
        self.next_alone = crash.state_of(wh, home)
        wh, home = land.copy(self.root / "traced")
        log = self.root / "traced.log"
        self.events = crash.trace_events(self.args, land.env(wh, home), wh, log, RUN_TIMEOUT_S)
        assert crash.state_of(wh, home).tables == self.clean.tables, "tracing changed the run"

    def event(self, name: str) -> crash.Event:
        found = [e for e in self.events if e.id == name]
        assert found, f"the traced clean run makes no event {name!r}: {[e.id for e in self.events]}"
        return found[0]

    def check(self, tmp: Path, case: str, kill: Callable[[Path, Path, Path], None]) -> None:
        """Kill a run by `kill(warehouse, home, log)`, then judge what it left and both runs
        after it; every problem found is reported together."""
        land = self.landing
        wh, home = land.copy(tmp / "killed")
        log = tmp / "killed.log"
        kill(wh, home, log)
        left = crash.state_of(wh, home)
        traced = bool(crash.runs_recorded(home)) or bool(left.debts)
        crashed = Crashed(traced, left, _changed(left, self.before))
        problems = []
        if left.published not in (self.before.published, self.clean.published):
            torn = crash.differences(left.published, self.before.published)
            problems.append(f"readers see a torn state, against the previous one: {torn[:6]}")
        # The runs after a kill are a function of what it left: a state already judged (many
        # instants leave the same one) is not run again, its verdict stands.
        seen = self.proven.get(key := (crashed.recorded, crash.fingerprint(left)))
        if seen is None:
            seen = self.proven[key] = self._runs_after(tmp, wh, home, crashed)
        problems += seen
        assert not problems, (
            f"{self.kind.name} {case}: the killed run "
            + ("left a trace" if crashed.recorded else "left no trace")
            + f"; it left {left.owed}; tables it changed: {crashed.changed}\n"
            + "\n".join(problems)
            + f"\nthe killed run's output:\n{crash.tail(log, 1500)}"
        )

    def _runs_after(self, tmp: Path, wh: Path, home: Path, crashed: Crashed) -> list[str]:
        """The problems of the re-run of the same dates and, on a copy, of the run of the next
        date, after the kill that left `crashed`."""
        land = self.landing
        problems: list[str] = []
        later_wh, later_home = crash.copy_pair(wh, home, tmp / "later")
        verdicts = [
            ("re-run of the same dates", wh, home, self.dates, self.clean),
            (
                "run of the next date",
                later_wh,
                later_home,
                (self.next, self.next),
                self.clean_next if crashed.recorded else self.next_alone,
            ),
        ]
        for what, w, h, (first, last), want in verdicts:
            land.rerun(w, h, first, last)
            got = crash.state_of(w, h)
            diff = crash.differences(got.tables, want.tables)
            if diff:
                problems.append(f"{what}: {len(diff)} partitions not as a clean run's: {diff[:8]}")
            if not got.settled:
                problems.append(f"{what}: not settled: {got.owed}")
        return problems


def _changed(state: crash.State, before: crash.State) -> list[str]:
    """The tables with a partition added, removed or rewritten with other rows."""
    keys = state.tables.keys() | before.tables.keys()
    return sorted({k.split("/")[0] for k in keys if state.tables.get(k) != before.tables.get(k)})


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the module's warehouses live: in memory (/dev/shm) where there is one, since a
    SIGKILL of a process loses nothing the page cache holds, and the runs wait on fsync on a
    busy disk; else the test's temporary folder. Emptied when the module ends."""
    if TMPFS.is_dir() and os.access(TMPFS, os.W_OK):
        root = Path(tempfile.mkdtemp(prefix="crash-instants-", dir=TMPFS))
    else:
        root = tmp_path_factory.mktemp("crash-instants")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def case_dir(scratch: Path) -> Iterator[Path]:
    """A folder of its own for one case, removed after it (a failure's message says all)."""
    path = Path(tempfile.mkdtemp(prefix="case-", dir=scratch))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def landing(scratch: Path) -> Landing:
    (scratch / "landing").mkdir()
    return Landing(scratch / "landing")


@pytest.fixture(scope="module")
def nightly(landing: Landing, scratch: Path) -> Reference:
    (scratch / "nightly").mkdir()
    return Reference(NIGHTLY, landing, scratch / "nightly")


@pytest.fixture(scope="module")
def backfill(landing: Landing, scratch: Path) -> Reference:
    (scratch / "backfill").mkdir()
    return Reference(BACKFILL, landing, scratch / "backfill")


def _elapsed_ids(kind: str) -> list[str]:
    instants = _instants(ELAPSED[kind], SEEDS[kind])
    return [f"t{i:02d}-{f:.3f}" for i, f in enumerate(instants)]


def _event_ids(kind: str) -> list[str]:
    if not SWEEP:
        return EVENTS
    commits = [f"commit-{t}-{side}" for t in TABLES for side in SIDES]
    return commits + [f"replace-{n:02d}" for n in range(1, REPLACES[kind] + 1)]


def _kill_elapsed(ref: Reference, case: str) -> Callable[[Path, Path, Path], None]:
    fraction = float(case.split("-")[1])

    def kill(wh: Path, home: Path, log: Path) -> None:
        seconds = fraction * ref.seconds
        proc = crash.kill_after(ref.args, ref.landing.env(wh, home), log, seconds)
        log.write_text(
            f"[killed {seconds:.3f} s after the start ({fraction} of a clean run's "
            f"{ref.seconds:.2f} s); returncode {proc.returncode}]\n" + log.read_text()
        )

    return kill


def _kill_event(ref: Reference, case: str) -> Callable[[Path, Path, Path], None]:
    name, _, side = case.rpartition("-")
    event, before = (
        (ref.event(name), side == "before") if side in SIDES else (ref.event(case), False)
    )

    def kill(wh: Path, home: Path, log: Path) -> None:
        crash.kill_at(ref.args, ref.landing.env(wh, home), wh, log, event, before, RUN_TIMEOUT_S)

    return kill


@pytest.mark.xdist_group("crash_nightly_elapsed")
@pytest.mark.parametrize("case", _elapsed_ids("nightly"))
def test_nightly_killed_at_an_elapsed_instant_converges(
    nightly: Reference, case: str, case_dir: Path
) -> None:
    nightly.check(case_dir, case, _kill_elapsed(nightly, case))


@pytest.mark.xdist_group("crash_events_and_backfill")
@pytest.mark.parametrize("case", _event_ids("nightly"))
def test_nightly_killed_at_a_durable_event_converges(
    nightly: Reference, case: str, case_dir: Path
) -> None:
    nightly.check(case_dir, case, _kill_event(nightly, case))


@pytest.mark.xdist_group("crash_events_and_backfill")
@pytest.mark.parametrize("case", _elapsed_ids("backfill"))
def test_backfill_killed_at_an_elapsed_instant_converges(
    backfill: Reference, case: str, case_dir: Path
) -> None:
    backfill.check(case_dir, case, _kill_elapsed(backfill, case))


@pytest.mark.xdist_group("crash_events_and_backfill")
@pytest.mark.parametrize("case", _event_ids("backfill"))
def test_backfill_killed_at_a_durable_event_converges(
    backfill: Reference, case: str, case_dir: Path
) -> None:
    backfill.check(case_dir, case, _kill_event(backfill, case))


def _assert_events(ref: Reference) -> None:
    commits = sorted(e.table for e in ref.events if e.kind == "commit")
    expected = sorted([*TABLES, "manifests", *["ledger"] * LEDGER_COMMITS])
    assert commits == expected, (
        "a clean run commits each table and the manifests once, and the ledger "
        f"{LEDGER_COMMITS} times: {[e.id for e in ref.events]}"
    )
    replaces = [e.target for e in ref.events if e.kind == "replace"]
    assert len(replaces) == REPLACES[ref.kind.name], (
        f"a clean {ref.kind.name} makes {len(replaces)} atomic replaces ({replaces}): "
        "set REPLACES to that"
    )


@pytest.mark.xdist_group("crash_events_and_backfill")
def test_the_traced_nightly_makes_the_events_the_cases_name(nightly: Reference) -> None:
    _assert_events(nightly)


@pytest.mark.xdist_group("crash_events_and_backfill")
def test_the_traced_backfill_makes_the_events_the_cases_name(backfill: Reference) -> None:
    _assert_events(backfill)


def test_a_trace_names_the_commits_and_the_main_threads_replaces() -> None:
    """Hand-made strace -f lines: delta-rs publishing two log entries from its own threads, a
    rename in a parsing worker (not the run's main thread), two in the main thread, a failed
    link; the events are the two commits and the two main-thread replaces, in order."""
    wh = "/w"

    def link(tid: int, table: str, version: int, result: str = "0") -> str:
        entry = f"/w/tables/{table}/_delta_log/{version:020d}.json"
        return f'{tid} linkat(AT_FDCWD, "{entry}#1", AT_FDCWD, "{entry}", 0) = {result}'

    def execve(pid: int) -> str:
        return f'{pid} execve("/venv/bin/python", ["python"], 0x7ffd /* 9 vars */) = 0'

    lines = [
        execve(100),
        link(104, "posts", 3),
        '100 rename("/w/state/.ledger.json.ab.tmp", "/w/state/ledger.json") = 0',
        execve(131),
        '131 rename("/tmp/x", "/tmp/y") = 0',
        link(107, "posts", 4, "-1 EEXIST (File exists)"),
        link(107, "rollup_day", 0),
        '100 rename("/w/.manifest.json.cd.tmp", "/w/manifest.json") = 0',
    ]
    events = crash.parse_trace("\n".join(lines), Path(wh))
    assert [(e.id, e.target, e.version) for e in events] == [
        ("commit-posts", "tables/posts/_delta_log/00000000000000000003.json", 3),
        ("replace-01", "state/ledger.json", -1),
        ("commit-rollup_day", "tables/rollup_day/_delta_log/00000000000000000000.json", 0),
        ("replace-02", "manifest.json", -1),
    ]
    staged = "/w/tables/posts/_delta_log/00000000000000000003.json#1"
    assert events[0].strace(Path(wh), before=True) == [
        "-e",
        "trace=linkat",
        "-P",
        staged,
        "-e",
        f"inject=linkat:error=EIO:delay_exit={crash.FREEZE}",
    ]
    assert events[1].strace(Path(wh), before=False) == [
        "-e",
        "trace=rename",
        "-e",
        f"inject=rename:delay_exit={crash.FREEZE}:when=1",
    ]
