"""The clustered broker's accounts are real: three nats-server nodes started from the shipped
configuration with the accounts file ``kycuong devices broker-files --broker nats`` writes. A
reader stores its own punches and its receipt comes back; it cannot publish as another reader,
read another's receipts or the MQTT deliveries, nor connect with a wrong password, as a
disabled reader, anonymously, or as a NATS (non-MQTT) client."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from devices.reader import Reader
from ingest.nats import NatsCluster
from ingest.nats import available as nats_available
from kycuong.cli import main
from kycuong.settings import get_settings
from store.db import db_session
from store.models import Punch
from tests.factories import org, punch_payload
from tests.peer import Peer
from tests.support import require, running_ingest, running_nats_ingest, wait_for

INGEST_PASSWORD = "ingest-pw-for-the-cluster"


def broker_files(config: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """``kycuong devices broker-files --broker nats``, as the operator runs it."""
    get_settings.cache_clear()
    assert main(["devices", "broker-files", "--broker", "nats", "--config", str(config)]) == 0
    return capsys.readouterr().out


@pytest.fixture
def secured(
    pg_engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[tuple[NatsCluster, dict[str, Any]]]:
    require(nats_available(), "nats-server is not installed")
    made = org(pg_engine, employees=2, devices=("D1", "D2"), disabled=("D3",))
    monkeypatch.setenv("KC_DATABASE_URL", pg_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("KC_MQTT_USERNAME", "kc-ingest")
    monkeypatch.setenv("KC_MQTT_PASSWORD", INGEST_PASSWORD)
    config = tmp_path / "auth" / "accounts.conf"
    out = broker_files(config, capsys)
    assert "2 thiết bị, 1 tài khoản dịch vụ" in out  # the disabled reader gets no user
    text = config.read_text()
    assert INGEST_PASSWORD not in text and all(s not in text for s in made["secrets"].values())
    cluster = NatsCluster(tmp_path / "nats", accounts=text)
    cluster.start()
    yield cluster, {**made["secrets"], "cards": made["cards"]}
    cluster.stop()
    get_settings.cache_clear()


def events(engine: Engine) -> set[tuple[str, str]]:
    with db_session(engine) as db:
        return {(p.device_id, p.event_id) for p in db.scalars(select(Punch))}


def test_a_reader_stores_its_own_punches_and_nothing_else_passes(
    pg_engine: Engine, secured: tuple[NatsCluster, dict[str, Any]], tmp_path: Path
) -> None:
    cluster, secrets = secured
    port = cluster.nodes[0].mqtt_port
    card = secrets["cards"][0]
    at = datetime.now(UTC) - timedelta(minutes=5)
    with running_nats_ingest(pg_engine, port, INGEST_PASSWORD):
        d1 = Reader("D1", "127.0.0.1", port, password=secrets["D1"], outbox=tmp_path / "d1.db")
        d1.connect(timeout=15)
        d1.punch("own-1", card, at)
        d1.wait_receipts(timeout=30)  # stored, and its receipt reached it
        assert events(pg_engine) == {("D1", "own-1")}

        # A second connection with D1's password: as D2, on D2's topic, with D2's payload.
        spy = Peer(port, "D1", secrets["D1"], "D1-spy")
        assert not spy.refused
        assert spy.subscribe("kc/receipts/D2").is_failure
        assert spy.subscribe("kc/receipts/#").is_failure
        assert spy.subscribe("kc/v1/+/+").is_failure
        assert spy.subscribe("$MQTT/sub/#").is_failure
        assert not spy.subscribe("kc/receipts/D1").is_failure  # its own receipts it may read
        spy.publish("kc/v1/D2/punch", punch_payload("D2", "forged", card, at))
        # D2's own punch, and its receipt, reach D2 only.
        d2 = Reader("D2", "127.0.0.1", port, password=secrets["D2"], outbox=tmp_path / "d2.db")
        d2.connect(timeout=15)
        d2.punch("own-2", card, at + timedelta(seconds=1))
        d2.wait_receipts(timeout=30)
        d1.punch("own-3", card, at + timedelta(seconds=2))
        d1.wait_receipts(timeout=30)
        time.sleep(1)
        assert events(pg_engine) == {("D1", "own-1"), ("D2", "own-2"), ("D1", "own-3")}
        assert {m.topic for m in spy.received} <= {"kc/receipts/D1"}
        assert b"own-2" not in b"".join(m.payload for m in spy.received)
        spy.close()

        # Refused at CONNECT: a wrong password, a disabled reader, nobody at all.
        for username, password in [("D1", "wrong"), ("D3", "anything"), (None, None)]:
            stranger = Peer(port, username, password, f"x-{username}")
            assert stranger.refused, username
            stranger.close()
        # D1's password on the NATS client port: refused (MQTT only).
        assert "Authorization Violation" in nats_protocol_connect(
            cluster.nodes[0].client_port, "D1", secrets["D1"]
        )
        # NATS binds no client id to a user: D1's password may take D2's client id and session,
        # but the session's subscription to D2's receipts is refused to it.
        d1.close()
        d2.close()
        intruder = Peer(port, "D1", secrets["D1"], "D2", clean_session=False)
        assert not intruder.refused
        server = Peer(port, "kc-ingest", INGEST_PASSWORD, "ingest-probe")
        server.publish("kc/receipts/D2", b'{"v": 1, "device_id": "D2", "stored": ["x"]}')
        time.sleep(1.5)
        assert intruder.received == []
        intruder.close()
        server.close()


def nats_protocol_connect(port: int, user: str, password: str) -> str:
    """CONNECT and SUB over the NATS client protocol; the server's answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.recv(4096)  # INFO
        sock.sendall(
            f'CONNECT {{"user":"{user}","pass":"{password}","verbose":true}}\r\n'.encode()
            + b"SUB $MQTT.sub.> 1\r\nPING\r\n"
        )
        answer = b""
        deadline = time.monotonic() + 5
        while b"PONG" not in answer and b"-ERR" not in answer and time.monotonic() < deadline:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            answer += chunk
        return answer.decode(errors="replace")


def test_a_rotated_password_takes_effect_on_reload(
    secured: tuple[NatsCluster, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster, secrets = secured
    port = cluster.nodes[1].mqtt_port
    rotated = tmp_path / "rotated.json"
    assert main(["devices", "rotate", "D1", "--secrets-out", str(rotated)]) == 0
    new = json.loads(rotated.read_text())["D1"]
    config = tmp_path / "auth" / "accounts.conf"
    broker_files(config, capsys)
    cluster.write_accounts(config.read_text())
    cluster.reload()

    def refuses_old() -> bool:
        try:
            client = Peer(port, "D1", secrets["D1"], "D1-old")
        except AssertionError:  # no CONNACK: the node dropped the connection while reloading
            return False
        client.close()
        return client.refused

    def accepts_new() -> bool:
        try:  # a new session waits on JetStream, which may still be settling after the reload
            fresh = Peer(port, "D1", new, "D1-new")
        except AssertionError:
            return False
        fresh.close()
        return not fresh.refused

    wait_for(refuses_old, 30, "the old password refused after the reload")
    wait_for(accepts_new, 40, "the new password accepted after the reload")


def test_a_reader_connected_under_another_readers_client_id_is_named_by_broker_check(
    pg_engine: Engine,
    secured: tuple[NatsCluster, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """NATS cannot refuse it (no client id is bound to a user), so the operator's check names
    it from the nodes' monitoring pages: the account, the client id it took, where from."""
    cluster, secrets = secured
    monitors = [f"http://127.0.0.1:{n.monitor_port}" for n in cluster.nodes]
    check = ["devices", "broker-check", *(a for m in monitors for a in ("--monitor", m))]
    with running_ingest(
        pg_engine,
        cluster.nodes[0].mqtt_port,
        mqtt_protocol="3.1.1",
        mqtt_username="kc-ingest",
        mqtt_password=INGEST_PASSWORD,
    ):
        own = Peer(cluster.nodes[1].mqtt_port, "D1", secrets["D1"], "D1")
        capsys.readouterr()
        assert main(check) == 0  # the ingest's own client id and D1 as D1: nothing to say
        assert "Đã xem 2 kết nối MQTT trên 3 nút: ổn" in capsys.readouterr().out
        intruder = Peer(cluster.nodes[2].mqtt_port, "D1", secrets["D1"], "D2")
        try:
            assert main(check) == 1
            out = capsys.readouterr().out
        finally:
            intruder.close()
            own.close()
    assert "Đáng ngờ: tài khoản D1 kết nối với mã máy khách D2 (nút kc-3, từ 127.0.0.1:" in out
    assert "1 kết nối dùng mã máy khách không phải của mình" in out
    assert main(["devices", "broker-check", "--monitor", "http://127.0.0.1:9"]) == 2
    assert "Không đọc được trang giám sát của nút NATS" in capsys.readouterr().err
