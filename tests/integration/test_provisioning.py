"""Provisioning is real: a Mosquitto of our own with the generated password and ACL files."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import Engine

from devices.provision import ServiceAccount, hash_password, write_broker_files
from store.db import db_session
from tests.factories import org, punch_payload
from tests.support import MosquittoProcess, mosquitto_available, require


class V5Client:
    """A bare MQTT 5 client that records CONNACK and PUBACK reason codes."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.connack: ReasonCode | None = None
        self.pubacks: dict[int, ReasonCode] = {}
        self.received: list[mqtt.MQTTMessage] = []
        self._connected = threading.Event()
        self._acked = threading.Condition()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{username}-{uuid.uuid4().hex[:6]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda _c, _u, m: self.received.append(m)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._connected.wait(5), "no CONNACK"

    def _on_connect(
        self, _c: object, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        self.connack = reason
        self._connected.set()

    def _on_publish(self, _c: object, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        with self._acked:
            self.pubacks[mid] = reason
            self._acked.notify_all()

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        info = self.client.publish(topic, payload, qos=1)
        with self._acked:
            assert self._acked.wait_for(lambda: info.mid in self.pubacks, 5), "no PUBACK"
            return self.pubacks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def secured_broker(
    sqlite_engine: Engine, tmp_path: Path
) -> Iterator[tuple[MosquittoProcess, dict[str, str]]]:
    require(mosquitto_available(), "the mosquitto binary is not installed")
    made = org(sqlite_engine, employees=1, devices=("D1", "D2"), disabled=("D3",))
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    with db_session(sqlite_engine) as db:
        written = write_broker_files(
            db, passwd, acl, [ServiceAccount("kc-ingest", hash_password("ingest-pw"))]
        )
    assert written == 2  # the disabled reader gets no account
    broker = MosquittoProcess(tmp_path / "mosquitto", passwd=passwd, acl=acl)
    broker.start()
    secrets: dict[str, str] = made["secrets"]
    yield broker, secrets
    broker.stop()


def test_a_device_publishes_under_its_own_topic_only(
    secured_broker: tuple[MosquittoProcess, dict[str, str]],
) -> None:
    broker, secrets = secured_broker
    ingest = V5Client(broker.port, "kc-ingest", "ingest-pw")
    got = threading.Event()

    def on_message(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        ingest.received.append(message)
        got.set()

    ingest.client.on_message = on_message
    ingest.client.subscribe("kc/v1/+/+", qos=1)
    device = V5Client(broker.port, "D1", secrets["D1"])
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
    ("user", "password"),
    [("D1", "wrong-password"), ("D3", "whatever"), ("nobody", "x")],
    ids=["wrong-password", "disabled-device", "unknown-user"],
)
def test_bad_credentials_are_refused_at_connect(
    secured_broker: tuple[MosquittoProcess, dict[str, str]], user: str, password: str
) -> None:
    broker, _ = secured_broker
    client = V5Client(broker.port, user, password)
    try:
        assert client.connack is not None and client.connack.is_failure
    finally:
        client.close()
