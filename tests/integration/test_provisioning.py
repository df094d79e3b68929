"""Provisioning is real: a Mosquitto of our own with the shipped configuration and the
generated dynamic-security file: readers publish under their own topic and nothing else."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import Engine

from devices.provision import ServiceAccount, hash_password, write_broker_files
from ingest.mosquitto import TlsFiles, free_port
from store.db import db_session
from tests.factories import org, punch_payload
from tests.peer import V5, Peer
from tests.support import ROOT, MosquittoProcess, mosquitto_available, require, wait_for

INGEST_ID = "kycuong-ingest-host1"


@pytest.fixture
def certs(broker_certs: Path) -> Path:
    return broker_certs


@pytest.fixture
def secured_broker(
    sqlite_engine: Engine, tmp_path: Path, certs: Path
) -> Iterator[tuple[MosquittoProcess, dict[str, str]]]:
    require(mosquitto_available(), "the mosquitto binary is not installed")
    made = org(sqlite_engine, employees=1, devices=("D1", "D2"), disabled=("D3",))
    config = tmp_path / "dynamic-security.json"
    with db_session(sqlite_engine) as db:
        written = write_broker_files(
            db, config, [ServiceAccount("kc-ingest", hash_password("ingest-pw"))]
        )
    assert written == 2  # the disabled reader gets no account
    tls = TlsFiles(certs / "server.crt", certs / "server.key", free_port())
    broker = MosquittoProcess(tmp_path / "mosquitto", dynsec=config, tls=tls)
    broker.start()
    secrets: dict[str, str] = made["secrets"]
    yield broker, secrets
    broker.stop()


def test_a_device_publishes_under_its_own_topic_only(
    secured_broker: tuple[MosquittoProcess, dict[str, str]],
) -> None:
    broker, secrets = secured_broker
    ingest = Peer(broker.port, "kc-ingest", "ingest-pw", INGEST_ID, protocol=V5)
    got = threading.Event()

    def on_message(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        ingest.received.append(message)
        got.set()

    ingest.client.on_message = on_message
    assert ingest.subscribe("kc/v1/+/+").value == 1
    device = Peer(broker.port, "D1", secrets["D1"], protocol=V5)
    try:
        assert device.connack is not None and not device.connack.is_failure
        own = device.publish("kc/v1/D1/punch", punch_payload("D1", "e1", "C1", datetime.now(UTC)))
        assert own.value == 0
        assert got.wait(5)
        forged = device.publish(
            "kc/v1/D2/punch", punch_payload("D2", "e2", "C1", datetime.now(UTC))
        )
        assert forged.value == 135  # Not authorized
        assert [m.topic for m in ingest.received] == ["kc/v1/D1/punch"]
        # The ingest account reads; it may not speak for a reader.
        assert ingest.publish("kc/v1/D1/punch", b"{}").value == 135
    finally:
        device.close()
        ingest.close()


@pytest.mark.parametrize(
    "topic",
    [
        "kc/v1/+/+",
        "#",
        "kc/v1/D1/#",
        "kc/v1/D2/punch",
        "$share/ingest/kc/v1/+/+",
        "kc/receipts/#",
        "kc/receipts/+",
        "kc/receipts/D2",
    ],
)
def test_a_device_may_subscribe_to_nothing_but_its_receipts_not_even_the_ingest_group(
    secured_broker: tuple[MosquittoProcess, dict[str, str]], topic: str
) -> None:
    broker, secrets = secured_broker
    device = Peer(broker.port, "D1", secrets["D1"], protocol=V5)
    try:
        assert device.subscribe(topic).value == 135
    finally:
        device.close()


def test_the_ingest_group_keeps_every_punch_when_a_device_tries_to_join(
    secured_broker: tuple[MosquittoProcess, dict[str, str]],
) -> None:
    broker, secrets = secured_broker
    ingest = Peer(broker.port, "kc-ingest", "ingest-pw", INGEST_ID, protocol=V5)
    thief = Peer(broker.port, "D2", secrets["D2"], protocol=V5)
    device = Peer(broker.port, "D1", secrets["D1"], protocol=V5)
    try:
        assert ingest.subscribe("$share/ingest/kc/v1/+/+").value == 1
        assert thief.subscribe("$share/ingest/kc/v1/+/+").value == 135
        now = datetime.now(UTC)
        for i in range(50):
            answer = device.publish("kc/v1/D1/punch", punch_payload("D1", f"e{i}", "C", now))
            assert answer.value == 0
        wait_for(lambda: len(ingest.received) == 50, 5, "every punch at the ingest")
        assert thief.received == []
    finally:
        for client in (device, thief, ingest):
            client.close()


def test_no_device_can_take_the_ingest_client_id_or_another_device_s(
    secured_broker: tuple[MosquittoProcess, dict[str, str]],
) -> None:
    broker, secrets = secured_broker
    ingest = Peer(broker.port, "kc-ingest", "ingest-pw", INGEST_ID, protocol=V5)
    try:
        for client_id in (INGEST_ID, "D2"):
            impostor = Peer(broker.port, "D1", secrets["D1"], client_id=client_id, protocol=V5)
            assert impostor.connack is not None and impostor.connack.is_failure
            impostor.close()
        assert ingest.disconnects == [] and ingest.client.is_connected()
    finally:
        ingest.close()


@pytest.mark.parametrize(
    ("user", "password"),
    [("D1", "wrong-password"), ("D3", "whatever"), ("nobody", "x"), (None, None)],
    ids=["wrong-password", "disabled-device", "unknown-user", "anonymous"],
)
def test_bad_credentials_are_refused_at_connect(
    secured_broker: tuple[MosquittoProcess, dict[str, str]],
    user: str | None,
    password: str | None,
) -> None:
    broker, _ = secured_broker
    client = Peer(broker.port, user, password, protocol=V5)
    try:
        assert client.connack is not None and client.connack.is_failure
    finally:
        client.close()


def test_the_tls_listener_serves_readers_with_the_documented_certificate(
    secured_broker: tuple[MosquittoProcess, dict[str, str]], certs: Path
) -> None:
    broker, secrets = secured_broker
    assert broker.tls is not None
    device = Peer(broker.tls.port, "D1", secrets["D1"], tls_ca=certs / "ca.crt", protocol=V5)
    try:
        assert device.connack is not None and not device.connack.is_failure
        now = datetime.now(UTC)
        answer = device.publish("kc/v1/D1/punch", punch_payload("D1", "tls", "C", now))
        assert not answer.is_failure  # accepted (no subscriber here)
    finally:
        device.close()


def test_a_reader_and_the_ingest_use_the_tls_listener_with_the_ca(
    secured_broker: tuple[MosquittoProcess, dict[str, str]], certs: Path
) -> None:
    from devices.reader import Reader

    broker, secrets = secured_broker
    assert broker.tls is not None
    ingest = Peer(
        broker.tls.port, "kc-ingest", "ingest-pw", INGEST_ID, tls_ca=certs / "ca.crt", protocol=V5
    )
    assert ingest.subscribe("kc/v1/+/+").value == 1
    reader = Reader(
        "D1", "127.0.0.1", broker.tls.port, password=secrets["D1"], tls_ca=str(certs / "ca.crt")
    )
    reader.connect()
    try:
        reader.punch("tls-1", "C000001", datetime.now(UTC))
        reader.drain(10)
        wait_for(lambda: "kc/v1/D1/punch" in [m.topic for m in ingest.received], 5, "the punch")
    finally:
        reader.close()
        ingest.close()


def test_the_example_bridge_configurations_use_tls() -> None:
    from devices import hikvision, zkteco

    zk = zkteco.load_config(ROOT / "examples/zkteco-bridge.toml")
    hik = hikvision.load_config(ROOT / "examples/hikvision-bridge.toml")
    assert (zk.broker_port, hik.broker_port) == (8883, 8883)
    assert zk.broker_tls_ca and hik.broker_tls_ca


def test_the_ingest_writes_a_receipt_that_only_its_device_reads(
    secured_broker: tuple[MosquittoProcess, dict[str, str]],
) -> None:
    broker, secrets = secured_broker
    ingest = Peer(broker.port, "kc-ingest", "ingest-pw", INGEST_ID, protocol=V5)
    device = Peer(broker.port, "D1", secrets["D1"], protocol=V5)
    other = Peer(broker.port, "D2", secrets["D2"], protocol=V5)
    try:
        assert device.subscribe("kc/receipts/D1").value == 1
        assert other.subscribe("kc/receipts/D1").value == 135
        receipt = b'{"v":1,"device_id":"D1","stored":["e1"],"refused":{}}'
        assert ingest.publish("kc/receipts/D1", receipt).value in (0, 16)  # 16: no subscriber
        wait_for(lambda: len(device.received) == 1, 5, "the receipt at its device")
        assert device.received[0].payload == receipt
        assert device.publish("kc/receipts/D2", b"{}").value == 135  # devices do not write them
        time.sleep(0.3)
        assert other.received == []
    finally:
        for client in (other, device, ingest):
            client.close()
