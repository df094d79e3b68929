"""A member of staff's own month ("Tháng này của tôi"): each day with first-in / last-out in
local time, the gate, the day's symbol (the unit head's grid symbols), the violations with
their review and any request about them, and the month's totals. Only the caller's own
record: the scope names one person and no unit."""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Invalid, NotFound
from kycuong.labels import DAY_STATUS, REVIEW, SESSION, VIOLATION
from runner.directory import RulesDirectory
from services.days import SYMBOLS
from services.scope import Scope
from store.manual_punches import MANUAL_DEVICE
from store.models import (
    Credential,
    DayRecord,
    Device,
    Employee,
    PersonMonth,
    Punch,
    ReviewState,
    StaffRequest,
    Unit,
    ViolationRecord,
)
from store.punches import credential_held
from store.rollups import TOTALS, person_totals

WEEKDAYS = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")
# The person's calendar (their agency's holidays and làm bù days, their schedule's days off).
_DIRECTORY = RulesDirectory(max_age_s=60)


@dataclass(frozen=True, slots=True)
class SeenPunch:
    """A punch of the day: its local time, the gate (reader site), and whether it was added
    by hand after an approved request (bổ sung thủ công)."""

    at: datetime
    gate: str
    manual: bool


@dataclass(frozen=True, slots=True)
class MyViolation:
    id: int
    kind_label: str
    session_label: str
    minutes: int
    active: bool
    provisional: bool
    review_label: str
    request_status: str | None  # the latest request about it (pending, approved, refused)
    may_explain: bool


@dataclass(slots=True)
class MyDay:
    """One date of the month. ``symbol`` and ``status_label``: the day record's (or, for a day
    off, the calendar's); ``to_come``: a working day not reached yet (chưa đến), which has
    nothing to show; neither: a past working day the rules have no record of (chưa có dữ liệu)."""

    day: date
    weekday: str
    symbol: str
    status_label: str
    to_come: bool = False
    first_in: SeenPunch | None = None
    last_out: SeenPunch | None = None
    punches: list[SeenPunch] = field(default_factory=list)
    violations: list[MyViolation] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MyMonth:
    employee_code: str
    employee_name: str
    unit_name: str
    year: int
    month: int
    days: list[MyDay]
    totals: dict[str, float]
    symbols: dict[str, int]
    # The last day the totals count when the month is not over (today); None: the whole month.
    through: date | None = None

    @property
    def previous(self) -> tuple[int, int]:
        return (self.year - 1, 12) if self.month == 1 else (self.year, self.month - 1)

    @property
    def next(self) -> tuple[int, int]:
        return (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)


def my_month(db: DbSession, scope: Scope, year: int, month: int, tz: Any, today: date) -> MyMonth:
    """The caller's own month (``self:read``); ``Invalid`` for a month outside 2000–2100.

    Days after ``today`` are not judged yet: a working day shows as to come, a day off as the
    calendar has it, an approved leave as its symbol; the totals count up to ``today``."""
    scope.require("self:read")
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise Invalid("invalid_period", "Tháng (1–12) hoặc năm (2000–2100) không hợp lệ")
    employee = db.get(Employee, scope.employee_id) if scope.employee_id is not None else None
    if employee is None:
        raise NotFound("Cán bộ")
    unit = db.get(Unit, employee.unit_id)
    first = date(year, month, 1)
    last = first + timedelta(days=calendar.monthrange(year, month)[1] - 1)
    days = {
        first + timedelta(days=i): MyDay(
            first + timedelta(days=i), WEEKDAYS[(first + timedelta(days=i)).weekday()], "", ""
        )
        for i in range((last - first).days + 1)
    }
    symbols: dict[str, int] = defaultdict(int)
    for record in db.scalars(
        select(DayRecord).where(
            DayRecord.employee_id == employee.id, DayRecord.day >= first, DayRecord.day <= last
        )
    ):
        if record.day > today and record.status == "pending":
            continue  # a day to come the runner has looked at: nothing is known of it yet
        key = (
            record.excused_kind
            if record.status == "on_leave" and record.excused_kind in SYMBOLS
            else record.status
        )
        mine = days[record.day]
        mine.symbol = SYMBOLS.get(key, ("?", ""))[0]
        mine.status_label = record.label or (
            SYMBOLS[key][1] if key != record.status else DAY_STATUS.get(key, key)
        )
        if record.day <= today:
            symbols[mine.symbol] += 1
    _add_calendar(db, employee, today, days)
    _add_punches(db, employee.id, first, last, tz, days)
    _add_violations(db, employee.id, first, last, days)
    complete = last <= today
    return MyMonth(
        employee.code,
        employee.full_name,
        unit.name if unit else "",
        year,
        month,
        list(days.values()),
        _totals(db, employee.id, first)
        if complete
        else person_totals(db, employee.id, first, today + timedelta(days=1)),
        dict(symbols),
        None if complete else today,
    )


def _add_calendar(db: DbSession, employee: Employee, today: date, days: dict[date, MyDay]) -> None:
    """The days without a record: a day off as the person's calendar has it (the runner
    writes no record for one), a working day after ``today`` as to come."""
    person = None
    for mine in days.values():
        if mine.symbol:
            continue
        if person is None:
            person = _DIRECTORY.people(db, {employee.id})[employee.id]
        plan = _DIRECTORY.plan(person, mine.day)
        if plan.kind == "working":
            mine.to_come = mine.day > today
            continue
        mine.symbol = SYMBOLS[plan.kind][0]
        mine.status_label = plan.label or SYMBOLS[plan.kind][1]


def _add_punches(
    db: DbSession, employee_id: int, first: date, last: date, tz: Any, days: dict[date, MyDay]
) -> None:
    lo = datetime.combine(first - timedelta(days=1), datetime.min.time(), UTC)
    hi = datetime.combine(last + timedelta(days=2), datetime.min.time(), UTC)
    rows = db.execute(
        select(Punch.punched_at, Punch.device_id, Device.site)
        .select_from(Punch)
        .join(Credential, credential_held())
        .outerjoin(Device, Device.id == Punch.device_id)
        .where(
            Credential.employee_id == employee_id,
            Punch.punched_at >= lo,
            Punch.punched_at < hi,
        )
        .order_by(Punch.punched_at)
    ).all()
    for at, device_id, site in rows:
        local = at.astimezone(tz)
        day = days.get(local.date())
        if day is None:
            continue
        day.punches.append(SeenPunch(local, site or device_id, device_id == MANUAL_DEVICE))
    for day in days.values():
        if day.punches:
            day.first_in = day.punches[0]
            day.last_out = day.punches[-1] if len(day.punches) > 1 else None


def _add_violations(
    db: DbSession, employee_id: int, first: date, last: date, days: dict[date, MyDay]
) -> None:
    identity = and_(
        ReviewState.employee_id == ViolationRecord.employee_id,
        ReviewState.day == ViolationRecord.day,
        ReviewState.session == ViolationRecord.session,
        ReviewState.kind == ViolationRecord.kind,
    )
    rows = db.execute(
        select(ViolationRecord, ReviewState.decision)
        .outerjoin(ReviewState, identity)
        .where(
            ViolationRecord.employee_id == employee_id,
            ViolationRecord.day >= first,
            ViolationRecord.day <= last,
        )
        .order_by(ViolationRecord.day, ViolationRecord.session)
    ).all()
    ids = [v.id for v, _ in rows]
    latest: dict[int, str] = {}
    if ids:
        for vid, status in db.execute(
            select(StaffRequest.violation_id, StaffRequest.status)
            .where(
                StaffRequest.violation_id.in_(ids),
                StaffRequest.employee_id == employee_id,
                StaffRequest.status != "superseded",
            )
            .order_by(StaffRequest.id)
        ):
            if vid is not None:
                latest[int(vid)] = status
    for violation, decision in rows:
        days[violation.day].violations.append(
            MyViolation(
                id=violation.id,
                kind_label=VIOLATION[violation.kind],
                session_label=SESSION.get(violation.session, violation.session),
                minutes=violation.minutes,
                active=violation.active,
                provisional=violation.provisional,
                review_label=REVIEW.get(decision, str(decision)),
                request_status=latest.get(violation.id),
                may_explain=violation.active and decision is None,
            )
        )


def _totals(db: DbSession, employee_id: int, month: date) -> dict[str, float]:
    """A past month's counts as Nội vụ's summary reads them (person-months; every unit row)."""
    totals = dict.fromkeys(TOTALS, 0.0)
    for row in db.scalars(
        select(PersonMonth).where(
            PersonMonth.employee_id == employee_id, PersonMonth.month == month
        )
    ):
        for name in TOTALS:
            totals[name] += float(getattr(row, name))
    return totals
