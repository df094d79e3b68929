"""Leave and business trips (nghỉ phép, công tác): register, approve, cancel, import a file.

Every change queues the days it covers, so the rules recompute them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from api.deps import Context, DbSession, require
from api.errors import responses
from kycuong.inputs import Day
from services import excuses as service
from services.schemas import Excuse, ExcuseIn, ImportReport
from services.scope import Scope

router = APIRouter(prefix="/api/excuses", tags=["Nghỉ phép, công tác"])
Reader = Annotated[Scope, Depends(require("excuses:read"))]
Writer = Annotated[Scope, Depends(require("excuses:write"))]
Importer = Annotated[Scope, Depends(require("excuses:import"))]
ExcusePathId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


@router.get(
    "",
    response_model=list[Excuse],
    responses=responses(401, 403, 422),
    summary="Danh sách nghỉ phép, công tác",
)
def list_excuses(
    db: DbSession,
    scope: Reader,
    employee_code: str | None = None,
    date_from: Annotated[Day | None, Query(alias="from")] = None,
    date_to: Annotated[Day | None, Query(alias="to")] = None,
    status: Literal["pending", "approved", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[Excuse]:
    query = service.ExcuseQuery(employee_code, date_from, date_to, status, limit)
    return service.listing(db, scope, query)


@router.post(
    "",
    response_model=Excuse,
    status_code=201,
    responses=responses(401, 403, 404, 422),
    summary="Đăng ký nghỉ phép, công tác",
)
def create_excuse(body: ExcuseIn, db: DbSession, scope: Writer) -> Excuse:
    return service.create(db, scope, body)


@router.post(
    "/{excuse_id}/approve",
    response_model=Excuse,
    responses=responses(401, 403, 404),
    summary="Duyệt",
)
def approve(excuse_id: ExcusePathId, db: DbSession, scope: Writer) -> Excuse:
    return service.change_status(db, scope, excuse_id, "approved")


@router.post(
    "/{excuse_id}/cancel", response_model=Excuse, responses=responses(401, 403, 404), summary="Hủy"
)
def cancel(excuse_id: ExcusePathId, db: DbSession, scope: Writer) -> Excuse:
    return service.change_status(db, scope, excuse_id, "cancelled")


@router.post(
    "/import",
    response_model=ImportReport,
    responses=responses(401, 403, 422),
    summary="Nhập từ tệp CSV/XLSX",
)
async def import_excuses(
    file: UploadFile, db: DbSession, scope: Importer, context: Context
) -> ImportReport:
    """Columns: Mã cán bộ, Loại, Từ ngày, Đến ngày, optional Buổi, Trạng thái, Ghi chú.

    A file with any bad row changes nothing; the answer lists every problem by row.
    """
    content = await file.read(service.MAX_UPLOAD_BYTES + 1)
    # Parsing and checking a file is long work: off the event loop, so no request waits.
    return await run_in_threadpool(
        service.import_upload,
        db,
        scope,
        file.filename or "",
        content,
        context.settings.import_max_rows,
    )
