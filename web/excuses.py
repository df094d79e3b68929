"""Leave and trips (Nghỉ phép, công tác): the list in scope with filters, entering one,
approving (duyệt), cancelling (hủy, after a confirmation page) and importing a file. Each route
calls services/excuses.py, which queues the covered days for recompute; the page says so.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Invalid, KcError, NotFound
from kycuong.inputs import HIDDEN_CHARACTERS, hidden_characters_message
from kycuong.labels import EXCUSE, EXCUSE_STATUS
from services import excuses as excuse_service
from services.schemas import Excuse, ExcuseIn
from web import common
from web import session as web_session

router = APIRouter(include_in_schema=False)

common.nav("/nghi-phep", "Nghỉ phép, công tác", "excuses:read", 50)

# The radio buttons of the form: the whole day, or one half (the schedule's names resolve them).
SESSIONS = {"": "Cả ngày", "sáng": "Buổi sáng", "chiều": "Buổi chiều"}
RECOMPUTE_NOTE = "Các ngày này được tính lại: vi phạm của những ngày đó cập nhật sau ít phút."
Csrf = Annotated[str, Form(max_length=128)]


def _span(excuse: Excuse) -> str:
    first, last = common.local_date(excuse.first_day), common.local_date(excuse.last_day)
    return first if first == last else f"{first}–{last}"


def _notice(db: DbSession, visitor: web_session.Visitor, code: str) -> str | None:
    """The result of the last change, rebuilt from the link (an action and an id only)."""
    action, _, number = code.partition("-")
    excuse_id = common.row_id(number)
    if excuse_id is None or action not in ("tao", "duyet", "huy"):
        return None
    try:
        excuse = excuse_service.detail(db, visitor.scope, excuse_id)
    except KcError:
        return None
    who = f"{excuse.kind_label} của {excuse.employee_name} ({_span(excuse)})"
    if action == "tao":
        return f"Đã ghi {who}, trạng thái: {excuse.status_label}. {RECOMPUTE_NOTE}"
    if action == "duyet":
        return f"Đã duyệt {who}. {RECOMPUTE_NOTE}"
    return f"Đã hủy {who}. {RECOMPUTE_NOTE}"


@router.get("/nghi-phep", response_class=HTMLResponse)
def excuses_page(
    request: Request,
    can_bo: str = "",
    loai: str = "",
    tu: str = "",
    den: str = "",
    trang_thai: str = "",
    msg: str = "",
) -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        # a date or a choice that cannot be read is said beside its field, the other filters
        # kept, and no rows: never the rows of another filter than the one asked for
        dates, field_errors = common.date_range(tu, den)
        chosen, choice_errors = common.picked(
            common.ChoiceField("loai", "Loại", loai, EXCUSE),
            common.ChoiceField("trang_thai", "Trạng thái", trang_thai, EXCUSE_STATUS),
        )
        field_errors |= choice_errors
        filters = {
            "can_bo": can_bo.strip()[:64],
            "loai": chosen["loai"],
            "tu": tu[:32],
            "den": den[:32],
            "trang_thai": chosen["trang_thai"],
        }
        error = None
        items: list[Excuse] = []
        try:
            people = excuse_service.people(db, visitor.scope)
            if not field_errors:
                query = excuse_service.ExcuseQuery(
                    employee_code=filters["can_bo"] or None,
                    date_from=dates["tu"],
                    date_to=dates["den"],
                    status=filters["trang_thai"] or None,
                    kind=filters["loai"] or None,
                )
                items = excuse_service.listing(db, visitor.scope, query)
        except KcError as exc:
            if exc.status == 403:
                return common.refused(request, visitor, 403, exc.message)
            error, people = exc.message, []
        return common.page(
            request,
            "excuses.html",
            400 if error or field_errors else 200,
            visitor=visitor,
            field_errors=field_errors,
            items=items,
            people=people,
            filters=filters,
            error=error,
            notice=_notice(db, visitor, msg),
            may_write=visitor.scope.may("excuses:write"),
            may_import=visitor.scope.may("excuses:import"),
            span=_span,
        )


# The field a refusal is about, by its code or the label its message starts with.
FIELD_OF_CODE = {
    "missing_date": "first_day",
    "missing_employee": "employee",
    "ambiguous_person": "employee",
    "invalid_kind": "kind",
}
FIELD_OF_LABEL = {
    "Từ ngày": "first_day",
    "Đến ngày": "last_day",
    "Ghi chú": "note",
    "Buổi": "session",
}


def _form(
    request: Request,
    db: DbSession,
    visitor: web_session.Visitor,
    status: int,
    values: dict[str, str],
    field_errors: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    return common.page(
        request,
        "excuse_new.html",
        status,
        visitor=visitor,
        people=excuse_service.people(db, visitor.scope),
        sessions=SESSIONS,
        error=error,
        field_errors=field_errors or {},
        values=values,
    )


@router.get("/nghi-phep/moi", response_class=HTMLResponse)
def new_excuse_page(request: Request, can_bo: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            visitor.scope.require("excuses:write")
        except KcError as exc:
            return common.refused(request, visitor, exc.status, exc.message)
        return _form(request, db, visitor, 200, {"employee": can_bo[:64]})


@router.post("/nghi-phep/moi")
def create_excuse(
    request: Request,
    employee: Annotated[str, Form(max_length=300)] = "",
    kind: Annotated[str, Form(max_length=64)] = "",
    first_day: Annotated[str, Form(max_length=32)] = "",
    last_day: Annotated[str, Form(max_length=32)] = "",
    session: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    approved: Annotated[str, Form(max_length=8)] = "",
    csrf: Csrf = "",
) -> Response:
    values = {
        "employee": employee,
        "kind": kind,
        "first_day": first_day,
        "last_day": last_day,
        "session": session,
        "note": note,
        "approved": approved,
    }
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        db.commit()  # end the look-up's transaction: the change gets its own
        try:
            first = common.parse_date(first_day, "Từ ngày")
            if first is None:
                raise KcError("missing_date", "Hãy nhập ngày bắt đầu (dd/mm/yyyy)")
            last = common.parse_date(last_day, "Đến ngày") or first
            # "NV001 — Nguyễn Văn A" as the list suggests it, the code, or the full name.
            code = common.person_code(db, visitor.scope, employee)
            db.commit()
            if not code:
                raise KcError("missing_employee", "Hãy chọn cán bộ")
            if kind not in EXCUSE:
                raise KcError("invalid_kind", "Hãy chọn loại nghỉ, công tác trong danh sách")
            body = _excuse_in(code, kind, first, last, session, note, bool(approved))
            with db.begin():
                created = excuse_service.create(db, visitor.scope, body)
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)
        except KcError as exc:

            def again(field_errors: dict[str, str], message: str | None) -> Response:
                return _form(request, db, visitor, 400, values, field_errors, message)

            return common.form_refused(
                request, visitor, exc, again, FIELD_OF_CODE, FIELD_OF_LABEL, above=True
            )
    return RedirectResponse(f"/nghi-phep?msg=tao-{created.id}", status_code=303)


def _excuse_in(
    code: str, kind: str, first: date, last: date, session: str, note: str, approved: bool
) -> ExcuseIn:
    # a session that is none of the list's is refused, never read as the whole day
    session = common.pick({k: v for k, v in SESSIONS.items() if k}, session, "Buổi", "")
    try:
        return ExcuseIn(
            employee_code=code,
            kind=kind,  # type: ignore[arg-type]
            first_day=first,
            last_day=last,
            sessions=[session] if session else None,
            approved=approved,
            note=note,
        )
    except ValidationError as exc:
        if hidden := hidden_characters_message(exc.errors()):
            raise Invalid(HIDDEN_CHARACTERS, f"Ghi chú: {hidden}") from exc
        raise KcError("invalid_excuse", "Thông tin đơn nghỉ chưa hợp lệ, hãy kiểm tra lại") from exc


def _change(request: Request, excuse_id: str, csrf: str, status: str) -> Response:
    number = common.row_id(excuse_id)
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        db.commit()  # end the look-up's transaction: the change gets its own
        try:
            if number is None:
                raise NotFound("Đơn nghỉ")
            with db.begin():
                excuse_service.change_status(db, visitor.scope, number, status)
        except KcError as exc:
            return common.refused(request, visitor, exc.status, exc.message)
    action = "duyet" if status == "approved" else "huy"
    return RedirectResponse(f"/nghi-phep?msg={action}-{number}", status_code=303)


@router.post("/nghi-phep/{excuse_id}/duyet")
def approve_excuse(request: Request, excuse_id: str, csrf: Csrf = "") -> Response:
    return _change(request, excuse_id, csrf, "approved")


@router.get("/nghi-phep/{excuse_id}/huy", response_class=HTMLResponse)
def cancel_confirmation(request: Request, excuse_id: str) -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            number = common.row_id(excuse_id)
            if number is None:
                raise NotFound("Đơn nghỉ")
            visitor.scope.require("excuses:write")
            excuse = excuse_service.detail(db, visitor.scope, number)
        except KcError as exc:
            return common.refused(request, visitor, exc.status, exc.message)
        return common.page(
            request, "excuse_cancel.html", visitor=visitor, e=excuse, span=_span(excuse)
        )


@router.post("/nghi-phep/{excuse_id}/huy")
def cancel_excuse(request: Request, excuse_id: str, csrf: Csrf = "") -> Response:
    return _change(request, excuse_id, csrf, "cancelled")


@router.get("/nghi-phep/nhap-tep", response_class=HTMLResponse)
def import_page(request: Request) -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            visitor.scope.require("excuses:import")
        except KcError as exc:
            return common.refused(request, visitor, exc.status, exc.message)
        return common.page(
            request, "excuse_import.html", visitor=visitor, error=None, problems=[], created=None
        )


@router.post("/nghi-phep/nhap-tep")
def import_file(
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    csrf: Csrf = "",
) -> Response:
    """A CSV or XLSX of leave: all rows or none; every problem listed by row."""
    context = common.context(request)
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        db.commit()  # end the look-up's transaction: the import gets its own
        problems: list[str] = []
        try:
            if file is None or not file.filename:
                raise KcError("missing_file", "Hãy chọn tệp CSV hoặc XLSX để nhập")
            content = file.file.read(excuse_service.MAX_UPLOAD_BYTES + 1)
            with db.begin():
                report = excuse_service.import_upload(
                    db,
                    visitor.scope,
                    file.filename,
                    content,
                    context.settings.import_max_rows,
                )
        except KcError as exc:
            if exc.status == 403:
                return common.refused(request, visitor, 403, exc.message)
            if isinstance(exc.details, list):
                problems = [str(p) for p in exc.details][:200]
            return common.page(
                request,
                "excuse_import.html",
                400,
                visitor=visitor,
                error=exc.message,
                problems=problems,
                created=None,
            )
        return common.page(
            request,
            "excuse_import.html",
            visitor=visitor,
            error=None,
            problems=[],
            created=report.created,
            note=RECOMPUTE_NOTE,
        )
