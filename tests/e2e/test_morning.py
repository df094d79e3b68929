"""End to end on the real Mosquitto and PostgreSQL: the simulator's morning goes in over MQTT,
lateness is stored from the punches, absences appear when the deadline job fires (the
clock is driven, nobody sleeps for hours), and the offline reader's backlog withdraws the
absences it disproves."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy import Engine, select

from devices.simulator import badges_from_db, device_ids_from_db, office_day, play
from ingest.mosquitto import MosquittoProcess
from runner.directory import RulesDirectory
from runner.worker import DeadlineScheduler, RecomputeWorker
from store.db import db_session
from store.demo import seed_demo
from store.models import Employee, SchedulerState, ViolationEvent, ViolationRecord
from tests.support import start_ingest, wait_for
from tests.unit.days import local

DAY = date(2026, 11, 23)


class Clock:
    def __init__(self) -> None:
        self.now = local(DAY, "08:20").astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now


def judged(engine: Engine, kind: str, active: bool = True) -> set[str]:
    with db_session(engine) as db:
        rows = db.scalars(
            select(Employee.code)
            .join(ViolationRecord, ViolationRecord.employee_id == Employee.id)
            .where(
                ViolationRecord.kind == kind,
                ViolationRecord.session == "morning",
                ViolationRecord.active.is_(active),
            )
        )
        return set(rows)


def test_a_morning_over_mqtt_to_lateness_absence_and_withdrawal(
    pg_engine: Engine, mosquitto: MosquittoProcess
) -> None:
    with db_session(pg_engine) as db:
        seed_demo(db, employees=40)
        db.add(SchedulerState(key="deadlines_until", value=local(DAY, "08:00").isoformat()))
    with db_session(pg_engine) as db:
        plan = office_day(
            badges_from_db(db, datetime.now(UTC)), device_ids_from_db(db), DAY, seed=2
        )
        codes = {b.card: b.employee_code for b in badges_from_db(db, datetime.now(UTC))}
    assert plan.offline_device is not None
    clock = Clock()
    directory = RulesDirectory(max_age_s=0)
    rules = RecomputeWorker(pg_engine, directory, clock=clock, idle_s=0.05)
    scheduler = DeadlineScheduler(pg_engine, directory, "Asia/Ho_Chi_Minh", clock=clock)
    ingest = start_ingest(pg_engine, mosquitto.port)
    rules.start()
    try:
        # 08:20: the morning so far, without what the offline reader still holds.
        cutoff = local(DAY, "08:20")
        morning = [
            e for e in plan.events if e.at <= cutoff and e.publish_at is None and e.kind == "punch"
        ]
        backlog = [e for e in plan.events if e.publish_at is not None]
        play(replace(plan, events=morning), "127.0.0.1", mosquitto.port)
        first_in: dict[str, datetime] = {}
        for e in sorted(morning + backlog, key=lambda e: e.at):
            if e.card in codes:
                first_in.setdefault(codes[e.card], e.at)
        visible_late = {
            c
            for c in plan.late
            if first_in.get(c, cutoff) <= cutoff
            and any(e.card in codes and codes[e.card] == c for e in morning)
        }
        wait_for(lambda: judged(pg_engine, "late") >= visible_late, 20, "lateness from the punches")
        assert judged(pg_engine, "absent") == set()  # nobody is absent before the deadline

        # 09:31: the deadline job fires; everyone without a punch yet is absent.
        clock.now = local(DAY, "09:31").astimezone(UTC)
        scheduler.tick()
        seen = {codes[e.card] for e in morning if e.card in codes}
        backlog_only = {codes[e.card] for e in backlog if e.card in codes} - seen
        everyone = {b for b in codes.values()}
        wait_for(
            lambda: judged(pg_engine, "absent") == everyone - seen, 20, "absences at the deadline"
        )
        assert plan.absent <= judged(pg_engine, "absent")

        # 09:40: the offline reader comes back and flushes its backlog.
        clock.now = local(DAY, "09:40").astimezone(UTC)
        play(replace(plan, events=backlog), "127.0.0.1", mosquitto.port)
        wait_for(
            lambda: judged(pg_engine, "absent") == everyone - seen - backlog_only,
            20,
            "the backlog to withdraw absences",
        )
        assert judged(pg_engine, "absent") == set(plan.absent) | (
            everyone - seen - backlog_only - set(plan.absent)
        )
        assert judged(pg_engine, "absent", active=False) == backlog_only
        assert backlog_only, "the scenario must put someone's only morning punch in the backlog"
        with db_session(pg_engine) as db:
            actions = db.scalars(
                select(ViolationEvent.action)
                .join(ViolationRecord, ViolationRecord.id == ViolationEvent.violation_id)
                .where(ViolationRecord.active.is_(False), ViolationRecord.kind == "absent")
                .order_by(ViolationEvent.id)
            ).all()
        assert set(actions) == {"detected", "withdrawn"}
    finally:
        rules.stop()
        ingest.stop()
