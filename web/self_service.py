"""Self-service pages (cán bộ tự phục vụ): "Tháng này của tôi", one's requests (giải trình,
bổ sung giờ chấm, xin nghỉ, công tác); and the unit head's side: the
"Đề nghị" queue, one request with its decision, and the attachment served to those in scope.
A first sign-in with the one-time password goes through Đổi mật khẩu (web/users.py) first.

Each route: the visitor, the form token on POST, one service call, a 303 or a page."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from kycuong.errors import Invalid, KcError, NotFound
from kycuong.inputs import free_text
from kycuong.labels import EXCUSE, REQUEST_KIND, REQUEST_STATUS
from services import requests as request_service
from services import self_service
from services.days import legend
from web import common
from web import session as web_session

router = APIRouter(include_in_schema=False)

common.nav("/cua-toi", "Tháng này của tôi", "self:read", 5)
common.nav("/cua-toi/de-nghi", "Đề nghị của tôi", "self:read", 6)
common.nav("/de-nghi", "Đề nghị", "requests:read", 25)

NOTICES = {
    "da-gui": "Đã gửi đề nghị. Trưởng đơn vị sẽ xem xét.",
    "da-duyet": "Đã lưu quyết định.",
}


def now() -> datetime:
    """The instant requests are stamped and deadlines judged by (a test may set it)."""
    return web_session.now_utc()


def _today(request: Request) -> date:
    return now().astimezone(common.tz(request)).date()


def _limits(request: Request) -> request_service.Limits:
    settings = common.context(request).settings
    backdate = settings.leave_backdate_working_days
    return request_service.Limits(
        settings.explanation_working_days,
        settings.attachment_max_bytes,
        backdate_working_days=settings.explanation_working_days if backdate is None else backdate,
        ahead_days=settings.leave_ahead_days,
    )


# -- the person's own record ---------------------------------------------------------------


@router.get("/cua-toi", response_class=HTMLResponse)
def my_month_page(request: Request, thang: str = "", nam: str = "", luu: str = "") -> Response:
    today = _today(request)
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            values, errors = common.numbers(  # a link's month: a bad one said, not replaced
                common.NumberField("thang", "Tháng", thang, 1, 12, today.month),
                common.NumberField("nam", "Năm", nam, 2000, 2100, today.year),
            )
            if errors:
                raise Invalid("invalid_period", "; ".join(errors.values()))
            year, month = values["nam"], values["thang"]
            data = self_service.my_month(db, visitor.scope, year, month, common.tz(request), today)
        except KcError as exc:
            return common.refused(request, visitor, exc.status, exc.message)
        return common.page(
            request,
            "my_month.html",
            visitor=visitor,
            m=data,
            legend=legend(),
            notice=NOTICES.get(luu),
            REQUEST_STATUS=REQUEST_STATUS,
        )


@router.get("/cua-toi/de-nghi", response_class=HTMLResponse)
def my_requests_page(request: Request, luu: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            mine = request_service.mine(db, visitor.scope)
        except KcError as exc:
            return common.refused(request, visitor, exc.status, exc.message)
        return common.page(
            request,
            "my_requests.html",
            visitor=visitor,
            requests=mine,
            notice=NOTICES.get(luu),
        )


def _form_page(
    request: Request,
    visitor: web_session.Visitor,
    form: str,
    status: int = 200,
    error: str | None = None,
    **values: Any,
) -> Response:
    return common.page(
        request,
        "request_form.html",
        status,
        visitor=visitor,
        form=form,
        error=error,
        leave_kinds=[(k, EXCUSE[k]) for k in request_service.LEAVE_KINDS],
        trip_kinds=[(k, EXCUSE[k]) for k in request_service.TRIP_KINDS],
        max_mb=_limits(request).attachment_max_bytes / (1024 * 1024),
        working_days=_limits(request).working_days,
        backdate_days=_limits(request).backdate_working_days,
        ahead_days=_limits(request).ahead_days,
        values=values,
    )


def _own_violation_label(db: Any, visitor: web_session.Visitor, violation_id: int) -> str:
    from store.models import ViolationRecord

    violation = db.get(ViolationRecord, violation_id)
    if violation is None or violation.employee_id != visitor.scope.employee_id:
        raise NotFound("Vi phạm")
    return request_service._violation_label(violation) or ""


@router.get("/cua-toi/giai-trinh/{violation_id}", response_class=HTMLResponse)
def explain_page(request: Request, violation_id: str) -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        number = common.row_id(violation_id, 2**63 - 1)
        try:
            visitor.scope.require("requests:create")
            if number is None:
                raise NotFound("Vi phạm")
            label = _own_violation_label(db, visitor, number)
            request_service.check_explainable(db, number)
        except KcError as exc:
            return common.refused(request, visitor, exc.status, exc.message)
        return _form_page(request, visitor, "explanation", violation_id=number, violation=label)


@router.post("/cua-toi/giai-trinh/{violation_id}")
async def explain_action(request: Request, violation_id: str) -> Response:
    limits = _limits(request)
    form = await request.form(max_files=1, max_fields=10)
    csrf = str(form.get("csrf") or "")
    reason_kind = str(form.get("reason_kind") or "")[:32]
    note = str(form.get("note") or "")[: request_service.MAX_NOTE + 1]
    file = form.get("attachment")
    upload = None
    if isinstance(file, UploadFile) and file.filename:
        content = await file.read(limits.attachment_max_bytes + 1)
        upload = request_service.Upload(file.filename, content)
    number = common.row_id(violation_id, 2**63 - 1)
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        try:
            if number is None:
                raise NotFound("Vi phạm")
            request_service.explain(
                db,
                visitor.scope,
                number,
                reason_kind,
                free_text(note),
                upload,
                limits,
                now(),
                _today(request),
            )
            db.commit()
            return RedirectResponse("/cua-toi/de-nghi?luu=da-gui", status_code=303)
        except NotFound as exc:
            db.rollback()
            return common.not_found(request, visitor, exc.message)
        except KcError as exc:
            db.rollback()
            label = _own_violation_label(db, visitor, number) if number else ""
            return _form_page(
                request,
                visitor,
                "explanation",
                400,
                exc.message,
                violation_id=number,
                violation=label,
                reason_kind=reason_kind,
                note=note,
            )


@router.get("/cua-toi/bo-sung-gio-cham", response_class=HTMLResponse)
def missing_punch_page(request: Request, ngay: str = "", vi_pham: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            visitor.scope.require("requests:create")
            number = common.link_number(vi_pham, "Vi phạm", 2**63 - 1)
            label = _own_violation_label(db, visitor, number) if number else ""
            day = common.parse_date(ngay, "Ngày") or _today(request)
            choices = request_service.punch_choices(db, visitor.scope, day)
        except KcError as exc:
            return common.refused(request, visitor, exc.status, exc.message)
        return _form_page(
            request,
            visitor,
            "missing_punch",
            violation_id=number or "",
            violation=label,
            ngay=common.local_date(day),
            choices=choices,
            luot=request_service.suggested_punch(db, visitor.scope, number),
        )


@router.post("/cua-toi/bo-sung-gio-cham")
def missing_punch_action(
    request: Request,
    ngay: Annotated[str, Form(max_length=32)] = "",
    gio: Annotated[str, Form(max_length=16)] = "",
    luot: Annotated[str, Form(max_length=80)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    vi_pham: Annotated[str, Form(max_length=32)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        number = common.row_id(vi_pham, 2**63 - 1)
        try:
            day = common.parse_date(ngay, "Ngày")
            if day is None:
                raise Invalid("date_required", "Hãy nhập ngày quên chấm công")
            at = request_service.local_instant(day, gio, common.tz(request))
            request_service.request_missing_punch(
                db,
                visitor.scope,
                at,
                day,
                free_text(note),
                number,
                _limits(request),
                now(),
                _today(request),
                luot,
            )
            db.commit()
            return RedirectResponse("/cua-toi/de-nghi?luu=da-gui", status_code=303)
        except NotFound as exc:
            db.rollback()
            return common.not_found(request, visitor, exc.message)
        except KcError as exc:
            db.rollback()
            try:
                shown = common.parse_date(ngay, "Ngày") or _today(request)
            except KcError:
                shown = _today(request)
            return _form_page(
                request,
                visitor,
                "missing_punch",
                400,
                exc.message,
                violation_id=number or "",
                violation="",
                ngay=ngay,
                gio=gio,
                note=note,
                luot=luot,
                choices=request_service.punch_choices(db, visitor.scope, shown),
            )


@router.get("/cua-toi/xin-nghi", response_class=HTMLResponse)
def absence_page(request: Request, loai: str = "leave") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        if not visitor.scope.may("requests:create"):
            return common.refused(request, visitor, 403, "Chỉ cán bộ có tài khoản cá nhân gửi được")
        try:
            form = common.pick(ABSENCE_FORMS, loai, "Loại đề nghị", "leave")
        except KcError as exc:  # a link that names no form: the leave form, and why
            return _form_page(request, visitor, "leave", 400, exc.message)
        return _form_page(request, visitor, form)


@router.post("/cua-toi/xin-nghi")
def absence_action(
    request: Request,
    loai: Annotated[str, Form(max_length=16)] = "leave",
    excuse_kind: Annotated[str, Form(max_length=32)] = "",
    tu: Annotated[str, Form(max_length=32)] = "",
    den: Annotated[str, Form(max_length=32)] = "",
    buoi: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    kind: Literal["leave", "trip"] = "trip" if loai == "trip" else "leave"
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        try:
            common.pick(ABSENCE_FORMS, loai, "Loại đề nghị", "leave")  # never read as leave
            first = common.parse_date(tu, "Từ ngày")
            last = common.parse_date(den, "Đến ngày") or first
            if first is None or last is None:
                raise Invalid("date_required", "Hãy nhập ngày bắt đầu")
            # a session that is none of the list's is refused, never read as the whole day
            session = common.pick(SESSION_CHOICES, buoi, "Buổi", "")
            sessions = [session] if session else None
            request_service.request_absence(
                db,
                visitor.scope,
                kind,
                excuse_kind,
                first,
                last,
                sessions,
                free_text(note),
                _limits(request),
                now(),
                _today(request),
            )
            db.commit()
            return RedirectResponse("/cua-toi/de-nghi?luu=da-gui", status_code=303)
        except NotFound as exc:
            db.rollback()
            return common.not_found(request, visitor, exc.message)
        except KcError as exc:
            db.rollback()
            return _form_page(
                request,
                visitor,
                kind,
                400,
                exc.message,
                excuse_kind=excuse_kind,
                tu=tu,
                den=den,
                buoi=buoi,
                note=note,
            )


# -- one request, its attachment, the head's queue and decision ----------------------------


# The head's queue's list of statuses (code → label); "all" turns the filter off.
QUEUE_STATUS = {**REQUEST_STATUS, "all": common.ALL}
# The two forms of Xin nghỉ (``loai``): leave or a business trip.
ABSENCE_FORMS = {"leave": "Nghỉ", "trip": "Công tác"}
SESSION_CHOICES = {"morning": "Buổi sáng", "afternoon": "Buổi chiều"}


@router.get("/de-nghi", response_class=HTMLResponse)
def queue_page(request: Request, trang_thai: str = "pending", luu: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        # a status that is none of the list's: said beside it, the pending ones shown
        chosen, field_errors = common.picked(
            common.ChoiceField("trang_thai", "Trạng thái", trang_thai, QUEUE_STATUS, "pending")
        )
        shown = chosen["trang_thai"]
        try:
            items = request_service.queue(db, visitor.scope, None if shown == "all" else shown)
        except KcError as exc:
            return common.refused(request, visitor, exc.status, exc.message)
        return common.page(
            request,
            "requests_queue.html",
            400 if field_errors else 200,
            visitor=visitor,
            field_errors=field_errors,
            statuses=QUEUE_STATUS,
            requests=items,
            shown=shown,
            may_decide=visitor.scope.may("requests:decide"),
            notice=_decided_notice(luu),
        )


def _decided_notice(code: str) -> str | None:
    done, _, total = code.partition("-")
    if done.isdigit() and total.isdigit() and int(done) <= int(total) <= 500:
        return f"Đã lưu quyết định cho {done}/{total} đề nghị."
    return None


@router.get("/de-nghi/{request_id}", response_class=HTMLResponse)
def request_page(request: Request, request_id: str, luu: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        number = common.row_id(request_id, 2**63 - 1)
        try:
            if number is None:
                raise NotFound("Đề nghị")
            item = request_service.get(db, visitor.scope, number)
        except KcError as exc:
            return common.not_found(request, visitor, exc.message)
        return _request_view(request, visitor, item, notice=NOTICES.get(luu))


def _request_view(
    request: Request,
    visitor: web_session.Visitor,
    item: request_service.RequestView,
    status: int = 200,
    notice: str | None = None,
    error: KcError | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    field_errors = common.beside(error, DECISION_FIELDS) if error else {}
    return common.page(
        request,
        "request.html",
        status,
        visitor=visitor,
        r=item,
        may_decide=visitor.scope.may("requests:decide") and item.status == "pending",
        notice=notice,
        error=None if field_errors or error is None else error.message,
        field_errors=field_errors,
        values=values,
        REQUEST_KIND=REQUEST_KIND,
    )


# The field of the decision form a refusal is about (services.requests.decide).
DECISION_FIELDS = {
    "decision_required": "decision",
    "note_required": "note",
    "hidden_characters": "note",
}


@router.post("/de-nghi/{request_id}/quyet-dinh")
def decide_action(
    request: Request,
    request_id: str,
    decision: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        number = common.row_id(request_id, 2**63 - 1)
        try:
            if number is None:
                raise NotFound("Đề nghị")
            request_service.decide(db, visitor.scope, number, decision, free_text(note), now())
            db.commit()
            return RedirectResponse(f"/de-nghi/{number}?luu=da-duyet", status_code=303)
        except NotFound as exc:
            db.rollback()
            return common.not_found(request, visitor, exc.message)
        except KcError as exc:
            db.rollback()
            try:
                assert number is not None
                item = request_service.get(db, visitor.scope, number)
            except KcError:
                return common.refused(request, visitor, exc.status, exc.message)
            typed = {"decision": decision, "note": note}  # kept in the form
            return _request_view(request, visitor, item, exc.status, error=exc, values=typed)


@router.post("/de-nghi/quyet-dinh-nhieu")
async def decide_many_action(request: Request) -> Response:
    form = await request.form()
    raw = [str(v) for v in form.getlist("ids")]
    ids = [int(v) for v in raw if v.isdigit() and 0 < int(v) < 2**63][:500]
    decision = str(form.get("decision") or "")
    note = str(form.get("note") or "")[: request_service.MAX_NOTE]
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, str(form.get("csrf") or ""))
        if isinstance(visitor, Response):
            return visitor
        if not ids:
            return common.refused(request, visitor, 400, "Hãy đánh dấu ít nhất một đề nghị.")
        try:
            outcomes = request_service.decide_many(
                db, visitor.scope, ids, decision, free_text(note), now()
            )
            db.commit()
        except KcError as exc:
            db.rollback()
            return common.refused(request, visitor, exc.status, exc.message)
        done = sum(1 for o in outcomes if o.ok)
        failed = [o for o in outcomes if not o.ok]
        if not failed:
            return RedirectResponse(f"/de-nghi?luu={done}-{len(outcomes)}", status_code=303)
        # Say why each one was not decided, beside the queue to correct and resend.
        items = request_service.queue(db, visitor.scope, "pending")
        return common.page(
            request,
            "requests_queue.html",
            400 if done == 0 else 200,
            visitor=visitor,
            requests=items,
            shown="pending",
            statuses=QUEUE_STATUS,
            may_decide=visitor.scope.may("requests:decide"),
            notice=_decided_notice(f"{done}-{len(outcomes)}"),
            failures=[f"Đề nghị số {o.id}: {o.message}" for o in failed[:20]],
            values={"decision": decision, "note": note},
        )


@router.get("/de-nghi/{request_id}/tep")
def attachment_download(request: Request, request_id: str) -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        number = common.row_id(request_id, 2**63 - 1)
        try:
            if number is None:
                raise NotFound("Tệp đính kèm")
            file = request_service.attachment(db, visitor.scope, number)
        except KcError as exc:
            return common.not_found(request, visitor, exc.message)
    ascii_name = "".join(
        c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in file.filename
    )
    return Response(
        file.content,
        media_type=file.media_type,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file.filename)}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-store",
        },
    )
