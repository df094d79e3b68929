"""The README's first command, as a newcomer runs it: the simulated day ends up stored."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from devices.simulator import (
    badges_from_db,
    day_seed,
    device_ids_from_db,
    due,
    is_working_day,
    office_day,
)
from store.db import db_session, make_engine
from store.models import (
    Credential,
    DeadLetter,
    Device,
    Employee,
    Punch,
    Unit,
    UnmatchedPunch,
    User,
    ViolationRecord,
)
from tests.support import free_port


def test_quickstart_stores_the_simulated_day_on_embedded_defaults(tmp_path: Path) -> None:
    db_file = tmp_path / "kycuong.db"
    env = dict(os.environ)
    env.update(
        KC_DATABASE_URL=f"sqlite:///{db_file}",
        KC_MQTT_PORT=str(free_port()),
        KC_MQTT_EMBEDDED="true",
    )
    day = date(2026, 11, 23)
    args = ["quickstart", "--once", "--speed", "0", "--employees", "40", "--date", day.isoformat()]

    def quickstart() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kycuong.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )

    started = datetime.now(UTC)
    run = quickstart()
    finished = datetime.now(UTC)
    assert run.returncode == 0, run.stderr
    assert "lượt chấm công đã lưu" in run.stdout

    engine = make_engine(f"sqlite:///{db_file}")
    with db_session(engine) as db:
        # Rebuild the plan the quickstart played, from the same roster and seed.
        badges, readers = badges_from_db(db, datetime.now(UTC)), device_ids_from_db(db)
        plan = office_day(badges, readers, day, seed=day_seed(2, day))
        stored = set(db.scalars(select(Punch.event_id)))
        punches = len({e for e in stored if f"-{day:%Y%m%d}-" in e})
        dead = list(db.scalars(select(DeadLetter.reason_code)))
        unmatched = list(db.scalars(select(UnmatchedPunch.credential_value)))
        seen = list(db.scalars(select(Device.last_seen_at)))
        roles = {name: role for name, role in db.execute(select(User.username, User.role))}
        judged = db.execute(
            select(Employee.code, ViolationRecord.session, ViolationRecord.kind)
            .join(Employee, Employee.id == ViolationRecord.employee_id)
            .where(ViolationRecord.day == day, ViolationRecord.active.is_(True))
        ).all()
    good = [e for e in plan.events if e.kind == "punch"]
    # The demo sign-ins: one per role, a member of staff included (self-service).
    assert sorted(roles.values()) == [
        "admin", "employee", "hr_clerk", "noi_vu", "unit_head"
    ]  # fmt: skip
    assert punches == len(good)
    assert set(dead) == {"malformed_json"}  # the day's (and today's) malformed payload
    assert plan.unknown_card in unmatched  # today's unknown card may be there too
    assert all(seen)
    # The rules judged the day: the simulator's late people are late, its absent ones absent.
    assert {
        code for code, session, kind in judged if kind == "late" and session == "morning"
    } == plan.late
    absent = {code for code, _, kind in judged if kind == "absent"}
    assert plan.absent <= absent
    assert "Vi phạm ngày 23/11/2026" in run.stdout and "Đi muộn" in run.stdout

    # Today is played as it happens: what the readers would have sent by now, nothing later;
    # so nobody who has come today is absent, and today's deadlines waited for the punches.
    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    today = finished.astimezone(vn).date()
    today_ids = {e for e in stored if f"-{today:%Y%m%d}-" in e}
    with db_session(engine) as db:
        came_today = set(
            db.scalars(
                select(Employee.code)
                .join(Credential, Credential.employee_id == Employee.id)
                .join(Punch, Punch.credential_value == Credential.value)
                .where(Punch.event_id.in_(today_ids))
            )
        )
        absent_today = set(
            db.scalars(
                select(Employee.code)
                .join(ViolationRecord, ViolationRecord.employee_id == Employee.id)
                .where(
                    ViolationRecord.day == today,
                    ViolationRecord.kind == "absent",
                    ViolationRecord.active.is_(True),
                )
            )
        )
    if is_working_day(today):
        live = office_day(badges, readers, today, seed=day_seed(2, today))
        punched = {e.event_id for e in live.events if e.kind == "punch"}
        assert {e.event_id for e in due(live, started) if e.kind == "punch"} <= today_ids
        assert today_ids <= {e.event_id for e in due(live, finished)} & punched
        assert not came_today & absent_today
    else:  # a weekend or a holiday: the readers are idle
        assert not today_ids

    # Running it again stores nothing twice: the readers' event ids are stable.
    again = quickstart()
    assert again.returncode == 0, again.stderr
    with db_session(engine) as db:
        ids = list(db.scalars(select(Punch.event_id)))
        assert len(ids) == len(set(ids))
        assert len([e for e in ids if f"-{day:%Y%m%d}-" in e]) == len(good)

    # A new unit head follows what the quickstart prints: the simulated day's Hôm nay is full
    # (Hôm nay itself opens on today, when nobody of the demo has punched).
    from fastapi.testclient import TestClient

    from api.app import create_app
    from kycuong.cli import DEMO_PASSWORD, quickstart_links
    from kycuong.settings import Settings
    from tests.integration.test_web_pages import csrf_of

    settings = Settings(
        database_url=f"sqlite:///{db_file}", api_secret="test-secret-of-at-least-thirty-two-bytes"
    )
    links = quickstart_links("http://127.0.0.1:8000", day, "")
    today_link = next(line for line in links if "trang Hôm nay" in line).split(": ", 1)[1]
    assert today_link == "http://127.0.0.1:8000/hom-nay?ngay=23/11/2026"
    client = TestClient(create_app(settings, engine), base_url="http://127.0.0.1:8000")
    asked = client.get(today_link)  # not signed in: sign-in, then back to that page
    assert asked.url.path == "/" and asked.url.params["next"] == "/hom-nay?ngay=23/11/2026"
    signed = client.post(
        "/dang-nhap",
        data={
            "username": "truongphong.vp",
            "password": DEMO_PASSWORD,
            "csrf": csrf_of(asked.text),
            "next": asked.url.params["next"],
        },
    )
    assert signed.status_code == 200 and signed.url.path == "/hom-nay"
    assert "Thứ Hai, 23/11/2026" in signed.text
    with db_session(engine) as db:
        office = set(
            db.scalars(
                select(Employee.code)
                .join(Unit, Unit.id == Employee.unit_id)
                .where(Unit.code == "VP")
            )
        )
    assert f"đi muộn {len(plan.late & office)}," in signed.text  # the simulator's late ones
    # Its readers sent the whole day: its results are final, not "Tạm tính".
    assert "Tạm tính" not in signed.text
    arrived = re.search(r"đã đến (\d+)/(\d+)", signed.text)
    assert arrived and 0 < int(arrived.group(1)) <= int(arrived.group(2))
