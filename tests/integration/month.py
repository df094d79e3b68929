"""A hand-made November 2026 for three people, through the real pipeline and rules runner.

E0000 on time every working day; E0001 late once (05/11 at 07:50), sick on 10/11 (approved),
on a business trip 12–13/11 (approved); E0002 absent without reason on 16/11 and 17/11.
24/11 is Ngày Văn hóa Việt Nam (a day off from 2026); weekends are off: 20 working days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select, update

from ingest.pipeline import DeviceDirectory, Message, process_batch
from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from store.db import db_session
from store.excuses import add_excuse
from store.models import Employee
from store.queue import enqueue
from tests.factories import org, punch_payload
from tests.unit.days import local

FIRST, LAST = date(2026, 11, 1), date(2026, 11, 30)
NOW = local(date(2026, 12, 1), "08:00").astimezone(UTC)
HOLIDAY = date(2026, 11, 24)
LATE_DAY, SICK_DAY, TRIP = (
    date(2026, 11, 5),
    date(2026, 11, 10),
    (date(2026, 11, 12), date(2026, 11, 13)),
)
ABSENT = (date(2026, 11, 16), date(2026, 11, 17))
TITLES = {"E0000": "Chuyên viên", "E0001": "Phó Trưởng phòng", "E0002": "Cán sự"}


def working_days() -> list[date]:
    days = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    return [d for d in days if d.weekday() < 5 and d != HOLIDAY]


def make_month(engine: Engine) -> None:
    made = org(engine, employees=3, devices=("D1",))
    cards = made["cards"]
    with db_session(engine) as db:
        for code, title in TITLES.items():
            db.execute(update(Employee).where(Employee.code == code).values(title=title))
        add_excuse(db, "E0001", "sick_leave", SICK_DAY, SICK_DAY, approved=True)
        add_excuse(db, "E0001", "business_trip", TRIP[0], TRIP[1], approved=True)
    messages = []
    seq = 0
    for day in working_days():
        for person, card in enumerate(cards):
            if person == 1 and (day == SICK_DAY or day in TRIP):
                continue
            if person == 2 and day in ABSENT:
                continue
            arrival = "07:50" if person == 1 and day == LATE_DAY else "07:25"
            for hhmm in (arrival, "11:35", "12:55", "17:05"):
                seq += 1
                at = local(day, hhmm)
                body = punch_payload("D1", f"ev-{seq}", card, at)
                messages.append(Message("kc/v1/D1/punch", body, received_at=at.astimezone(UTC)))
    process_batch(engine, messages, DeviceDirectory(engine), timedelta(minutes=5))
    with db_session(engine) as db:
        ids = db.scalars(select(Employee.id)).all()
        days = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
        enqueue(db, [(e, d) for e in ids for d in days], "test")
    RecomputeWorker(engine, RulesDirectory(max_age_s=0), clock=lambda: NOW).drain()


def at(day: date) -> datetime:
    return local(day, "12:00")
