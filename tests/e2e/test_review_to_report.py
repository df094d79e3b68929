"""End to end: the simulator's morning over MQTT → a unit head lists and excuses a violation
→ Nội vụ's summary for that month counts it as excused, in JSON and in the XLSX workbook."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from api.app import create_app
from devices.simulator import badges_from_db, device_ids_from_db, office_day, play
from ingest.mosquitto import MosquittoProcess
from ingest.worker import IngestWorker
from runner.deadlines import nightly
from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from store.db import db_session
from store.demo import seed_demo
from store.models import Employee, Unit
from store.users import create_user
from tests.signin import bearer
from tests.support import ingest_settings
from tests.unit.days import local

DAY = date(2026, 11, 23)


def test_a_morning_excused_by_its_unit_head_is_counted_as_excused_by_noi_vu(
    pg_engine: Engine, mosquitto: MosquittoProcess
) -> None:
    with db_session(pg_engine) as db:
        seed_demo(db, employees=40)
        plan = office_day(
            badges_from_db(db, datetime.now(UTC)), device_ids_from_db(db), DAY, seed=2
        )
        late_code = sorted(plan.late)[0]
        unit = db.scalars(
            select(Unit)
            .join(Employee, Employee.unit_id == Unit.id)
            .where(Employee.code == late_code)
        ).one()
        create_user(
            db,
            "truongphong",
            "mật-khẩu-trưởng-phòng",
            "unit_head",
            agency_code="SNV",
            unit_code=unit.code,
        )
        create_user(db, "noivu", "mật-khẩu-nội-vụ-tỉnh", "noi_vu", agency_code="SNV")
        unit_name = unit.name
    settings = ingest_settings(
        pg_engine, mosquitto.port, api_secret="end-to-end-secret-of-32-bytes-or-more"
    )
    ingest = IngestWorker(settings, pg_engine)
    rules = RecomputeWorker(
        pg_engine, RulesDirectory(max_age_s=0), clock=lambda: local(DAY, "22:00").astimezone(UTC)
    )
    ingest.start()
    assert ingest.wait_connected(10)
    try:
        play(plan, "127.0.0.1", mosquitto.port)
        punches = sum(1 for e in plan.events if e.kind == "punch")
        assert ingest.wait_idle(30) and ingest.stats.stored == punches
    finally:
        ingest.stop()
    with db_session(pg_engine) as db:
        nightly(db, DAY)
    rules.drain()

    client = TestClient(create_app(settings, pg_engine))

    head, noivu = (
        bearer(client, "truongphong", "mật-khẩu-trưởng-phòng"),
        bearer(client, "noivu", "mật-khẩu-nội-vụ-tỉnh"),
    )
    month = {"period": "month", "year": 2026, "month": 11}
    before = client.get("/api/summaries", headers=noivu, params=month).json()
    unit_before = next(u for u in before["units"] if u["name"] == unit_name)

    listed = client.get(
        "/api/violations",
        headers=head,
        params={"kind": "late", "from": "2026-11-23", "to": "2026-11-23"},
    ).json()["items"]
    target = next(v for v in listed if v["employee_code"] == late_code)
    assert {v["unit_name"] for v in listed} == {unit_name}  # the head sees only their unit
    answer = client.post(
        f"/api/violations/{target['id']}/review",
        headers=head,
        json={"decision": "excused", "reason_kind": "outside_meeting", "note": "Họp tại UBND tỉnh"},
    )
    assert answer.status_code == 200 and answer.json()["decision_label"] == "Có lý do"

    after = client.get("/api/summaries", headers=noivu, params=month).json()
    unit_after = next(u for u in after["units"] if u["name"] == unit_name)
    assert unit_after["reviewed"]["excused"] == unit_before["reviewed"]["excused"] + 1
    assert unit_after["late_count"] == unit_before["late_count"] - 1
    person = next(p for p in after["people"] if p["code"] == late_code)
    assert person["reviewed"]["excused"] == 1 and person["late_count"] == 0

    workbook = client.get("/api/summaries", headers=noivu, params={**month, "format": "xlsx"})
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content))["Tổng hợp"]
    headers = [c.value for c in sheet[9]]
    row = next(r for r in sheet.iter_rows(min_row=10, values_only=True) if r[2] == unit_name)
    assert row[headers.index("Đã xử lý: có lý do")] == unit_after["reviewed"]["excused"]
    assert row[headers.index("Đi muộn (lượt)")] == unit_after["late_count"]
    # the demo Sở under its UBND (Nghị định 30/2020): the parent, then the issuer in caps
    assert sheet["A1"].value == "UBND TỈNH PHÚ THỌ (DEMO)"
    assert sheet["A2"].value == "SỞ NỘI VỤ (DEMO)"
