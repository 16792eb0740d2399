"""The `metrics` command line.

`backfill` and `nightly` run the Dagster job through `python -m pipelines.run` in a child process:
the domain package stays free of Dagster, and the runs still land in the same instance the UI
shows. Every subcommand honours --raw/--warehouse or METRICS_RAW_DIR/METRICS_WAREHOUSE_DIR.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import date
from types import FrameType

from metrics import config

Command = Callable[[argparse.Namespace], int]


def _paths(args: argparse.Namespace) -> None:
    """Export the chosen paths so child processes and library calls agree on them."""
    os.environ[config.RAW_ENV] = str(config.raw_dir(args.raw))
    os.environ[config.WAREHOUSE_ENV] = str(config.warehouse_dir(args.warehouse))


# After a stop signal, the run gets this long to record its failure and free its slots before
# its process group is killed (the next run then clears what it left behind).
STOP_GRACE_SECONDS = 60.0
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _run_pipeline(argv: list[str]) -> int:
    """Run `python -m pipelines.run ARGV` and, if we are stopped, stop it cleanly too.

    The child gets its own process group, so a terminal's Ctrl+C reaches it once (through us)
    instead of twice, and a group kill takes its parsing workers along. SIGINT and SIGTERM are
    forwarded (SIGHUP as SIGTERM) and we wait for the child, which then records its run as failed
    and frees its pool slots. A second signal, or a child still running STOP_GRACE_SECONDS after
    the first, kills the whole group. Exits 128 + the signal number when stopped.
    """
    received: list[int] = []
    child: subprocess.Popen[bytes] | None = None
    timer: threading.Timer | None = None

    def kill_group() -> None:
        if child is not None and child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal timer
        received.append(signum)
        if child is None:
            return
        if len(received) > 1:
            kill_group()
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGTERM if signum == signal.SIGHUP else signum)
        timer = threading.Timer(STOP_GRACE_SECONDS, kill_group)
        timer.daemon = True
        timer.start()

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "pipelines.run", *argv],
            stdin=subprocess.DEVNULL,
            process_group=0,
        )
        if received:  # stopped while the child was being started
            forward(received.pop(), None)
        # Wait without reaping, so the group id cannot be reused before leftovers are killed.
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # workers the run left behind, if any
        code = child.wait()
    finally:
        if timer is not None:
            timer.cancel()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        return 128 + received[0]
    return code if code >= 0 else 128 - code


def cmd_generate(args: argparse.Namespace) -> int:
    from metrics import generate

    argv = ["--out", str(args.out or config.raw_dir(args.raw)), *args.rest]
    return generate.main(argv)


def cmd_backfill(args: argparse.Namespace) -> int:
    argv = ["backfill"]
    if args.since:
        argv += ["--since", args.since.isoformat()]
    if args.until:
        argv += ["--until", args.until.isoformat()]
    return _run_pipeline(argv)


def cmd_nightly(args: argparse.Namespace) -> int:
    return _run_pipeline(["nightly", *(["--date", args.date.isoformat()] if args.date else [])])


def cmd_clear_run(args: argparse.Namespace) -> int:
    return _run_pipeline(["clear-run", args.run_id, *(["--force"] if args.force else [])])


DEMO_GENERATE = [
    "--seed",
    "7",
    "--accounts",
    "16",
    "--posts-per-account",
    "6",
    "--days",
    "5",
    "--start",
    "2026-03-02",
]


def cmd_demo(args: argparse.Namespace) -> int:
    """Sample data (unless a landing zone is already there), the whole pipeline, an answer."""
    from metrics import demo, generate

    raw = config.raw_dir(args.raw)
    if not (raw / "catalog").is_dir():
        print(f"generating sample exports into {raw}", flush=True)
        code = generate.main(["--out", str(raw), *DEMO_GENERATE])
        if code:
            return code
    code = _run_pipeline(["backfill"])
    if code:
        return code
    demo.print_summary(config.warehouse_dir(args.warehouse))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metrics", description="Social content metrics: ingest, roll up, query."
    )
    parser.add_argument("--raw", help=f"landing zone (default ${config.RAW_ENV} or data/raw)")
    parser.add_argument(
        "--warehouse", help=f"warehouse (default ${config.WAREHOUSE_ENV} or data/warehouse)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser(
        "generate",
        help="write a deterministic sample landing zone",
        description="Write a sample landing zone. Options after --out are passed through: "
        "--seed N --accounts N --posts-per-account N --days N --start DATE "
        "--interval-minutes N --truth PATH.",
    )
    gen.add_argument("--out", help="landing zone to write (default: --raw)")
    gen.add_argument("rest", nargs=argparse.REMAINDER)
    gen.set_defaults(func=cmd_generate)

    back = sub.add_parser("backfill", help="materialize every asset for a range of landing dates")
    back.add_argument("--since", type=date.fromisoformat, help="first landing date (inclusive)")
    back.add_argument("--until", type=date.fromisoformat, help="last landing date (inclusive)")
    back.set_defaults(func=cmd_backfill)

    night = sub.add_parser("nightly", help="what the nightly schedule runs (default: yesterday)")
    night.add_argument("--date", type=date.fromisoformat, help="landing date (default yesterday)")
    night.set_defaults(func=cmd_nightly)

    clear = sub.add_parser(
        "clear-run",
        help="mark a stuck run failed and free its pool slots",
        description="Mark a run failed and free its pool slots, so later runs stop waiting for "
        "it. Refuses a run whose process is still alive on this host unless --force.",
    )
    clear.add_argument("run_id", help="the run id named by the error message or the UI")
    clear.add_argument("--force", action="store_true", help="even if its process is alive")
    clear.set_defaults(func=cmd_clear_run)

    demo = sub.add_parser("demo", help="sample data, the whole pipeline, a sample answer")
    demo.set_defaults(func=cmd_demo)

    from metrics import cli_query

    cli_query.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _paths(args)
    func: Command = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
