"""A unit's days as a unit head reads them: "Hôm nay" (who has arrived, who is late, who is
absent so far, which results are provisional because a reader is behind) and the month grid
(bảng theo dõi tháng: one row per person, one symbol per day, totals)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Invalid, NotFound
from services.scope import Scope
from store.models import DayRecord, Device, Employee, Unit, ViolationRecord

# Symbols of the month grid, with the words a legend shows (configurable later per agency).
SYMBOLS: dict[str, tuple[str, str]] = {
    "present": ("+", "Có mặt đúng giờ"),
    "late": ("M", "Đi muộn"),
    "absent": ("V", "Vắng không lý do"),
    "annual_leave": ("P", "Nghỉ phép"),
    "sick_leave": ("Ô", "Nghỉ ốm"),
    "maternity": ("TS", "Thai sản"),
    "business_trip": ("CT", "Công tác"),
    "training": ("H", "Học tập, tập huấn"),
    "outside_meeting": ("CT", "Họp bên ngoài"),
    "on_leave": ("N", "Nghỉ có lý do khác"),
    "holiday": ("L", "Nghỉ lễ, Tết"),
    "weekend": ("—", "Nghỉ hằng tuần"),
    "off_shift": ("—", "Không có ca"),
    "pending": ("·", "Chưa đến giờ, chưa kết luận"),
}
BEHIND = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class TodayRow:
    employee_id: int
    code: str
    name: str
    status: str  # present, late, absent, on_leave, … or "none" (no record yet)
    first_in: datetime | None
    late_minutes: int
    provisional: bool


@dataclass(frozen=True, slots=True)
class TodayBoard:
    unit_name: str
    day: date
    rows: list[TodayRow]
    lagging_sites: list[str]  # readers that have not reported up to now

    def count(self, *statuses: str) -> int:
        return sum(1 for r in self.rows if r.status in statuses)


@dataclass(slots=True)
class GridRow:
    employee_id: int
    code: str
    name: str
    symbols: list[str]
    totals: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MonthGrid:
    unit_id: int
    unit_name: str
    year: int
    month: int
    days: list[date]
    rows: list[GridRow]


def units_for(db: DbSession, scope: Scope) -> list[tuple[int, str]]:
    """The units a person may pick (id, name), in name order."""
    query = select(Unit.id, Unit.name).order_by(Unit.name)
    if scope.unit_ids is not None:
        query = query.where(Unit.id.in_(scope.unit_ids))
    return [(uid, name) for uid, name in db.execute(query.limit(2000))]


def _unit(db: DbSession, scope: Scope, unit_id: int | None) -> Unit:
    scope.require("violations:read")
    if unit_id is None:
        choices = units_for(db, scope)
        if not choices:
            raise NotFound("Đơn vị")
        unit_id = choices[0][0]
    unit = db.get(Unit, unit_id)
    if unit is None or not scope.sees(unit.id):
        raise NotFound("Đơn vị")
    return unit


def _people(db: DbSession, unit_id: int, first: date, last: date) -> list[Employee]:
    return list(
        db.scalars(
            select(Employee)
            .where(
                Employee.unit_id == unit_id,
                Employee.active_from <= last,
                or_(Employee.active_to.is_(None), Employee.active_to >= first),
            )
            .order_by(Employee.full_name, Employee.code)
        )
    )


def today(db: DbSession, scope: Scope, unit_id: int | None, day: date, now: datetime) -> TodayBoard:
    """The unit's day so far; ``lagging_sites`` names readers behind by more than 10 minutes."""
    unit = _unit(db, scope, unit_id)
    people = _people(db, unit.id, day, day)
    ids = [p.id for p in people]
    records = {
        r.employee_id: r
        for r in db.scalars(
            select(DayRecord).where(DayRecord.day == day, DayRecord.employee_id.in_(ids))
        )
    }
    late: dict[int, int] = {}
    provisional: set[int] = set()
    for employee_id, kind, minutes, is_provisional in db.execute(
        select(
            ViolationRecord.employee_id,
            ViolationRecord.kind,
            ViolationRecord.minutes,
            ViolationRecord.provisional,
        ).where(
            ViolationRecord.day == day,
            ViolationRecord.employee_id.in_(ids),
            ViolationRecord.active.is_(True),
        )
    ):
        if kind == "late":
            late[employee_id] = late.get(employee_id, 0) + minutes
        if is_provisional:
            provisional.add(employee_id)
    rows = [
        TodayRow(
            employee_id=p.id,
            code=p.code,
            name=p.full_name,
            status=records[p.id].status if p.id in records else "none",
            first_in=records[p.id].first_in if p.id in records else None,
            late_minutes=late.get(p.id, 0),
            provisional=p.id in provisional,
        )
        for p in people
    ]
    lagging = []
    for device_id, site, sent_up_to, seen in db.execute(
        select(Device.id, Device.site, Device.sent_up_to, Device.last_seen_at).where(
            Device.enabled.is_(True),
            or_(Device.agency_id.is_(None), Device.agency_id == unit.agency_id),
        )
    ):
        mark = sent_up_to or seen
        if mark is None or now - mark > BEHIND:
            lagging.append(site or device_id)
    return TodayBoard(unit.name, day, rows, sorted(lagging))


def month(db: DbSession, scope: Scope, unit_id: int | None, year: int, month: int) -> MonthGrid:
    """The unit's month: a symbol per person and day (SYMBOLS), with totals per symbol."""
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise Invalid("invalid_period", "Tháng (1–12) hoặc năm (2000–2100) không hợp lệ")
    unit = _unit(db, scope, unit_id)
    first = date(year, month, 1)
    days = [first + timedelta(days=i) for i in range(calendar.monthrange(year, month)[1])]
    people = _people(db, unit.id, days[0], days[-1])
    index = {d: i for i, d in enumerate(days)}
    rows = {p.id: GridRow(p.id, p.code, p.full_name, [""] * len(days)) for p in people}
    for employee_id, day, status, excused_kind in db.execute(
        select(
            DayRecord.employee_id, DayRecord.day, DayRecord.status, DayRecord.excused_kind
        ).where(
            DayRecord.employee_id.in_(list(rows)),
            DayRecord.day >= days[0],
            DayRecord.day <= days[-1],
        )
    ):
        key = excused_kind if status == "on_leave" and excused_kind in SYMBOLS else status
        symbol = SYMBOLS.get(key, ("?", ""))[0]
        row = rows[employee_id]
        row.symbols[index[day]] = symbol
        row.totals[symbol] = row.totals.get(symbol, 0) + 1
    return MonthGrid(unit.id, unit.name, year, month, days, list(rows.values()))
