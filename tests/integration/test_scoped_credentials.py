"""Enrolment numbers (mã chấm công) scoped to a terminal or a group of terminals, through the
real bridges, the real Mosquitto and PostgreSQL: a Hikvision face event and a ZKTeco user_id
punch match the person holding that number on that terminal, never the holder of the same
number elsewhere; a number registered late matches the punches already received."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete, func, select

from devices.hikvision import HikConfig, HikTerminal
from devices.zk_emulator import Terminal, ZkEmulator
from devices.zkteco import BridgeConfig, TerminalBridge, TerminalConfig
from ingest.mosquitto import MosquittoProcess
from kycuong.errors import Conflict, Invalid
from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from services import credentials as service
from services.scope import Scope
from store import credentials as credential_store
from store.db import db_session
from store.models import Credential, DayRecord, Employee, Punch, RecomputeRequest, UnmatchedPunch
from store.punches import credential_held
from tests.factories import org
from tests.support import free_port, running_hik_bridge, wait_for

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 23)
ADMIN = Scope(0, "test", "admin", None)
HIK = {"HIK-SANH-1": "pw-one", "HIK-SANH-2": "pw-two", "HIK-SANH-3": "pw-three"}


def face_event(serial: int, employee_no: str, hhmmss: str) -> dict[str, Any]:
    """An ISAPI AccessControllerEvent for a face recognised without a card (subEventType 75)."""
    return {
        "ipAddress": "192.168.1.64",
        "dateTime": f"2026-11-23T{hhmmss}+07:00",
        "eventType": "AccessControllerEvent",
        "AccessControllerEvent": {
            "majorEventType": 5,
            "subEventType": 75,
            "employeeNoString": employee_no,
            "serialNo": serial,
            "currentVerifyMode": "face",
            "attendanceStatus": "checkIn",
        },
    }


def register(engine: Engine, code: str, value: str, where: str, kind: str = "pin") -> Any:
    with db_session(engine) as db:
        return service.register(
            db,
            ADMIN,
            service.CredentialIn(code, kind, value, where, date(2026, 11, 1)),
            datetime.now(UTC),
        )


def holders(engine: Engine) -> dict[str, str]:
    """Each stored punch's (device) → the code of the person it matched."""
    with db_session(engine) as db:
        rows = db.execute(
            select(Punch.device_id, Employee.code)
            .select_from(Punch)
            .join(Credential, credential_held())
            .join(Employee, Employee.id == Credential.employee_id)
        ).all()
    return {device: code for device, code in rows}


@pytest.fixture
def office(pg_engine: Engine) -> Iterator[Engine]:
    org(pg_engine, employees=4, devices=(*HIK, "ZK-CONG-1"))
    with db_session(pg_engine) as db:
        credential_store.set_group(db, "Cổng chính", ["ZK-CONG-1"])
    yield pg_engine


def test_a_face_event_and_a_user_id_punch_match_the_holder_on_that_terminal_only(
    office: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    engine = office
    with db_session(engine) as db:
        group = credential_store.group_by_name(db, "Cổng chính")
        assert group is not None
        group_key = f"group:{group.id}"
    # The same enrolment number CB003 is three people on three terminals.
    register(engine, "E0000", "CB003", "device:HIK-SANH-1")
    register(engine, "E0001", "CB003", "device:HIK-SANH-2")
    register(engine, "E0002", "CB003", group_key)  # the ZKTeco gate, through its group
    terminals = tuple(HikTerminal(d, pw) for d, pw in HIK.items())
    config = HikConfig("127.0.0.1", mosquitto.port, terminals, state_dir=tmp_path / "hik")
    zk_port = free_port()
    zk = Terminal("CKRS9", users=[(1, "CB003", "Lê Thị Ba", 0)])
    zk.add_record("CB003", datetime(2026, 11, 23, 7, 41, 5), 0)
    zk_bridge = TerminalBridge(
        BridgeConfig("127.0.0.1", mosquitto.port, tmp_path / "zk", 0.2, ()),
        TerminalConfig("ZK-CONG-1", "127.0.0.1", zk_port, identify_by="user_id"),
    )
    with running_hik_bridge(engine, config) as client:
        for serial, (device, hhmmss) in enumerate(
            [("HIK-SANH-1", "07:29:41"), ("HIK-SANH-2", "07:35:10"), ("HIK-SANH-3", "07:50:00")]
        ):
            answer = client.post(
                "/isapi/events",
                json=face_event(100 + serial, "CB003", hhmmss),
                auth=(device, HIK[device]),
            )
            assert answer.status_code == 200, answer.text
        with ZkEmulator(zk, port=zk_port):
            runner = threading.Thread(target=zk_bridge.run, daemon=True)
            runner.start()
            try:
                wait_for(lambda: count(engine, Punch) == 4, 30, "four punches stored")
            finally:
                zk_bridge.stop()
                runner.join(30)
    with db_session(engine) as db:
        kinds = set(db.execute(select(Punch.credential_kind, Punch.verify_mode)).all())
        unknown = db.execute(
            select(UnmatchedPunch.device_id, UnmatchedPunch.credential_value)
        ).all()
    assert {kind for kind, _ in kinds} == {"pin"} and ("pin", "face") in kinds
    assert holders(engine) == {"HIK-SANH-1": "E0000", "HIK-SANH-2": "E0001", "ZK-CONG-1": "E0002"}
    assert unknown == [("HIK-SANH-3", "CB003")]  # nobody holds CB003 on the third terminal
    # The runner reads the same scope: each person's day starts at their own terminal's punch.
    RecomputeWorker(
        engine, RulesDirectory(max_age_s=0), clock=lambda: datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    ).drain()
    with db_session(engine) as db:
        first_in = {
            code: at.astimezone(HANOI).strftime("%H:%M:%S") if at else None
            for code, at in db.execute(
                select(Employee.code, DayRecord.first_in)
                .join(DayRecord, DayRecord.employee_id == Employee.id)
                .where(DayRecord.day == DAY)
            ).all()
        }
    assert first_in["E0000"] == "07:29:41"
    assert first_in["E0001"] == "07:35:10"
    assert first_in["E0002"] == "07:41:05"
    assert first_in.get("E0003") is None


def count(engine: Engine, model: type) -> int:
    with db_session(engine) as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_a_number_registered_later_matches_the_punches_already_received(
    office: Engine, mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    engine = office
    config = HikConfig(
        "127.0.0.1", mosquitto.port, (HikTerminal("HIK-SANH-3", "pw-three"),), state_dir=tmp_path
    )
    with running_hik_bridge(engine, config) as client:
        answer = client.post(
            "/isapi/events",
            json=face_event(7, "CB009", "07:31:00"),
            auth=("HIK-SANH-3", "pw-three"),
        )
        assert answer.status_code == 200
        wait_for(lambda: count(engine, UnmatchedPunch) == 1, 20, "the unknown punch")
    with db_session(engine) as db:
        db.execute(delete(RecomputeRequest))
    # Another terminal's CB009 does not claim it; this terminal's does, and queues the day.
    assert register(engine, "E0001", "CB009", "device:HIK-SANH-1").punches_matched == 0
    done = register(engine, "E0003", "CB009", "device:HIK-SANH-3")
    assert done.punches_matched == 1 and not done.already_held
    with db_session(engine) as db:
        matched = db.scalars(select(UnmatchedPunch.matched_employee_id)).one()
        queued = set(db.execute(select(RecomputeRequest.employee_id, RecomputeRequest.day)).all())
    assert matched == done.person.id
    assert queued == {(done.person.id, DAY)}


def test_registrations_that_would_make_a_punch_ambiguous_are_refused_in_vietnamese(
    office: Engine,
) -> None:
    engine = office
    register(engine, "E0000", "CB003", "device:HIK-SANH-1")
    with pytest.raises(Conflict) as clash:  # the same number on the same terminal, same day
        register(engine, "E0001", "CB003", "device:HIK-SANH-1")
    assert "đã được cấp cho Nguyễn Văn 0 (E0000) từ 01/11/2026" in clash.value.message
    with db_session(engine) as db:
        group = credential_store.set_group(db, "Sảnh", ["HIK-SANH-1", "HIK-SANH-2"])
        key = f"group:{group.id}"
    with pytest.raises(Conflict):  # a group that includes that terminal overlaps it too
        register(engine, "E0001", "CB003", key)
    with db_session(engine) as db:
        credential_store.set_group(db, "Sảnh phụ", ["HIK-SANH-2"])
        side = credential_store.group_by_name(db, "Sảnh phụ")
        assert side is not None
        side_key = f"group:{side.id}"
    register(engine, "E0002", "CB003", side_key)  # no clash: HIK-SANH-1 is not in it
    with pytest.raises(credential_store.CredentialClash), db_session(engine) as db:
        credential_store.set_group(db, "Sảnh phụ", ["HIK-SANH-1"])  # it would be, then
    with pytest.raises(Invalid) as unscoped:
        register(engine, "E0001", "CB777", "")
    assert "hãy chọn máy" in unscoped.value.message
    with pytest.raises(Invalid) as scoped_card:
        register(engine, "E0001", "C999999", "device:HIK-SANH-1", kind="card")
    assert "mọi máy" in scoped_card.value.message
    # A handover on the same terminal, dated later, closes the previous holder's period.
    with db_session(engine) as db:
        handed = service.register(
            db,
            ADMIN,
            service.CredentialIn("E0001", "pin", "CB003", "device:HIK-SANH-1", date(2026, 12, 1)),
            datetime.now(UTC),
        )
        assert handed.credential_id is not None
        first = service.find_person(db, ADMIN, code="E0000")
        views = service.of_person(db, ADMIN, first.id, datetime.now(UTC))
    previous = [v for v in views.credentials if v.value == "CB003"]
    assert previous and previous[0].valid_to == date(2026, 11, 30)  # local dates, not UTC
