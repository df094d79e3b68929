"""Backlog flood: readers flush a morning's backlog while the rules runner works.

    python -m bench flood [--people 12500] [--punches 50000]

Through a real Mosquitto and PostgreSQL: the backlog of one morning (four punches a person)
is blasted at the ingest worker twice, on two different days: once with no runner, once with
the runner recomputing at the same time. Prints both ingest rates and their ratio (target ≥
0.8), then checks every verdict against a recompute from scratch of every key of the day
(any difference is printed as a count: it must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg


def child_runner(db_url: str) -> None:
    """The recompute loop until the parent writes a line to stdin."""
    import resource

    from kycuong.logs import configure
    from runner.worker import RecomputeWorker, prepare_process
    from store.db import make_engine

    configure("WARNING")
    prepare_process()  # as the rules role does before it claims (kycuong.cli)
    worker = RecomputeWorker(make_engine(db_url))
    worker.start()
    print("READY", flush=True)
    sys.stdin.readline()
    worker.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"recomputed": worker.recomputed, "maxrss_mb": usage}), flush=True)


def person_month_differences(engine: Any, day: date) -> int:
    """The person-months of ``day``'s month the runner kept that differ from a sum of the
    month's day records and violations read now (rows missing on either side count)."""
    from sqlalchemy import select

    from store.db import db_session
    from store.models import PersonMonth
    from store.rollups import PERSON_MONTHS, partial_rows

    first = day.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    columns = [c.name for c in PERSON_MONTHS.columns]

    def values(row: Any) -> tuple[Any, ...]:
        return tuple(round(v, 9) if isinstance(v, float) else v for v in row)

    with db_session(engine) as db:
        kept = {
            values(r)
            for r in db.execute(
                select(*PERSON_MONTHS.columns).where(PersonMonth.month == first)
            ).all()
        }
        fresh = {values(tuple(r[c] for c in columns)) for r in partial_rows(db, first, last, None)}
    return len(kept ^ fresh)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "runner":
        child_runner(argv[1])
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench flood")
    parser.add_argument("--people", type=int, default=12_500)
    parser.add_argument("--punches", type=int, default=50_000)
    args = parser.parse_args(argv)

    from sqlalchemy import func, select

    from bench.ingest import ADMIN, DEVICES, blast, line, result_of, seed, spawn
    from bench.rules import working_days_before
    from ingest.mosquitto import MosquittoProcess
    from rules.zones import zone
    from runner.directory import RulesDirectory
    from runner.recompute import recompute
    from store.db import db_session, make_engine
    from store.models import RecomputeRequest
    from store.queue import keys_for_days

    tz = zone()
    days = working_days_before(datetime.now(tz).date(), 2)
    per_person = max(1, args.punches // args.people)
    name = f"kc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = dict(p.split("=", 1) for p in ADMIN.split())
    user, host = params.get("user", "postgres"), params.get("host", "127.0.0.1")
    db_url = f"postgresql+psycopg://{user}@{host}:{params.get('port', '5432')}/{name}"
    workdir = Path(tempfile.mkdtemp(prefix="kc-bench-"))
    broker = MosquittoProcess(workdir / "mosquitto")
    broker.start()
    times = ("07:20", "11:31", "12:58", "17:05")
    try:
        seed(db_url, args.people)
        engine = make_engine(db_url)
        print(
            f"backlog flood: {args.people * per_person:,} punches of {args.people:,} people "
            "from 4 readers, through Mosquitto and PostgreSQL (2 cores shared: noisy)",
            flush=True,
        )
        rates = []
        rss = 0.0
        for run, day in enumerate(days):
            files = []
            for k, device in enumerate(DEVICES):
                path = workdir / f"flood-{run}-{device}.jsonl"
                with open(path, "wb") as f:
                    for person in range(k, args.people, len(DEVICES)):
                        for n in range(per_person):
                            hh, mm = (int(x) for x in times[n % 4].split(":"))
                            at = datetime.combine(day, datetime.min.time(), tzinfo=tz)
                            # Every 8th person is late; seconds spread the arrivals.
                            late = 25 if n == 0 and person % 8 == 0 else 0
                            at += timedelta(hours=hh, minutes=mm + late, seconds=person % 60)
                            f.write(line(device, f"f{run}-{person}-{n}", f"C{person:07d}", at))
                files.append(path)
            total = args.people * per_person
            runner = None
            if run == 1:
                runner = subprocess.Popen(
                    [sys.executable, "-m", "bench.flood", "runner", db_url],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert runner.stdout is not None and runner.stdin is not None
                if runner.stdout.readline().strip() != "READY":
                    raise RuntimeError("runner did not start")
            ingest = spawn("worker", db_url, str(broker.port), str(total), f"flood{run}", "0")
            blast(broker.port, files)
            got = result_of(ingest)
            rate = got["count"] / max(got["last"] - got["first"], 1e-9)
            rates.append(rate)
            rss = max(rss, got["maxrss_mb"])
            label = "with the runner running" if runner else "runner stopped"
            print(f"  ingest, {label}: {rate:,.0f} punches/s", flush=True)
            if runner is not None:
                started = time.monotonic()
                while True:
                    with db_session(engine) as db:
                        left = db.scalar(select(func.count()).select_from(RecomputeRequest))
                    if not left:
                        break
                    time.sleep(0.2)
                drained = time.monotonic() - started
                assert runner.stdin is not None
                runner.stdin.write("stop\n")
                runner.stdin.flush()
                done: dict[str, Any] = result_of(runner)
                print(
                    f"  runner: {done['recomputed']:,} keys recomputed, queue empty "
                    f"{drained:.1f} s after ingest finished; peak RSS {done['maxrss_mb']:.0f} MB",
                    flush=True,
                )
                now = datetime.now(tz)
                with db_session(engine) as db:
                    stats = recompute(db, keys_for_days(db, day, day), now, RulesDirectory())
                differences = stats.detected + stats.updated + stats.withdrawn + stats.restored
                months = person_month_differences(engine, day)
                print(
                    f"  recompute from scratch of {stats.keys:,} keys: {differences} violation, "
                    f"{stats.day_records} day-record and {months} person-month differences "
                    "(must be 0)",
                    flush=True,
                )
        ratio = rates[1] / rates[0]
        print(f"  ingest with the runner / without: {ratio:.2f} (target ≥ 0.8)", flush=True)
        print(f"  ingest worker peak RSS: {rss:.0f} MB", flush=True)
        summary = {
            "ingest_without_runner": round(rates[0]),
            "ingest_with_runner": round(rates[1]),
            "ratio": round(ratio, 2),
            "differences": differences + stats.day_records + months,
        }
        print("RESULT " + json.dumps(summary), flush=True)
    finally:
        broker.stop()
        if not os.environ.get("KC_BENCH_KEEP_DB"):
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
