"""The roster (đơn vị, cán bộ): list units and people in scope; preview and import a file.

The same service as the page "Nhập danh sách" and ``kycuong import``: a preview writes
nothing; an import writes the whole file or nothing (400 with the reasons per row).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api.deps import ApiContext, Context, DbSession, require
from api.errors import responses
from rules.zones import zone
from services import roster as service
from services.schemas import PersonOut, RosterPreviewOut, RosterRowOut, UnitOut
from services.scope import Scope

router = APIRouter(prefix="/api", tags=["Đơn vị, cán bộ"])
Reader = Annotated[Scope, Depends(require("roster:read"))]
Writer = Annotated[Scope, Depends(require("roster:write"))]
Kind = Literal["units", "employees"]
Encoding = Literal["", "utf-8", "utf-16", "cp1258"]


@router.get(
    "/units",
    response_model=list[UnitOut],
    responses=responses(401, 403),
    summary="Cây đơn vị trong phạm vi",
)
def list_units(db: DbSession, scope: Reader) -> list[UnitOut]:
    return [UnitOut.model_validate(n, from_attributes=True) for n in service.unit_tree(db, scope)]


@router.get(
    "/employees",
    response_model=list[PersonOut],
    responses=responses(401, 403, 404, 422),
    summary="Cán bộ trong phạm vi (tìm theo tên, mã, đơn vị)",
)
def list_people(
    db: DbSession,
    scope: Reader,
    q: Annotated[str, Query(max_length=100)] = "",
    unit_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> list[PersonOut]:
    found = service.people(db, scope, q, unit_id, page)
    return [PersonOut.model_validate(p, from_attributes=True) for p in found.items]


def _out(preview: service.Preview, applied: service.Applied | None = None) -> RosterPreviewOut:
    return RosterPreviewOut(
        kind=preview.kind,  # type: ignore[arg-type]
        summary=preview.summary(),
        notes=list(preview.notes),
        rows=[
            RosterRowOut(
                line=r.line,
                action=r.action,  # type: ignore[arg-type]
                action_label=r.action_label,
                code=r.code,
                name=r.name,
                changes=list(r.changes),
                reasons=list(r.reasons),
                warnings=list(r.warnings),
            )
            for r in preview.rows
        ],
        digest=preview.digest,
        applied=applied is not None,
        cards_assigned=applied.cards_assigned if applied else 0,
        punches_matched=applied.punches_matched if applied else 0,
    )


@router.post(
    "/roster/{kind}/preview",
    response_model=RosterPreviewOut,
    responses=responses(400, 401, 403, 422),
    summary="Xem trước tệp danh sách (không ghi gì)",
)
async def preview(
    kind: Kind,
    file: UploadFile,
    db: DbSession,
    scope: Writer,
    context: Context,
    encoding: Encoding = "",
) -> RosterPreviewOut:
    content = await file.read(service.MAX_UPLOAD_BYTES + 1)
    return await run_in_threadpool(
        _run, db, scope, kind, file.filename or "", content, encoding, context, False, None
    )


@router.post(
    "/roster/{kind}/import",
    response_model=RosterPreviewOut,
    responses=responses(400, 401, 403, 409, 422),
    summary="Nhập tệp danh sách: cả tệp hoặc không gì cả",
)
async def import_file(
    kind: Kind,
    file: UploadFile,
    db: DbSession,
    scope: Writer,
    context: Context,
    encoding: Encoding = "",
    digest: Annotated[str | None, Query(max_length=64)] = None,
) -> RosterPreviewOut:
    """``digest`` (from a preview) refuses the import (409) if the plan changed since."""
    content = await file.read(service.MAX_UPLOAD_BYTES + 1)
    return await run_in_threadpool(
        _run, db, scope, kind, file.filename or "", content, encoding, context, True, digest
    )


def _run(
    db: Session,
    scope: Scope,
    kind: str,
    filename: str,
    content: bytes,
    encoding: str,
    context: ApiContext,
    write: bool,
    digest: str | None,
) -> RosterPreviewOut:
    """Read the file and plan it (``write``: and apply it, all or nothing), as the page does."""
    settings = context.settings
    today = datetime.now(zone(settings.timezone)).date()
    table = service.read(content, filename, kind, encoding, settings.import_max_rows)
    if not write:
        return _out(service.preview(db, scope, kind, table, today))
    applied = service.apply(db, scope, kind, table, today, digest)
    return _out(applied.preview, applied)
