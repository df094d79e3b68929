"""Discipline summaries for Nội vụ: per unit and per person, month, quarter or year,
as JSON, CSV (Excel opens it) or an XLSX workbook."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import Context, DbSession, require
from api.errors import bad_request, responses
from api.exports import to_csv
from api.scope import Scope
from api.violations import units_filter
from rules.zones import zone
from services.documents.discipline_report import events
from services.documents.files import issuer, report_file, with_unit_codes
from services.documents.header import DocumentHeader
from services.documents.period import Invalid, report_period
from store.models import Agency, Unit, User
from store.summaries import Line, Thresholds, person_lines, total_line, unit_lines

router = APIRouter(prefix="/summaries", tags=["Báo cáo Nội vụ"])
Reader = Annotated[Scope, Depends(require("summaries:read"))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
    kind: Literal["month", "quarter", "year"]
    first_day: date
    last_day: date = Field(description="the last day counted: the last closed day if not over")
    end_day: date = Field(description="the period's own last day")
    complete: bool
    label: str


class SummaryOut(BaseModel):
    scope: str
    period: PeriodOut
    generated_at: datetime
    thresholds: dict[str, float]
    units: list[LineOut]
    people: list[LineOut]
    total: LineOut


def period_bounds(
    kind: str, year: int, month: int | None, quarter: int | None
) -> tuple[date, date]:
    if kind == "month":
        if month is None:
            raise bad_request("month_required", "Cần chọn tháng (month=1..12)")
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    if kind == "quarter":
        if quarter is None:
            raise bad_request("quarter_required", "Cần chọn quý (quarter=1..4)")
        first_month = 3 * (quarter - 1) + 1
        last_month = first_month + 2
        return date(year, first_month, 1), date(
            year, last_month, calendar.monthrange(year, last_month)[1]
        )
    return date(year, 1, 1), date(year, 12, 31)


def out(line: Line, rank: int | None = None, person: bool = False) -> LineOut:
    return LineOut(
        rank=rank,
        id=line.key,
        code=line.code,
        name=line.name,
        unit_id=line.unit_id,
        unit_name=line.unit_name,
        staff=None if person else line.staff,
        working_days=line.working_days,
        present_days=line.present_days,
        late_count=line.late_count,
        late_minutes=line.late_minutes,
        early_count=line.early_count,
        early_minutes=line.early_minutes,
        absent_days=round(line.absent_days, 2),
        excused_days={
            "leave": round(line.excused_leave, 2),
            "sick": round(line.excused_sick, 2),
            "trip": round(line.excused_trip, 2),
            "study": round(line.excused_study, 2),
            "other": round(line.excused_other, 2),
        },
        missing_punches=line.missing_punches,
        reviewed={
            "confirmed": line.confirmed,
            "excused": line.excused,
            "dismissed": line.dismissed,
        },
        rate_per_100_days=line.rate,
        rate=RateOut(
            violations=events(line), working_days=line.working_days, per_100_days=line.rate
        ),
        flags=line.flags,
    )


def scope_name(db: DbSession, scope: Scope, unit_id: int | None) -> str:
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


@router.get(
    "",
    response_model=SummaryOut,
    responses=responses(401, 403, 404, 422)
    | {
        200: {"content": {"text/csv": {}, XLSX: {}}, "description": "JSON, CSV or XLSX by ?format="}
    },
    summary="Báo cáo tình hình chấp hành kỷ luật, kỷ cương hành chính",
)
def summary(
    db: DbSession,
    scope: Reader,
    context: Context,
    period: Literal["month", "quarter", "year"] = "month",
    year: Annotated[int, Query(ge=2000, le=2100)] = 2026,
    month: Annotated[int | None, Query(ge=1, le=12)] = None,
    quarter: Annotated[int | None, Query(ge=1, le=4)] = None,
    unit_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    format: Literal["json", "csv", "xlsx", "pdf"] = "json",
    by: Literal["unit", "employee"] = "unit",
) -> SummaryOut | Response:
    """Per unit (ranked, worst rate first) and per person, with the flags of the thresholds.

    A period not over counts up to the last closed day; XLSX and PDF are the official document."""
    generated = datetime.now(UTC).astimezone(zone(context.settings.timezone))
    try:
        p = report_period(period, year, month, quarter, generated.date())
    except Invalid as error:
        raise bad_request(error.code, error.message) from error
    first, last = p.first, p.last
    units = units_filter(db, scope, unit_id)
    settings = context.settings
    thresholds = Thresholds(
        settings.absence_days_per_month_flag,
        settings.absence_days_per_year_flag,
        settings.consecutive_absence_days_flag,
    )
    people = person_lines(db, first, last, units, thresholds)
    if format in ("xlsx", "pdf"):
        agency, unit = issuer(db, scope.user_id, unit_id, settings.report_issuer)
        header = DocumentHeader(
            agency=agency,
            unit=unit,
            recipient=settings.report_recipient,
            period_label=p.label,
            generated=generated,
            place=settings.report_place,
        )
        doc = report_file(db, units, p, thresholds, header, format)
        return Response(
            doc.content,
            media_type=doc.media_type,
            headers={"Content-Disposition": f'attachment; filename="{doc.filename}"'},
        )
    ranked = with_unit_codes(db, unit_lines(people, thresholds))
    total = total_line(ranked)
    label = p.label
    name = scope_name(db, scope, unit_id)
    stem = f"bao-cao-ky-luat-{first:%Y%m%d}-{last:%Y%m%d}"
    if format == "csv":
        return Response(
            to_csv(ranked, people, by),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
        )
    return SummaryOut(
        scope=name,
        period=PeriodOut(
            kind=period,
            first_day=first,
            last_day=last,
            end_day=p.end,
            complete=p.complete,
            label=label,
        ),
        generated_at=generated,
        thresholds={
            "absence_days_per_month": thresholds.month_days,
            "absence_days_per_period": thresholds.year_days,
            "consecutive_absence_days": thresholds.consecutive_days,
        },
        units=[out(u, rank) for rank, u in enumerate(ranked, start=1)],
        people=[out(line, person=True) for line in people],
        total=out(total),
    )
