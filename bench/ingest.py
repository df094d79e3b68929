"""Ingest benchmark: publish → committed rows through a real Mosquitto and PostgreSQL.

Prints, from one run: the raw rate of a do-nothing paho subscriber fed by the same load
generator; the worker's sustained rate under saturation and its ratio to the raw rate;
publish-to-commit latency p50/p99 at a paced load; the worker's peak RSS; the saturated
rate again with receipts off (contract v1.1 receipts are on by default), and the ratio.

    python -m bench ingest [--messages 100000] [--paced-rate 2000] [--paced-seconds 20]

The load generator is several `mosquitto_pub -l` processes (C), far faster than a Python
publisher, so it is not the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import psycopg

from bench.sched import backend_pids, sched_sum, schedstat

# "5" against Mosquitto; "3.1.1" against the NATS cluster (its MQTT speaks 3.1.1 only).
PROTOCOL = os.environ.get("KC_BENCH_MQTT_PROTOCOL", "5")
ADMIN = os.environ.get("KC_TEST_PG_ADMIN", "host=127.0.0.1 port=5432 dbname=test user=postgres")
DEVICES = [f"BENCH-{i}" for i in range(4)]


# -- children ------------------------------------------------------------------------------


def child_raw_subscriber(port: int, expected: int) -> None:
    """Count messages and do nothing else (paho, MQTT 5, QoS 1, automatic ack)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    state = {"n": 0, "first": 0.0, "last": 0.0}
    done = threading.Event()

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        now = time.time()
        if state["n"] == 0:
            state["first"] = now
        state["n"] += 1
        state["last"] = now
        if state["n"] >= expected:
            done.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"raw-{uuid.uuid4().hex[:6]}",
        protocol=MQTTProtocolVersion.MQTTv5 if PROTOCOL == "5" else MQTTProtocolVersion.MQTTv311,
    )
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe("kc/v1/+/+", qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    print("READY", flush=True)
    done.wait(600)
    client.loop_stop()
    print(
        json.dumps({"count": state["n"], "first": state["first"], "last": state["last"]}),
        flush=True,
    )


def child_worker(
    db_url: str,
    port: int,
    expected: int,
    client_id: str,
    latency: bool,
    receipts: bool = True,
    group: str = "",
) -> None:
    """The real ingest worker, with a commit hook that records times; with a shared
    subscription ``group`` it also stops once idle for 3 s (its share is not known ahead)."""
    from ingest.worker import IngestWorker
    from kycuong.logs import configure
    from kycuong.settings import Settings
    from store.db import make_engine

    configure("WARNING")
    settings = Settings(
        database_url=db_url,
        mqtt_port=port,
        mqtt_embedded=False,
        mqtt_protocol="3.1.1" if PROTOCOL == "3.1.1" else "5",
        mqtt_client_id=client_id,
        mqtt_session_expiry_s=1,
        mqtt_shared_group=group or None,
        ingest_receipts=receipts,
    )
    state: dict[str, Any] = {"n": 0, "first": None, "last": 0.0, "lat": []}
    done = threading.Event()

    def on_commit(batch: list[Any], _outcome: Any) -> None:
        now = time.time()
        if state["first"] is None:
            state["first"] = min(m.received_at for m in batch).timestamp()
        state["n"] += len(batch)
        state["last"] = now
        if latency:
            state["lat"].extend(now - json.loads(m.payload)["sent"] for m in batch)
        if state["n"] >= expected:
            done.set()

    engine = make_engine(db_url)
    backends = backend_pids(engine)
    worker = IngestWorker(settings, engine, on_commit=on_commit)
    worker.start()
    worker.wait_connected(10)
    print("READY", flush=True)
    before = schedstat(os.getpid())
    deadline = time.time() + 900
    while not done.wait(0.5) and time.time() < deadline:
        if group and state["n"] and time.time() - state["last"] > 3:
            break
    on, ready = (a - b for a, b in zip(schedstat(os.getpid()), before, strict=True))
    server, _ = sched_sum(backends)
    worker.stop()
    if PROTOCOL != "5":  # MQTT 3.1.1 has no session expiry: end the session by hand
        forget_session(port, client_id)
    lat = sorted(state["lat"])
    result = {
        "count": state["n"],
        "first": state["first"],
        "last": state["last"],
        "stored": worker.stats.stored,
        "p50": lat[len(lat) // 2] if lat else None,
        "p99": lat[int(len(lat) * 0.99)] if lat else None,
        "max": lat[-1] if lat else None,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_s": on,
        "ready_s": ready,
        "backend_cpu_s": server,
    }
    print(json.dumps(result), flush=True)


def forget_session(port: int, client_id: str) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect("127.0.0.1", port)
    client.loop_start()
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()


# -- parent --------------------------------------------------------------------------------


def spawn(*args: str, profile: str | None = None) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "bench.ingest", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    if profile:  # py-spy, when installed, samples the worker into a flame graph
        subprocess.Popen(
            ["py-spy", "record", "--threads", "--pid", str(proc.pid), "-o", profile, "-f", "raw"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "READY":
        raise RuntimeError(f"child did not start: {line!r}")
    return proc


def result_of(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=900)
    return dict(json.loads(out.strip().splitlines()[-1]))


def line(device: str, event: str, card: str, at: datetime, sent: float | None = None) -> bytes:
    body = {
        "v": 1,
        "event_id": event,
        "device_id": device,
        "credential_kind": "card",
        "credential_value": card,
        "ts": at.isoformat(timespec="milliseconds"),
        "direction": "in",
        "verify_mode": "card",
    }
    if sent is not None:
        body["sent"] = sent
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def mosquitto_pub(port: int, device: str) -> list[str]:
    """A C publisher of lines from stdin, QoS 1, MQTT 5, a window of 1000: never the bottleneck."""
    return [
        "mosquitto_pub",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-q",
        "1",
        "-M",
        "1000",
        "-V",
        "5" if PROTOCOL == "5" else "311",
        "-t",
        f"kc/v1/{device}/punch",
        "-l",
    ]


def publishers(port: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen(mosquitto_pub(port, d), stdin=subprocess.PIPE) for d in DEVICES]


def write_files(workdir: Path, prefix: str, total: int, cards: int) -> list[Path]:
    base = datetime.now(UTC) - timedelta(hours=3)
    paths = []
    per = total // len(DEVICES)
    for d in DEVICES:
        path = workdir / f"{prefix}-{d}.jsonl"
        with open(path, "wb") as f:
            for i in range(per):
                f.write(
                    line(d, f"{prefix}-{i}", f"C{i % cards:07d}", base + timedelta(milliseconds=i))
                )
        paths.append(path)
    return paths


def blast(port: int, files: list[Path]) -> float:
    """Feed each file to its own mosquitto_pub as fast as it goes; returns the elapsed time."""
    start = time.time()
    procs = []
    for f, d in zip(files, DEVICES, strict=True):
        with open(f, "rb") as stdin:
            procs.append(subprocess.Popen(mosquitto_pub(port, d), stdin=stdin))
    for p in procs:
        p.wait()
    return time.time() - start


LineMaker = Callable[[int, str, float], bytes]


def paced(port: int, rate: float, seconds: float, make_line: LineMaker) -> int:
    """Write lines stamped with their send time into mosquitto_pub pipes at ``rate``/s."""
    procs = publishers(port)
    pipes: list[IO[bytes]] = [p.stdin for p in procs if p.stdin is not None]
    total = int(rate * seconds)
    start = time.time()
    for i in range(total):
        due = start + i / rate
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        k = i % len(DEVICES)
        pipes[k].write(make_line(i, DEVICES[k], time.time()))
        pipes[k].flush()
    for pipe in pipes:
        pipe.close()
    for p in procs:
        p.wait()
    return total


def recent_punches(cards: int) -> LineMaker:
    """Punches of the last hour, spread over the cards."""
    base = datetime.now(UTC) - timedelta(hours=1)

    def make(i: int, device: str, sent: float) -> bytes:
        return line(
            device, f"paced-{i}", f"C{i % cards:07d}", base + timedelta(milliseconds=i), sent
        )

    return make


def seed(db_url: str, employees: int) -> None:
    from devices.provision import create_device
    from store.db import db_session, make_engine, upgrade
    from store.models import Agency, Credential, Employee, Unit

    upgrade(db_url)
    engine = make_engine(db_url)
    with db_session(engine) as db:
        agency = Agency(code="BENCH", name="Bench")
        db.add(agency)
        db.flush()
        unit = Unit(agency_id=agency.id, code="U", name="Unit")
        db.add(unit)
        db.flush()
        people = [
            Employee(
                code=f"E{i}", full_name=f"E {i}", unit_id=unit.id, active_from=date(2024, 1, 1)
            )
            for i in range(employees)
        ]
        db.add_all(people)
        db.flush()
        since = datetime(2024, 1, 1, tzinfo=UTC)
        db.add_all(
            Credential(employee_id=p.id, kind="card", value=f"C{i:07d}", valid_from=since)
            for i, p in enumerate(people)
        )
        for d in DEVICES:
            # Registered before the history the benchmarks replay (punches dated before a
            # reader's registration are quarantined).
            create_device(db, d, registered_at=since)
    engine.dispose()


def main(argv: list[str]) -> int:
    if argv and argv[0] == "raw-subscriber":
        child_raw_subscriber(int(argv[1]), int(argv[2]))
        return 0
    if argv and argv[0] == "worker":
        group = argv[7] if len(argv) > 7 else ""
        child_worker(
            argv[1], int(argv[2]), int(argv[3]), argv[4], argv[5] == "1", argv[6:7] != ["0"], group
        )
        return 0

    parser = argparse.ArgumentParser(prog="python -m bench ingest")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--employees", type=int, default=10_000)
    parser.add_argument("--paced-rate", type=float, default=2000)
    parser.add_argument("--paced-seconds", type=float, default=20)
    parser.add_argument(
        "--broker",
        choices=["mosquitto", "nats"],
        default="mosquitto",
        help="nats: a three-node NATS JetStream cluster of our own (deploy/nats/nats.conf)",
    )
    args = parser.parse_args(argv)
    if args.broker == "nats":
        global PROTOCOL
        PROTOCOL = os.environ["KC_BENCH_MQTT_PROTOCOL"] = "3.1.1"  # children read it too
    total = args.messages - args.messages % len(DEVICES)

    from ingest.mosquitto import MosquittoProcess
    from ingest.nats import NatsCluster

    name = f"kc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = dict(p.split("=", 1) for p in ADMIN.split())
    user, host = params.get("user", "postgres"), params.get("host", "127.0.0.1")
    db_url = f"postgresql+psycopg://{user}@{host}:{params.get('port', '5432')}/{name}"
    workdir = Path(tempfile.mkdtemp(prefix="kc-bench-"))
    broker: MosquittoProcess | NatsCluster
    if args.broker == "nats":
        broker = NatsCluster(workdir / "nats")
        broker.start()
        port = broker.nodes[0].mqtt_port  # every client on one node; the streams have 3 copies
    else:
        broker = MosquittoProcess(workdir / "mosquitto")
        broker.start()
        port = broker.port
    try:
        seed(db_url, args.employees)
        print(
            f"ingest benchmark: {total} messages from {len(DEVICES)} mosquitto_pub "
            f"(QoS 1, MQTT {PROTOCOL}), {args.employees} employees with cards, "
            f"{'a 3-node NATS JetStream cluster' if args.broker == 'nats' else 'Mosquitto'} "
            "with the shipped config, PostgreSQL",
            flush=True,
        )

        raw_files = write_files(workdir, "raw", total, args.employees)
        sub = spawn("raw-subscriber", str(port), str(total))
        blast(port, raw_files)
        raw = result_of(sub)
        raw_rate = raw["count"] / max(raw["last"] - raw["first"], 1e-9)
        print(
            f"  do-nothing paho subscriber: {raw_rate:,.0f} msg/s ({raw['count']} received)",
            flush=True,
        )

        files = write_files(workdir, "sat", total, args.employees)
        worker = spawn(
            "worker",
            db_url,
            str(port),
            str(total),
            "kc-bench-sat",
            "0",
            profile=os.environ.get("KC_BENCH_PROFILE"),
        )
        blast(port, files)
        sat = result_of(worker)
        rate = sat["count"] / max(sat["last"] - sat["first"], 1e-9)
        print(
            f"  ingest worker, saturated:   {rate:,.0f} events/s committed "
            f"({sat['stored']} stored)",
            flush=True,
        )
        print(f"  ratio to the raw subscriber: {rate / raw_rate:.2f}", flush=True)
        time.sleep(2)  # let the finished worker's session expire

        files = write_files(workdir, "off", total, args.employees)
        worker = spawn("worker", db_url, str(port), str(total), "kc-bench-off", "0", "0")
        blast(port, files)
        off = result_of(worker)
        rate_off = off["count"] / max(off["last"] - off["first"], 1e-9)
        print(
            f"  same, receipts off:         {rate_off:,.0f} events/s committed "
            f"(receipts on / off: {rate / rate_off:.2f})",
            flush=True,
        )
        time.sleep(2)

        two_rate = 0.0
        if args.broker != "nats":  # NATS MQTT has no $share subscriptions
            files = write_files(workdir, "two", total, args.employees)
            pair = [
                spawn("worker", db_url, str(port), str(total), f"kc-bench-two{i}", "0", "1", "two")
                for i in range(2)
            ]
            blast(port, files)
            both = [result_of(w) for w in pair]
            two_rate = sum(b["count"] for b in both) / max(
                max(b["last"] for b in both) - min(b["first"] for b in both), 1e-9
            )
            print(
                f"  two workers on a shared subscription: {two_rate:,.0f} events/s "
                f"({' + '.join(str(b['count']) for b in both)}); two / one: {two_rate / rate:.2f}",
                flush=True,
            )
            time.sleep(2)

        expected = int(args.paced_rate * args.paced_seconds)
        worker = spawn("worker", db_url, str(port), str(expected), "kc-bench-paced", "1")
        paced(port, args.paced_rate, args.paced_seconds, recent_punches(args.employees))
        pac = result_of(worker)
        print(
            f"  paced at {args.paced_rate:,.0f}/s for {args.paced_seconds:.0f} s: "
            f"publish-to-commit p50 {pac['p50'] * 1000:.0f} ms, "
            f"p99 {pac['p99'] * 1000:.0f} ms, max {pac['max'] * 1000:.0f} ms",
            flush=True,
        )
        peak_rss = max(sat["maxrss_mb"], pac["maxrss_mb"])
        print(f"  worker peak RSS: {peak_rss:.0f} MB", flush=True)
        summary = {
            "raw_msgs_per_s": round(raw_rate),
            "ingest_events_per_s": round(rate),
            "ratio": round(rate / raw_rate, 2),
            "two_workers_over_one": round(two_rate / rate, 2) if two_rate else None,
            "receipts_off_events_per_s": round(rate_off),
            "receipts_on_off_ratio": round(rate / rate_off, 2),
            "p50_ms": round(pac["p50"] * 1000),
            "p99_ms": round(pac["p99"] * 1000),
            "peak_rss_mb": round(max(sat["maxrss_mb"], pac["maxrss_mb"])),
        }
        print("RESULT " + json.dumps(summary), flush=True)
    finally:
        broker.stop()
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
