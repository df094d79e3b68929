"""The Hikvision bridge with event bodies in the shape of the ISAPI documentation (JSON and
multipart), through the real Mosquitto into PostgreSQL: punches stored once, a malformed
body kept as a dead letter, a wrong password refused with nothing published."""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from devices.hikvision import HikConfig, HikTerminal, create_app
from ingest.mosquitto import MosquittoProcess
from store.db import db_session
from store.models import DeadLetter, Device, Punch
from tests.factories import org
from tests.support import (
    mosquitto_available,
    push_body,
    require,
    running_hik_bridge,
    running_ingest,
    serving,
    start_ingest,
    wait_for,
)

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")

AUTH = ("HIK-SANH-1", "terminal-password")


def event(
    serial: int, card: str = "C000001", sub: int = 75, status: str = "checkIn"
) -> dict[str, object]:
    """An AccessControllerEvent as the ISAPI event notification sends it."""
    return {
        "ipAddress": "192.168.1.64",
        "portNo": 80,
        "protocol": "HTTP",
        "macAddress": "44:19:b6:00:00:01",
        "channelID": 1,
        "dateTime": "2026-11-23T07:29:41+07:00",
        "activePostCount": 1,
        "eventType": "AccessControllerEvent",
        "eventState": "active",
        "eventDescription": "Access Controller Event",
        "AccessControllerEvent": {
            "deviceName": "Sảnh chính",
            "majorEventType": 5,
            "subEventType": sub,
            "name": "Nguyễn Văn Một",
            "cardNo": card,
            "cardType": 1,
            "employeeNoString": "E0001",
            "serialNo": serial,
            "userType": "normal",
            "currentVerifyMode": "cardOrFace",
            "attendanceStatus": status,
            "mask": "no",
        },
    }


@pytest.fixture
def bridge(
    pg_engine: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> Iterator[tuple[TestClient, Engine]]:
    org(pg_engine, employees=3, devices=("HIK-SANH-1",))
    config = HikConfig(
        "127.0.0.1", mosquitto.port, (HikTerminal(*AUTH),), state_dir=tmp_path / "state"
    )
    with running_hik_bridge(pg_engine, config) as client:
        yield client, pg_engine


def count(engine: Engine, model: type) -> int:
    with db_session(engine) as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_json_and_multipart_events_become_punches_once(bridge: tuple[TestClient, Engine]) -> None:
    client, engine = bridge
    answer = client.post("/isapi/events", json=event(101), auth=AUTH)
    assert answer.status_code == 200 and answer.json()["statusString"] == "OK"
    multipart = client.post(
        "/isapi/events",
        files={
            "event_log": (None, json.dumps(event(102, status="checkOut")), "application/json"),
            "Picture": ("face.jpg", b"\xff\xd8jpeg", "image/jpeg"),
        },
        auth=AUTH,
    )
    assert multipart.status_code == 200, multipart.text
    assert (
        client.post("/isapi/events", json=event(101), auth=AUTH).status_code == 200
    )  # the terminal resends
    door = client.post(
        "/isapi/events", json=event(103, sub=21), auth=AUTH
    )  # a door event, not a punch
    assert door.json()["subStatusCode"] == "ignored"
    wait_for(lambda: count(engine, Punch) == 2, 20, "two punches")
    with db_session(engine) as db:
        rows = db.execute(
            select(Punch.event_id, Punch.direction, Punch.verify_mode, Punch.device_time)
        ).all()
    assert sorted((r.event_id, r.direction, r.verify_mode) for r in rows) == [
        ("HIK-SANH-1-101-20261123072941", "in", "face"),
        ("HIK-SANH-1-102-20261123072941", "out", "face"),
    ]
    assert rows[0].device_time == datetime.fromisoformat("2026-11-23T07:29:41+07:00")


def test_a_malformed_body_is_kept_as_a_dead_letter_and_refused(
    bridge: tuple[TestClient, Engine],
) -> None:
    client, engine = bridge
    answer = client.post(
        "/isapi/events",
        content=b'{"AccessControllerEvent": ',
        headers={"content-type": "application/json"},
        auth=AUTH,
    )
    assert answer.status_code == 400 and answer.json()["statusString"] == "Invalid Content"
    no_time = event(104)
    del no_time["dateTime"]
    assert client.post("/isapi/events", json=no_time, auth=AUTH).status_code == 400
    deep = b"[" * 30_000 + b"]" * 30_000  # RecursionError in json.loads, not a ValueError
    answer = client.post(
        "/isapi/events", content=deep, headers={"content-type": "application/json"}, auth=AUTH
    )
    assert answer.status_code == 400 and answer.json()["statusString"] == "Invalid Content"
    wait_for(lambda: count(engine, DeadLetter) == 3, 20, "the dead letters")
    with db_session(engine) as db:
        reasons = sorted(db.scalars(select(DeadLetter.reason_code)))
    assert reasons == ["malformed_json", "malformed_json", "schema"]
    assert count(engine, Punch) == 0


@pytest.mark.parametrize(
    "auth", [("HIK-SANH-1", "wrong"), ("HIK-OTHER", "terminal-password"), None]
)
def test_a_wrong_password_publishes_nothing(
    bridge: tuple[TestClient, Engine], auth: tuple[str, str] | None
) -> None:
    client, engine = bridge
    answer = client.post("/isapi/events", json=event(105), auth=auth)
    assert answer.status_code == 401
    assert count(engine, Punch) == count(engine, DeadLetter) == 0


def hik_config(port: int, tmp_path: Path, *terminals: HikTerminal, **extra: Any) -> HikConfig:
    return HikConfig("127.0.0.1", port, terminals, state_dir=tmp_path / "state", **extra)


def clock_offset(engine: Engine, device_id: str = "HIK-SANH-1") -> float | None:
    """The terminal's clock offset as the bridge last measured and recorded it."""
    with db_session(engine) as db:
        device = db.get(Device, device_id)
        return device.clock_offset_s if device else None


def test_a_reused_serial_number_with_another_card_and_time_is_stored(
    bridge: tuple[TestClient, Engine],
) -> None:
    client, engine = bridge
    assert client.post("/isapi/events", json=event(500), auth=AUTH).status_code == 200
    reset = event(500, card="C000002")  # the terminal was reset and numbers from 1 again
    reset["dateTime"] = "2026-11-24T07:31:05+07:00"
    assert client.post("/isapi/events", json=reset, auth=AUTH).status_code == 200
    with db_session(engine) as db:
        cards = sorted(db.scalars(select(Punch.credential_value)))
    assert cards == ["C000001", "C000002"]


@contextmanager
def isapi_clock(say: Callable[[], str]) -> Iterator[str]:
    """A terminal's ISAPI /ISAPI/System/time answering ``say()`` as its localTime."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<Time version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">'
                f"<timeMode>manual</timeMode><localTime>{say()}</localTime>"
                "<timeZone>CST-8:00:00</timeZone></Time>"
            ).encode()
            self.send_response(200 if self.path == "/ISAPI/System/time" else 404)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_terminal_in_the_wrong_time_zone_is_measured_and_its_punches_corrected(
    pg_engine: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    org(pg_engine, employees=3, devices=("HIK-SANH-1",))
    plus8 = timezone(timedelta(hours=8))

    def wall() -> str:  # Hà Nội wall-clock time, labelled +08:00
        return datetime.now(HANOI).replace(tzinfo=plus8).isoformat(timespec="seconds")

    with isapi_clock(wall) as address:
        terminal = HikTerminal(*AUTH, address=address)
        config = hik_config(mosquitto.port, tmp_path, terminal, clock_seconds=0.5)
        with running_hik_bridge(pg_engine, config) as client:
            wait_for(
                lambda: clock_offset(pg_engine) is not None, 20, "the terminal's clock measured"
            )
            live = event(600)
            live["dateTime"] = wall()
            assert client.post("/isapi/events", json=live, auth=AUTH).status_code == 200
    measured = clock_offset(pg_engine)
    assert measured is not None and abs(measured + 3600) < 5
    with db_session(pg_engine) as db:
        punch = db.scalars(select(Punch)).one()
    assert abs(punch.punched_at - datetime.now(UTC)) < timedelta(seconds=30)


def test_a_live_punch_just_after_the_terminal_clock_was_fixed_is_not_shifted_by_the_old_offset(
    pg_engine: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """The operator fixes the wrong zone the readers' page showed; the clock is read only every
    ``clock_seconds``, so the next live punch must not be corrected by the old -3600 s (it was
    stored an hour ahead, quarantined as future-dated, and the terminal told OK)."""
    org(pg_engine, employees=3, devices=("HIK-SANH-1",))
    zone = {"now": timezone(timedelta(hours=8))}

    def wall() -> str:
        return datetime.now(HANOI).replace(tzinfo=zone["now"]).isoformat(timespec="seconds")

    with isapi_clock(wall) as address:
        terminal = HikTerminal(*AUTH, address=address)
        config = hik_config(mosquitto.port, tmp_path, terminal, clock_seconds=600)
        with running_hik_bridge(pg_engine, config) as client:
            wait_for(lambda: clock_offset(pg_engine) is not None, 20, "the wrong zone measured")
            zone["now"] = timezone(timedelta(hours=7))  # set right on the terminal
            live = event(610)
            live["dateTime"] = wall()
            assert client.post("/isapi/events", json=live, auth=AUTH).status_code == 200
    assert count(pg_engine, DeadLetter) == 0
    with db_session(pg_engine) as db:
        punch = db.scalars(select(Punch)).one()
    assert abs(punch.punched_at - datetime.now(UTC)) < timedelta(seconds=30)
    measured = clock_offset(pg_engine)
    assert measured is not None and abs(measured) < 5


def test_an_event_made_in_the_wrong_zone_but_delivered_after_the_fix_is_corrected_by_the_old_offset(
    pg_engine: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """Two events made while the terminal stamped Hà Nội wall-clock time +08:00 reach the
    bridge only after the operator set the zone right and the bridge measured the fix (the
    terminal was cut off, or kept them for a retry): each is corrected by the offset in force
    when it was made (-3600 s), not the one in force when it arrives (0), also the one
    delivered to a bridge restarted meanwhile (the offsets it measured are kept on disk)."""
    org(pg_engine, employees=3, devices=("HIK-SANH-1",))
    zone = {"now": timezone(timedelta(hours=8))}

    def wall() -> str:
        return datetime.now(HANOI).replace(tzinfo=zone["now"]).isoformat(timespec="seconds")

    made: list[tuple[dict[str, Any], datetime]] = []
    with isapi_clock(wall) as address, running_ingest(pg_engine, mosquitto.port):
        terminal = HikTerminal(*AUTH, address=address)
        config = hik_config(mosquitto.port, tmp_path, terminal, clock_seconds=0.3)
        with TestClient(create_app(config)) as client:
            wait_for(lambda: (clock_offset(pg_engine) or 0) < -3500, 20, "the wrong zone measured")
            for serial in (620, 621):
                kept = event(serial)
                kept["dateTime"] = wall()  # made now, under +08:00; not delivered yet
                made.append((kept, datetime.now(UTC)))
            zone["now"] = timezone(timedelta(hours=7))  # the operator sets the zone right
            wait_for(lambda: abs(clock_offset(pg_engine) or -1) < 5, 20, "the fix measured")
            assert client.post("/isapi/events", json=made[0][0], auth=AUTH).status_code == 200
        with TestClient(create_app(config)) as client:  # the bridge restarted since
            wait_for(lambda: abs(clock_offset(pg_engine) or -1) < 5, 20, "the clock measured again")
            assert client.post("/isapi/events", json=made[1][0], auth=AUTH).status_code == 200
    assert count(pg_engine, DeadLetter) == 0
    with db_session(pg_engine) as db:
        punches = {p.event_id: p for p in db.scalars(select(Punch))}
    for body, true_time in made:
        body_event = body["AccessControllerEvent"]
        assert isinstance(body_event, dict)
        punch = next(p for k, p in punches.items() if f"-{body_event['serialNo']}-" in k)
        assert abs(punch.punched_at - true_time) < timedelta(seconds=30), (
            punch.punched_at,
            true_time,
        )  # was one hour early
        assert punch.clock_offset_s is not None and abs(punch.clock_offset_s + 3600) < 5


def test_while_the_broker_is_down_every_terminal_is_answered_at_once_and_retries_succeed(
    pg_engine: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    org(pg_engine, employees=3, devices=("HIK-SANH-1", "HIK-SANH-2"))
    other = ("HIK-SANH-2", "second-password")
    config = hik_config(mosquitto.port, tmp_path, HikTerminal(*AUTH), HikTerminal(*other))
    with running_hik_bridge(pg_engine, config) as client:
        mosquitto.stop()
        answers = []
        for auth, serial in ((AUTH, 701), (other, 702)):
            started = time.monotonic()
            answer = client.post("/isapi/events", json=event(serial), auth=auth)
            answers.append((answer.status_code, time.monotonic() - started))
        started = time.monotonic()
        assert client.get("/healthz").status_code == 200
        assert time.monotonic() - started < 2
        assert [code for code, _ in answers] == [503, 503]
        assert all(seconds < 5 for _, seconds in answers), answers  # was 30 s and 39 s
        mosquitto.start()

        def retried() -> bool:  # each terminal sends its event again until it gets OK
            return all(
                client.post("/isapi/events", json=event(serial), auth=auth).status_code == 200
                for auth, serial in ((AUTH, 701), (other, 702))
            )

        wait_for(retried, 60, "both events stored after the broker returned", step=0.5)
    assert count(pg_engine, Punch) == 2


def test_an_event_acked_by_a_broker_that_crashes_is_stored_once_when_the_terminal_retries(
    pg_engine: Engine, tmp_path: Path
) -> None:
    require(mosquitto_available(), "the mosquitto binary is not installed")
    broker = MosquittoProcess(tmp_path / "mosquitto", overrides={"autosave_interval": "3600"})
    broker.start()
    org(pg_engine, employees=3, devices=("HIK-SANH-1",))
    start_ingest(pg_engine, broker.port, mqtt_client_id="ingest-hik").stop()  # session, stopped
    config = hik_config(
        broker.port, tmp_path, HikTerminal(*AUTH), receipt_timeout_s=1.0, resend_seconds=1.0
    )
    try:
        with TestClient(create_app(config)) as client:
            answer = client.post("/isapi/events", json=event(801), auth=AUTH)
            assert answer.status_code == 503  # the broker has it, the server does not yet
            broker.stop(signal.SIGKILL)
            broker.start()
            with running_ingest(pg_engine, broker.port, mqtt_client_id="ingest-hik"):
                wait_for(
                    lambda: (
                        client.post("/isapi/events", json=event(801), auth=AUTH).status_code == 200
                    ),
                    60,
                    "the terminal's retry answered OK",
                    step=0.5,
                )
    finally:
        broker.stop()
    with db_session(pg_engine) as db:
        assert list(db.scalars(select(Punch.event_id))) == ["HIK-SANH-1-801-20261123072941"]


def test_an_oversized_body_is_refused_before_it_is_read_or_authenticated(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    config = hik_config(mosquitto.port, tmp_path, HikTerminal(*AUTH))
    app = create_app(config)
    with TestClient(app) as client:
        declared = client.post(
            "/isapi/events", content=b"{}", headers={"content-length": str(300 * 1024 * 1024)}
        )
    assert declared.status_code == 413  # not 401: refused from the header alone
    assert "quá lớn" in declared.json()["error"]["message"]
    basic = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    # A fresh bridge: one app's readers connect once, in its first lifespan.
    with serving(create_app(config)) as port:  # a known terminal streaming 300 MB, no length
        status, sent = push_body(
            port, "/isapi/events", 300 * 1024 * 1024, {"Authorization": f"Basic {basic}"}
        )
    assert status in (413, None)
    assert sent < 20 * 1024 * 1024, f"the bridge read {sent} bytes of a 300 MB body"


def test_a_broker_sigkill_mid_stream_with_ingest_running_loses_and_doubles_no_event(
    pg_engine: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    """Three terminals push their events through the running bridge (a real HTTP server) while
    the ingest worker stores them; Mosquitto (the shipped configuration, its persistence
    included) is SIGKILLed in the middle and restarted. Each terminal, like a real one, sends
    an event again until it is answered OK: every event is stored exactly once."""
    import httpx

    from tests.support import serving

    made = org(pg_engine, employees=20, devices=("HIK-SANH-1", "HIK-SANH-2", "HIK-SANH-3"))
    terminals = [HikTerminal(f"HIK-SANH-{n}", f"password-{n}") for n in (1, 2, 3)]
    config = hik_config(
        mosquitto.port, tmp_path, *terminals, receipt_timeout_s=2.0, resend_seconds=2.0
    )
    per_terminal = 100
    total = per_terminal * len(terminals)
    base = datetime.now(HANOI).replace(microsecond=0) - timedelta(hours=1)
    answered: dict[str, list[int]] = {t.device_id: [] for t in terminals}
    retries = {t.device_id: 0 for t in terminals}

    def terminal_pushing(port: int, terminal: HikTerminal, offset: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for serial in range(1, per_terminal + 1):
                body = event(serial, card=made["cards"][(serial + offset) % 20])
                body["dateTime"] = (base + timedelta(seconds=serial)).isoformat()
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    try:
                        status = http.post(
                            "/isapi/events", json=body, auth=(terminal.device_id, terminal.password)
                        ).status_code
                    except httpx.TransportError:
                        status = 0
                    if status == 200:
                        answered[terminal.device_id].append(serial)
                        break
                    retries[terminal.device_id] += 1
                    time.sleep(0.2)  # the terminal keeps the event and sends it again

    with running_ingest(pg_engine, mosquitto.port) as worker, serving(create_app(config)) as port:
        pushing = [
            threading.Thread(target=terminal_pushing, args=(port, t, i), daemon=True)
            for i, t in enumerate(terminals)
        ]
        for thread in pushing:
            thread.start()
        wait_for(lambda: count(pg_engine, Punch) >= total // 3, 60, "a third of the events")
        mosquitto.stop(signal.SIGKILL)
        killed_at = count(pg_engine, Punch)
        # Down for longer than the bridge waits for a receipt: terminals are told "not yet".
        wait_for(lambda: sum(retries.values()) > 0, 20, "a terminal answered 'not yet'")
        mosquitto.start()
        assert killed_at < total and all(t.is_alive() for t in pushing), "mid-stream"
        for thread in pushing:
            thread.join(120)
        assert not any(t.is_alive() for t in pushing)
        worker.wait_idle(10)
    assert all(sorted(got) == list(range(1, per_terminal + 1)) for got in answered.values())
    with db_session(pg_engine) as db:
        ids = list(db.scalars(select(Punch.event_id)))
    assert len(ids) == len(set(ids)) == total  # each event once: none lost, none doubled
