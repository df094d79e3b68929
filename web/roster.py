"""The roster pages: Đơn vị (the unit tree of the visitor's scope, the card format), Cán bộ
(search, view, edit unit, title, start and end dates) and Nhập danh sách (upload a file, see
the preview row by row, then "Áp dụng": all or nothing). Each route: parse, one service call,
render; outside the visitor's scope is the 404 page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kycuong.errors import Forbidden, KcError, NotFound
from services import roster as service
from services.tabular import ENCODINGS
from web import common
from web import session as web_session

router = APIRouter(include_in_schema=False)

common.nav("/don-vi", "Đơn vị", "roster:read", 50)
common.nav("/can-bo", "Cán bộ", "roster:read", 60)
common.nav("/nhap-danh-sach", "Nhập danh sách", "roster:write", 70)

_NOTICES = {
    "the": "Đã lưu định dạng số thẻ.",
    "luu": "Đã lưu thay đổi của cán bộ.",
}


def _today(request: Request):  # type: ignore[no-untyped-def]
    return web_session.now_utc().astimezone(common.tz(request)).date()


@router.get("/don-vi", response_class=HTMLResponse)
def units_page(request: Request, msg: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            tree = service.unit_tree(db, visitor.scope)
            agencies = service.agency_formats(db, visitor.scope)
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        return common.page(
            request,
            "units.html",
            visitor=visitor,
            tree=tree,
            agencies=agencies,
            may_write=visitor.scope.may("roster:write"),
            notice=_NOTICES.get(msg),
            error=None,
        )


@router.post("/don-vi/dinh-dang-the")
def card_format_action(
    request: Request,
    agency: Annotated[str, Form(max_length=12)] = "",
    digits: Annotated[str, Form(max_length=4)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    with common.db(request) as db, db.begin():
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        try:
            agency_id = common.row_id(agency)
            if agency_id is None:
                raise NotFound("Cơ quan")
            text = digits.strip()
            if text and not text.isdigit():
                raise KcError("invalid_card_digits", "Số chữ số của thẻ phải là một số (4–20)")
            service.set_card_digits(db, visitor.scope, agency_id, int(text) if text else None)
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except KcError as exc:
            return common.refused(request, visitor, 400, exc.message)
    return RedirectResponse("/don-vi?msg=the", status_code=303)


@router.get("/can-bo", response_class=HTMLResponse)
def people_page(request: Request, q: str = "", don_vi: str = "", trang: str = "1") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            unit_id = common.unit_id(don_vi)
            number = common.link_number(trang, "Trang", 100_000) or 1
            page = service.people(db, visitor.scope, q, unit_id, number)
            tree = service.unit_tree(db, visitor.scope)
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        return common.page(
            request,
            "people.html",
            visitor=visitor,
            page=page,
            tree=tree,
            q=q[:100],
            unit_id=unit_id,
        )


@router.get("/can-bo/{person_id}", response_class=HTMLResponse)
def person_page(request: Request, person_id: str, msg: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            number = common.row_id(person_id)
            if number is None:
                raise NotFound("Cán bộ")
            view = service.person(db, visitor.scope, number)
            tree = service.unit_tree(db, visitor.scope)
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        return _person(request, visitor, view, tree, _NOTICES.get(msg), None, None, 200)


def _person(  # type: ignore[no-untyped-def]
    request: Request, visitor, view, tree, notice, error, form, status: int
) -> Response:
    p = view.person
    values = form or {
        "don_vi": p.unit_id,
        "chuc_vu": p.title or "",
        "tu_ngay": common.local_date(p.active_from),
        "den_ngay": common.local_date(p.active_to),
        "email": p.email or "",
        "dien_thoai": p.phone or "",
    }
    return common.page(
        request,
        "person.html",
        status,
        visitor=visitor,
        view=view,
        tree=tree,
        may_write=visitor.scope.may("roster:write"),
        notice=notice,
        error=error,
        form=values,
    )


@router.post("/can-bo/{person_id}")
def person_action(
    request: Request,
    person_id: str,
    don_vi: Annotated[str, Form(max_length=12)] = "",
    chuc_vu: Annotated[str, Form(max_length=300)] = "",
    tu_ngay: Annotated[str, Form(max_length=32)] = "",
    den_ngay: Annotated[str, Form(max_length=32)] = "",
    email: Annotated[str | None, Form(max_length=300)] = None,
    dien_thoai: Annotated[str | None, Form(max_length=64)] = None,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    form = {"don_vi": common.row_id(don_vi), "chuc_vu": chuc_vu, "tu_ngay": tu_ngay}
    form.update(den_ngay=den_ngay, email=email or "", dien_thoai=dien_thoai or "")
    with common.db(request) as db, db.begin():
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        number = common.row_id(person_id)
        try:
            if number is None:
                raise NotFound("Cán bộ")
            change = service.PersonEdit(
                unit_id=common.row_id(don_vi),
                title=chuc_vu,
                active_from=common.parse_date(tu_ngay, "Ngày bắt đầu"),
                active_to=common.parse_date(den_ngay, "Ngày kết thúc"),
                email=email,
                phone=dien_thoai,
            )
            service.edit_person(db, visitor.scope, number, change, _today(request))
            error = None
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except KcError as exc:
            error = exc.message
        if error is None:
            return RedirectResponse(f"/can-bo/{number}?msg=luu", status_code=303)
    assert number is not None
    with common.db(request) as db:
        view = service.person(db, visitor.scope, number)
        tree = service.unit_tree(db, visitor.scope)
    return _person(request, visitor, view, tree, None, error, form, 400)


@router.get("/nhap-danh-sach", response_class=HTMLResponse)
def import_page(request: Request, msg: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        if not visitor.scope.may("roster:write"):
            return common.refused(request, visitor, 403, Forbidden().message)
    done = msg.split("-")
    notice = None
    if len(done) == 3 and all(part.isdigit() for part in done):
        notice = f"Đã áp dụng: {done[0]} tạo mới, {done[1]} cập nhật, {done[2]} thẻ được cấp."
    return _import(request, visitor, None, None, None, 200, notice=notice)


def _import(  # type: ignore[no-untyped-def]
    request: Request, visitor, preview, upload_hash, error, status: int, **extra
) -> Response:
    return common.page(
        request,
        "roster_import.html",
        status,
        visitor=visitor,
        preview=preview,
        upload_hash=upload_hash,
        error=error,
        encodings=ENCODINGS,
        kinds={"employees": "Cán bộ (kèm số thẻ)", "units": "Đơn vị"},
        chosen=extra.pop("chosen", {"kind": "employees", "encoding": ""}),
        notice=extra.pop("notice", None),
        details=extra.pop("details", []),
    )


@router.post("/nhap-danh-sach", response_class=HTMLResponse)
async def import_preview(
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    loai: Annotated[str, Form(max_length=16)] = "employees",
    bang_ma: Annotated[str, Form(max_length=16)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    content = await file.read(service.MAX_UPLOAD_BYTES + 1) if file is not None else b""
    filename = (file.filename or "") if file is not None else ""
    return await run_in_threadpool(_preview_upload, request, content, filename, loai, bang_ma, csrf)


def _preview_upload(
    request: Request, content: bytes, filename: str, kind: str, encoding: str, csrf: str
) -> Response:
    chosen = {"kind": kind, "encoding": encoding}
    settings = common.context(request).settings
    with common.db(request) as db, db.begin():
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        try:
            visitor.scope.require("roster:write")
            if not content:
                raise KcError("no_file", "Hãy chọn tệp danh sách (.csv hoặc .xlsx) để tải lên.")
            if encoding not in ENCODINGS:
                raise KcError("invalid_encoding", "Bảng mã không hợp lệ")
            table = service.read(content, filename, kind, encoding, settings.import_max_rows)
            preview = service.preview(db, visitor.scope, kind, table, _today(request))
            handle = service.keep_upload(
                db, visitor.scope, kind, encoding, filename, content, web_session.now_utc()
            )
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except KcError as exc:
            return _import(request, visitor, None, None, exc.message, 400, chosen=chosen)
    return _import(request, visitor, preview, handle, None, 200, chosen=chosen)


@router.post("/nhap-danh-sach/ap-dung", response_class=HTMLResponse)
def import_apply(
    request: Request,
    ma: Annotated[str, Form(max_length=64)] = "",
    ban_xem_truoc: Annotated[str, Form(max_length=64)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    settings = common.context(request).settings
    with common.db(request) as db:
        with db.begin():  # the sign-in check reads; the file is applied in its own transaction
            visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        try:
            with db.begin():
                upload = service.kept_upload(db, visitor.scope, ma)
                kind = upload.kind
                table = service.read(
                    upload.content,
                    upload.filename,
                    kind,
                    upload.encoding,
                    settings.import_max_rows,
                )
                applied = service.apply(
                    db, visitor.scope, kind, table, _today(request), ban_xem_truoc or ""
                )
                service.forget_upload(db, upload)
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except KcError as exc:
            details = exc.details if isinstance(exc.details, list) else []
            return _import(request, visitor, None, None, exc.message, 400, details=details)
    p = applied.preview
    return RedirectResponse(
        f"/nhap-danh-sach?msg={p.count('create')}-{p.count('update')}-{applied.cards_assigned}",
        status_code=303,
    )
