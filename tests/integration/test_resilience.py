"""Nothing lost, nothing doubled: worker SIGKILL, broker restart, bursts, shared subscriptions.

All against the real PostgreSQL and a real Mosquitto started with the shipped configuration.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from devices.reader import Reader
from ingest.worker import IngestWorker
from store.db import db_session
from store.models import Punch
from tests.factories import org, punch_payload
from tests.support import ROOT, MosquittoProcess, ingest_settings, wait_for


def stored(engine: Engine) -> int:
    with db_session(engine) as db:
        return int(db.scalar(select(func.count()).select_from(Punch)) or 0)


def distinct_events(engine: Engine) -> int:
    with db_session(engine) as db:
        return int(
            db.scalar(select(func.count(func.distinct(Punch.device_id + ":" + Punch.event_id))))
            or 0
        )


def stream(
    readers: list[Reader], cards: list[str], total: int, rate_per_s: float
) -> threading.Thread:
    """Publish ``total`` punches spread over the readers at about ``rate_per_s``."""

    def run() -> None:
        import time

        start = time.monotonic()
        base = datetime.now(UTC) - timedelta(hours=1)
        for i in range(total):
            reader = readers[i % len(readers)]
            reader.punch(f"s-{i}", cards[i % len(cards)], base + timedelta(milliseconds=i))
            ahead = (i + 1) / rate_per_s - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        for reader in readers:
            reader.drain(timeout=120)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def start_worker_process(
    engine: Engine, port: int, client_id: str, log: Path
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        KC_DATABASE_URL=engine.url.render_as_string(hide_password=False),
        KC_MQTT_EMBEDDED="false",
        KC_MQTT_PORT=str(port),
        KC_MQTT_PROTOCOL="5",
        KC_MQTT_CLIENT_ID=client_id,
    )
    out = open(log, "ab")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "kycuong.cli", "ingest"], env=env, cwd=ROOT, stdout=out, stderr=out
    )
    wait_for(lambda: "subscribed to" in log.read_text(), 30, "the ingest worker to subscribe")
    return proc


def test_sigkill_of_the_worker_mid_stream_loses_and_doubles_nothing(
    pg_engine: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    made = org(pg_engine, employees=50, devices=("D1", "D2", "D3"))
    log = tmp_path / "ingest.log"
    proc = start_worker_process(pg_engine, mosquitto.port, "ingest-crashy", log)
    readers = [Reader(d, "127.0.0.1", mosquitto.port) for d in ("D1", "D2", "D3")]
    for reader in readers:
        reader.connect()
    total = 6000
    publishing = stream(readers, made["cards"], total, rate_per_s=1500)
    try:
        wait_for(lambda: stored(pg_engine) >= 1500, 60, "a third of the stream")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = stored(pg_engine)
        assert killed_at < total, "the kill must land mid-stream"
        proc = start_worker_process(pg_engine, mosquitto.port, "ingest-crashy", log)
        publishing.join(120)
        wait_for(lambda: stored(pg_engine) >= total, 60, "every punch after the restart")
        # Give any redelivered duplicate time to arrive before counting.
        wait_for(lambda: "session present: True" in log.read_text(), 5, "the resumed session")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        for reader in readers:
            reader.close()
    assert stored(pg_engine) == distinct_events(pg_engine) == total


def test_broker_restart_mid_stream_loses_and_doubles_nothing(
    pg_engine: Engine, mosquitto: MosquittoProcess
) -> None:
    made = org(pg_engine, employees=50, devices=("D1", "D2"))
    worker = IngestWorker(ingest_settings(pg_engine, mosquitto.port), pg_engine)
    worker.start()
    assert worker.wait_connected(10)
    readers = [Reader(d, "127.0.0.1", mosquitto.port) for d in ("D1", "D2")]
    for reader in readers:
        reader.connect()
    total = 4000
    publishing = stream(readers, made["cards"], total, rate_per_s=1000)
    try:
        wait_for(lambda: stored(pg_engine) >= 1000, 60, "a quarter of the stream")
        mosquitto.restart()
        assert stored(pg_engine) < total, "the restart must land mid-stream"
        publishing.join(180)
        assert not publishing.is_alive()
        wait_for(lambda: stored(pg_engine) >= total, 60, "every punch after the broker restart")
        worker.wait_idle(10)
    finally:
        worker.stop()
        for reader in readers:
            reader.close()
    assert stored(pg_engine) == distinct_events(pg_engine) == total


def test_a_burst_from_a_fast_publisher_is_queued_not_dropped(
    pg_engine: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """Mosquitto's default per-client queue (1000) would drop most of this burst."""
    made = org(pg_engine, employees=100, devices=("D1",))
    worker = IngestWorker(
        ingest_settings(pg_engine, mosquitto.port, ingest_batch_size=200), pg_engine
    )
    worker.start()
    assert worker.wait_connected(10)
    total = 20_000
    base = datetime.now(UTC) - timedelta(hours=2)
    lines = tmp_path / "burst.jsonl"
    lines.write_bytes(
        b"\n".join(
            punch_payload("D1", f"b-{i}", made["cards"][i % 100], base + timedelta(milliseconds=i))
            for i in range(total)
        )
        + b"\n"
    )
    try:
        with open(lines, "rb") as stdin:
            subprocess.run(
                [
                    "mosquitto_pub",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(mosquitto.port),
                    "-q",
                    "1",
                    "-M",
                    "1000",
                    "-t",
                    "kc/v1/D1/punch",
                    "-l",
                ],
                stdin=stdin,
                check=True,
                timeout=120,
            )
        wait_for(lambda: stored(pg_engine) >= total, 120, "the whole burst")
        worker.wait_idle(10)
    finally:
        worker.stop()
    assert stored(pg_engine) == total
    assert worker.stats.dead_letters == 0


def test_workers_on_a_shared_subscription_split_the_load_and_store_each_punch_once(
    pg_engine: Engine, mosquitto: MosquittoProcess
) -> None:
    made = org(pg_engine, employees=20, devices=("D1", "D2"))
    workers = [
        IngestWorker(
            ingest_settings(pg_engine, mosquitto.port, mqtt_shared_group="ingest"), pg_engine
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
        assert worker.wait_connected(10)
    readers = [Reader(d, "127.0.0.1", mosquitto.port) for d in ("D1", "D2")]
    for reader in readers:
        reader.connect()
    total = 3000
    try:
        stream(readers, made["cards"], total, rate_per_s=3000).join(120)
        wait_for(lambda: stored(pg_engine) >= total, 60, "every punch")
        for worker in workers:
            worker.wait_idle(10)
    finally:
        for worker in workers:
            worker.stop()
        for reader in readers:
            reader.close()
    assert stored(pg_engine) == total
    shares = [w.stats.stored for w in workers]
    assert sum(shares) == total
    assert min(shares) > total // 5, f"the load was not split: {shares}"
