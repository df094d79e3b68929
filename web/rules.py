"""The rules page (Quy định): an agency's schedule, calendar overrides, policy and tracking
start as people read them; a new rules file previewed (its effect) before it is saved.

HR clerks read; admins set the tracking start and load a file: upload → preview (what
would appear or be withdrawn, for whom, from which date) → save (confirmed above the
threshold). Each route: parse, one service call, render or redirect 303.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session as DbSession
from starlette.datastructures import UploadFile

from kycuong.errors import Forbidden, KcError, NotFound
from services import rules as rules_service
from web import common
from web import session as web_session

router = APIRouter(include_in_schema=False)

common.nav("/quy-dinh", "Quy định", "rules:read", 80)

MAX_FILE_BYTES = 256 * 1024
NOTICES = {
    "saved": "Đã lưu quy định mới; các ngày bị ảnh hưởng đang được tính lại.",
    "start": "Đã lưu ngày bắt đầu theo dõi; các ngày bị ảnh hưởng đang được tính lại.",
}


def _now(request: Request) -> datetime:
    return datetime.now(common.tz(request))


def _render(
    request: Request,
    db: DbSession,
    visitor: web_session.Visitor,
    agency_id: int | None,
    status: int = 200,
    **values: object,
) -> Response:
    agencies = rules_service.agencies(db, visitor.scope)
    if not agencies:
        return common.not_found(request, visitor, "Chưa có cơ quan nào trong phạm vi của bạn")
    chosen = agency_id if agency_id in {a.id for a in agencies} else agencies[0].id
    rules = rules_service.read(db, visitor.scope, chosen)
    return common.page(
        request,
        "rules.html",
        status,
        visitor=visitor,
        agencies=agencies,
        rules=rules,
        may_write=visitor.scope.may("rules:write"),
        today=_now(request).date(),
        **values,
    )


@router.get("/quy-dinh", response_class=HTMLResponse)
def rules_page(request: Request, co_quan: str = "", msg: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            agency = common.link_number(co_quan, "Cơ quan")
            return _render(request, db, visitor, agency, notice=NOTICES.get(msg))
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)


@router.post("/quy-dinh/xem-truoc")
async def preview_action(request: Request) -> Response:
    """Upload → the new rules as people will read them and their effect; nothing saved."""
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    agency_id = common.row_id(str(form.get("co_quan") or ""))
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, str(form.get("csrf") or ""))
        if isinstance(visitor, Response):
            return visitor
        if not visitor.scope.may("rules:write"):
            return common.refused(request, visitor, 403, Forbidden().message)
        content = b""
        filename = "tệp quy định"
        if isinstance(upload, UploadFile):  # starlette's UploadFile
            filename = upload.filename or filename
            content = await upload.read(MAX_FILE_BYTES + 1)
        try:
            if not content:
                raise KcError("rules_file", "Chưa chọn tệp quy định (TOML hoặc JSON)")
            if len(content) > MAX_FILE_BYTES:
                raise KcError("rules_file", "Tệp quy định quá lớn (tối đa 256 KB)")
            since = common.parse_date(str(form.get("tu_ngay") or ""), "Áp dụng từ ngày")
            return _preview(request, db, visitor, agency_id, content, filename, since)
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)
        except KcError as exc:
            return _render(request, db, visitor, agency_id, 400, error=exc.message)


def _preview(
    request: Request,
    db: DbSession,
    visitor: web_session.Visitor,
    agency_id: int | None,
    content: bytes,
    filename: str,
    since: date | None,
) -> Response:
    now = _now(request)
    day = since or now.date()
    doc = rules_service.parse(content, filename)
    if agency_id is None:
        raise NotFound("Cơ quan")
    effect = rules_service.preview(
        db,
        visitor.scope,
        agency_id,
        doc,
        day,
        now,
        now.date(),
        common.context(request).settings.confirm_threshold,
    )
    return _render(
        request,
        db,
        visitor,
        agency_id,
        preview=effect,
        new_schedule=rules_service.schedule_lines(doc.schedule),
        new_policy=rules_service.policy_lines(doc.policy),
        new_calendar=rules_service.calendar_lines(doc.calendar),
        new_schedule_name=doc.schedule.name,
        content=content.decode("utf-8-sig"),
        filename=filename,
        since=day,
    )


@router.post("/quy-dinh/luu")
def save_action(
    request: Request,
    co_quan: Annotated[str, Form(max_length=16)] = "",
    noi_dung: Annotated[str, Form(max_length=MAX_FILE_BYTES)] = "",
    ten_tep: Annotated[str, Form(max_length=255)] = "",
    tu_ngay: Annotated[str, Form(max_length=32)] = "",
    dong_y: Annotated[str, Form(max_length=8)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Save a previewed file; above the threshold only with the confirmation ticked."""
    agency_id = common.row_id(co_quan)
    with common.db(request) as db, db.begin():
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        if agency_id is None:
            return common.not_found(request, visitor, NotFound("Cơ quan").message)
        now = _now(request)
        try:
            doc = rules_service.parse(noi_dung, ten_tep or "tệp quy định")
            since = common.parse_date(tu_ngay, "Áp dụng từ ngày") or now.date()
            if dong_y != "co":
                effect = rules_service.preview(
                    db,
                    visitor.scope,
                    agency_id,
                    doc,
                    since,
                    now,
                    now.date(),
                    common.context(request).settings.confirm_threshold,
                )
                if effect.needs_confirmation:
                    raise KcError(
                        "confirm",
                        "Thay đổi này lớn: hãy xem trước và đánh dấu “Tôi đã xem và đồng ý” "
                        "trước khi lưu.",
                    )
            with db.begin_nested():  # all or nothing: a refusal leaves no half-saved rules
                rules_service.save(db, visitor.scope, agency_id, doc, since, now.date())
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)
        except KcError as exc:
            return _render(request, db, visitor, agency_id, 400, error=exc.message)
    return RedirectResponse(f"/quy-dinh?co_quan={agency_id}&msg=saved", status_code=303)


@router.post("/quy-dinh/ngay-bat-dau")
def tracking_start_action(
    request: Request,
    co_quan: Annotated[str, Form(max_length=16)] = "",
    ngay: Annotated[str, Form(max_length=32)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    dong_y: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Set (or clear, when empty) the agency's tracking start (ngày bắt đầu theo dõi).

    An earlier date makes the days between judgeable: above the threshold its effect is shown
    first and saved only with "Tôi đã xem và đồng ý" (as `kycuong agencies set-start` asks).
    """
    agency_id = common.row_id(co_quan)
    with common.db(request) as db, db.begin():
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        if agency_id is None:
            return common.not_found(request, visitor, NotFound("Cơ quan").message)
        try:
            day = common.parse_date(ngay, "Ngày bắt đầu theo dõi")
            visitor.scope.require("rules:write")
            agency = rules_service.agency_in_scope(db, visitor.scope, agency_id)
            today = _now(request).date()
            effect = rules_service.preview_change(
                db,
                lambda: rules_service.tracking_keys(db, agency, day, today),
                _now(request),
                common.context(request).settings.confirm_threshold,
            )
            if effect.needs_confirmation and dong_y != "co":
                return _render(request, db, visitor, agency_id, start_preview=effect, start_day=day)
            with db.begin_nested():
                rules_service.set_tracking_start(
                    db, visitor.scope, agency_id, day, _now(request).date()
                )
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)
        except KcError as exc:
            return _render(request, db, visitor, agency_id, 400, error=exc.message)
    return RedirectResponse(f"/quy-dinh?co_quan={agency_id}&msg=start", status_code=303)
