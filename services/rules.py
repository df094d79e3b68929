"""An agency's rules as people read them (Quy định): schedule, calendar overrides, policy,
tracking start; a new rules file previewed (its effect) before it is saved.

Admins load rules and set the tracking start (ngày bắt đầu theo dõi); HR clerks read them.
The preview applies the file inside a savepoint, runs the runner without writing over the
(person, date) keys the change would queue, and rolls back: it shows exactly what saving
would do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Invalid, NotFound
from kycuong.inputs import quoted
from kycuong.replay import ReplayError, parse_rules
from rules.config import DEFAULT_SESSIONS, CalendarDoc, PolicyDoc, RulesDoc, ScheduleDoc
from services import effects
from services.scope import Scope
from store.models import (
    Agency,
    CalendarDay,
    DayRecord,
    DisciplinePolicy,
    Employee,
    Unit,
    ViolationRecord,
    WorkSchedule,
)
from store.queue import Key, enqueue, keys_for_days
from store.rules_config import (
    RulesConfigError,
    bump_rules_version,
    save_calendar,
    save_employee_schedule,
    save_schedule_and_policy,
    scope_keys,
)

WEEKDAY_LABELS = {
    "mon": "Thứ Hai",
    "tue": "Thứ Ba",
    "wed": "Thứ Tư",
    "thu": "Thứ Năm",
    "fri": "Thứ Sáu",
    "sat": "Thứ Bảy",
    "sun": "Chủ nhật",
}
SESSION_NAMES = {"morning": "Buổi sáng", "afternoon": "Buổi chiều", "night": "Ca đêm"}
CALENDAR_KINDS = {"off": "Ngày nghỉ", "work": "Ngày làm bù", "not_off": "Không nghỉ"}
PUNCH_MODES = {"per_session": "Chấm mỗi buổi", "per_day": "Chấm đầu và cuối ngày"}
BREAK_CUTS = {
    "earlier_end": "tính cho buổi trước",
    "middle": "chia ở giữa giờ nghỉ",
    "later_start": "tính cho buổi sau",
}


@dataclass(frozen=True, slots=True)
class AgencyView:
    id: int
    code: str
    name: str
    timezone: str
    tracking_start: date | None


@dataclass(frozen=True, slots=True)
class Line:
    """A labelled line of the rules as people read them."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class RulesView:
    agency: AgencyView
    schedule_name: str
    schedule: tuple[Line, ...]
    policy: tuple[Line, ...]
    calendar: tuple[Line, ...]
    own_rules: tuple[Line, ...]  # units with a schedule or policy of their own


@dataclass(frozen=True, slots=True)
class RulesChange:
    """Where a rules file goes: an agency (or one of its units, or one person's schedule)."""

    agency_code: str
    unit_code: str | None = None
    employee_code: str | None = None

    @property
    def label(self) -> str:
        if self.employee_code:
            return f"cán bộ {self.employee_code} (chỉ lịch làm việc)"
        return self.agency_code + (f"/{self.unit_code}" if self.unit_code else "")


def agencies(db: DbSession, scope: Scope) -> list[AgencyView]:
    """The agencies the caller may read the rules of (an admin: all), by code."""
    scope.require("rules:read")
    query = select(Agency).order_by(Agency.code)
    if scope.unit_ids is not None:
        ids = set(db.scalars(select(Unit.agency_id).where(Unit.id.in_(scope.unit_ids))))
        query = query.where(Agency.id.in_(ids))
    return [_agency_view(a) for a in db.scalars(query)]


def all_agencies(db: DbSession) -> list[AgencyView]:
    """Every agency, by code (the CLI's `agencies list`: an operator's view)."""
    return [_agency_view(a) for a in db.scalars(select(Agency).order_by(Agency.code))]


def _agency_view(agency: Agency) -> AgencyView:
    return AgencyView(agency.id, agency.code, agency.name, agency.timezone, agency.tracking_start)


def _agency(db: DbSession, scope: Scope, agency_id: int) -> Agency:
    if agency_id not in {a.id for a in agencies(db, scope)}:
        raise NotFound("Cơ quan")
    agency = db.get(Agency, agency_id)
    assert agency is not None
    return agency


def agency_in_scope(db: DbSession, scope: Scope, agency_id: int) -> Agency:
    """The agency, if in ``scope`` (``NotFound`` otherwise)."""
    return _agency(db, scope, agency_id)


def agency_by_code(db: DbSession, code: str) -> Agency:
    agency = db.scalar(select(Agency).where(Agency.code == code.strip()))
    if agency is None:
        known = ", ".join(db.scalars(select(Agency.code).order_by(Agency.code))) or "chưa có"
        raise Invalid(
            "unknown_agency",
            f"Không tìm thấy cơ quan {quoted(code.strip())}; các mã cơ quan: {known}",
        )
    return agency


def read(db: DbSession, scope: Scope, agency_id: int) -> RulesView:
    """The agency's rules in Vietnamese: times HH:MM, dates dd/mm/yyyy."""
    agency = _agency(db, scope, agency_id)
    schedule = _schedule_doc(db, agency.schedule_id)
    policy = _policy_doc(db, agency.policy_id)
    own = []
    for unit in db.scalars(
        select(Unit).where(Unit.agency_id == agency.id).order_by(Unit.code)
    ).all():
        parts = []
        if unit.schedule_id:
            parts.append(f"lịch riêng “{_schedule_doc(db, unit.schedule_id).name}”")
        if unit.policy_id:
            parts.append("quy chế riêng")
        if parts:
            own.append(Line(f"{unit.name} ({unit.code})", ", ".join(parts)))
    overrides = db.scalars(
        select(CalendarDay)
        .where((CalendarDay.agency_id == agency.id) | CalendarDay.agency_id.is_(None))
        .order_by(CalendarDay.day)
    ).all()
    calendar = tuple(
        Line(
            f"{row.day:%d/%m/%Y}",
            CALENDAR_KINDS.get(row.kind, row.kind)
            + (f": {row.name}" if row.name else "")
            + ("" if row.agency_id else " (áp dụng cho mọi cơ quan)"),
        )
        for row in overrides
    )
    return RulesView(
        agency=_agency_view(agency),
        schedule_name=schedule.name,
        schedule=schedule_lines(schedule),
        policy=policy_lines(policy),
        calendar=calendar,
        own_rules=tuple(own),
    )


def _schedule_doc(db: DbSession, schedule_id: int | None) -> ScheduleDoc:
    row = db.get(WorkSchedule, schedule_id) if schedule_id else None
    if row is None:
        return ScheduleDoc(name="Giờ hành chính (mặc định)", sessions=DEFAULT_SESSIONS)
    return ScheduleDoc.model_validate_json(row.spec)


def _policy_doc(db: DbSession, policy_id: int | None) -> PolicyDoc:
    row = db.get(DisciplinePolicy, policy_id) if policy_id else None
    return PolicyDoc.model_validate_json(row.spec) if row is not None else PolicyDoc()


def _sessions(sessions: list[object]) -> str:
    return "; ".join(
        f"{SESSION_NAMES.get(s.name, s.name)} {s.start:%H:%M}–{s.end:%H:%M}"  # type: ignore[attr-defined]
        for s in sessions
    )


def schedule_lines(doc: ScheduleDoc) -> tuple[Line, ...]:
    """A schedule as people read it: working days, sessions (by season), a rota."""
    lines = [Line("Ngày làm việc", ", ".join(WEEKDAY_LABELS[d] for d in doc.weekdays))]
    if doc.sessions is not None:
        lines.append(Line("Giờ làm việc", _sessions(list(doc.sessions))))
    for season in doc.seasons or []:
        month, day = season.starts.split("-")
        lines.append(Line(f"Từ ngày {day}/{month} hằng năm", _sessions(list(season.sessions))))
    for weekday, sessions in doc.weekday_sessions.items():
        lines.append(Line(f"Riêng {WEEKDAY_LABELS[weekday]}", _sessions(list(sessions))))
    if doc.rota is not None:
        lines.append(Line("Ca luân phiên từ ngày", f"{doc.rota.anchor:%d/%m/%Y}"))
        for i, day_sessions in enumerate(doc.rota.days, start=1):
            lines.append(Line(f"Ngày {i} của vòng", _sessions(list(day_sessions)) or "Nghỉ"))
    observes = doc.observes_holidays if doc.observes_holidays is not None else doc.rota is None
    lines.append(Line("Nghỉ lễ, Tết", "Có" if observes else "Không (làm theo ca)"))
    return tuple(lines)


def policy_lines(doc: PolicyDoc) -> tuple[Line, ...]:
    """A policy as people read it, in minutes."""
    return (
        Line("Đi muộn quá", f"{doc.late_grace_minutes} phút thì tính đi muộn"),
        Line("Về sớm quá", f"{doc.early_grace_minutes} phút thì tính về sớm"),
        Line("Vắng mặt", f"không chấm công sau {doc.absent_after_late_minutes} phút đầu buổi"),
        Line("Cách chấm công", PUNCH_MODES[doc.punch_mode]),
        Line("Chấm hai lần liền nhau", f"trong {doc.double_tap_seconds} giây tính là một"),
        Line(
            "Quên chấm công",
            "ghi nhận vi phạm" if doc.missing_punch == "flag" else "không ghi nhận",
        ),
        Line("Chấm sớm nhất", f"{doc.early_arrival_margin_minutes} phút trước giờ vào"),
        Line("Chấm muộn nhất", f"{doc.late_departure_margin_minutes} phút sau giờ ra"),
        Line("Chấm lại", f"trong {doc.retap_minutes} phút là chấm lại, không phải ra về"),
        Line("Lượt chấm giờ nghỉ trưa", BREAK_CUTS[doc.break_cut]),
    )


def calendar_lines(doc: CalendarDoc) -> tuple[Line, ...]:
    lines = [
        *(
            Line(f"{d.date:%d/%m/%Y}", f"Ngày nghỉ: {d.name}" if d.name else "Ngày nghỉ")
            for d in doc.days_off
        ),
        *(
            Line(f"{d.date:%d/%m/%Y}", f"Ngày làm bù: {d.name}" if d.name else "Ngày làm bù")
            for d in doc.working_days
        ),
        *(Line(f"{d:%d/%m/%Y}", "Không nghỉ") for d in doc.not_days_off),
    ]
    return tuple(sorted(lines, key=lambda line: line.label[6:] + line.label[3:5] + line.label[:2]))


def parse(text: bytes | str, filename: str) -> RulesDoc:
    """An uploaded rules file (TOML or JSON, the format of `kycuong policy load`)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid(
                "rules_file",
                f"{quoted(filename)}: tệp không phải văn bản UTF-8; hãy lưu lại dạng UTF-8",
            ) from None
    if not text.strip():
        raise Invalid("rules_file", f"{quoted(filename)}: tệp trống")
    try:
        return parse_rules(text, filename)
    except ReplayError as exc:
        raise Invalid("rules_file", str(exc)) from exc


def apply(db: DbSession, doc: RulesDoc, change: RulesChange, since: date, today: date) -> set[Key]:
    """Save ``doc`` where ``change`` says (in the caller's transaction); the keys to recompute:
    everyone in scope from ``since`` to ``today`` and on every calendar date the file names."""
    if since > today:
        raise Invalid("since_future", "Ngày áp dụng không được sau hôm nay")
    try:
        if change.employee_code:
            person = save_employee_schedule(db, change.employee_code, doc.schedule)
            bump_rules_version(db)
            return {(person, since + timedelta(days=i)) for i in range((today - since).days + 1)}
        save_schedule_and_policy(db, change.agency_code, change.unit_code, doc.schedule, doc.policy)
        touched = save_calendar(db, doc.calendar, change.agency_code)
        bump_rules_version(db)
        first, last = min([since, *touched]), max([today, *touched])
        return scope_keys(db, change.agency_code, change.unit_code, first, last)
    except RulesConfigError as exc:
        raise Invalid("rules_scope", str(exc)) from exc


def preview_change(
    db: DbSession, change: Callable[[], set[Key]], now: datetime, threshold: int
) -> effects.EffectView:
    """What ``change`` (a function that edits rules and returns the keys it touches) would
    do once saved and recomputed; nothing stays written."""
    savepoint = db.begin_nested()
    try:
        keys = change()
        db.flush()
        effect = effects.dry_run(db, keys, now)
        shown = effects.view(db, effect, len(keys), threshold)
    finally:
        savepoint.rollback()
    db.expire_all()
    return shown


def preview(
    db: DbSession,
    scope: Scope,
    agency_id: int,
    doc: RulesDoc,
    since: date,
    now: datetime,
    today: date,
    threshold: int,
) -> effects.EffectView:
    """The effect of loading ``doc`` for the agency (the page's preview before saving)."""
    scope.require("rules:write")
    change = RulesChange(_agency(db, scope, agency_id).code)
    return preview_change(db, lambda: apply(db, doc, change, since, today), now, threshold)


def save(
    db: DbSession, scope: Scope, agency_id: int, doc: RulesDoc, since: date, today: date
) -> int:
    """Load ``doc`` for the agency and queue what it changes; returns the keys queued."""
    scope.require("rules:write")
    change = RulesChange(_agency(db, scope, agency_id).code)
    return enqueue(db, apply(db, doc, change, since, today), "rules_changed")


def tracking_keys(db: DbSession, agency: Agency, new: date | None, today: date) -> set[Key]:
    """Set the agency's tracking start to ``new``; the (person, date) keys this changes.

    A later start withdraws what was judged before it (the keys of the stored day records
    and violations there); an earlier one makes the dates between judgeable (every person,
    up to today). Cleared: nothing is queued (recompute the dates wanted, with its preview).
    """
    old = agency.tracking_start
    agency.tracking_start = new
    bump_rules_version(db)
    if new is None or old == new:
        return set()
    if old is not None and new < old:
        last = min(old - timedelta(days=1), today)
        return keys_for_days(db, new, last, agency.id) if new <= last else set()
    people = select(Employee.id).join(Unit, Unit.id == Employee.unit_id)
    people = people.where(Unit.agency_id == agency.id)
    keys: set[Key] = set()
    for table in (DayRecord, ViolationRecord):
        query = select(table.employee_id, table.day).where(
            table.employee_id.in_(people), table.day < new
        )
        if old is not None:
            query = query.where(table.day >= old)
        keys |= {(e, d) for e, d in db.execute(query.distinct())}
    return keys


def set_tracking_start(
    db: DbSession, scope: Scope, agency_id: int, day: date | None, today: date
) -> int:
    """Set (or clear) the agency's tracking start and queue the dates it changes."""
    scope.require("rules:write")
    agency = _agency(db, scope, agency_id)
    return enqueue(db, tracking_keys(db, agency, day, today), "tracking_start")
