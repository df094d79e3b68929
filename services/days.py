"""A unit's days as a unit head reads them: "Hôm nay" (who has arrived, who is late, who is
absent so far, which results are provisional because a reader is behind) and the month grid
(bảng theo dõi tháng: one row per person, one symbol per day, totals)."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Invalid, NotFound
from kycuong.labels import DAY_STATUS, VIOLATION
from rules.calendar import Calendar, calendar_with, vietnam_calendar
from services import violations as violation_service
from services.schemas import Violation
from services.scope import Scope
from store.models import (
    Agency,
    Credential,
    DayRecord,
    Device,
    Employee,
    Punch,
    Unit,
    ViolationRecord,
)
from store.models import CalendarDay as CalendarOverride
from store.punches import credential_held

# Symbols of the month grid, with the words a legend shows (configurable later per agency).
SYMBOLS: dict[str, tuple[str, str]] = {
    "present": ("+", "Có mặt đúng giờ"),
    # present, but an early departure or a missing punch stands that day: "+" alone would hide it
    "present_flagged": ("+*", "Có mặt, có vi phạm khác (về sớm, quên chấm công)"),
    "late": ("M", "Đi muộn"),
    "absent": ("V", "Vắng không lý do"),
    "annual_leave": ("P", "Nghỉ phép"),
    "sick_leave": ("Ô", "Nghỉ ốm"),
    "maternity": ("TS", "Thai sản"),
    "business_trip": ("CT", "Công tác"),
    "training": ("H", "Học tập, tập huấn"),
    # as the bảng chấm công (services.documents.timesheet): H is "Hội nghị, học tập"; CT is
    # a business trip only, so a unit head can tell a meeting from a trip
    "outside_meeting": ("H", "Hội nghị, họp bên ngoài"),
    "on_leave": ("N", "Nghỉ có lý do khác"),
    "holiday": ("L", "Nghỉ lễ, Tết"),
    "weekend": ("—", "Nghỉ hằng tuần"),
    "off_shift": ("—", "Không có ca"),
    "pending": ("·", "Chưa đến giờ, chưa kết luận"),
}
BEHIND = timedelta(minutes=10)


def legend() -> list[tuple[str, str]]:
    """The grid's key: each symbol once, with every meaning it stands for."""
    meanings: dict[str, list[str]] = {}
    for symbol, label in SYMBOLS.values():
        meanings.setdefault(symbol, []).append(label)
    return [
        (symbol, "; ".join([labels[0], *(label[0].lower() + label[1:] for label in labels[1:])]))
        for symbol, labels in meanings.items()
    ]


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
    """A unit's date as Hôm nay shows it (today by default, or a date picked before it)."""

    unit_name: str
    day: date
    rows: list[TodayRow]
    lagging_sites: list[str]  # readers that have not reported up to now (or the day's end)
    # when nobody has a record on ``day``: the unit's last earlier date that has some, so an
    # empty page says where the data is instead of looking broken
    latest_before: date | None = None

    def count(self, *statuses: str) -> int:
        return sum(1 for r in self.rows if r.status in statuses)


@dataclass(frozen=True, slots=True)
class CellDay:
    """What a cell of the grid says when hovered or opened: the day's first and last punch
    (UTC; shown in local time) and its violations ("Đi muộn 34 phút")."""

    first_in: datetime | None
    last_out: datetime | None
    violations: tuple[str, ...] = ()


@dataclass(slots=True)
class GridRow:
    employee_id: int
    code: str
    name: str
    symbols: list[str]
    totals: dict[str, int] = field(default_factory=dict)
    cells: list[CellDay | None] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CalendarDay:
    """A date of the agency's calendar: "working", "weekend" or "holiday" (with its name)."""

    day: date
    kind: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class MonthGrid:
    unit_id: int
    unit_name: str
    year: int
    month: int
    days: list[date]
    rows: list[GridRow]
    calendar: list[CalendarDay] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DayPunch:
    at: datetime
    site: str
    direction: str


@dataclass(frozen=True, slots=True)
class PersonDay:
    """One person's date as the grid's cell opens it: the calendar, the record, the punches
    of the local day with their gate, and the violations (withdrawn ones included)."""

    employee_id: int
    code: str
    name: str
    unit_id: int
    unit_name: str
    day: CalendarDay
    status: str | None
    status_label: str | None
    first_in: datetime | None
    last_out: datetime | None
    punches: list[DayPunch]
    violations: list[Violation]


def units_for(db: DbSession, scope: Scope) -> list[tuple[int, str]]:
    """The units a person may pick (id, name), in name order."""
    query = select(Unit.id, Unit.name).order_by(Unit.name)
    if scope.unit_ids is not None:
        query = query.where(Unit.id.in_(scope.unit_ids))
    return [(uid, name) for uid, name in db.execute(query.limit(2000))]


def _unit(db: DbSession, scope: Scope, unit_id: int | None) -> Unit:
    """The unit asked for, or by default the top of the caller's units (a unit head's own
    unit, not the first of its sub-units by name)."""
    scope.require("violations:read")
    if unit_id is None:
        unit_id = _top_unit(db, scope)
        if unit_id is None:
            raise NotFound("Đơn vị")
    unit = db.get(Unit, unit_id)
    if unit is None or not scope.sees(unit.id):
        raise NotFound("Đơn vị")
    return unit


def _top_unit(db: DbSession, scope: Scope) -> int | None:
    """The first by name of the caller's units whose parent is outside their scope."""
    query = select(Unit.id, Unit.parent_id).order_by(Unit.name)
    if scope.unit_ids is not None:
        query = query.where(Unit.id.in_(scope.unit_ids))
    for uid, parent in db.execute(query):
        if parent is None or not scope.sees(parent):
            return int(uid)
    return None


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
    """The unit's ``day`` so far (today, or an earlier date); ``lagging_sites`` names readers
    behind by more than 10 minutes at now or, for a past day, at that day's end."""
    unit = _unit(db, scope, unit_id)
    agency = db.get(Agency, unit.agency_id)
    local = ZoneInfo(agency.timezone if agency else "Asia/Ho_Chi_Minh")
    if day > now.astimezone(local).date():
        raise Invalid("future_day", "Ngày này chưa đến: hãy chọn hôm nay hoặc một ngày trước đó")
    day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=local)
    people = _people(db, unit.id, day, day)
    ids = [p.id for p in people]
    records = {
        r.employee_id: r
        for r in db.scalars(
            select(DayRecord).where(DayRecord.day == day, DayRecord.employee_id.in_(ids))
        )
    }
    late: dict[int, int] = {}
    absent: set[int] = set()
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
        elif kind == "absent":
            absent.add(employee_id)
        if is_provisional:
            provisional.add(employee_id)
    rows = [
        TodayRow(
            employee_id=p.id,
            code=p.code,
            name=p.full_name,
            status=_status_now(records.get(p.id), p.id in late, p.id in absent),
            first_in=records[p.id].first_in if p.id in records else None,
            late_minutes=late.get(p.id, 0),
            provisional=p.id in provisional,
        )
        for p in people
    ]
    latest = None
    if not records and ids:
        latest = db.scalar(
            select(func.max(DayRecord.day)).where(
                DayRecord.employee_id.in_(ids), DayRecord.day < day
            )
        )
    lagging = lagging_sites(db, [unit.id], min(now, day_end))
    return TodayBoard(unit.name, day, rows, lagging, latest)


def lagging_sites(db: DbSession, unit_ids: Iterable[int], now: datetime) -> list[str]:
    """The readers serving these units' agencies that are behind by more than 10 minutes at
    ``now``, by site ("Cổng phụ"): why a result is provisional (tạm tính). Hôm nay's banner and
    the queue's name the same readers; for a past day ``now`` is that day's end (a reader that
    has sent everything up to it is not behind for that day)."""
    agencies = select(Unit.agency_id).where(Unit.id.in_(list(unit_ids)))
    query = select(Device.id, Device.site, Device.sent_up_to, Device.last_seen_at).where(
        Device.enabled.is_(True),
        or_(Device.agency_id.is_(None), Device.agency_id.in_(agencies)),
    )
    lagging: set[str] = set()
    for device_id, site, sent_up_to, seen in db.execute(query):
        mark = sent_up_to or seen
        if mark is None or now - mark > BEHIND:
            lagging.add(site or device_id)
    return sorted(lagging)


def _status_now(record: DayRecord | None, late: bool, absent: bool) -> str:
    """The day so far: a violation already found beats an undecided ("pending") record."""
    status = record.status if record is not None else "none"
    if status in ("none", "pending") and (late or absent):
        return "late" if late else "absent"
    return status


@lru_cache(maxsize=32)
def _national(year: int) -> Calendar:
    return vietnam_calendar([year])


def agency_calendar(db: DbSession, agency_id: int, year: int) -> Calendar:
    """The calendar the runner applies to an agency: national holidays (Bộ luật Lao động
    Điều 112) with the overrides for everyone and for this agency (``calendar_days``)."""
    overrides = [
        (day, kind, name)
        for day, kind, name in db.execute(
            select(CalendarOverride.day, CalendarOverride.kind, CalendarOverride.name).where(
                or_(CalendarOverride.agency_id.is_(None), CalendarOverride.agency_id == agency_id),
                CalendarOverride.day >= date(year, 1, 1),
                CalendarOverride.day <= date(year, 12, 31),
            )
        )
    ]
    return calendar_with(overrides, [year]) if overrides else _national(year)


def calendar_day(official: Calendar, day: date) -> CalendarDay:
    """Holiday (its name), weekend (Saturday and Sunday unless a làm bù day) or working."""
    holiday = official.holiday(day)
    if holiday is not None:
        return CalendarDay(day, "holiday", holiday)
    swapped = official.swapped_working_day(day)
    if day.weekday() >= 5 and swapped is None:
        return CalendarDay(day, "weekend", None)
    return CalendarDay(day, "working", swapped)


def month(db: DbSession, scope: Scope, unit_id: int | None, year: int, month: int) -> MonthGrid:
    """The unit's month: a symbol per person and day (SYMBOLS), with totals per symbol.

    The runner writes no record for a weekend or a holiday; those cells take the agency
    calendar's symbol (not counted in the totals)."""
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise Invalid("invalid_period", "Tháng (1–12) hoặc năm (2000–2100) không hợp lệ")
    unit = _unit(db, scope, unit_id)
    first = date(year, month, 1)
    days = [first + timedelta(days=i) for i in range(calendar.monthrange(year, month)[1])]
    people = _people(db, unit.id, days[0], days[-1])
    index = {d: i for i, d in enumerate(days)}
    official = agency_calendar(db, unit.agency_id, year)
    columns = [calendar_day(official, d) for d in days]
    blank = [SYMBOLS[c.kind][0] if c.kind in ("holiday", "weekend") else "" for c in columns]
    rows = {
        p.id: GridRow(p.id, p.code, p.full_name, list(blank), cells=[None] * len(days))
        for p in people
    }
    found: dict[tuple[int, date], list[str]] = {}
    for employee_id, day, kind, minutes in db.execute(
        select(
            ViolationRecord.employee_id,
            ViolationRecord.day,
            ViolationRecord.kind,
            ViolationRecord.minutes,
        ).where(
            ViolationRecord.employee_id.in_(list(rows)),
            ViolationRecord.day >= days[0],
            ViolationRecord.day <= days[-1],
            ViolationRecord.active.is_(True),
        )
    ):
        text = VIOLATION.get(kind, kind)
        if minutes and kind in ("late", "early_leave"):
            text += f" {minutes} phút"
        found.setdefault((employee_id, day), []).append(text)
    for employee_id, day, status, excused_kind, first_in, last_out in db.execute(
        select(
            DayRecord.employee_id,
            DayRecord.day,
            DayRecord.status,
            DayRecord.excused_kind,
            DayRecord.first_in,
            DayRecord.last_out,
        ).where(
            DayRecord.employee_id.in_(list(rows)),
            DayRecord.day >= days[0],
            DayRecord.day <= days[-1],
        )
    ):
        key = excused_kind if status == "on_leave" and excused_kind in SYMBOLS else status
        if key == "present" and (employee_id, day) in found:
            key = "present_flagged"
        symbol = SYMBOLS.get(key, ("?", ""))[0]
        row = rows[employee_id]
        row.symbols[index[day]] = symbol
        row.cells[index[day]] = CellDay(
            first_in, last_out, tuple(found.get((employee_id, day), ()))
        )
        row.totals[symbol] = row.totals.get(symbol, 0) + 1
    return MonthGrid(unit.id, unit.name, year, month, days, list(rows.values()), columns)


def person_day(db: DbSession, scope: Scope, employee_id: int, day: date, tz: ZoneInfo) -> PersonDay:
    """One person's date in scope (``NotFound`` outside it): record, punches, violations."""
    scope.require("violations:read")
    person = db.get(Employee, employee_id)
    unit = db.get(Unit, person.unit_id) if person is not None else None
    if person is None or unit is None or not scope.sees(unit.id):
        raise NotFound("Cán bộ")
    record = db.get(DayRecord, (employee_id, day))
    start = datetime.combine(day, time(0), tzinfo=tz)
    punches = [
        DayPunch(at, site or device_id, direction)
        for at, device_id, site, direction in db.execute(
            select(Punch.punched_at, Punch.device_id, Device.site, Punch.direction)
            .select_from(Punch)
            .join(Credential, credential_held())
            .outerjoin(Device, Device.id == Punch.device_id)
            .where(
                Credential.employee_id == employee_id,
                Punch.punched_at >= start,
                Punch.punched_at < start + timedelta(days=1),
            )
            .order_by(Punch.punched_at)
            .limit(200)
        )
    ]
    violations = violation_service.page(
        db,
        scope,
        violation_service.ViolationQuery(
            employee_id=employee_id, date_from=day, date_to=day, state="all", order="oldest"
        ),
        50,
    ).items
    status = record.status if record is not None else None
    return PersonDay(
        employee_id=person.id,
        code=person.code,
        name=person.full_name,
        unit_id=unit.id,
        unit_name=unit.name,
        day=calendar_day(agency_calendar(db, unit.agency_id, day.year), day),
        status=status,
        status_label=DAY_STATUS.get(status, status) if status else None,
        first_in=record.first_in if record is not None else None,
        last_out=record.last_out if record is not None else None,
        punches=punches,
        violations=violations,
    )
