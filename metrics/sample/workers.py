"""Runs collector batches, in this process or a pool: batches are independent, so a pool
changes speed, never bytes."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

from metrics.sample.batch import DAY_MS, HOUR_MS, Task, TaskResult
from metrics.sample.bodies import poll_day
from metrics.sample.defects import Injector
from metrics.sample.platforms import PLATFORMS
from metrics.sample.timeline import AccountSim
from metrics.sample.truth import account_truth
from metrics.sample.writer import Writer


def run_batch(task: Task) -> TaskResult:
    """One batch, day by day for all its accounts, so files flush as each day ends."""
    p = PLATFORMS.index(task.platform)
    inj = Injector(task, random.Random((task.seed * 31 + p) * 1_000_003 + task.batch * 2 + 1))
    writer = Writer(task, random.Random((task.seed * 31 + p) * 1_000_003 + task.batch * 2 + 2))
    sims = [AccountSim(acc, task, inj, writer) for acc in task.accounts]
    for day in range(task.days):
        for sim in sims:
            poll_day(sim, day)
        writer.flush(before_hour=(task.start_ms + (day + 1) * DAY_MS) // HOUR_MS)
    writer.flush()
    posts, followers = [], []
    for sim in sims:
        post_rows, follower_rows = account_truth(sim)
        posts.extend(post_rows)
        followers.extend(follower_rows)
    writer.summary.bad = dict(Counter(b["reason"] for b in writer.bad))
    return TaskResult(task.platform, task.batch, writer.summary, posts, followers, writer.bad)


def run_batches(tasks: list[Task], workers: int, done: Callable[[TaskResult], None]) -> None:
    """Runs every batch and hands each result to `done`, in completion order."""
    if workers == 1:
        for task in tasks:
            done(run_batch(task))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for fut in as_completed([pool.submit(run_batch, t) for t in tasks]):
                done(fut.result())
