"""The documents as files: gather the figures in the units given, build XLSX or PDF.

Scope checks stay with the caller (services of the summaries, the API, the pages): these
functions take the units already allowed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from services.documents import discipline_report, timesheet
from services.documents.header import DocumentHeader
from services.documents.period import ReportPeriod, tracking_note, with_tracking
from store.bulk import among
from store.models import Employee, Unit
from store.summaries import Line, Thresholds, person_lines, total_line, unit_lines
from store.timesheets import PersonMonth, month_marks, unit_refs

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
DocumentFormat = Literal["xlsx", "pdf"]


@dataclass(frozen=True, slots=True)
class DocumentFile:
    content: bytes
    media_type: str
    filename: str


def with_unit_codes(db: DbSession, units: list[Line]) -> list[Line]:
    """Unit lines carry their unit's code (the roll-up leaves it empty)."""
    query = select(Unit.id, Unit.code).where(among(db, Unit.id, {u.key for u in units}))
    codes: dict[int, str] = {unit_id: code for unit_id, code in db.execute(query)}
    for unit in units:
        unit.code = codes.get(unit.key, "")
    return units


def with_every_unit(
    db: DbSession, unit_ids: frozenset[int] | None, units: list[Line]
) -> list[Line]:
    """Every unit in scope has its line, ranked as the others: one with nobody, or whose people
    have no day record in the period, shows zeros (a unit that vanished from the totals
    sheet would read as one not asked about)."""
    present = {unit.key for unit in units}
    missing = [
        Line(key=u.id, name=u.name, code=u.code, unit_id=u.id, unit_name=u.name)
        for u in unit_refs(db, unit_ids)
        if u.id not in present
    ]
    if not missing:
        return units
    return sorted([*units, *missing], key=lambda u: (-u.rate, u.name))


def report_data(
    db: DbSession, unit_ids: frozenset[int] | None, period: ReportPeriod, thresholds: Thresholds
) -> discipline_report.ReportData:
    people = person_lines(db, period.first, period.last, unit_ids, thresholds)
    units = with_every_unit(db, unit_ids, with_unit_codes(db, unit_lines(people, thresholds)))
    titled = select(Employee.id, Employee.title).where(
        among(db, Employee.id, {p.key for p in people}), Employee.title.is_not(None)
    )
    titles = {employee_id: title or "" for employee_id, title in db.execute(titled)}
    return discipline_report.ReportData(units, people, total_line(units), thresholds, titles)


def report_file(
    db: DbSession,
    unit_ids: frozenset[int] | None,
    period: ReportPeriod,
    thresholds: Thresholds,
    header: DocumentHeader,
    fmt: DocumentFormat,
) -> DocumentFile:
    """Báo cáo tình hình chấp hành kỷ luật, kỷ cương hành chính as XLSX or PDF."""
    data = report_data(db, unit_ids, period, thresholds)
    stem = f"bao-cao-ky-luat-{period.first:%Y%m%d}-{period.last:%Y%m%d}"
    if fmt == "pdf":
        return DocumentFile(discipline_report.to_pdf(header, data), PDF, f"{stem}.pdf")
    return DocumentFile(discipline_report.to_xlsx(header, data), XLSX, f"{stem}.xlsx")


def timesheet_file(
    db: DbSession,
    unit_ids: frozenset[int] | None,
    year: int,
    month: int,
    symbols: timesheet.Symbols,
    header: DocumentHeader,
    fmt: DocumentFormat,
    through: date | None = None,
) -> DocumentFile:
    """Bảng chấm công (C01a-HD) of each unit for a month, as XLSX (a sheet per unit) or PDF;
    ``through``: the last day counted of a month not over (its title says so)."""
    from calendar import monthrange

    first, last = date(year, month, 1), date(year, month, monthrange(year, month)[1])
    people = month_marks(db, unit_ids, first, through or last)  # no day not yet closed
    members: dict[int, list[PersonMonth]] = {}
    for person in people:
        members.setdefault(person.unit_id, []).append(person)
    refs = unit_refs(db, unit_ids)
    starts = unit_tracking(db, unit_ids, first)
    calendars: dict[int, Mapping[date, str]] = {}

    def rows(unit_id: int) -> list[timesheet.Row]:
        """A unit's rows; the days before its agency's tracking start marked as such."""
        agency_id, start = starts.get(unit_id, (0, None))
        if start is not None and agency_id not in calendars:
            from services.days import agency_calendar

            calendars[agency_id] = agency_calendar(db, agency_id, year).days_off
        days_off = calendars.get(agency_id, {})
        return timesheet.build_rows(members[unit_id], year, month, symbols, start, days_off)

    units = [(u.name, rows(u.id)) for u in refs if u.id in members]
    if not units:  # nobody in the units asked for: their blank forms, to fill in by hand
        units = [(u.name, []) for u in refs]
    # the title names the latest start of the units' agencies (one agency: its own)
    tracked = max((start for _, start in starts.values() if start is not None), default=None)
    stem = f"bang-cham-cong-{year}{month:02d}"
    if fmt == "pdf":
        content = timesheet.to_pdf(header, units, year, month, symbols, through, tracked)
        return DocumentFile(content, PDF, f"{stem}.pdf")
    content = timesheet.to_xlsx(header, units, year, month, symbols, through, tracked)
    return DocumentFile(content, XLSX, f"{stem}.xlsx")


def unit_tracking(
    db: DbSession, unit_ids: frozenset[int] | None, first: date
) -> dict[int, tuple[int, date | None]]:
    """unit id → (its agency id, the agency's tracking start when after ``first``, else None)."""
    from store.models import Agency

    query = select(Unit.id, Agency.id, Agency.tracking_start).join(
        Agency, Agency.id == Unit.agency_id
    )
    if unit_ids is not None:
        query = query.where(among(db, Unit.id, unit_ids))
    return {
        unit_id: (agency_id, start if start is not None and start > first else None)
        for unit_id, agency_id, start in db.execute(query)
    }


class Issuer(NamedTuple):
    """Who issues a document: the agency, the unit asked for ("" for the whole agency), the
    agency's supervising body (cơ quan chủ quản, its parent agency; "" when none)."""

    agency: str
    unit: str
    parent: str


def issuer(db: DbSession, user_id: int, unit_id: int | None, fallback: str) -> Issuer:
    """The issuer of a document: the unit asked for, else the user's own; ``fallback`` names
    the agency of a user with none (a province account)."""
    from store.models import Agency, User

    user = db.get(User, user_id)
    unit = db.get(Unit, unit_id) if unit_id is not None else None
    if unit is None and user is not None and user.role == "unit_head" and user.unit_id:
        unit = db.get(Unit, user.unit_id)
    agency_id = unit.agency_id if unit is not None else (user.agency_id if user else None)
    agency = db.get(Agency, agency_id) if agency_id is not None else None
    parent = db.get(Agency, agency.parent_id) if agency and agency.parent_id else None
    return Issuer(
        agency.name if agency else fallback,
        unit.name if unit else "",
        parent.name if parent else "",
    )


def tracking_starts(db: DbSession, unit_ids: frozenset[int] | None) -> list[date]:
    """The tracking starts (ngày bắt đầu theo dõi) of the agencies of ``unit_ids`` (None: of
    every agency); an agency without one is left out."""
    from store.models import Agency

    query = select(Agency.tracking_start).where(Agency.tracking_start.is_not(None)).distinct()
    if unit_ids is not None:
        agencies = select(Unit.agency_id).where(among(db, Unit.id, unit_ids))
        query = query.where(Agency.id.in_(agencies))
    return [d for d in db.scalars(query) if d is not None]


def period_label(db: DbSession, unit_ids: frozenset[int] | None, period: ReportPeriod) -> str:
    """The period's label with "Theo dõi từ dd/mm/yyyy" when it begins before tracking did."""
    note = tracking_note(period.first, tracking_starts(db, unit_ids))
    return with_tracking(period.label, note)
