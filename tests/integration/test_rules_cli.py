"""The rules from the command line, as an HR clerk or operator uses them (embedded SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from kycuong.cli import main
from kycuong.settings import get_settings
from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from store.db import db_session
from store.demo import seed_demo
from store.models import (
    Agency,
    CalendarDay,
    Credential,
    Employee,
    ExcuseRecord,
    PersonMonth,
    RecomputeRequest,
    ViolationRecord,
    WorkSchedule,
)
from store.roster import assign_card
from tests.support import ROOT
from tests.unit.days import local


@pytest.fixture
def demo(
    sqlite_url: str, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setenv("KC_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    with db_session(sqlite_engine) as db:
        seed_demo(db, employees=6)
    yield sqlite_engine
    get_settings.cache_clear()


def test_loading_a_seasonal_policy_for_an_agency(
    demo: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "policy",
            "load",
            str(ROOT / "examples" / "policy.toml"),
            "--agency",
            "SNV",
            "--since",
            "2026-11-23",
            "--yes",
        ]
    )
    assert code == 0, capsys.readouterr().err
    with db_session(demo) as db:
        agency = db.scalars(select(Agency).where(Agency.code == "SNV")).one()
        assert agency.schedule_id is not None and agency.policy_id is not None
        assert db.get(WorkSchedule, agency.schedule_id).name == "Giờ hành chính theo mùa"  # type: ignore[union-attr]
        days_off = {(d.day, d.kind) for d in db.scalars(select(CalendarDay))}
        assert (date(2026, 12, 31), "off") in days_off and (date(2026, 12, 26), "work") in days_off
        assert db.scalars(select(RecomputeRequest)).first() is not None
        directory = RulesDirectory()
        some = next(iter(directory.people(db, set(db.scalars(select(Employee.id)).all())).values()))
        summer = directory.plan(some, date(2026, 6, 1)).sessions[0]
        assert datetime.fromtimestamp(summer.start, UTC).astimezone(some.tz).time() == time(7, 0)
        assert directory.plan(some, date(2026, 12, 31)).kind == "holiday"
        assert directory.plan(some, date(2026, 12, 26)).kind == "working"  # a làm bù Saturday


def test_an_unknown_agency_is_refused_in_vietnamese(
    demo: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "load", str(ROOT / "examples" / "policy.toml"), "--agency", "NOPE"]) == 2
    assert "Không tìm thấy cơ quan NOPE" in capsys.readouterr().err


def test_leave_entered_then_approved_clears_the_absence(
    demo: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    day = date(2026, 11, 23)
    worker = RecomputeWorker(demo, clock=lambda: local(day, "18:00").astimezone(UTC))
    assert main(["recompute", "--from", "2026-11-23", "--to", "2026-11-23", "--yes"]) == 0
    with db_session(demo) as db:
        worker.drain()
        absent_before = len(
            db.scalars(select(ViolationRecord).where(ViolationRecord.kind == "absent")).all()
        )
    assert (
        main(
            [
                "excuses",
                "add",
                "--employee",
                "NV00001",
                "--kind",
                "business_trip",
                "--from",
                "2026-11-23",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Đi công tác 23/11/2026–23/11/2026: Chờ duyệt" in out
    worker.drain()
    with db_session(demo) as db:
        excuse = db.scalars(select(ExcuseRecord)).one()
        pending = db.scalars(
            select(ViolationRecord).where(ViolationRecord.pending_excuse_id == excuse.id)
        ).all()
        assert len(pending) == 2  # both sessions, marked as awaiting approval
    assert main(["excuses", "approve", str(excuse.id)]) == 0
    assert "Đã duyệt" in capsys.readouterr().out
    worker.drain()
    with db_session(demo) as db:
        active = db.scalars(
            select(ViolationRecord).where(
                ViolationRecord.kind == "absent", ViolationRecord.active.is_(True)
            )
        ).all()
    assert len(active) == absent_before - 2
    assert main(["excuses", "add", "--employee", "NOBODY", "--from", "2026-11-23"]) == 2
    assert "Không tìm thấy cán bộ NOBODY" in capsys.readouterr().err
    assert (
        main(
            [
                "excuses",
                "add",
                "--employee",
                "NV00001",
                "--from",
                "2026-11-23",
                "--to",
                "2026-11-20",
            ]
        )
        == 2
    )


def test_handing_a_card_over_recomputes_both_holders(demo: Engine) -> None:
    from ingest.pipeline import DeviceDirectory, Message, process_batch
    from tests.factories import punch_payload

    day = date(2026, 11, 23)
    with db_session(demo) as db:
        old = db.scalars(select(Employee).where(Employee.code == "NV00001")).one()
        card = db.scalars(select(Credential.value).where(Credential.employee_id == old.id)).one()
    body = punch_payload("SNV-CONG-CHINH", "e1", card, local(day, "07:50"))
    process_batch(
        demo,
        [Message("kc/v1/SNV-CONG-CHINH/punch", body, datetime.now(UTC))],
        DeviceDirectory(demo),
        timedelta(minutes=5),
    )
    worker = RecomputeWorker(demo, clock=lambda: local(day, "12:00").astimezone(UTC))
    worker.drain()
    with db_session(demo) as db:
        late = db.execute(
            select(ViolationRecord.employee_id, ViolationRecord.active).where(
                ViolationRecord.kind == "late"
            )
        ).all()
        assert late == [(old.id, True)]
        new = db.scalars(select(Employee).where(Employee.code == "NV00002")).one()
        assign_card(db, new, card, local(day, "00:00"))  # the card was really NV00002's that day
    worker.drain()
    with db_session(demo) as db:
        late = db.execute(
            select(ViolationRecord.employee_id, ViolationRecord.active).where(
                ViolationRecord.kind == "late"
            )
        ).all()
    assert sorted(late) == sorted([(old.id, False), (new.id, True)])


def test_a_person_gets_a_shift_rota_of_their_own(
    demo: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rota = tmp_path / "rota.toml"
    rota.write_text(
        '[schedule]\nname = "Trực đêm"\n[schedule.rota]\nanchor = 2026-11-23\n'
        'days = [ [ { name = "night", start = 22:00:00, end = 06:00:00 } ], [] ]\n'
    )
    assert (
        main(
            ["policy", "load", str(rota), "--employee", "NV00003", "--since", "2026-11-23", "--yes"]
        )
        == 0
    ), capsys.readouterr().err
    with db_session(demo) as db:
        person = db.scalars(select(Employee).where(Employee.code == "NV00003")).one()
        directory = RulesDirectory()
        resolved = directory.people(db, {person.id})[person.id]
        assert directory.plan(resolved, date(2026, 11, 23)).sessions[0].name == "night"
        assert directory.plan(resolved, date(2026, 11, 24)).kind == "off_shift"
        other = db.scalars(select(Employee).where(Employee.code == "NV00002")).one()
        assert (
            directory.plan(directory.people(db, {other.id})[other.id], date(2026, 11, 23))
            .sessions[0]
            .name
            == "morning"
        )
    assert main(["policy", "load", str(rota), "--employee", "NOBODY"]) == 2


def test_users_are_created_from_the_cli_and_sign_in(
    demo: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    from store.users import authenticate

    args = ["users", "create", "tp.vp", "--role", "unit_head", "--agency", "SNV", "--unit", "VP"]
    assert main([*args, "--password", "một-mật-khẩu-dài"]) == 0
    assert "Đã tạo tp.vp (Trưởng đơn vị, phạm vi: " in capsys.readouterr().out
    with db_session(demo) as db:
        user = authenticate(db, "tp.vp", "một-mật-khẩu-dài")
        assert user is not None and user.unit_id is not None
        assert authenticate(db, "tp.vp", "sai") is None
        assert user.password_hash.startswith("$argon2")
    assert main(["users", "create", "x.y", "--role", "unit_head", "--password", "dài-đủ-tám"]) == 2
    assert "Trưởng đơn vị cần chọn đơn vị phụ trách" in capsys.readouterr().err
    assert main([*args, "--password", "ngắn"]) == 2


def test_a_running_rules_process_sees_a_policy_change_at_once(demo: Engine) -> None:
    directory = RulesDirectory(max_age_s=3600)  # a long-lived runner's cache
    with db_session(demo) as db:
        someone = next(
            iter(directory.people(db, set(db.scalars(select(Employee.id)).all())).values())
        )
        june = directory.plan(someone, date(2026, 6, 1)).sessions[0]
        assert datetime.fromtimestamp(june.start, UTC).astimezone(someone.tz).time() == time(7, 30)
    policy = str(ROOT / "examples" / "policy.toml")
    assert (
        main(["policy", "load", policy, "--agency", "SNV", "--since", "2026-11-23", "--yes"]) == 0
    )
    with db_session(demo) as db:
        someone = directory.people(db, {someone.employee_id})[someone.employee_id]
        june = directory.plan(someone, date(2026, 6, 1)).sessions[0]
    assert datetime.fromtimestamp(june.start, UTC).astimezone(someone.tz).time() == time(7, 0)


def test_excuse_sessions_are_the_schedule_s_own_names_or_vietnamese_aliases(
    demo: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from store.excuses import ExcuseError, add_excuse

    shifts = tmp_path / "shifts.toml"
    shifts.write_text(
        '[schedule]\nname = "Hai ca"\nsessions = [\n'
        '  { name = "Ca 1", start = 06:00:00, end = 14:00:00 },\n'
        '  { name = "Ca 2", start = 14:00:00, end = 22:00:00 } ]\n'
    )
    assert main(["policy", "load", str(shifts), "--employee", "NV00003", "--yes"]) == 0, (
        capsys.readouterr().err
    )
    day = date(2026, 11, 23)
    with db_session(demo) as db:
        morning = add_excuse(db, "NV00001", "annual_leave", day, day, sessions=["sáng"])
        shift = add_excuse(db, "NV00003", "training", day, day, sessions=["ca 2"])
        assert (morning.sessions, shift.sessions) == ("morning", "Ca 2")
        with pytest.raises(ExcuseError, match=r"'tối'.*morning \(sáng\), afternoon \(chiều\)"):
            add_excuse(db, "NV00001", "annual_leave", day, day, sessions=["tối"])
        with pytest.raises(ExcuseError, match=r"'morning'.*Ca 1, Ca 2"):
            add_excuse(db, "NV00003", "annual_leave", day, day, sessions=["morning"])


def test_duplicate_session_names_are_refused_when_loaded(
    demo: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twice = tmp_path / "twice.toml"
    twice.write_text(
        "[schedule]\nsessions = [\n"
        '  { name = "morning", start = 07:30:00, end = 11:30:00 },\n'
        '  { name = "morning", start = 13:00:00, end = 17:00:00 } ]\n'
    )
    assert main(["policy", "load", str(twice), "--agency", "SNV"]) == 2
    assert "tên ca trùng nhau trong sessions: morning" in capsys.readouterr().err


def test_rollups_rebuild_and_history_commands_run_on_the_office_database(
    demo: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recompute", "--from", "2026-11-23", "--to", "2026-11-27", "--yes"]) == 0
    with db_session(demo) as db:
        kept = db.scalar(select(func.count()).select_from(PersonMonth))
    assert kept and kept > 0
    assert main(["rollups", "rebuild"]) == 0
    assert f"Đã dựng lại {kept} bảng tổng hợp người-tháng" in capsys.readouterr().out
    assert main(["history", "ensure"]) == 0  # SQLite: no partitions, nothing to make
    assert "Đã tạo 0 phân vùng theo tháng" in capsys.readouterr().out
    assert main(["history", "archive"]) == 2
    assert "Lỗi: Cần --before" in capsys.readouterr().err


def test_hr_makes_staff_accounts_with_one_time_codes_for_a_unit(
    demo: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    from store.models import Unit, User
    from store.users import authenticate

    with db_session(demo) as db:
        first = db.scalars(select(Employee).order_by(Employee.code)).first()
        assert first is not None
        code, unit_id = first.code, first.unit_id
        unit_code = db.scalar(select(Unit.code).where(Unit.id == unit_id))
    assert main(["users", "create-staff", "--employee", code]) == 0
    printed = capsys.readouterr().out
    one_time = printed.splitlines()[1].split("\t")[3]
    with db_session(demo) as db:
        user = authenticate(db, code, one_time)
        assert user is not None and user.role == "employee" and user.must_change_password
    assert main(["users", "create-staff", "--employee", code]) == 2
    assert "đã có tài khoản" in capsys.readouterr().err
    assert main(["users", "create-staff", "--unit", str(unit_code)]) == 0
    assert "Đã tạo" in capsys.readouterr().out
    with db_session(demo) as db:
        staff = db.scalar(select(func.count()).select_from(User).where(User.role == "employee"))
        people = db.scalar(
            select(func.count()).select_from(Employee).where(Employee.unit_id == unit_id)
        )
        assert staff is not None and people is not None and staff >= people >= 1
    assert main(["users", "create-staff"]) == 2
