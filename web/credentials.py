"""The credential pages: "Thẻ chưa đăng ký" (each unknown card or enrolment number with its
reader, first and last seen, count) with "Gán cho cán bộ…", and a person's "Thẻ và mã chấm
công" (list, register on a reader or a group). Registering matches the punches already
received, so the person's days and violations are recomputed."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Forbidden, KcError, NotFound
from kycuong.labels import CREDENTIAL_KIND
from services import credentials as service
from store.models import Employee
from web import common
from web import session as web_session

router = APIRouter(include_in_schema=False)

common.nav("/the-chua-dang-ky", "Thẻ chưa đăng ký", "credentials:read", 60)

_ASSIGN = "/the-chua-dang-ky/gan"


def _notice(db: DbSession, code: str) -> tuple[str | None, int | None]:
    """The result of an assignment, from ids and counts in the link (never free text)."""
    who, _, matched = code.partition(".")
    person = db.get(Employee, int(who)) if who.isdigit() and int(who) < 2**31 else None
    if person is None or not matched.isdigit():
        return None, None
    return (
        f"Đã gán cho {person.full_name} ({person.code}); {matched} lượt chấm công đã nhận được "
        "ghép, ngày công và vi phạm của cán bộ được tính lại.",
        person.id,
    )


@router.get("/the-chua-dang-ky", response_class=HTMLResponse)
def unknown_page(request: Request, may: str = "", da_gan: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            rows = service.unknown(db, visitor.scope)
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        if may:
            rows = [r for r in rows if r.device_id == may]
        notice, person_id = _notice(db, da_gan)
        return common.page(
            request,
            "unknown_credentials.html",
            visitor=visitor,
            rows=rows,
            device=may,
            notice=notice,
            person_id=person_id,
            may_assign=visitor.scope.may("credentials:write"),
            may_violations=visitor.scope.may("violations:read"),
        )


def _assign_form(
    request: Request,
    db: DbSession,
    visitor: web_session.Visitor,
    kind: str,
    value: str,
    device_id: str,
    *,
    status: int = 200,
    error: str | None = None,
    chosen: dict[str, str] | None = None,
) -> Response:
    rows = [
        r
        for r in service.unknown(db, visitor.scope)
        if (r.kind, r.value, r.device_id) == (kind, value, device_id)
    ]
    if not rows:
        raise NotFound("Thẻ chưa đăng ký")
    row = rows[0]
    choices = (
        [service.ScopeChoice("", "Mọi máy của cơ quan (thẻ)")]
        if kind == "card"
        else service.unknown_choices(db, visitor.scope, device_id)
    )
    first_day = row.first_seen.astimezone(common.tz(request)).strftime("%d/%m/%Y")
    return common.page(
        request,
        "assign_credential.html",
        status,
        visitor=visitor,
        row=row,
        choices=choices,
        people=service.people_for(db, visitor.scope),
        error=error,
        form=chosen or {"tu": first_day, "pham_vi": choices[0].key, "can_bo": ""},
    )


@router.get(_ASSIGN, response_class=HTMLResponse)
def assign_page(request: Request, loai: str = "", ma: str = "", may: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            visitor.scope.require("credentials:write")
            return _assign_form(request, db, visitor, loai, ma, may)
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)


@router.post(_ASSIGN)
def assign_action(
    request: Request,
    loai: Annotated[str, Form(max_length=16)] = "",
    ma: Annotated[str, Form(max_length=128)] = "",
    may: Annotated[str, Form(max_length=64)] = "",
    can_bo: Annotated[str, Form(max_length=300)] = "",
    pham_vi: Annotated[str, Form(max_length=80)] = "",
    tu: Annotated[str, Form(max_length=32)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        db.rollback()  # the visitor's read ends; the registration is one transaction
        try:
            with db.begin():
                # The picker shows "CODE — Name"; a code or a full name typed works too.
                code = common.person_code(db, visitor.scope, can_bo)
                valid_from = common.parse_date(tu, "Hiệu lực từ ngày")
                if valid_from is None:
                    raise KcError("missing_date", "Hãy nhập ngày bắt đầu hiệu lực (dd/mm/yyyy).")
                done = service.register(
                    db,
                    visitor.scope,
                    service.CredentialIn(code, loai, ma, pham_vi, valid_from),
                    web_session.now_utc(),
                )
            return RedirectResponse(
                f"/the-chua-dang-ky?da_gan={done.person.id}.{done.punches_matched}",
                status_code=303,
            )
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except KcError as exc:
            error = exc.message
        try:
            return _assign_form(
                request,
                db,
                visitor,
                loai,
                ma,
                may,
                status=400,
                error=error,
                chosen={"tu": tu, "pham_vi": pham_vi, "can_bo": can_bo},
            )
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)


@router.get("/can-bo/{employee_id}/the", response_class=HTMLResponse)
def person_page(request: Request, employee_id: str, luu: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        return _person(request, db, visitor, employee_id, notice=_saved(luu))


def _saved(code: str) -> str | None:
    if code == "da-giu":
        return "Cán bộ đã giữ mã này; không có gì thay đổi."
    if code.isdigit() and int(code) < 10**9:
        return f"Đã lưu; {code} lượt chấm công đã nhận được ghép cho cán bộ."
    return None


def _person(
    request: Request,
    db: DbSession,
    visitor: web_session.Visitor,
    employee_id: str,
    *,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    number = common.row_id(employee_id)
    try:
        if number is None:
            raise NotFound("Cán bộ")
        listed = service.of_person(db, visitor.scope, number, web_session.now_utc())
    except Forbidden as exc:
        return common.refused(request, visitor, 403, exc.message)
    except NotFound as exc:
        return common.not_found(request, visitor, exc.message)
    today = web_session.now_utc().astimezone(common.tz(request)).date()
    return common.page(
        request,
        "person_credentials.html",
        status,
        visitor=visitor,
        listed=listed,
        kinds=CREDENTIAL_KIND,
        notice=notice,
        error=error,
        form=form
        or {"loai": "card", "ma": "", "pham_vi": "", "tu": f"{today:%d/%m/%Y}", "den": ""},
    )


@router.post("/can-bo/{employee_id}/the")
def person_add(
    request: Request,
    employee_id: str,
    loai: Annotated[str, Form(max_length=16)] = "",
    ma: Annotated[str, Form(max_length=200)] = "",
    pham_vi: Annotated[str, Form(max_length=80)] = "",
    tu: Annotated[str, Form(max_length=32)] = "",
    den: Annotated[str, Form(max_length=32)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    form = {"loai": loai, "ma": ma, "pham_vi": pham_vi, "tu": tu, "den": den}
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        db.rollback()  # the visitor's read ends; the registration is one transaction
        number = common.row_id(employee_id)
        try:
            with db.begin():
                if number is None:
                    raise NotFound("Cán bộ")
                person = service.find_person(
                    db, visitor.scope.require("credentials:write"), employee_id=number
                )
                valid_from: date | None = common.parse_date(tu, "Hiệu lực từ ngày")
                if valid_from is None:
                    raise KcError("missing_date", "Hãy nhập ngày bắt đầu hiệu lực (dd/mm/yyyy).")
                done = service.register(
                    db,
                    visitor.scope,
                    service.CredentialIn(
                        person.code,
                        loai,
                        ma,
                        pham_vi,
                        valid_from,
                        common.parse_date(den, "Đến ngày"),
                    ),
                    web_session.now_utc(),
                )
            code = "da-giu" if done.already_held else str(done.punches_matched)
            return RedirectResponse(f"/can-bo/{number}/the?luu={code}", status_code=303)
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)
        except KcError as exc:
            error = exc.message
        return _person(request, db, visitor, employee_id, status=400, error=error, form=form)
