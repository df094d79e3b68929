"""Where a benchmark's wall time goes: on a core, waiting for one, or waiting on something else.

Read from Linux's per-thread scheduler statistics, so a figure taken on a machine shared with
other work says how much of the wall clock that work took from it.
"""

from __future__ import annotations

import os
from typing import Any


def schedstat(pid: int, thread: int | None = None) -> tuple[float, float]:
    """Seconds a process (all its live threads, or only ``thread``, a native thread id) has
    run on a core, and waited ready to run with no core free, so far
    (/proc/PID/task/*/schedstat; zeros where unreadable).

    The second is what a loaded machine adds to the wall clock; the rest of a wall time
    beyond both is waiting on something else (the disk, a lock, the other end of a socket)."""
    on = ready = 0
    try:
        tasks = [str(thread)] if thread is not None else os.listdir(f"/proc/{pid}/task")
    except OSError:  # not on this machine's /proc (a remote server): not counted
        return 0.0, 0.0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                fields = f.read().split()
        except OSError:
            continue
        on, ready = on + int(fields[0]), ready + int(fields[1])
    return on / 1e9, ready / 1e9


def sched_sum(pids: list[int]) -> tuple[float, float]:
    pairs = [schedstat(pid) for pid in pids]
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


def backend_pids(engine: Any) -> list[int]:
    """The PostgreSQL backend of every connection ``engine`` opens from now on."""
    from sqlalchemy import event

    pids: list[int] = []

    @event.listens_for(engine, "connect")
    def _remember(dbapi_conn: Any, _record: Any) -> None:
        pids.append(dbapi_conn.info.backend_pid)

    return pids
