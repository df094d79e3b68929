"""Rules benchmarks.

    python -m bench rules [--employees 100000] [--month 2026-11]
    python -m bench rules --latency [--rates 3500,7000] [--seconds 10] [--saturate 20000]
    python -m bench rules --drain 20000 [--people 10000] [--profile FILE]

The first runs the pure core over a month of working days for 100,000 employees (~2
million employee-days): punch lists are drawn from a pool of realistic days (on time,
late, absent, lunch punches, double taps, missing punches) built before the clock starts,
and every employee-day is evaluated for real. Prints employee-days per second, one core.

The second, through a real Mosquitto and PostgreSQL, in one run: the ingest worker's
saturated rate alone, then one and then two rules runners' saturated rate (keys/s) on the
queue it filled, as ratios; then how long a late punch takes from its receipt by the
ingest worker to its violation being stored, while ingest carries a paced load of late
punches (each a new person-day) at each rate.

The third puts N late punches straight into PostgreSQL with their queue requests (no
MQTT), then times one runner draining the queue in this process: keys/s, and the CPU
seconds of the runner and of its PostgreSQL backend, which a loaded machine disturbs less
than the wall clock.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import date, datetime, timedelta

from bench.sched import backend_pids, sched_sum, schedstat
from rules.calendar import office_hours, plan_day, vietnam_calendar
from rules.evaluate import Excuse, PunchFact, evaluate_day
from rules.policy import Policy
from rules.zones import zone


def realistic_day(rng: random.Random, day: date, start_id: int) -> list[PunchFact]:
    tz = zone()
    base = int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())

    def t(hh: float) -> int:
        return base + int(hh * 3600)

    roll = rng.random()
    if roll < 0.03:
        return []
    arrive = (
        t(7.5) + int(rng.gauss(-8 * 60, 5 * 60)) if roll > 0.13 else t(7.5) + rng.randint(360, 3600)
    )
    times = [arrive]
    if rng.random() < 0.05:
        times.append(arrive + rng.randint(3, 60))  # double tap
    if rng.random() < 0.9:
        times += [t(11.5) + rng.randint(0, 900), t(12.9) + rng.randint(0, 600)]
    if rng.random() < 0.97:
        times.append(t(17) + rng.randint(-1800 if rng.random() < 0.05 else 0, 1200))
    return [PunchFact(start_id + i, x) for i, x in enumerate(times)]


def main(argv: list[str]) -> int:
    if argv and argv[0] == "rules-worker":
        child_rules_worker(argv[1], int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench rules")
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--month", default="2026-11")
    parser.add_argument("--pool", type=int, default=20_000)
    parser.add_argument("--latency", action="store_true", help="punch-to-violation latency instead")
    parser.add_argument("--rates", default="3500,7000", help="paced rates, comma-separated")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--saturate", type=int, default=20_000, help="punches per saturated run")
    parser.add_argument("--drain", type=int, default=0, help="one runner on a queue of N keys")
    parser.add_argument(
        "--profile", default="", help="with --drain: write the runner's cProfile stats here"
    )
    parser.add_argument(
        "--people",
        type=int,
        default=10_000,
        help="with --drain: the people the keys are spread over (N / people days each: a "
        "month's later days cost what its earlier ones did, or more)",
    )
    args = parser.parse_args(argv)
    if args.drain:
        return drain(args.drain, employees=args.people, profile=args.profile)
    if args.latency:
        return latency([float(r) for r in args.rates.split(",")], args.seconds, args.saturate)
    year, month = (int(p) for p in args.month.split("-"))
    first = date(year, month, 1)
    days = [
        first + timedelta(days=i) for i in range(31) if (first + timedelta(days=i)).month == month
    ]
    tz = zone()
    schedule, calendar, policy = office_hours(), vietnam_calendar([year]), Policy()
    plans = [plan_day(schedule, calendar, d, tz, policy.margins) for d in days]
    working = [p for p in plans if p.sessions]
    rng = random.Random(42)
    pools = {
        p.day: [realistic_day(rng, p.day, i * 10) for i in range(args.pool // len(working) + 1)]
        for p in working
    }
    leave = [Excuse(1, "annual_leave", days[0], days[0] + timedelta(days=2))]
    now = datetime.combine(days[-1] + timedelta(days=2), datetime.min.time(), tzinfo=tz)
    # Working days only: weekends and holidays cost next to nothing and would flatter the rate.
    employee_days = args.employees * len(working)
    print(
        f"rules benchmark: {args.employees:,} employees x {len(working)} working days of "
        f"{args.month} = {employee_days:,} employee-days, one core",
        flush=True,
    )
    violations = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for e in range(args.employees):
        excuses = leave if e % 50 == 0 else []
        for plan in working:
            pool = pools[plan.day]
            punches = pool[(e * 7919) % len(pool)]
            violations += len(evaluate_day(plan, policy, punches, excuses, now).violations)
    elapsed = time.perf_counter() - started
    cpu_rate = employee_days / (time.process_time() - cpu_started)
    rate = employee_days / elapsed
    print(
        f"  evaluated in {elapsed:.1f} s: {rate:,.0f} employee-days/s ({violations:,} violations)"
    )
    # Per second of this process's CPU: less disturbed by other work on a shared machine.
    print(f"  {cpu_rate:,.0f} employee-days per CPU second")
    print(
        f'RESULT {{"employee_days_per_s": {rate:.0f}, "employee_days_per_cpu_s": {cpu_rate:.0f}, '
        f'"employee_days": {employee_days}}}'
    )
    return 0


def child_rules_worker(db_url: str, expected: int) -> None:
    """The real recompute loop until ``expected`` late violations are stored; prints the
    time it took from its start and its peak RSS."""
    import json
    import resource
    import threading

    from sqlalchemy import func, select

    from kycuong.logs import configure
    from runner.worker import RecomputeWorker, prepare_process
    from store.db import db_session, make_engine
    from store.models import RecomputeRequest, ViolationRecord

    configure("WARNING")
    prepare_process()  # as the rules role does before it claims (kycuong.cli)
    engine = make_engine(db_url)
    backends = backend_pids(engine)
    # The benchmark's own polling on connections of its own: neither it nor its server
    # backends are counted as the runner's CPU (a scan of a queue of dead rows, 20 a second).
    watch = make_engine(db_url)
    worker = RecomputeWorker(engine)
    print("READY", flush=True)
    started = time.monotonic()
    worker.start()
    thread = next(t.native_id for t in threading.enumerate() if t.name == "rules-recompute")
    before = schedstat(os.getpid(), thread)
    deadline = started + 600
    count = 0
    while time.monotonic() < deadline:
        with db_session(watch) as db:
            # A claimed request stays visible to others until its batch commits: while any
            # is queued, not every violation can be stored yet, and counting them (a scan
            # of the table, twenty times a second) would only take a core from the runner.
            if db.scalar(select(RecomputeRequest.id).limit(1)) is None:
                count = int(
                    db.scalar(
                        select(func.count())
                        .select_from(ViolationRecord)
                        .where(ViolationRecord.kind == "late")
                    )
                    or 0
                )
        if count >= expected:
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    # The worker's thread is counted while it lives: before it stops.
    on, ready = (a - b for a, b in zip(schedstat(os.getpid(), thread), before, strict=True))
    server, server_ready = sched_sum(backends)
    worker.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "violations": count,
                "recomputed": worker.recomputed,
                "elapsed": elapsed,
                "maxrss_mb": usage,
                "cpu_s": on,
                "ready_s": ready,
                "backend_cpu_s": server,
                "backend_ready_s": server_ready,
            }
        ),
        flush=True,
    )


def _load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def working_days_before(today: date, count: int) -> list[date]:
    calendar = vietnam_calendar([today.year - 1, today.year])
    days: list[date] = []
    day = today - timedelta(days=1)
    while len(days) < count:
        if day.weekday() < 5 and calendar.holiday(day) is None:
            days.append(day)
        day -= timedelta(days=1)
    return days


def latency(rates: list[float], seconds: float, saturate: int, employees: int = 10_000) -> int:
    """In one run: saturated ingest, then one and two saturated runners, then receipt of a
    late punch → its violation stored under a paced load at each rate."""
    import json
    import tempfile
    import uuid
    from pathlib import Path

    import psycopg
    from sqlalchemy import select

    from bench.ingest import ADMIN, DEVICES, blast, line, paced, result_of, seed, spawn
    from ingest.mosquitto import MosquittoProcess
    from store.db import db_session, make_engine
    from store.models import Credential, Punch, ViolationRecord

    tz = zone()
    paced_total = sum(int(rate * seconds) for rate in rates)
    needed = 2 * saturate + paced_total
    days = working_days_before(datetime.now(tz).date(), needed // employees + 1)
    offset = 0  # the next unused person-day: every late punch is a new key

    def late_punch(i: int, device: str, sent: float | None) -> bytes:
        n = offset + i
        when = datetime.combine(days[n // employees], datetime.min.time(), tzinfo=tz)
        at = when + timedelta(hours=8, seconds=n % 600)  # 08:00–08:10: late by 30 minutes or more
        return line(device, f"late-{n}", f"C{n % employees:07d}", at, sent)

    name = f"kc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = dict(p.split("=", 1) for p in ADMIN.split())
    user, host = params.get("user", "postgres"), params.get("host", "127.0.0.1")
    db_url = f"postgresql+psycopg://{user}@{host}:{params.get('port', '5432')}/{name}"
    workdir = Path(tempfile.mkdtemp(prefix="kc-bench-"))
    broker = MosquittoProcess(workdir / "mosquitto")
    broker.start()
    stored = 0  # late violations expected so far
    rss = {"ingest": 0.0, "runner": 0.0}
    summary: dict[str, object] = {}
    try:
        seed(db_url, employees)
        print(
            f"rules benchmark through Mosquitto and PostgreSQL, {employees:,} people; "
            "ingest worker and rules runners in their own processes (2 cores shared: noisy)",
            flush=True,
        )
        # 1. Saturation: ingest alone, then runners alone on the queue it filled.
        keys_per_s = []
        for runners in (1, 2):
            files = []
            for k, device in enumerate(DEVICES):
                path = workdir / f"sat-{runners}-{device}.jsonl"
                with open(path, "wb") as f:
                    for i in range(k, saturate, len(DEVICES)):
                        f.write(late_punch(i, device, None))
                files.append(path)
            ingest = spawn("worker", db_url, str(broker.port), str(saturate), f"sat{runners}", "0")
            blast(broker.port, files)
            sat = result_of(ingest)
            rss["ingest"] = max(rss["ingest"], sat["maxrss_mb"])
            ingest_rate = sat["count"] / max(sat["last"] - sat["first"], 1e-9)
            offset += saturate
            stored += saturate
            children = [subprocess_rules(db_url, stored) for _ in range(runners)]
            done = [result_of(child) for child in children]
            rss["runner"] = max(rss["runner"], *(d["maxrss_mb"] for d in done))
            keys = sum(d["recomputed"] for d in done)
            rate = saturate / max(d["elapsed"] for d in done)
            keys_per_s.append(rate)
            print(
                f"  saturated: ingest {ingest_rate:,.0f} events/s alone; {runners} runner(s) "
                f"{rate:,.0f} keys/s ({keys:,} keys recomputed); "
                f"runner/ingest ratio {rate / ingest_rate:.2f}",
                flush=True,
            )
            # CPU seconds (process and its PostgreSQL backends) per event and per key: what
            # each costs the machine, whatever else ran on it meanwhile.
            ingest_us = (sat["cpu_s"] + sat["backend_cpu_s"]) / sat["count"] * 1e6
            runner_us = sum(d["cpu_s"] + d["backend_cpu_s"] for d in done) / saturate * 1e6
            waited = sum(d["ready_s"] + d["backend_ready_s"] for d in done)
            print(
                f"    CPU: ingest {ingest_us:.0f} µs an event, runner(s) {runner_us:.0f} µs a key"
                " (recompute thread and its PostgreSQL backend)"
                f" (CPU ratio {ingest_us / runner_us:.2f}); runner(s) ready with no core free "
                f"{waited:.1f} s of {max(d['elapsed'] for d in done):.1f} s wall "
                f"(load average {_load()})",
                flush=True,
            )
            summary[f"ingest_cpu_us_per_event_{runners}"] = round(ingest_us)
            summary[f"runner_cpu_us_per_key_{runners}"] = round(runner_us)
            summary[f"ingest_events_per_s_{runners}"] = round(ingest_rate)
            summary[f"runner_keys_per_s_{runners}"] = round(rate)
            summary[f"runner_ingest_ratio_{runners}"] = round(rate / ingest_rate, 2)
        print(f"  two runners / one: {keys_per_s[1] / keys_per_s[0]:.2f}", flush=True)
        summary["two_runners_over_one"] = round(keys_per_s[1] / keys_per_s[0], 2)

        # 2. Latency at each paced rate, ingest and one runner running together.
        engine = make_engine(db_url)
        for rate in rates:
            total = int(rate * seconds)
            first = offset
            ingest = spawn("worker", db_url, str(broker.port), str(total), f"paced{rate}", "0")
            rules = subprocess_rules(db_url, stored + total)
            paced(broker.port, rate, seconds, late_punch)
            rss["ingest"] = max(rss["ingest"], result_of(ingest)["maxrss_mb"])
            rss["runner"] = max(rss["runner"], result_of(rules)["maxrss_mb"])
            offset += total
            stored += total
            with db_session(engine) as db:
                holder = dict(db.execute(select(Credential.value, Credential.employee_id)).all())
                received = {
                    (holder[card], at.astimezone(tz).date()): got
                    for card, at, got, event in db.execute(
                        select(
                            Punch.credential_value,
                            Punch.punched_at,
                            Punch.received_at,
                            Punch.event_id,
                        )
                    ).all()
                    if first <= int(event.split("-")[1]) < first + total
                }
                detected = db.execute(
                    select(
                        ViolationRecord.employee_id,
                        ViolationRecord.day,
                        ViolationRecord.detected_at,
                    ).where(ViolationRecord.kind == "late")
                ).all()
            lags = sorted(
                (at - received[(e, d)]).total_seconds()
                for e, d, at in detected
                if (e, d) in received
            )
            p50, p99 = lags[len(lags) // 2], lags[int(len(lags) * 0.99)]
            print(
                f"  paced {rate:,.0f} late punches/s for {seconds:.0f} s: {len(lags):,} of "
                f"{total:,} judged; receipt-to-violation-stored p50 {p50 * 1000:.0f} ms, "
                f"p99 {p99 * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms",
                flush=True,
            )
            summary[f"p50_ms_{rate:.0f}"] = round(p50 * 1000)
            summary[f"p99_ms_{rate:.0f}"] = round(p99 * 1000)
        engine.dispose()
        print(
            f"  peak RSS: ingest worker {rss['ingest']:.0f} MB, "
            f"rules runner {rss['runner']:.0f} MB",
            flush=True,
        )
        summary["ingest_rss_mb"] = round(rss["ingest"])
        summary["runner_rss_mb"] = round(rss["runner"])
        print("RESULT " + json.dumps(summary), flush=True)
    finally:
        broker.stop()
        if not os.environ.get("KC_BENCH_KEEP_DB"):
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print(f"  kept database {name}")
    return 0


def drain(total: int, employees: int = 10_000, profile: str = "") -> int:
    """One runner, in this process, on a queue of ``total`` late-punch keys (no MQTT); with
    ``profile``, under cProfile (its stats written there, the top of them printed: the CPU
    figures then include the profiler's own cost)."""
    import json
    import resource
    import uuid

    import psycopg

    from bench.ingest import ADMIN, seed
    from runner.worker import RecomputeWorker, prepare_process
    from store.db import db_session, make_engine
    from store.queue import enqueue_for_punches

    tz = zone()
    name = f"kc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = dict(p.split("=", 1) for p in ADMIN.split())
    user, host = params.get("user", "postgres"), params.get("host", "127.0.0.1")
    url = f"postgresql+psycopg://{user}@{host}:{params.get('port', '5432')}/{name}"
    pg_url = url.replace("postgresql+psycopg", "postgresql")

    def backend_cpu_s() -> float:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            pids = [
                r[0]
                for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [name])
            ]
        ticks = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
            except OSError:  # not on this machine's /proc (a remote server): not counted
                pass
        return ticks / os.sysconf("SC_CLK_TCK")

    try:
        seed(url, employees)
        days = working_days_before(datetime.now(tz).date(), total // employees + 1)
        rows = []
        for n in range(total):
            at = datetime.combine(days[n // employees], datetime.min.time(), tzinfo=tz)
            at += timedelta(hours=8, seconds=n % 600)
            rows.append((f"BENCH-{n % 4}", f"late-{n}", f"C{n % employees:07d}", at))
        with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO punch_keys (device_id, event_id, punched_at) VALUES (%s, %s, %s)",
                [(d, e, at) for d, e, _, at in rows],
            )
            cur.executemany(
                "INSERT INTO punches (device_id, event_id, credential_kind, credential_value,"
                " device_time, clock_offset_s, punched_at, received_at, direction, verify_mode,"
                " raw) VALUES (%s, %s, 'card', %s, %s, 0, %s, now(), 'in', 'card', '{}')",
                [(d, e, card, at, at) for d, e, card, at in rows],
            )
            ids = [r[0] for r in cur.execute("SELECT id FROM punches ORDER BY id")]
        engine = make_engine(url)
        with db_session(engine) as db:
            for i in range(0, len(ids), 500):
                enqueue_for_punches(db, ids[i : i + 500], "punch")
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("ANALYZE")
        prepare_process()  # as the rules role does before it claims (kycuong.cli)
        worker = RecomputeWorker(engine)
        with engine.connect():
            pass
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            pids = [
                r[0]
                for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [name])
            ]
        server_before = backend_cpu_s()
        sched_before = schedstat(os.getpid()), sched_sum(pids)
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile(time.process_time)  # CPU, not the loaded wall clock
            profiler.enable()
        started, cpu_started = time.perf_counter(), time.process_time()
        keys = worker.drain()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if profiler is not None:
            import pstats

            profiler.disable()
            profiler.dump_stats(profile)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        server = backend_cpu_s() - server_before
        (on, ready), (server_on, server_ready) = (
            (a[0] - b[0], a[1] - b[1])
            for a, b in zip((schedstat(os.getpid()), sched_sum(pids)), sched_before, strict=True)
        )
        print(
            f"one runner alone on a queue of {total:,} late punches of {employees:,} people "
            f"(no MQTT; load average {load}): {keys:,} keys in {elapsed:.1f} s, "
            f"{keys / elapsed:,.0f} keys/s; CPU: runner {cpu:.2f} s, its PostgreSQL backend "
            f"{server:.2f} s ({(cpu + server) / keys * 1e6:.0f} µs a key); "
            f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
            flush=True,
        )
        # Runner and backend take turns (a query, its answer, the next query): the wall time
        # is their time on a core, their time ready with no core free, and the rest.
        other = elapsed - on - ready - server_on - server_ready
        print(
            f"  where the {elapsed:.1f} s went: on a core {on + server_on:.1f} s (runner "
            f"{on:.1f}, backend {server_on:.1f}); ready but no core free {ready + server_ready:.1f}"
            f" s (runner {ready:.1f}, backend {server_ready:.1f}); waiting on anything else "
            f"(disk, locks, sleeps) {max(other, 0):.1f} s",
            flush=True,
        )
        summary = {
            "keys_per_s": round(keys / elapsed),
            "on_cpu_s": round(on + server_on, 2),
            "ready_no_core_s": round(ready + server_ready, 2),
            "other_wait_s": round(max(other, 0), 2),
            "runner_cpu_s": round(cpu, 2),
            "backend_cpu_s": round(server, 2),
            "cpu_us_per_key": round((cpu + server) / keys * 1e6),
            "load": load,
        }
        print("RESULT " + json.dumps(summary), flush=True)
        engine.dispose()
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


def subprocess_rules(db_url: str, expected: int):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.rules", "rules-worker", db_url, str(expected)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "READY":
        raise RuntimeError("rules worker did not start")
    if profile := os.environ.get("KC_BENCH_PROFILE"):  # py-spy, when installed
        subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(proc.pid),
                "-o",
                f"{profile}.{proc.pid}",
                "-f",
                "raw",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return proc


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
