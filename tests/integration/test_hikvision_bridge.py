"""The Hikvision bridge with event bodies in the shape of the ISAPI documentation (JSON and
multipart), through the real Mosquitto into PostgreSQL: punches stored once, a malformed
body kept as a dead letter, a wrong password refused with nothing published."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from devices.hikvision import HikConfig, HikTerminal, create_app
from ingest.mosquitto import MosquittoProcess
from store.db import db_session
from store.models import DeadLetter, Punch
from tests.factories import org
from tests.support import push_body, running_ingest, serving, wait_for

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
def bridge(pg_engine: Engine, mosquitto: MosquittoProcess) -> Iterator[tuple[TestClient, Engine]]:
    org(pg_engine, employees=3, devices=("HIK-SANH-1",))
    config = HikConfig("127.0.0.1", mosquitto.port, (HikTerminal(*AUTH),))
    with running_ingest(pg_engine, mosquitto.port), TestClient(create_app(config)) as client:
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
        ("HIK-SANH-1-101", "in", "face"),
        ("HIK-SANH-1-102", "out", "face"),
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
    wait_for(lambda: count(engine, DeadLetter) == 2, 20, "the dead letters")
    with db_session(engine) as db:
        reasons = sorted(db.scalars(select(DeadLetter.reason_code)))
    assert reasons == ["malformed_json", "schema"]
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


def test_an_oversized_body_is_refused_before_it_is_read_or_authenticated(
    mosquitto: MosquittoProcess,
) -> None:
    config = HikConfig("127.0.0.1", mosquitto.port, (HikTerminal(*AUTH),))
    app = create_app(config)
    with TestClient(app) as client:
        declared = client.post(
            "/isapi/events", content=b"{}", headers={"content-length": str(300 * 1024 * 1024)}
        )
    assert declared.status_code == 413  # not 401: refused from the header alone
    assert "quá lớn" in declared.json()["error"]["message"]
    basic = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    with serving(app) as port:  # a known terminal streaming 300 MB without a length
        status, sent = push_body(
            port, "/isapi/events", 300 * 1024 * 1024, {"Authorization": f"Basic {basic}"}
        )
    assert status in (413, None)
    assert sent < 20 * 1024 * 1024, f"the bridge read {sent} bytes of a 300 MB body"
