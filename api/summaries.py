"""Discipline summaries for Nội vụ: per unit and per person, month, quarter or year,
as JSON, CSV (Excel opens it) or an XLSX workbook."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse

from api.deps import Context, DbSession, require
from api.errors import responses
from rules.zones import zone
from services import summaries as service
from services.scope import Scope
from services.summaries import XLSX, SummaryOut

router = APIRouter(prefix="/api/summaries", tags=["Báo cáo Nội vụ"])
Reader = Annotated[Scope, Depends(require("summaries:read"))]


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
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    month: Annotated[int | None, Query(ge=1, le=12)] = None,
    quarter: Annotated[int | None, Query(ge=1, le=4)] = None,
    unit_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    format: Literal["json", "csv", "xlsx"] = "json",
    by: Literal["unit", "employee"] = "unit",
) -> SummaryOut | Response:
    """Per unit (ranked, worst rate first) and per person, with the flags of the thresholds.
    Without ``year``, this year (local); ``quarter`` alone means ``period=quarter``."""
    settings = context.settings
    now = datetime.now(UTC)
    if year is None:
        year = now.astimezone(zone(settings.timezone)).year
    if period == "month" and month is None and quarter:
        period = "quarter"
    query = service.SummaryQuery(period, year, month, quarter, unit_id)
    if format == "json":  # streamed from the figures: 30,000 people, no model each
        return StreamingResponse(
            service.summary_json(db, scope, query, settings.thresholds, now, settings.timezone),
            media_type="application/json",
        )
    file = service.summary_file(
        db,
        scope,
        query,
        settings.thresholds,
        now,
        settings.timezone,
        format,
        by,
        recipient=settings.report_recipient,
        issuer_fallback=settings.report_issuer,
        place=settings.report_place,
    )
    return Response(
        file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )
