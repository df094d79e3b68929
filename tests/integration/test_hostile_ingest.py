"""One bad message never stops ingest: hostile and faulty payloads among good ones.

Runs on PostgreSQL + Mosquitto (MQTT 5) and on the embedded default, SQLite + amqtt.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import Engine, delete, func, select

from ingest.pipeline import DeviceDirectory, Limits, Message, process_batch
from ingest.worker import IngestWorker
from store.db import db_session
from store.models import DeadLetter, DeadLetterTally, Device, Punch
from store.punches import purge_dead_letters
from tests.factories import org, punch_payload
from tests.support import STACKS, Stack, stack_for, wait_for


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> Stack:
    return stack_for(request, ingest_batch_size=50)


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"pub-{uuid.uuid4().hex[:8]}",
        protocol=MQTTProtocolVersion.MQTTv311,
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def count(engine: Engine, model: type) -> int:
    with db_session(engine) as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def heartbeat(device_id: str, clock: str, **extra: object) -> bytes:
    return json.dumps({"v": 1, "device_id": device_id, "clock": clock, **extra}).encode()


def dead_reasons(engine: Engine) -> dict[bytes, tuple[str, str]]:
    with db_session(engine) as db:
        return {
            row.payload: (row.reason_code, row.reason) for row in db.scalars(select(DeadLetter))
        }


def test_bad_messages_among_good_ones_are_dead_lettered_and_ingest_goes_on(stack: Stack) -> None:
    made = org(stack.engine, employees=10, devices=("D1", "D2"))
    cards = made["cards"]
    now = datetime.now(UTC)
    bad = {
        "nul": punch_payload("D1", "nul", cards[0], now, verify_mode="ca\u0000rd"),
        "clock-9999": heartbeat("D2", "9999-12-31T00:00:00+00:00"),
        "backlog": heartbeat("D1", now.isoformat(), backlog=1e26),
        "year-1": punch_payload("D1", "y1", cards[1], now, ts="0001-01-01T00:00:00+14:00"),
        "year-1-utc": punch_payload("D1", "y1u", cards[1], now, ts="0001-01-01T00:00:00+00:00"),
        "1970": punch_payload("D1", "epoch", cards[2], now, ts="1970-01-01T00:00:00+00:00"),
        "zk-2000": punch_payload("D2", "zk", cards[3], now, ts="2000-01-01T08:00:00+07:00"),
    }
    good = [
        punch_payload(d, f"ok-{i}", cards[i % 10], now - timedelta(minutes=30 - i))
        for i, d in enumerate(["D1", "D2"] * 10)
    ]
    pub = publisher(stack.port)
    worker = IngestWorker(stack.settings, stack.engine)
    worker.start()
    assert worker.wait_connected(10)
    try:
        infos = []
        bodies = list(bad.values())
        for i, body in enumerate(good):
            device = json.loads(body)["device_id"]
            infos.append(pub.publish(f"kc/v1/{device}/punch", body, qos=1))
            if i < len(bodies):
                bad_body = bodies[i]
                bad_device = json.loads(bad_body)["device_id"]
                kind = "heartbeat" if b'"clock"' in bad_body else "punch"
                infos.append(pub.publish(f"kc/v1/{bad_device}/{kind}", bad_body, qos=1))
        for info in infos:
            info.wait_for_publish(10)
        wait_for(
            lambda: (
                count(stack.engine, Punch) + count(stack.engine, DeadLetter) >= len(good) + len(bad)
            ),
            30,
            "every message stored or dead-lettered",
        )
        worker.wait_idle(10)
    finally:
        worker.stop()

    # Restarted, the worker takes new punches at once (the broker redelivers nothing bad).
    worker = IngestWorker(stack.settings, stack.engine)
    worker.start()
    assert worker.wait_connected(10)
    try:
        after = punch_payload("D2", "after-restart", cards[5], datetime.now(UTC))
        pub.publish("kc/v1/D2/punch", after, qos=1).wait_for_publish(10)
        wait_for(lambda: count(stack.engine, Punch) == len(good) + 1, 5, "the punch after")
    finally:
        worker.stop()
        pub.loop_stop()
    assert worker.stats.lost == 0

    reasons = dead_reasons(stack.engine)
    assert len(reasons) == len(bad)
    codes = {name: reasons[body][0] for name, body in bad.items()}
    assert codes == {
        "nul": "schema",
        "clock-9999": "implausible_clock",
        "backlog": "schema",
        "year-1": "schema",
        "year-1-utc": "too_old",
        "1970": "too_old",
        "zk-2000": "too_old",
    }
    assert "control character U+0000" in reasons[bad["nul"]][1]
    assert "backlog" in reasons[bad["backlog"]][1]
    with db_session(stack.engine) as db:
        offsets = dict(db.execute(select(Device.id, Device.clock_offset_s)).all())
    assert abs(offsets["D2"] or 0) < 60  # the 9999 clock was not believed


def test_a_punch_the_database_refuses_is_isolated_with_its_reason(stack: Stack) -> None:
    """A reader deleted after the worker cached it: its punch breaks the foreign key."""
    made = org(stack.engine, employees=4, devices=("D1", "GONE"))
    directory = DeviceDirectory(stack.engine)
    directory.reload()
    with db_session(stack.engine) as db:
        db.execute(delete(Device).where(Device.id == "GONE"))
    now = datetime.now(UTC)
    messages = [
        Message(
            f"kc/v1/{d}/punch",
            punch_payload(d, f"e{i}", made["cards"][i % 4], now - timedelta(minutes=i)),
            now,
        )
        for i, d in enumerate(["D1", "D1", "GONE", "D1", "D1", "D1", "D1"])
    ]
    # A quarantined punch in the same batch: the split must still name it in a receipt.
    ahead = punch_payload("D1", "ahead", made["cards"][0], now + timedelta(days=1))
    messages.append(Message("kc/v1/D1/punch", ahead, now))
    outcome = process_batch(stack.engine, messages, directory, limits=Limits())
    assert (outcome.stored, outcome.dead_letters) == (6, 2)
    assert sorted(outcome.receipts["D1"].stored) == ["e0", "e1", "e3", "e4", "e5", "e6"]
    assert outcome.receipts["D1"].refused == {"ahead": "future_time"}
    assert outcome.receipts["GONE"].refused == {"e2": "store_error"}
    assert outcome.receipts["GONE"].stored == []
    with db_session(stack.engine) as db:
        dead = db.scalars(select(DeadLetter).where(DeadLetter.reason_code == "store_error")).one()
    assert dead.reason_code == "store_error"
    assert "foreign key" in dead.reason.lower()
    assert dead.topic == "kc/v1/GONE/punch"


def test_a_deeply_nested_punch_is_one_dead_letter_and_the_batch_gets_its_receipts(
    stack: Stack,
) -> None:
    """60 KB of nested arrays (under the broker's 64 KB limit) used to raise RecursionError
    after the commit, while naming the message in a receipt: the batch was split and stored
    again, its dead letters counted twice, and the worker logged it as lost, with no receipts."""
    made = org(stack.engine, employees=2, devices=("D1",))
    directory = DeviceDirectory(stack.engine)
    now = datetime.now(UTC)
    deep = Message("kc/v1/D1/punch", b"[" * 30_000 + b"]" * 30_000, now)
    good = [
        Message("kc/v1/D1/punch", punch_payload("D1", f"n{i}", made["cards"][i], now), now)
        for i in range(2)
    ]
    outcome = process_batch(stack.engine, [good[0], deep, good[1]], directory, limits=Limits())
    assert (outcome.stored, outcome.dead_letters) == (2, 1)
    assert sorted(outcome.receipts["D1"].stored) == ["n0", "n1"]
    with db_session(stack.engine) as db:
        dead = db.scalars(select(DeadLetter)).one()
    assert (dead.reason_code, dead.count) == ("malformed_json", 1)


def test_dead_letters_are_one_row_per_message_capped_per_device_and_purged(
    stack: Stack,
) -> None:
    org(stack.engine, employees=1, devices=("D1", "D2"))
    directory = DeviceDirectory(stack.engine)
    now = datetime.now(UTC)
    limits = Limits(dead_letter_device_cap=5, dead_letter_payload_bytes=1024)
    flood = [Message("kc/v1/D1/punch", f"junk {i} ".encode() * 400, now) for i in range(40)]
    retained = Message("kc/v1/D2/status", b"not json", now, retain=True)
    for _ in range(3):  # redelivered after reconnects, or after a broker crash
        process_batch(stack.engine, [*flood, retained], directory, limits=limits)
    with db_session(stack.engine) as db:
        rows = list(db.scalars(select(DeadLetter)))
        tallies = list(db.scalars(select(DeadLetterTally)))
    per_device = {d: [r for r in rows if r.device_id == d] for d in ("D1", "D2")}
    assert len(per_device["D1"]) == 5
    assert [r.count for r in per_device["D1"]] == [3] * 5
    assert len(per_device["D2"]) == 1 and per_device["D2"][0].count == 3
    assert all(len(r.payload) == 1024 < (r.payload_size or 0) for r in per_device["D1"])
    assert [(t.device_id, t.reason_code, t.count) for t in tallies] == [
        ("D1", "malformed_json", 35 * 3)
    ]
    with db_session(stack.engine) as db:
        purge_dead_letters(db, now + timedelta(seconds=1))
    assert count(stack.engine, DeadLetter) == count(stack.engine, DeadLetterTally) == 0


# Instants anywhere in datetime's range, at any offset a device may send.
INSTANTS = st.builds(
    lambda at, minutes: at.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.datetimes(),
    st.integers(-14 * 60, 14 * 60),
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=()))
    | st.text(st.sampled_from("\x00\x01\x1f\x7f\ud800 aZ9é"), max_size=8)  # what stores refuse
    | INSTANTS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
PUNCH_FIELDS = [
    "v",
    "device_id",
    "event_id",
    "credential_kind",
    "credential_value",
    "ts",
    "direction",
    "verify_mode",
]
HEARTBEAT_FIELDS = ["v", "device_id", "clock", "sent_up_to", "backlog"]
STATUS_FIELDS = ["v", "device_id", "state"]


def test_arbitrary_json_in_any_contract_field_never_stops_storing(pg_engine: Engine) -> None:
    """Each example: one message with a field replaced, then a good punch that must be stored."""
    made = org(pg_engine, employees=2, devices=("D1",))
    directory = DeviceDirectory(pg_engine)
    seq = iter(range(10**9))

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        punch=st.tuples(st.sampled_from(PUNCH_FIELDS), JSON_VALUES),
        beat=st.tuples(st.sampled_from(HEARTBEAT_FIELDS), JSON_VALUES),
        status=st.tuples(st.sampled_from(STATUS_FIELDS), JSON_VALUES),
    )
    def check(
        punch: tuple[str, object], beat: tuple[str, object], status: tuple[str, object]
    ) -> None:
        n = next(seq)
        now = datetime.now(UTC)
        bodies: dict[str, dict[str, object]] = {
            "punch": json.loads(punch_payload("D1", f"h-{n}", made["cards"][0], now)),
            "heartbeat": {"v": 1, "device_id": "D1", "clock": now.isoformat(), "backlog": 0},
            "status": {"v": 1, "device_id": "D1", "state": "online"},
        }
        for kind, (name, value) in (("punch", punch), ("heartbeat", beat), ("status", status)):
            bodies[kind][name] = value
        hostile = [
            Message(f"kc/v1/D1/{kind}", json.dumps(body).encode(), now)
            for kind, body in bodies.items()
        ]
        good = Message("kc/v1/D1/punch", punch_payload("D1", f"g-{n}", made["cards"][1], now), now)
        process_batch(pg_engine, [*hostile, good], directory, limits=Limits())
        with db_session(pg_engine) as db:
            assert db.scalar(select(func.count()).where(Punch.event_id == f"g-{n}")) == 1

    check()
