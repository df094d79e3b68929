"""The quickstart's embedded broker (amqtt) authenticates and confines readers like Mosquitto."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from devices.provision import hash_password
from ingest.broker import EmbeddedBroker
from tests.factories import org, punch_payload
from tests.peer import Peer
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
    client = Peer(secured.port, user, password, client_id)
    try:
        assert not client.accepted
    finally:
        client.close()


def test_a_reader_must_use_its_device_id_as_client_id(secured: Secured) -> None:
    client = Peer(secured.port, "D1", secured.secrets["D1"], "someone-else")
    try:
        assert not client.accepted
    finally:
        client.close()


def test_a_reader_publishes_its_own_punches_and_subscribes_only_to_its_receipts(
    secured: Secured,
) -> None:
    ingest = Peer(secured.port, "kc-ingest", "ingest-pw", "kycuong-ingest-1")
    reader = Peer(secured.port, "D1", secured.secrets["D1"], "D1")
    try:
        assert ingest.accepted and reader.accepted
        assert ingest.subscribe("kc/v1/+/+") == 1
        for topic in ("kc/v1/+/+", "#", "kc/v1/D2/punch", "kc/receipts/#", "kc/receipts/D2"):
            assert reader.subscribe(topic) == 0x80
        assert reader.subscribe("kc/receipts/D1") == 1  # its own receipts only
        now = datetime.now(UTC)
        reader.client.publish("kc/v1/D2/punch", punch_payload("D2", "forged", "C", now), qos=1)
        reader.client.publish("kc/v1/D1/punch", punch_payload("D1", "own", "C", now), qos=1)
        wait_for(lambda: ingest.topics() == ["kc/v1/D1/punch"], 5, "the reader's own punch")
        time.sleep(0.3)
        assert ingest.topics() == ["kc/v1/D1/punch"]
        assert reader.topics() == []
    finally:
        reader.close()
        ingest.close()


def test_a_stranger_with_the_ingest_client_id_does_not_disconnect_the_ingest(
    secured: Secured,
) -> None:
    # The ingest keeps its session (clean_session false), as the worker does.
    ingest = Peer(secured.port, "kc-ingest", "ingest-pw", "kycuong-ingest-1", clean_session=False)
    try:
        for user, password in ((None, None), ("D1", secured.secrets["D1"]), ("D1", "x")):
            stranger = Peer(secured.port, user, password, "kycuong-ingest-1", clean_session=False)
            assert not stranger.accepted
            stranger.close()
        time.sleep(0.3)
        assert ingest.disconnects == [] and ingest.client.is_connected()
    finally:
        ingest.close()


def test_a_message_over_the_size_limit_is_not_delivered(
    secured: Secured,
) -> None:
    ingest = Peer(secured.port, "kc-ingest", "ingest-pw", "kycuong-ingest-1")
    reader = Peer(secured.port, "D1", secured.secrets["D1"], "D1")
    try:
        assert ingest.subscribe("kc/v1/+/+") == 1
        reader.client.publish("kc/v1/D1/punch", b"x" * 100_000, qos=1)
        reader.client.publish("kc/v1/D1/status", b"{}", qos=1)
        wait_for(lambda: ingest.topics() == ["kc/v1/D1/status"], 10, "the next, small message")
        time.sleep(0.3)
        assert ingest.topics() == ["kc/v1/D1/status"]
    finally:
        reader.close()
        ingest.close()
