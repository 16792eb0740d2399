"""Process trees from /proc: which processes a command started, and whether they are gone.

A process is named by (pid, start time), never by pid alone: on a busy machine a pid that a
short-lived child used is soon reused by someone else's process, which must neither count as
"left behind" nor be killed.
"""

from __future__ import annotations

import os
from pathlib import Path

Proc = tuple[int, str]  # pid, start time in clock ticks since boot (proc(5) field 22)


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on


def descendants(pid: int) -> set[Proc]:
    """Every live process below `pid` (children of children too)."""
    children: dict[int, list[Proc]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append((int(entry.name), fields[19]))
    found: set[Proc] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child[0])
    return found


def alive(proc: Proc) -> bool:
    """Whether that very process still runs (a zombie, exited but not reaped, does not)."""
    fields = _stat(proc[0])
    return fields is not None and fields[19] == proc[1] and fields[0] not in ("Z", "X")


def command_line(proc: Proc) -> str:
    try:
        return Path(f"/proc/{proc[0]}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by `pid` and every process below it, the ones they have reaped
    included (proc(5) utime, stime, cutime, cstime): a server's cost over a span is the
    difference of two readings."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for proc in {(pid, ""), *descendants(pid)}:
        fields = _stat(proc[0])
        if fields is not None:
            total += sum(int(f) for f in fields[11:15])
    return total / tick
