"""Discipline summaries for Nội vụ (báo cáo tình hình chấp hành kỷ luật, kỷ cương hành chính):
per unit (ranked, worst rate first) and per person, month, quarter or year, with the flags of
the thresholds (NĐ 112/2020), as a view or as CSV/XLSX files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from json.encoder import encode_basestring as _text
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_core import to_json
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from rules.zones import zone
from services.documents.discipline_report import events
from services.documents.files import issuer, period_label, report_file, with_unit_codes
from services.documents.header import DocumentHeader, addressee
from services.documents.period import ReportPeriod, report_period
from services.exports import to_csv
from services.scope import Scope, units_filter
from store import charts as chart_sums
from store.models import Agency, Unit, User
from store.summaries import (
    Line,
    Row,
    Thresholds,
    lines_of,
    person_rows,
    row_of,
    total_line,
    unit_lines_of_rows,
)

PeriodKind = Literal["month", "quarter", "year"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class SummaryQuery:
    period: PeriodKind = "month"
    year: int = 2026
    month: int | None = None
    quarter: int | None = None
    unit_id: int | None = None


@dataclass(frozen=True, slots=True)
class SummaryFile:
    """A downloadable report: bytes, media type and a file name."""

    content: bytes
    media_type: str
    filename: str


class RateOut(BaseModel):
    """Tỷ lệ vi phạm = violations ÷ working days × 100, with both terms to check it."""

    violations: float = Field(description="late arrivals + early departures + absence days")
    working_days: int
    per_100_days: float


class LineOut(BaseModel):
    rank: int | None = None
    id: int
    code: str
    name: str
    unit_id: int
    unit_name: str
    staff: int | None = Field(description="staff count (Tổng số CBCCVC): units and total only")
    working_days: int
    present_days: int
    late_count: int
    late_minutes: int
    early_count: int
    early_minutes: int
    absent_days: float
    excused_days: dict[str, float]
    missing_punches: int
    reviewed: dict[str, int]
    rate_per_100_days: float
    rate: RateOut
    flags: list[str]


class PeriodOut(BaseModel):
    end_day: date | None = Field(default=None, description="the period's own last day")
    complete: bool = True
    kind: Literal["month", "quarter", "year"]
    first_day: date
    last_day: date
    label: str


class SummaryOut(BaseModel):
    scope: str
    period: PeriodOut
    generated_at: datetime
    thresholds: dict[str, float]
    units: list[LineOut]
    people: list[LineOut]
    total: LineOut


def line_fields(line: Line, rank: int | None = None, person: bool = False) -> dict[str, Any]:
    """A ``LineOut`` as a plain dict, its fields in order and of their declared types: what
    the JSON of 30,000 people is written from without a model per person."""
    rate = float(line.rate)
    return {
        "rank": rank,
        "id": line.key,
        "code": line.code,
        "name": line.name,
        "unit_id": line.unit_id,
        "unit_name": line.unit_name,
        "staff": None if person else line.staff,
        "working_days": line.working_days,
        "present_days": line.present_days,
        "late_count": line.late_count,
        "late_minutes": line.late_minutes,
        "early_count": line.early_count,
        "early_minutes": line.early_minutes,
        "absent_days": float(round(line.absent_days, 2)),
        "excused_days": {
            "leave": float(round(line.excused_leave, 2)),
            "sick": float(round(line.excused_sick, 2)),
            "trip": float(round(line.excused_trip, 2)),
            "study": float(round(line.excused_study, 2)),
            "other": float(round(line.excused_other, 2)),
        },
        "missing_punches": line.missing_punches,
        "reviewed": {
            "confirmed": line.confirmed,
            "excused": line.excused,
            "dismissed": line.dismissed,
        },
        "rate_per_100_days": rate,
        "rate": {
            "violations": float(events(line)),
            "working_days": line.working_days,
            "per_100_days": rate,
        },
        "flags": line.flags,
    }


def scope_name(db: DbSession, scope: Scope, unit_id: int | None) -> str:
    """The heading of a report: the unit, the agency, or every agency."""
    if unit_id is not None:
        unit = db.get(Unit, unit_id)
        return unit.name if unit else ""
    user = db.get(User, scope.user_id)
    if user is not None and user.unit_id is not None and scope.role == "unit_head":
        unit = db.get(Unit, user.unit_id)
        return unit.name if unit else ""
    if user is not None and user.agency_id is not None:
        return db.scalar(select(Agency.name).where(Agency.id == user.agency_id)) or ""
    return "Tất cả cơ quan, đơn vị"


@dataclass(frozen=True, slots=True)
class _Computed:
    name: str
    label: str
    first: date
    last: date
    thresholds: Thresholds
    people: list[Row]  # store.summaries.Row: a Line's fields, one tuple a person
    ranked: list[Line]
    total: Line
    period: ReportPeriod


def _compute(
    db: DbSession, scope: Scope, query: SummaryQuery, thresholds: Thresholds, today: date
) -> _Computed:
    """A period not over counts up to the last closed day (``today`` − 1) and says so."""
    scope.require("summaries:read")
    p = report_period(query.period, query.year, query.month, query.quarter, today)
    first, last = p.first, p.last
    units = units_filter(db, scope, query.unit_id)
    people = person_rows(db, first, last, units, thresholds)
    ranked = with_unit_codes(db, unit_lines_of_rows(people, thresholds))
    return _Computed(
        period=p,
        name=scope_name(db, scope, query.unit_id),
        label=period_label(db, units, p),
        first=first,
        last=last,
        thresholds=thresholds,
        people=people,
        ranked=ranked,
        total=total_line(ranked),
    )


def _heading(
    c: _Computed, query: SummaryQuery, thresholds: Thresholds, now: datetime, timezone: str
) -> dict[str, Any]:
    """A ``SummaryOut`` without its lines, as a dict in the model's field order."""
    return {
        "scope": c.name,
        "period": {
            "end_day": c.period.end,
            "complete": c.period.complete,
            "kind": query.period,
            "first_day": c.first,
            "last_day": c.last,
            "label": c.label,
        },
        "generated_at": now.astimezone(zone(timezone)),
        "thresholds": {
            "absence_days_per_month": float(thresholds.month_days),
            "absence_days_per_period": float(thresholds.year_days),
            "consecutive_absence_days": float(thresholds.consecutive_days),
        },
    }


def summary(
    db: DbSession,
    scope: Scope,
    query: SummaryQuery,
    thresholds: Thresholds,
    now: datetime,
    timezone: str,
    *,
    people: Literal["all", "flagged"] = "all",
) -> SummaryOut:
    """The summary of a period for the units in scope (404 for a unit outside it);
    ``people="flagged"``: only the people a threshold flags (the page lists no others)."""
    c = _compute(db, scope, query, thresholds, now.astimezone(zone(timezone)).date())
    return _summary_out(c, query, thresholds, now, timezone, people, 0, len(c.ranked))


def _summary_out(
    c: _Computed,
    query: SummaryQuery,
    thresholds: Thresholds,
    now: datetime,
    timezone: str,
    people: Literal["all", "flagged"],
    start: int,
    size: int,
) -> SummaryOut:
    """The summary of a computed period with the ranking's units ``start`` to ``start + size``
    (their ranks among all) and everyone or the flagged people."""
    shown = lines_of(c.people if people == "all" else [row for row in c.people if row[-1]])
    units = enumerate(c.ranked[start : start + size], start=start + 1)
    return SummaryOut.model_validate(
        _heading(c, query, thresholds, now, timezone)
        | {
            "units": [line_fields(u, rank) for rank, u in units],
            "people": [line_fields(line, person=True) for line in shown],
            "total": line_fields(c.total),
        }
    )


UNITS_PER_PAGE = 50  # units of the ranking a summary page shows at a time


@dataclass(frozen=True, slots=True)
class SummaryPage:
    """What the summary page shows: ``report`` holds the ranking's units of page ``page``
    only (their ranks among all), the people a threshold flags and the total of all units;
    ``unit_count`` and ``pages`` say how many units and pages there are in all."""

    report: SummaryOut
    page: int  # 1-based, at most ``pages``
    pages: int
    unit_count: int


def summary_page(
    db: DbSession,
    scope: Scope,
    query: SummaryQuery,
    thresholds: Thresholds,
    now: datetime,
    timezone: str,
    page: int = 1,
    size: int = UNITS_PER_PAGE,
) -> SummaryPage:
    """``summary(..., people="flagged")`` with the units of one page of the ranking (``size``
    a page; a page past the last reads as the last): a province's 1,000 units are not all
    written into the page, the files keep them all. Raises as ``summary``."""
    c = _compute(db, scope, query, thresholds, now.astimezone(zone(timezone)).date())
    pages = max(1, -(-len(c.ranked) // size))
    page = min(max(page, 1), pages)
    report = _summary_out(c, query, thresholds, now, timezone, "flagged", (page - 1) * size, size)
    return SummaryPage(report, page, pages, len(c.ranked))


def summary_json(
    db: DbSession,
    scope: Scope,
    query: SummaryQuery,
    thresholds: Thresholds,
    now: datetime,
    timezone: str,
) -> Iterator[bytes]:
    """``summary(...)`` as its JSON, in chunks: together the same bytes as
    ``model_dump_json()``, written from trusted figures with no model per person (a province
    is 30,000 of them). The figures are summed before this returns; only the writing is
    left to the iteration, so a response streams it without holding the whole text."""
    c = _compute(db, scope, query, thresholds, now.astimezone(zone(timezone)).date())
    heading = to_json(_heading(c, query, thresholds, now, timezone))
    return _json_chunks(heading, c)


CHUNK_LINES = 1000  # lines per chunk of a streamed summary

# A LineOut's JSON as to_json writes it, filled by ``%``: the figures of a line are ints and
# floats of a few digits (days, minutes, rates rounded to 2 places), which repr() writes as
# to_json does (the shortest text that reads back the same); strings are escaped by json's
# own encoder, as to_json escapes them. A test compares the bytes with the model's JSON.
_LINE_JSON = (
    '{"rank":%s,"id":%d,"code":%s,"name":%s,"unit_id":%d,"unit_name":%s,"staff":%s,'
    '"working_days":%d,"present_days":%d,"late_count":%d,"late_minutes":%d,'
    '"early_count":%d,"early_minutes":%d,"absent_days":%s,'
    '"excused_days":{"leave":%s,"sick":%s,"trip":%s,"study":%s,"other":%s},'
    '"missing_punches":%d,"reviewed":{"confirmed":%d,"excused":%d,"dismissed":%d},'
    '"rate_per_100_days":%s,"rate":{"violations":%s,"working_days":%d,"per_100_days":%s},'
    '"flags":%s}'
)


class _Figures(dict[float, str]):
    """The text of ``float(round(value, 2))`` by value, worked out once per value: the
    figures of 30,000 people take a few hundred values (0.0 most of all)."""

    def __missing__(self, value: float) -> str:
        text = self[value] = repr(float(round(value, 2)))
        return text


def _line_json(row: Row, rank: int | None, person: bool, figures: _Figures) -> str:
    """``to_json(line_fields(Line(*row), rank, person))`` as text, with no dict or Line."""
    (key, name, code, unit_id, unit_name, staff, working, present, late, late_minutes, early,
     early_minutes, absent, leave, sick, trip, study, other, missing, confirmed, excused,
     dismissed, _, _, flags) = row  # fmt: skip
    events = late + early + absent
    rate = figures[100.0 * events / working] if working else "0.0"
    return _LINE_JSON % (
        "null" if rank is None else rank,
        key,
        _text(code),
        _text(name),
        unit_id,
        _text(unit_name),
        "null" if person else staff,
        working,
        present,
        late,
        late_minutes,
        early,
        early_minutes,
        figures[absent],
        figures[leave],
        figures[sick],
        figures[trip],
        figures[study],
        figures[other],
        missing,
        confirmed,
        excused,
        dismissed,
        rate,
        figures[events],
        working,
        rate,
        "[" + ",".join(map(_text, flags)) + "]" if flags else "[]",
    )


def _json_chunks(heading: bytes, c: _Computed) -> Iterator[bytes]:
    size = CHUNK_LINES
    figures = _Figures()
    yield heading[:-1] + b',"units":['
    units = [row_of(u) for u in c.ranked]
    for i in range(0, len(units), size):
        chunk = ",".join(
            _line_json(u, rank, False, figures)
            for rank, u in enumerate(units[i : i + size], start=i + 1)
        )
        yield (b"," if i else b"") + chunk.encode()
    yield b'],"people":['
    for i in range(0, len(c.people), size):
        chunk = ",".join(_line_json(p, None, True, figures) for p in c.people[i : i + size])
        yield (b"," if i else b"") + chunk.encode()
    yield b'],"total":' + _line_json(row_of(c.total), None, False, figures).encode() + b"}"


def summary_file(
    db: DbSession,
    scope: Scope,
    query: SummaryQuery,
    thresholds: Thresholds,
    now: datetime,
    timezone: str,
    fmt: Literal["csv", "xlsx", "pdf"],
    by: Literal["unit", "employee"] = "unit",
    *,
    recipient: str = "",
    issuer_fallback: str = "Sở Nội vụ",
    place: str = "",
) -> SummaryFile:
    """The same summary as a CSV (UTF-8 with BOM, for Excel), or the official document (XLSX,
    PDF: services/documents) addressed to ``recipient`` and dated at ``place`` (the settings
    KC_REPORT_RECIPIENT, KC_REPORT_ISSUER, KC_REPORT_PLACE, as /api/documents uses them)."""
    generated = now.astimezone(zone(timezone))
    if fmt == "csv":
        c = _compute(db, scope, query, thresholds, generated.date())
        stem = f"bao-cao-ky-luat-{c.first:%Y%m%d}-{c.last:%Y%m%d}"
        content = to_csv(c.ranked, lines_of(c.people), by)
        return SummaryFile(content, "text/csv; charset=utf-8", f"{stem}.csv")
    # the document reads its own figures (report_file): summed once, not also here
    scope.require("summaries:read")
    units = units_filter(db, scope, query.unit_id)
    period = report_period(query.period, query.year, query.month, query.quarter, generated.date())
    who = issuer(db, scope.user_id, query.unit_id, issuer_fallback)
    header = DocumentHeader(
        agency=who.agency,
        unit=who.unit,
        parent=who.parent,
        recipient=addressee(recipient, who.agency, who.parent),
        period_label=period_label(db, units, period),
        generated=generated,
        place=place,
    )
    doc = report_file(db, units, period, thresholds, header, fmt)
    return SummaryFile(doc.content, doc.media_type, doc.filename)


@dataclass(frozen=True, slots=True)
class ChartPoint:
    """One bar or point of a chart: its label ("11/2026", "Thứ Hai", "6–15 phút") and value."""

    label: str
    value: float | None  # None: no working day recorded (a month before the data)


@dataclass(frozen=True, slots=True)
class SummaryCharts:
    """What the summary draws besides the units' rates: the violation rate per 100 working
    days of the 12 months up to the period's end, and its late arrivals by weekday and by
    minutes late (those not excused or dismissed)."""

    trend: list[ChartPoint]
    late_by_weekday: list[ChartPoint]
    late_by_minutes: list[ChartPoint]


WEEKDAY_LABELS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


def charts(
    db: DbSession, scope: Scope, query: SummaryQuery, now: datetime, timezone: str
) -> SummaryCharts:
    """The charts of a summary for the units in scope (404 for a unit outside it)."""
    scope.require("summaries:read")
    today = now.astimezone(zone(timezone)).date()
    p = report_period(query.period, query.year, query.month, query.quarter, today)
    units = units_filter(db, scope, query.unit_id)
    end = p.last.replace(day=1)
    year, month0 = divmod(end.year * 12 + end.month - 1 - 11, 12)
    start = date(year, month0 + 1, 1)  # the 12 months that end with the period's last
    totals = {t.month: t for t in chart_sums.month_totals(db, start, end, units)}
    trend = []
    month = start
    while month <= end:
        t = totals.get(month)
        rate = (
            round((t.late_count + t.early_count + t.absent_days) * 100 / t.working_days, 1)
            if t and t.working_days
            else None
        )
        trend.append(ChartPoint(f"{month:%m/%Y}", rate))
        month = (
            date(month.year + 1, 1, 1)
            if month.month == 12
            else date(month.year, month.month + 1, 1)
        )
    weekdays, buckets = chart_sums.late_shape(db, p.first, p.last, units)
    shown_days = 7 if weekdays[5] or weekdays[6] else 5  # weekends only when someone was late
    return SummaryCharts(
        trend=trend,
        late_by_weekday=[ChartPoint(WEEKDAY_LABELS[i], weekdays[i]) for i in range(shown_days)],
        late_by_minutes=[
            ChartPoint(label, buckets[i]) for i, (_, label) in enumerate(chart_sums.LATE_BUCKETS)
        ],
    )
