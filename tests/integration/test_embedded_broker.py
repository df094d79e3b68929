"""The quickstart's embedded broker (amqtt) authenticates and confines readers like Mosquitto."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import Engine

from devices.provision import hash_password
from ingest.broker import EmbeddedBroker
from tests.factories import org, punch_payload
from tests.support import free_port, wait_for


@dataclass
class Secured:
    port: int
    secrets: dict[str, str]


@pytest.fixture
def secured(sqlite_engine: Engine) -> Iterator[Secured]:
    made = org(sqlite_engine, employees=1, devices=("D1", "D2"), disabled=("D3",))
    port = free_port()
    broker = EmbeddedBroker(
        "127.0.0.1",
        port,
        database_url=sqlite_engine.url.render_as_string(hide_password=False),
        services={"kc-ingest": hash_password("ingest-pw")},
    )
    broker.start()
    yield Secured(port, made["secrets"])
    broker.stop()


class Client:
    """A paho MQTT 3.1.1 client that records CONNACK, SUBACK and messages."""

    def __init__(
        self,
        port: int,
        username: str | None,
        password: str | None,
        client_id: str,
        clean_session: bool = True,
    ) -> None:
        self.connack: int | None = None
        self.subacks: dict[int, list[int]] = {}
        self.received: list[str] = []
        self.disconnects = 0
        self._connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv311,
            clean_session=clean_session,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, m: self.received.append(m.topic)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._connected.wait(5), "no CONNACK"

    def _on_connect(self, _c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        self.connack = int(getattr(reason, "value", 0))
        self._connected.set()

    def _on_subscribe(
        self, _c: object, _u: object, mid: int, reasons: list[ReasonCode], _p: object
    ) -> None:
        self.subacks[mid] = [r.value for r in reasons]

    def _on_disconnect(self, *_args: object) -> None:
        self.disconnects += 1

    @property
    def accepted(self) -> bool:
        return self.connack == 0

    def subscribe(self, topic: str) -> int:
        _, mid = self.client.subscribe(topic, qos=1)
        wait_for(lambda: mid in self.subacks, 5, "SUBACK")
        return self.subacks[mid][0]  # type: ignore[index]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.parametrize(
    ("user", "password", "client_id"),
    [
        (None, None, "anon"),
        ("D1", "wrong", "D1"),
        ("D3", "x", "D3"),
        ("GHOST", "x", "GHOST"),
        ("D1", None, "D1"),
        ("kc-ingest", "wrong", "kycuong-ingest-1"),
    ],
    ids=["anonymous", "wrong-password", "disabled", "unknown", "no-password", "ingest-guess"],
)
def test_the_embedded_broker_refuses_who_is_not_a_reader_or_the_server(
    secured: Secured, user: str | None, password: str | None, client_id: str
) -> None:
    client = Client(secured.port, user, password, client_id)
    try:
        assert not client.accepted
    finally:
        client.close()


def test_a_reader_must_use_its_device_id_as_client_id(secured: Secured) -> None:
    client = Client(secured.port, "D1", secured.secrets["D1"], "someone-else")
    try:
        assert not client.accepted
    finally:
        client.close()


def test_a_reader_publishes_its_own_punches_and_subscribes_only_to_its_receipts(
    secured: Secured,
) -> None:
    ingest = Client(secured.port, "kc-ingest", "ingest-pw", "kycuong-ingest-1")
    reader = Client(secured.port, "D1", secured.secrets["D1"], "D1")
    try:
        assert ingest.accepted and reader.accepted
        assert ingest.subscribe("kc/v1/+/+") == 1
        for topic in ("kc/v1/+/+", "#", "kc/v1/D2/punch", "kc/receipts/#", "kc/receipts/D2"):
            assert reader.subscribe(topic) == 0x80
        assert reader.subscribe("kc/receipts/D1") == 1  # its own receipts only
        now = datetime.now(UTC)
        reader.client.publish("kc/v1/D2/punch", punch_payload("D2", "forged", "C", now), qos=1)
        reader.client.publish("kc/v1/D1/punch", punch_payload("D1", "own", "C", now), qos=1)
        wait_for(lambda: ingest.received == ["kc/v1/D1/punch"], 5, "the reader's own punch")
        time.sleep(0.3)
        assert ingest.received == ["kc/v1/D1/punch"]
        assert reader.received == []
    finally:
        reader.close()
        ingest.close()


def test_a_stranger_with_the_ingest_client_id_does_not_disconnect_the_ingest(
    secured: Secured,
) -> None:
    # The ingest keeps its session (clean_session false), as the worker does.
    ingest = Client(secured.port, "kc-ingest", "ingest-pw", "kycuong-ingest-1", False)
    try:
        for user, password in ((None, None), ("D1", secured.secrets["D1"]), ("D1", "x")):
            stranger = Client(secured.port, user, password, "kycuong-ingest-1", False)
            assert not stranger.accepted
            stranger.close()
        time.sleep(0.3)
        assert ingest.disconnects == 0 and ingest.client.is_connected()
    finally:
        ingest.close()


def test_a_message_over_the_size_limit_is_not_delivered(
    secured: Secured,
) -> None:
    ingest = Client(secured.port, "kc-ingest", "ingest-pw", "kycuong-ingest-1")
    reader = Client(secured.port, "D1", secured.secrets["D1"], "D1")
    try:
        assert ingest.subscribe("kc/v1/+/+") == 1
        reader.client.publish("kc/v1/D1/punch", b"x" * 100_000, qos=1)
        reader.client.publish("kc/v1/D1/status", b"{}", qos=1)
        wait_for(lambda: ingest.received == ["kc/v1/D1/status"], 10, "the next, small message")
        time.sleep(0.3)
        assert ingest.received == ["kc/v1/D1/status"]
    finally:
        reader.close()
        ingest.close()
