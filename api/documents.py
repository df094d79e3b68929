"""Documents offices file, as downloads: the discipline report (XLSX, PDF), the bảng chấm công
C01a-HD (XLSX, PDF), and the monthly kỷ luật scores (JSON, XLSX) with the unit head's decision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import Context, DbSession, require
from api.errors import ApiError, bad_request, responses
from rules.discipline_score import ScoreRule
from rules.zones import zone
from services import discipline_scores
from services.documents import timesheet
from services.documents.files import DocumentFile, issuer, report_file, timesheet_file
from services.documents.header import DocumentHeader
from services.documents.period import Invalid, ReportPeriod, report_period
from services.scope import Scope, units_filter
from store.summaries import Thresholds

router = APIRouter(prefix="/api", tags=["Văn bản, biểu mẫu"])
Reader = Annotated[Scope, Depends(require("summaries:read"))]
Reviewer = Annotated[Scope, Depends(require("violations:review"))]
Id = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
Year = Annotated[int, Query(ge=2000, le=2100)]
Month = Annotated[int, Query(ge=1, le=12)]
FILES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}, "application/octet-stream": {}}}
}


def _download(doc: DocumentFile) -> Response:
    return Response(
        doc.content,
        media_type=doc.media_type,
        headers={"Content-Disposition": f'attachment; filename="{doc.filename}"'},
    )


def _now_local(context: Any) -> datetime:
    return datetime.now(UTC).astimezone(zone(context.settings.timezone))


def _period(
    kind: Any, year: int, month: int | None, quarter: int | None, today: Any
) -> ReportPeriod:
    try:
        return report_period(kind, year, month, quarter, today)
    except Invalid as error:
        raise bad_request(error.code, error.message) from error


def _header(
    db: Any, scope: Scope, context: Any, unit_id: int | None, label: str, recipient: str
) -> DocumentHeader:
    settings = context.settings
    agency, unit = issuer(db, scope.user_id, unit_id, settings.report_issuer)
    return DocumentHeader(
        agency=agency,
        unit=unit,
        recipient=recipient or settings.report_recipient,
        period_label=label,
        generated=_now_local(context),
        place=settings.report_place,
    )


@router.get(
    "/documents/discipline-report",
    responses=responses(401, 403, 404, 422) | FILES,
    summary="Báo cáo tình hình chấp hành kỷ luật, kỷ cương hành chính (XLSX, PDF)",
)
def discipline_report(
    db: DbSession,
    scope: Reader,
    context: Context,
    period: Literal["month", "quarter", "year"] = "month",
    year: Year = 2026,
    month: Annotated[int | None, Query(ge=1, le=12)] = None,
    quarter: Annotated[int | None, Query(ge=1, le=4)] = None,
    unit_id: Id = None,
    format: Literal["xlsx", "pdf"] = "xlsx",
    recipient: Annotated[str, Query(max_length=255)] = "",
) -> Response:
    """The official document: a period not over counts up to the last closed day."""
    now = _now_local(context)
    p = _period(period, year, month, quarter, now.date())
    units = units_filter(db, scope, unit_id)
    s = context.settings
    thresholds = Thresholds(
        s.absence_days_per_month_flag, s.absence_days_per_year_flag, s.consecutive_absence_days_flag
    )
    header = _header(db, scope, context, unit_id, p.label, recipient)
    return _download(report_file(db, units, p, thresholds, header, format))


@router.get(
    "/documents/timesheets",
    responses=responses(401, 403, 404, 422) | FILES,
    summary="Bảng chấm công (mẫu C01a-HD) của từng đơn vị trong tháng (XLSX, PDF)",
)
def timesheets(
    db: DbSession,
    scope: Reader,
    context: Context,
    year: Year,
    month: Month,
    unit_id: Id = None,
    format: Literal["xlsx", "pdf"] = "xlsx",
) -> Response:
    """One form per unit in scope (or the unit given and its sub-units)."""
    now = _now_local(context)
    p = _period("month", year, month, None, now.date())
    units = units_filter(db, scope, unit_id)
    header = _header(db, scope, context, unit_id, p.label, "")
    symbols = timesheet.Symbols.with_overrides(context.settings.timesheet_symbols)
    return _download(timesheet_file(db, units, year, month, symbols, header, format))


class DecisionIn(BaseModel):
    year: int = Field(ge=2000, le=2100)
    month: int = Field(ge=1, le=12)
    score: float | None = Field(
        default=None, ge=0, le=100, description="None: confirm the suggestion"
    )
    flag: Literal["not_excellent", "not_good"] | None = None
    note: str = Field(default="", max_length=2000)


@router.get(
    "/scores",
    responses=responses(401, 403, 404, 422) | FILES,
    summary="Điểm ý thức kỷ luật hằng tháng (đề xuất và quyết định), JSON hoặc XLSX",
)
def scores(
    db: DbSession,
    scope: Reader,
    context: Context,
    year: Year,
    month: Month,
    unit_id: Id = None,
    format: Literal["json", "xlsx"] = "json",
) -> Any:
    """Per person in scope: the suggested score with its reasons, the decision in force."""
    now = _now_local(context)
    units = units_filter(db, scope, unit_id)
    rule = ScoreRule()
    try:
        period, items = discipline_scores.month_scores(db, units, year, month, rule, now.date())
    except Invalid as error:
        raise bad_request(error.code, error.message) from error
    if format == "xlsx":
        header = _header(db, scope, context, unit_id, period.label, "")
        content = discipline_scores.to_xlsx(header, period, items, rule)
        return _download(
            DocumentFile(
                content,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                f"diem-ky-luat-{year}{month:02d}.xlsx",
            )
        )
    return discipline_scores.to_json(period, items, rule)


@router.post(
    "/scores/{employee_id}/decision",
    responses=responses(401, 403, 404, 422),
    summary="Thủ trưởng xác nhận hoặc điều chỉnh điểm ý thức kỷ luật (kèm lý do)",
)
def decide(
    db: DbSession,
    scope: Reviewer,
    context: Context,
    employee_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: DecisionIn,
) -> dict[str, Any]:
    """Confirm (no score) or adjust (a score, a flag and a note); kept across recomputes."""
    now = _now_local(context)
    rule = ScoreRule()
    try:
        result = discipline_scores.decide(
            db,
            scope.unit_ids,
            employee_id,
            body.year,
            body.month,
            rule,
            score=body.score,
            flag=body.flag,
            note=body.note,
            by=scope.username,
            now=now.astimezone(UTC),
            today=now.date(),
        )
    except discipline_scores.ScoreError as error:
        if error.code == "not_found":
            raise ApiError(404, error.code, error.message) from error
        raise bad_request(error.code, error.message) from error
    except Invalid as error:
        raise bad_request(error.code, error.message) from error
    period = report_period("month", body.year, body.month, None, now.date())
    item = discipline_scores.to_json(period, [result], rule)["items"][0]
    return dict(item)
