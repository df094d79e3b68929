"""The punch pipeline end to end through a real broker into a real database.

Runs twice: PostgreSQL + Mosquitto (MQTT 5), and the embedded default SQLite + amqtt
(MQTT 3.1.1), through the same worker code.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import Engine, func, select

from ingest.worker import IngestWorker
from store.db import db_session
from store.models import DeadLetter, Device, Punch, UnmatchedPunch
from tests.factories import org, punch_payload
from tests.support import STACKS, Stack, stack_for, wait_for


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> Stack:
    return stack_for(request, ingest_batch_size=200)


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"pub-{uuid.uuid4().hex[:8]}",
        protocol=MQTTProtocolVersion.MQTTv311,
    )
    client.max_inflight_messages_set(500)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def count(engine: Engine, model: type) -> int:
    with db_session(engine) as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_distinct_good_punches_stored_once_and_every_bad_message_dead_lettered(
    stack: Stack,
) -> None:
    made = org(stack.engine, employees=20, devices=("D1", "D2"), disabled=("D3",))
    worker = IngestWorker(stack.settings, stack.engine)
    worker.start()
    assert worker.wait_connected(10)
    pub = publisher(stack.port)
    now = datetime.now(UTC)
    infos = []

    def send(topic: str, payload: bytes) -> None:
        infos.append(pub.publish(topic, payload, qos=1))

    good = 0
    for i in range(300):
        device = "D1" if i % 2 else "D2"
        body = punch_payload(
            device, f"ev-{i}", made["cards"][i % 20], now - timedelta(minutes=300 - i)
        )
        send(f"kc/v1/{device}/punch", body)
        good += 1
        if i % 3 == 0:  # a reader resends: the same event again
            send(f"kc/v1/{device}/punch", body)
    send("kc/v1/D1/punch", punch_payload("D1", "ev-unknown-card", "NOT-REGISTERED", now))
    good += 1
    bad = {
        "malformed_json": ("kc/v1/D1/punch", b'{"v": 1, "event_id": '),
        "schema": ("kc/v1/D1/punch", punch_payload("D1", "ev-x", None, now)),
        "device_mismatch": ("kc/v1/D1/punch", punch_payload("D2", "ev-forged", "C000001", now)),
        "unknown_device": ("kc/v1/GHOST/punch", punch_payload("GHOST", "ev-g", "C000001", now)),
        "disabled_device": ("kc/v1/D3/punch", punch_payload("D3", "ev-d", "C000001", now)),
        "future_time": (
            "kc/v1/D1/punch",
            punch_payload("D1", "ev-f", "C000001", now + timedelta(hours=2)),
        ),
        "unknown_topic": ("kc/v1/bad$id/punch", punch_payload("D1", "ev-t", "C000001", now)),
    }
    for topic, payload in bad.values():
        send(topic, payload)
    for info in infos:
        info.wait_for_publish(10)

    wait_for(
        lambda: count(stack.engine, Punch) + count(stack.engine, DeadLetter) >= good + len(bad),
        30,
        "all messages stored",
    )
    worker.wait_idle(10)
    worker.stop()
    pub.loop_stop()

    with db_session(stack.engine) as db:
        events = list(db.scalars(select(Punch.event_id)))
        dead = Counter(db.scalars(select(DeadLetter.reason_code)))
        unmatched = list(db.scalars(select(UnmatchedPunch.credential_value)))
        dead_payloads = {row.reason_code: row.payload for row in db.scalars(select(DeadLetter))}
    assert len(events) == len(set(events)) == good
    assert dead == Counter({code: 1 for code in bad})
    assert dead_payloads["malformed_json"] == bad["malformed_json"][1]  # kept byte for byte
    assert unmatched == ["NOT-REGISTERED"]
    assert worker.stats.duplicates == 100


def test_heartbeat_measures_clock_drift_and_later_punches_are_corrected(stack: Stack) -> None:
    org(stack.engine, employees=2, devices=("FAST",))
    worker = IngestWorker(stack.settings, stack.engine)
    worker.start()
    assert worker.wait_connected(10)
    pub = publisher(stack.port)
    drift = timedelta(minutes=7)
    now = datetime.now(UTC)
    heartbeat = {
        "v": 1,
        "device_id": "FAST",
        "clock": (now + drift).isoformat(),
        "sent_up_to": (now + drift).isoformat(),
    }
    pub.publish("kc/v1/FAST/heartbeat", json.dumps(heartbeat), qos=1).wait_for_publish(5)
    true_time = now - timedelta(minutes=1)
    pub.publish(
        "kc/v1/FAST/punch", punch_payload("FAST", "e1", "C000000", true_time + drift), qos=1
    ).wait_for_publish(5)
    wait_for(lambda: count(stack.engine, Punch) == 1, 20, "the punch")
    worker.stop()
    pub.loop_stop()
    with db_session(stack.engine) as db:
        device = db.get(Device, "FAST")
        punch = db.scalars(select(Punch)).one()
    assert device is not None and device.clock_offset_s is not None
    assert abs(device.clock_offset_s - 420) < 5
    assert abs((punch.punched_at - true_time).total_seconds()) < 5
    assert punch.device_time == true_time + drift  # the device's own word is kept too
