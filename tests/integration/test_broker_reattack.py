"""Re-attack with a reader's credentials: the shipped Mosquitto configuration and ACL
(``kycuong devices broker-files``), and the quickstart's embedded broker with the same rules.

What a stolen reader password must not buy: reading or joining anyone's traffic, speaking for
another reader (directly or through a last will), forging receipts, taking the ingest's
session, or filling the broker with retained messages under topics of its own invention.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from paho.mqtt.enums import MQTTProtocolVersion
from sqlalchemy import Engine, select

from devices.provision import (
    ProvisionError,
    ServiceAccount,
    create_device,
    device_nats_permissions,
    hash_password,
    hash_secret,
    render_broker_config,
    write_broker_files,
)
from ingest.broker import EmbeddedBroker
from ingest.contract import subscription
from kycuong.settings import Settings
from store.db import db_session
from store.models import DeadLetter, DeadLetterTally, Device, Punch
from tests import peer
from tests.factories import org, punch_payload
from tests.support import (
    MosquittoProcess,
    free_port,
    mosquitto_available,
    require,
    start_ingest,
    wait_for,
)

INGEST_PASSWORD = "ingest-pw"


@dataclass
class Broker:
    kind: str
    port: int
    secrets: dict[str, str]


@pytest.fixture(params=["mosquitto", "embedded"])
def broker(
    request: pytest.FixtureRequest, sqlite_engine: Engine, tmp_path: Path
) -> Iterator[Broker]:
    """Mosquitto with the shipped mosquitto.conf and the generated dynamic-security file, or
    the embedded amqtt broker of the quickstart; readers D1, D2 and the ingest account."""
    made = org(sqlite_engine, employees=1, devices=("D1", "D2"))
    ingest = ServiceAccount("kc-ingest", hash_password(INGEST_PASSWORD))
    if request.param == "mosquitto":
        require(mosquitto_available(), "the mosquitto binary is not installed")
        config = tmp_path / "dynamic-security.json"
        with db_session(sqlite_engine) as db:
            write_broker_files(db, config, [ingest])
        process = MosquittoProcess(tmp_path / "mosquitto", dynsec=config)
        process.start()
        yield Broker("mosquitto", process.port, made["secrets"])
        process.stop()
    else:
        port = free_port()
        embedded = EmbeddedBroker(
            "127.0.0.1",
            port,
            database_url=sqlite_engine.url.render_as_string(hide_password=False),
            services={ingest.username: ingest.password_hash},
        )
        embedded.start()
        yield Broker("embedded", port, made["secrets"])
        embedded.stop()


class Peer(peer.Peer):
    """Pinging every 5 s: the broker notices soon a reader that vanished (and sends its will)."""

    keepalive = 5


def ingest_peer(port: int) -> Peer:
    peer = Peer(port, "kc-ingest", INGEST_PASSWORD, f"kycuong-ingest-{uuid.uuid4().hex[:6]}")
    assert peer.accepted
    assert peer.subscribe(subscription()) in (0, 1)
    return peer


def test_a_reader_s_last_will_cannot_speak_for_another_reader_or_forge_its_receipts(
    broker: Broker,
) -> None:
    """A will is published by the broker on the reader's behalf: the same ACL must apply."""
    ingest = ingest_peer(broker.port)
    victim = Peer(broker.port, "D2", broker.secrets["D2"], "D2")
    assert victim.subscribe("kc/receipts/D2") in (0, 1)
    now = datetime.now(UTC)
    forged_punch = punch_payload("D2", "forged-by-will", "C000001", now)
    forged_receipt = json.dumps(
        {"v": 1, "device_id": "D2", "stored": ["e-not-stored"], "refused": {}}
    ).encode()
    own_status = json.dumps({"v": 1, "device_id": "D1", "state": "offline"}).encode()
    try:
        for topic, body in (
            ("kc/v1/D2/punch", forged_punch),
            ("kc/receipts/D2", forged_receipt),
            ("kc/v1/D1/status", own_status),  # the control: its own will does arrive
        ):
            attacker = Peer(broker.port, "D1", broker.secrets["D1"], "D1", will=(topic, body))
            if broker.kind == "mosquitto" or topic == "kc/v1/D1/status":
                assert attacker.accepted
            attacker.drop()
        # Wills are sent in the order the connections dropped: once the control has arrived,
        # a forged will would have arrived before it.
        wait_for(lambda: "kc/v1/D1/status" in ingest.topics(), 10, "the reader's own will")
        assert ingest.topics() == ["kc/v1/D1/status"]
        assert victim.received == []
    finally:
        victim.close()
        ingest.close()


# Topics outside the contract, as many as a reader cares to invent: each would keep a
# retained message (up to 64 KB) on the broker for ever, out of the ingest's sight.
INVENTED = ["kc/v1/D1/junk", "kc/v1/D1/x/1", "kc/v1/D1/punch/extra", "kc/v1/D1"]


def test_a_reader_publishes_only_the_contract_s_three_topics(broker: Broker) -> None:
    v5 = broker.kind == "mosquitto"  # amqtt speaks 3.1.1 only
    for i, topic in enumerate(INVENTED):
        # One connection per attempt: Mosquitto drops a client after a refused publish.
        reader = Peer(
            broker.port,
            "D1",
            broker.secrets["D1"],
            "D1",
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        )
        info = reader.client.publish(topic, f"rác {i} ".encode() * 100, qos=1, retain=True)
        mid, pubacks = info.mid, reader.pubacks
        wait_for(lambda: mid in pubacks, 5, f"the broker's answer on {topic}")  # noqa: B023
        reader.client.loop_stop()  # no reconnection that would send it again
        reader.client.disconnect()
        if v5:
            assert pubacks[mid] == 135  # not authorized
    reader = Peer(broker.port, "D1", broker.secrets["D1"], "D1")
    status = json.dumps({"v": 1, "device_id": "D1", "state": "online"}).encode()
    reader.client.publish("kc/v1/D1/status", status, qos=1, retain=True).wait_for_publish(5)
    reader.close()
    # The ingest account reads everything under kc/v1: what the broker retained shows.
    watcher = Peer(broker.port, "kc-ingest", INGEST_PASSWORD, "watcher")
    try:
        assert watcher.subscribe("kc/v1/#") in (0, 1)
        wait_for(lambda: "kc/v1/D1/status" in watcher.topics(), 5, "the retained status")
        assert watcher.topics() == ["kc/v1/D1/status"]
    finally:
        watcher.close()


# Beyond the MQTT 5 filters tests/integration/test_provisioning.py tries on Mosquitto.
FILTERS = [
    "$SYS/#",
    "$share/ingest/kc/v1/+/+",
    "$share/other/kc/v1/+/+",
    "$share/ingest/#",
    "+/+/+/+",
    "kc/+/D2/punch",
    "kc/receipts/+",
    "$share/ingest/kc/receipts/D2",
]


def test_a_reader_speaking_mqtt_3_1_1_may_not_subscribe_either(broker: Broker) -> None:
    reader = Peer(broker.port, "D1", broker.secrets["D1"], "D1")
    try:
        refused = {topic: reader.subscribe(topic) for topic in FILTERS}
        assert refused == dict.fromkeys(FILTERS, 128)
        assert reader.subscribe("kc/receipts/D1") in (0, 1)  # its own receipts, and only them
    finally:
        reader.close()


def test_a_reader_cannot_take_the_ingest_s_session_with_an_empty_or_its_client_id(
    broker: Broker,
) -> None:
    ingest = Peer(broker.port, "kc-ingest", INGEST_PASSWORD, "kycuong-ingest-1")
    try:
        for client_id in ("", "kycuong-ingest-1", "kc-ingest"):
            if client_id == "" and broker.kind == "embedded":
                continue  # amqtt refuses an empty client id before any check: covered below
            impostor = Peer(broker.port, "D1", broker.secrets["D1"], client_id)
            assert not impostor.accepted, client_id
            impostor.close()
        assert ingest.client.is_connected()
    finally:
        ingest.close()


def test_no_reader_can_be_registered_under_the_ingest_s_client_id(sqlite_engine: Engine) -> None:
    """Its client id is bound to its device id: a reader named like the ingest's client id
    (``kycuong-ingest-1``, ``kycuong-ingest-{hostname}``) would take the ingest's session."""
    org(sqlite_engine, employees=1, devices=())
    with db_session(sqlite_engine) as db:
        for device_id in (Settings().mqtt_client_id, "kycuong-ingest-host1", "KYCUONG-x"):
            with pytest.raises(ProvisionError, match="dành riêng"):
                create_device(db, device_id, agency_code="AG")
        # One registered before this rule is refused when the broker files are written.
        db.add(
            Device(
                id="kycuong-ingest-1",
                site="",
                name="x",
                direction="in",
                secret_hash=hash_secret("x"),
                enabled=True,
                created_at=datetime.now(UTC),
            )
        )
        db.flush()
        devices = list(db.query(Device))
    with pytest.raises(ProvisionError, match="dành riêng"):
        render_broker_config(devices, [ServiceAccount("kc-ingest", hash_password("pw"))])


def test_the_cluster_s_reader_permissions_are_the_contract_s_three_subjects_too() -> None:
    allowed = device_nats_permissions("D1")["publish"]["allow"]
    assert sorted(allowed) == ["kc.v1.D1.heartbeat", "kc.v1.D1.punch", "kc.v1.D1.status"]


def test_a_hostile_reader_through_the_shipped_broker_is_quarantined_and_ingest_goes_on(
    pg_engine: Engine, tmp_path: Path
) -> None:
    """Real Mosquitto (shipped configuration and ACL), PostgreSQL and the ingest worker: a
    reader's implausible times, the issue's NUL / 9999-12-31 / 1e26 payloads and a flood of
    junk from another reader become dead letters with Vietnamese reasons, bounded per reader;
    good punches around them are stored, and one sent after the flood is stored at once."""
    require(mosquitto_available(), "the mosquitto binary is not installed")
    made = org(pg_engine, employees=3, devices=("D1", "D2"))
    cards, secrets = made["cards"], made["secrets"]
    config = tmp_path / "dynamic-security.json"
    with db_session(pg_engine) as db:
        write_broker_files(
            db, config, [ServiceAccount("kc-ingest", hash_password(INGEST_PASSWORD))]
        )
    mosquitto = MosquittoProcess(tmp_path / "mosquitto", dynsec=config)
    mosquitto.start()
    worker = start_ingest(
        pg_engine,
        mosquitto.port,
        mqtt_username="kc-ingest",
        mqtt_password=INGEST_PASSWORD,
        dead_letter_device_cap=20,
        dead_letter_payload_bytes=1024,
        max_backlog_age_days=62,  # the shipped window (tests run with a wider one)
    )
    v5 = MQTTProtocolVersion.MQTTv5
    d1 = Peer(mosquitto.port, "D1", secrets["D1"], "D1", protocol=v5)
    d2 = Peer(mosquitto.port, "D2", secrets["D2"], "D2", protocol=v5)
    now = datetime.now(UTC)
    bad = {
        "too-old": punch_payload("D1", "old", cards[0], now - timedelta(days=63)),
        "ahead": punch_payload("D1", "ahead", cards[0], now + timedelta(days=1)),
        "nul": punch_payload("D1", "nul", cards[1], now, verify_mode="ca\u0000rd"),
        "nan-offset": punch_payload("D1", "nan", cards[1], now).replace(
            b'"v": 1', b'"clock_offset_s": NaN, "v": 1'
        ),
        "clock-9999": json.dumps(
            {"v": 1, "device_id": "D1", "clock": "9999-12-31T00:00:00+00:00"}
        ).encode(),
        "backlog": json.dumps(
            {"v": 1, "device_id": "D1", "clock": now.isoformat(), "backlog": 1e26}
        ).encode(),
    }
    good = [
        punch_payload("D1", f"ok-{i}", cards[i % 3], now - timedelta(minutes=10 * i))
        for i in range(5)
    ]
    good.append(punch_payload("D1", "ahead-2-min", cards[2], now + timedelta(minutes=2)))
    try:
        infos = []
        for i, body in enumerate(good):
            infos.append(d1.client.publish("kc/v1/D1/punch", body, qos=1))
            if i < len(bad):
                name, payload = list(bad.items())[i]
                kind = "heartbeat" if name in ("clock-9999", "backlog") else "punch"
                infos.append(d1.client.publish(f"kc/v1/D1/{kind}", payload, qos=1))
        for n in range(300):  # another reader floods junk: at most 20 rows are kept
            junk = f'{{"v": 1, "rác": {n}, "pad": "{"x" * 4000}"}}'.encode()
            infos.append(d2.client.publish("kc/v1/D2/punch", junk, qos=1))
        for info in infos:
            info.wait_for_publish(10)
        assert all(code == 0 for code in d1.pubacks.values()), d1.pubacks  # all authorized
        after = punch_payload("D1", "after-flood", cards[0], datetime.now(UTC))
        d1.client.publish("kc/v1/D1/punch", after, qos=1).wait_for_publish(10)
        wait_for(lambda: stored_events(pg_engine) >= {"after-flood"}, 10, "the punch after")
        worker.wait_idle(10)
    finally:
        d1.close()
        d2.close()
        worker.stop()
        mosquitto.stop()
    assert worker.stats.lost == 0
    assert stored_events(pg_engine) == {f"ok-{i}" for i in range(5)} | {
        "ahead-2-min",
        "after-flood",
    }
    with db_session(pg_engine) as db:
        rows = list(db.scalars(select(DeadLetter)))
        tallies = list(db.scalars(select(DeadLetterTally)))
    by_payload = {row.payload: row for row in rows if row.device_id == "D1"}
    reasons = {name: by_payload[body] for name, body in bad.items()}
    assert {name: row.reason_code for name, row in reasons.items()} == {
        "too-old": "too_old",
        "ahead": "future_time",
        "nul": "schema",
        "nan-offset": "schema",
        "clock-9999": "implausible_clock",
        "backlog": "schema",
    }
    assert "sớm hơn lúc nhận" in reasons["too-old"].reason
    assert "quá 62 ngày; đã cách ly" in reasons["too-old"].reason
    assert "muộn hơn lúc nhận" in reasons["ahead"].reason
    assert "quá 300 giây; đã cách ly" in reasons["ahead"].reason
    clock = reasons["clock-9999"].reason
    assert clock.startswith("đồng hồ thiết bị 31/12/9999") and clock.endswith("đã cách ly")
    flood = [row for row in rows if row.device_id == "D2"]
    assert len(flood) == 20 and all(len(row.payload) == 1024 for row in flood)
    assert [(t.device_id, t.count) for t in tallies] == [("D2", 280)]


def stored_events(engine: Engine) -> set[str]:
    with db_session(engine) as db:
        return set(db.scalars(select(Punch.event_id)))
