"""Documents offices file, as downloads: the discipline report (XLSX, PDF), the bảng chấm công
C01a-HD (XLSX, PDF), and the monthly kỷ luật scores (JSON, XLSX) with the unit head's decision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import Context, DbSession, require
from api.errors import responses
from kycuong.inputs import FreeText
from rules.zones import zone
from services import discipline_scores
from services.documents import downloads
from services.documents.files import DocumentFile
from services.scope import Scope

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


def _asked(scope: Scope, context: Any) -> downloads.Asked:
    now = datetime.now(UTC).astimezone(zone(context.settings.timezone))
    return downloads.Asked(scope, context.settings, now)


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
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    month: Annotated[int | None, Query(ge=1, le=12)] = None,
    quarter: Annotated[int | None, Query(ge=1, le=4)] = None,
    unit_id: Id = None,
    format: Literal["xlsx", "pdf"] = "xlsx",
    recipient: Annotated[str, Query(max_length=255)] = "",
) -> Response:
    """The official document: a period not over counts up to the last closed day. Without
    ``year``, this year (local); ``quarter`` alone means ``period=quarter``."""
    asked = _asked(scope, context)
    doc = downloads.discipline_report(
        db,
        asked,
        kind="quarter" if period == "month" and month is None and quarter else period,
        year=year if year is not None else asked.now.year,
        month=month,
        quarter=quarter,
        unit_id=unit_id,
        file_format=format,
        recipient=recipient,
    )
    return _download(doc)


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
    asked = _asked(scope, context)
    doc = downloads.timesheets(
        db, asked, year=year, month=month, unit_id=unit_id, file_format=format
    )
    return _download(doc)


class DecisionIn(BaseModel):
    year: int = Field(ge=2000, le=2100)
    month: int = Field(ge=1, le=12)
    score: float | None = Field(
        default=None, ge=0, le=100, description="None: confirm the suggestion"
    )
    flag: Literal["not_excellent", "not_good"] | None = None
    note: FreeText = Field(default="", max_length=2000)


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
    asked = _asked(scope, context)
    if format == "xlsx":
        return _download(downloads.scores_file(db, asked, year=year, month=month, unit_id=unit_id))
    period, items, rule = downloads.scores(db, asked, year=year, month=month, unit_id=unit_id)
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
    period, result, rule = downloads.decide_score(
        db,
        _asked(scope, context),
        employee_id,
        year=body.year,
        month=body.month,
        score=body.score,
        flag=body.flag,
        note=body.note,
    )
    item = discipline_scores.to_json(period, [result], rule)["items"][0]
    return dict(item)
