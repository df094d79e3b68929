"""Leave and business trips (nghỉ phép, công tác): register, approve, cancel, import a file.

Every change queues the days it covers, so the rules recompute them.
"""

from __future__ import annotations

import csv
import tempfile
import zipfile
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import Context, DbSession, require
from api.errors import ApiError, bad_request, not_found, responses
from api.schemas import Excuse, ExcuseIn, ImportReport
from api.scope import Scope
from kycuong.labels import EXCUSE, EXCUSE_STATUS
from store.excuses import ExcuseError, add_excuse, set_status
from store.excuses import import_excuses as import_file
from store.models import Employee, ExcuseRecord

router = APIRouter(prefix="/excuses", tags=["Nghỉ phép, công tác"])
Reader = Annotated[Scope, Depends(require("excuses:read"))]
Writer = Annotated[Scope, Depends(require("excuses:write"))]
Importer = Annotated[Scope, Depends(require("excuses:import"))]
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
ExcusePathId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


def to_excuse(record: ExcuseRecord, employee: Employee) -> Excuse:
    return Excuse(
        id=record.id,
        employee_id=employee.id,
        employee_code=employee.code,
        employee_name=employee.full_name,
        kind=record.kind,  # type: ignore[arg-type]
        kind_label=EXCUSE.get(record.kind, record.kind),
        first_day=record.first_day,
        last_day=record.last_day,
        sessions=record.sessions.split(",") if record.sessions else None,
        status=record.status,  # type: ignore[arg-type]
        status_label=EXCUSE_STATUS[record.status],
        note=record.note,
        created_by=record.created_by,
        created_at=record.created_at,
    )


def _employee_in_scope(db: DbSession, scope: Scope, code: str) -> Employee:
    employee = db.scalar(select(Employee).where(Employee.code == code))
    if employee is None or not scope.sees(employee.unit_id):
        raise not_found("Cán bộ")
    return employee


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
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    status: Literal["pending", "approved", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[Excuse]:
    query = select(ExcuseRecord, Employee).join(Employee, Employee.id == ExcuseRecord.employee_id)
    if scope.unit_ids is not None:
        query = query.where(Employee.unit_id.in_(scope.unit_ids))
    if employee_code is not None:
        query = query.where(Employee.code == employee_code)
    if date_from is not None:
        query = query.where(ExcuseRecord.last_day >= date_from)
    if date_to is not None:
        query = query.where(ExcuseRecord.first_day <= date_to)
    if status is not None:
        query = query.where(ExcuseRecord.status == status)
    query = query.order_by(ExcuseRecord.first_day.desc(), ExcuseRecord.id.desc()).limit(limit)
    return [to_excuse(record, employee) for record, employee in db.execute(query).all()]


@router.post(
    "",
    response_model=Excuse,
    status_code=201,
    responses=responses(401, 403, 404, 422),
    summary="Đăng ký nghỉ phép, công tác",
)
def create_excuse(body: ExcuseIn, db: DbSession, scope: Writer) -> Excuse:
    employee = _employee_in_scope(db, scope, body.employee_code)
    try:
        record = add_excuse(
            db,
            employee.code,
            body.kind,
            body.first_day,
            body.last_day,
            sessions=list(body.sessions) if body.sessions else None,
            approved=body.approved,
            note=body.note,
            by=scope.username,
        )
    except ExcuseError as exc:
        raise bad_request("invalid_excuse", str(exc)) from exc
    return to_excuse(record, employee)


def _change(db: DbSession, scope: Scope, excuse_id: int, status: str) -> Excuse:
    record = db.get(ExcuseRecord, excuse_id)
    employee = db.get(Employee, record.employee_id) if record else None
    if record is None or employee is None or not scope.sees(employee.unit_id):
        raise not_found("Đơn nghỉ")
    if record.status == "cancelled":
        raise ApiError(409, "cancelled", "Đơn đã bị hủy, không thể thay đổi")
    set_status(db, excuse_id, status)
    return to_excuse(record, employee)


@router.post(
    "/{excuse_id}/approve",
    response_model=Excuse,
    responses=responses(401, 403, 404),
    summary="Duyệt",
)
def approve(excuse_id: ExcusePathId, db: DbSession, scope: Writer) -> Excuse:
    return _change(db, scope, excuse_id, "approved")


@router.post(
    "/{excuse_id}/cancel", response_model=Excuse, responses=responses(401, 403, 404), summary="Hủy"
)
def cancel(excuse_id: ExcusePathId, db: DbSession, scope: Writer) -> Excuse:
    return _change(db, scope, excuse_id, "cancelled")


def _import(db: Session, scope: Scope, content: bytes, suffix: str, max_rows: int) -> int:
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(content)
        handle.flush()
        try:
            return import_file(
                db, Path(handle.name), scope.unit_ids, by=scope.username, max_rows=max_rows
            )
        except ExcuseError as exc:
            raise bad_request(
                "invalid_file",
                "Tệp có dòng không hợp lệ, chưa nhập gì",
                exc.args[0] if isinstance(exc.args[0], list) else [str(exc)],
            ) from exc
        except (
            ValueError,
            UnicodeError,
            KeyError,
            IndexError,
            zipfile.BadZipFile,
            csv.Error,
        ) as exc:
            # openpyxl's InvalidFileException is an Exception too; see below.
            raise unreadable() from exc
        except Exception as exc:
            if type(exc).__module__.startswith("openpyxl"):
                raise unreadable() from exc
            raise


def unreadable() -> ApiError:
    return bad_request(
        "unreadable_file",
        "Không đọc được tệp: hãy lưu lại dưới dạng CSV (UTF-8) hoặc XLSX rồi gửi lại",
    )


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
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise bad_request("unsupported_file", "Chỉ nhận tệp .csv hoặc .xlsx")
    content = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise bad_request("file_too_large", "Tệp quá lớn (tối đa 5 MB)")
    max_rows = context.settings.import_max_rows
    # Parsing and checking a file is long work: off the event loop, so no request waits.
    created = await run_in_threadpool(_import, db, scope, content, suffix, max_rows)
    return ImportReport(created=created, problems=[])
