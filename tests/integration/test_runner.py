"""The rules runner against real databases (SQLite and PostgreSQL): triggers, recompute,
withdrawal with history, reviews that survive, deadlines and catch-up, provisional facts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from ingest.pipeline import DeviceDirectory, Message, process_batch
from runner.deadlines import tick
from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from store.db import db_session
from store.models import (
    Credential,
    DayRecord,
    Device,
    Employee,
    ExcuseRecord,
    Review,
    SchedulerState,
    ViolationEvent,
    ViolationRecord,
    WorkSchedule,
)
from store.queue import enqueue
from tests.factories import org, punch_payload
from tests.unit.days import TZ, local

DAY = date(2026, 11, 23)  # a Monday


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, day: date, hhmm: str) -> None:
        self.now = local(day, hhmm).astimezone(UTC)


@dataclass
class Rig:
    engine: Engine
    clock: FakeClock
    worker: RecomputeWorker
    devices: DeviceDirectory
    cards: list[str]
    seq: int = 0

    def punch(self, card: str, day: date, hhmm: str, device: str = "D1") -> None:
        """Deliver one punch through the ingest pipeline, received at the fake clock's time."""
        self.seq += 1
        body = punch_payload(device, f"ev-{self.seq}", card, local(day, hhmm))
        message = Message(
            f"kc/v1/{device}/punch", body, received_at=max(self.clock.now, local(day, hhmm))
        )
        process_batch(self.engine, [message], self.devices, timedelta(minutes=5))

    def run(self) -> int:
        return self.worker.drain()

    def violations(
        self, employee: str | None = None, active: bool | None = True
    ) -> list[tuple[str, str, str, int]]:
        with db_session(self.engine) as db:
            query = select(
                Employee.code,
                ViolationRecord.session,
                ViolationRecord.kind,
                ViolationRecord.minutes,
                ViolationRecord.active,
            ).join(Employee, Employee.id == ViolationRecord.employee_id)
            rows = db.execute(query).all()
        return sorted(
            (code, session, kind, minutes)
            for code, session, kind, minutes, is_active in rows
            if (employee is None or code == employee) and (active is None or is_active == active)
        )

    def employee_id(self, code: str) -> int:
        with db_session(self.engine) as db:
            return int(db.scalars(select(Employee.id).where(Employee.code == code)).one())


@pytest.fixture(params=["sqlite_engine", "pg_engine"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    engine: Engine = request.getfixturevalue(request.param)
    made = org(engine, employees=3, devices=("D1", "D2"))
    clock = FakeClock(local(DAY, "07:00").astimezone(UTC))
    worker = RecomputeWorker(engine, RulesDirectory(max_age_s=0), clock=clock)
    yield Rig(engine, clock, worker, DeviceDirectory(engine), made["cards"])


def test_lateness_is_stored_from_the_punch_and_recomputing_again_writes_nothing(rig: Rig) -> None:
    rig.clock.set(DAY, "07:50")
    rig.punch(rig.cards[0], DAY, "07:49")
    rig.punch(rig.cards[1], DAY, "07:20")
    assert rig.run() == 2
    assert rig.violations() == [("E0000", "morning", "late", 19)]
    with db_session(rig.engine) as db:
        events = db.scalars(select(ViolationEvent.action)).all()
        record = db.get(DayRecord, (rig.employee_id("E0000"), DAY))
        assert record is not None and record.status == "late"
    assert events == ["detected"]
    with db_session(rig.engine) as db:
        enqueue(db, [(rig.employee_id("E0000"), DAY), (rig.employee_id("E0001"), DAY)], "test")
    rig.run()
    with db_session(rig.engine) as db:
        assert db.scalars(select(ViolationEvent.action)).all() == ["detected"]


def test_deadline_tick_finds_absences_and_a_backlog_withdraws_them_with_history(rig: Rig) -> None:
    with db_session(rig.engine) as db:
        db.add(SchedulerState(key="deadlines_until", value=local(DAY, "08:00").isoformat()))
    rig.clock.set(DAY, "09:29")
    rig.punch(rig.cards[0], DAY, "07:25")
    with db_session(rig.engine) as db:
        assert tick(db, rig.worker.directory, rig.clock()) == 0  # no deadline passed yet
    rig.run()
    assert rig.violations() == []
    rig.clock.set(DAY, "09:31")
    with db_session(rig.engine) as db:
        assert tick(db, rig.worker.directory, rig.clock()) == 3
    rig.run()
    assert rig.violations() == [
        ("E0001", "morning", "absent", 240),
        ("E0002", "morning", "absent", 240),
    ]
    # The offline reader D2 flushes its backlog: E0001 was there at 07:28.
    rig.clock.set(DAY, "09:40")
    rig.punch(rig.cards[1], DAY, "07:28", device="D2")
    rig.run()
    assert rig.violations() == [("E0002", "morning", "absent", 240)]
    withdrawn = rig.violations(active=False)
    assert withdrawn == [("E0001", "morning", "absent", 240)]
    with db_session(rig.engine) as db:
        row = db.scalars(select(ViolationRecord).where(ViolationRecord.active.is_(False))).one()
        history = db.scalars(
            select(ViolationEvent.action)
            .where(ViolationEvent.violation_id == row.id)
            .order_by(ViolationEvent.id)
        ).all()
        assert row.withdrawn_at == rig.clock.now
    assert history == ["detected", "withdrawn"]


def test_a_review_survives_recomputation_and_withdrawal(rig: Rig) -> None:
    rig.clock.set(DAY, "08:00")
    rig.punch(rig.cards[0], DAY, "07:45")
    rig.run()
    employee_id = rig.employee_id("E0000")
    with db_session(rig.engine) as db:
        db.add(
            Review(
                employee_id=employee_id,
                day=DAY,
                session="morning",
                kind="late",
                decision="excused",
                reason_kind="business_trip",
                note="Họp tại Sở",
                decided_by="truongphong",
                decided_at=rig.clock.now,
            )
        )
    rig.punch(rig.cards[0], DAY, "07:20", device="D2")  # a backlog proves E0000 on time
    rig.run()
    assert rig.violations("E0000") == []
    rig.punch(rig.cards[0], DAY, "07:21", device="D1")
    rig.run()
    with db_session(rig.engine) as db:
        review = db.scalars(select(Review)).one()
        violation = db.scalars(select(ViolationRecord)).one()
    assert (review.decision, review.note) == ("excused", "Họp tại Sở")
    assert (violation.session, violation.kind, violation.active) == ("morning", "late", False)


def test_a_pending_leave_marks_and_its_approval_clears(rig: Rig) -> None:
    employee_id = rig.employee_id("E0002")
    with db_session(rig.engine) as db:
        leave = ExcuseRecord(
            employee_id=employee_id,
            kind="sick_leave",
            first_day=DAY,
            last_day=DAY,
            sessions="morning",
            status="pending",
            created_at=rig.clock.now,
            updated_at=rig.clock.now,
        )
        db.add(leave)
        db.flush()
        leave_id = leave.id
        enqueue(db, [(employee_id, DAY)], "excuse")
    rig.clock.set(DAY, "10:00")
    rig.run()
    with db_session(rig.engine) as db:
        row = db.scalars(
            select(ViolationRecord).where(ViolationRecord.employee_id == employee_id)
        ).one()
        assert (row.kind, row.pending_excuse_id) == ("absent", leave_id)
        db.get(ExcuseRecord, leave_id).status = "approved"  # type: ignore[union-attr]
        enqueue(db, [(employee_id, DAY)], "excuse")
    rig.run()
    assert rig.violations("E0002") == []
    with db_session(rig.engine) as db:
        record = db.get(DayRecord, (employee_id, DAY))
        assert record is not None and record.excused == "morning:sick_leave"


def test_after_downtime_the_missed_deadlines_are_caught_up(rig: Rig) -> None:
    with db_session(rig.engine) as db:
        db.add(SchedulerState(key="deadlines_until", value=local(DAY, "07:00").isoformat()))
    rig.punch(rig.cards[0], DAY, "07:25")
    # 11:28, not a lone 11:35 in the break: that one the default cut (the morning's end)
    # gives to the afternoon as its arrival (docs/rules.md, section 3).
    rig.punch(rig.cards[0], DAY, "11:28")
    rig.clock.set(DAY + timedelta(days=1), "08:00")  # down from 07:00 until the next morning
    with db_session(rig.engine) as db:
        tick(db, rig.worker.directory, rig.clock())
    rig.run()
    assert rig.violations("E0000") == [("E0000", "afternoon", "absent", 240)]
    assert ("E0001", "afternoon", "absent", 240) in rig.violations()


def test_a_card_reassigned_mid_month_counts_for_whoever_held_it(rig: Rig) -> None:
    a, b = rig.employee_id("E0000"), rig.employee_id("E0001")
    card = rig.cards[0]
    handover = local(date(2026, 11, 16), "00:00")
    with db_session(rig.engine) as db:
        held = db.scalars(select(Credential).where(Credential.value == card)).one()
        held.valid_to = handover
        db.add(Credential(employee_id=b, kind="card", value=card, valid_from=handover))
    rig.clock.set(date(2026, 11, 25), "06:00")
    rig.punch(card, date(2026, 11, 10), "07:50")
    rig.punch(card, date(2026, 11, 20), "07:51")
    rig.run()
    with db_session(rig.engine) as db:
        late = db.execute(
            select(ViolationRecord.employee_id, ViolationRecord.day).where(
                ViolationRecord.kind == "late"
            )
        ).all()
    assert sorted(late) == [(a, date(2026, 11, 10)), (b, date(2026, 11, 20))]


def test_a_night_shift_punch_after_midnight_recomputes_the_day_it_started(rig: Rig) -> None:
    rota = {
        "name": "Trực đêm",
        "rota": {
            "anchor": DAY.isoformat(),
            "days": [[{"name": "night", "start": "22:00", "end": "06:00"}], []],
        },
    }
    employee_id = rig.employee_id("E0000")
    with db_session(rig.engine) as db:
        schedule = WorkSchedule(code="NIGHT", name="Trực đêm", spec=json.dumps(rota))
        db.add(schedule)
        db.flush()
        db.get(Employee, employee_id).schedule_id = schedule.id  # type: ignore[union-attr]
    rig.clock.set(DAY + timedelta(days=1), "11:00")  # after the shift's day closes (06:00 + 4 h)
    rig.punch(rig.cards[0], DAY, "22:20")
    rig.punch(rig.cards[0], DAY + timedelta(days=1), "05:40")
    rig.run()
    with db_session(rig.engine) as db:
        rows = db.execute(
            select(ViolationRecord.day, ViolationRecord.kind, ViolationRecord.minutes).where(
                ViolationRecord.employee_id == employee_id
            )
        ).all()
    assert sorted(rows) == [(DAY, "early_leave", 20), (DAY, "late", 20)]


def test_a_punch_between_a_night_shift_and_the_next_morning_counts_once(rig: Rig) -> None:
    rota = {
        "name": "Đêm rồi sáng",
        "rota": {
            "anchor": DAY.isoformat(),
            "days": [
                [{"name": "night", "start": "22:00", "end": "08:00"}],
                [{"name": "morning", "start": "07:30", "end": "11:30"}],
            ],
        },
    }
    employee_id = rig.employee_id("E0000")
    with db_session(rig.engine) as db:
        schedule = WorkSchedule(code="NIGHT-MORNING", name="Đêm rồi sáng", spec=json.dumps(rota))
        db.add(schedule)
        db.flush()
        db.get(Employee, employee_id).schedule_id = schedule.id  # type: ignore[union-attr]
    rig.clock.set(DAY + timedelta(days=2), "12:00")
    rig.punch(rig.cards[0], DAY + timedelta(days=1), "07:45")  # names the next date only
    rig.run()
    with db_session(rig.engine) as db:
        rows = db.execute(
            select(
                ViolationRecord.day,
                ViolationRecord.session,
                ViolationRecord.kind,
                ViolationRecord.minutes,
                ViolationRecord.evidence,
            ).where(ViolationRecord.employee_id == employee_id)
        ).all()
    found = sorted((d, s, k, m, len(json.loads(e))) for d, s, k, m, e in rows)
    assert found == [
        (DAY, "night", "early_leave", 15, 1),
        (DAY, "night", "missing_in", 0, 1),
        (DAY + timedelta(days=1), "morning", "absent", 240, 0),
    ]


def test_an_absence_decided_while_a_reader_lags_is_provisional_until_it_catches_up(
    rig: Rig,
) -> None:
    with db_session(rig.engine) as db:
        for device in db.scalars(select(Device)):
            device.sent_up_to = local(DAY, "07:10")  # both readers stopped reporting at 07:10
        enqueue(db, [(rig.employee_id("E0002"), DAY)], "test")
    rig.clock.set(DAY, "10:00")
    rig.run()
    with db_session(rig.engine) as db:
        assert db.scalars(select(ViolationRecord.provisional)).all() == [True]
        for device in db.scalars(select(Device)):
            device.sent_up_to = local(DAY, "09:59")
        db.add(SchedulerState(key="deadlines_until", value=local(DAY, "09:59").isoformat()))
    with db_session(rig.engine) as db:
        tick(db, rig.worker.directory, rig.clock())  # re-examines provisional violations
    rig.run()
    with db_session(rig.engine) as db:
        assert db.scalars(select(ViolationRecord.provisional)).all() == [False]
        assert TZ.key == "Asia/Ho_Chi_Minh"
