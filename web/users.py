"""Users (Người dùng) for admins: list, create, lock and unlock, reset a password, change role
and scope, with each account's history; and Đổi mật khẩu for everyone signed in. Each route:
parse, one call to services/accounts.py, render or redirect (303) with a short notice code.

A password made by the system is shown once, in the answer to the POST that made it (never in
a link, a log or a later page).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import KcError, NotFound
from kycuong.inputs import HIDDEN_CHARACTERS
from kycuong.labels import ROLE
from services import accounts
from store.models import User
from web import common
from web import session as web_session

router = APIRouter(include_in_schema=False)

common.nav("/nguoi-dung", "Người dùng", "users:admin", 80)

NOTICES = {
    "da-khoa": "Đã khóa tài khoản; mọi phiên đăng nhập của người này đã kết thúc.",
    "da-mo-khoa": "Đã mở khóa tài khoản.",
    "da-doi-vai-tro": "Đã đổi vai trò, phạm vi; có hiệu lực ngay từ thao tác tiếp theo.",
    "khong-doi": "Không có gì thay đổi.",
}
STATES = {"hoat-dong": True, "da-khoa": False}
STATE_CHOICES = {"hoat-dong": "Đang hoạt động", "da-khoa": "Đã khóa"}
Text = Annotated[str, Form(max_length=255)]
Csrf = Annotated[str, Form(max_length=128)]


def _assignment(role: str, unit: str, agency: str) -> accounts.Assignment:
    return accounts.Assignment(
        accounts.role_of(role) if role else "",
        unit_id=common.row_id(unit),
        agency_id=common.row_id(agency),
    )


@router.get("/nguoi-dung", response_class=HTMLResponse)
def users_page(request: Request, q: str = "", vai_tro: str = "", trang_thai: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        # a role or state that is none of the list's: said beside it, every account shown
        chosen, field_errors = common.picked(
            common.ChoiceField("vai_tro", "Vai trò", vai_tro, ROLE),
            common.ChoiceField("trang_thai", "Trạng thái", trang_thai, STATE_CHOICES),
        )
        try:
            query = accounts.AccountQuery(
                text=q[:64] or None,
                role=chosen["vai_tro"] or None,
                active=STATES.get(chosen["trang_thai"]),
            )
            users = accounts.listing(db, visitor.scope, query)
        except KcError as exc:
            return common.refused(request, visitor, exc.status, exc.message)
        return common.page(
            request,
            "users.html",
            400 if field_errors else 200,
            visitor=visitor,
            users=users,
            roles=ROLE,
            states=STATE_CHOICES,
            field_errors=field_errors,
            filters={"q": q[:64], **chosen},
        )


def _new_form(
    request: Request,
    db: DbSession,
    visitor: web_session.Visitor,
    status: int,
    error: str | None,
    values: dict[str, Any],
    field_errors: dict[str, str] | None = None,
) -> Response:
    agencies, units = accounts.places(db, visitor.scope)
    return common.page(
        request,
        "user_new.html",
        status,
        visitor=visitor,
        roles=accounts.ASSIGNABLE,
        agencies=agencies,
        units=units,
        error=error,
        values=values,
        field_errors=field_errors or {},
    )


@router.get("/nguoi-dung/moi", response_class=HTMLResponse)
def new_user_page(request: Request) -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            return _new_form(request, db, visitor, 200, None, {"must_change": True})
        except KcError as exc:
            return common.refused(request, visitor, exc.status, exc.message)


@router.post("/nguoi-dung/moi")
def create_user(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    full_name: Text = "",
    role: Annotated[str, Form(max_length=64)] = "",
    unit: Annotated[str, Form(max_length=12)] = "",
    agency: Annotated[str, Form(max_length=12)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    must_change: Annotated[str, Form(max_length=8)] = "",
    csrf: Csrf = "",
) -> Response:
    values = {
        "username": username,
        "full_name": full_name,
        "role": role,
        "unit": common.row_id(unit),
        "agency": common.row_id(agency),
        "must_change": bool(must_change),
    }
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        db.commit()  # end the look-up's transaction: the change gets its own
        try:
            with db.begin():
                issued = accounts.create(
                    db,
                    visitor.scope,
                    accounts.NewAccount(
                        username,
                        full_name,
                        _assignment(role, unit, agency),
                        password or None,
                        bool(must_change),
                    ),
                    web_session.now_utc(),
                )
        except KcError as exc:
            if exc.status == 403:
                return common.refused(request, visitor, 403, exc.message)
            if exc.code == HIDDEN_CHARACTERS:  # said beside the name, the typed text kept
                errors = {"full_name": exc.message}
                return _new_form(request, db, visitor, exc.status, None, values, errors)
            return _new_form(request, db, visitor, exc.status, exc.message, values)
        return _user_page(request, db, visitor, issued.account.id, issued=issued, status=201)


def _user_page(
    request: Request,
    db: DbSession,
    visitor: web_session.Visitor,
    user_id: int,
    *,
    issued: accounts.Issued | None = None,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    found = accounts.detail(db, visitor.scope, user_id)
    agencies, units = accounts.places(db, visitor.scope)
    return common.page(
        request,
        "user.html",
        status,
        visitor=visitor,
        u=found.account,
        history=found.history,
        issued=issued,
        notice=notice,
        error=error,
        roles=accounts.ASSIGNABLE,
        agencies=agencies,
        units=units,
        is_self=found.account.id == visitor.scope.user_id,
    )


@router.get("/nguoi-dung/{user_id}", response_class=HTMLResponse)
def user_page(request: Request, user_id: str, msg: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        number = common.row_id(user_id)
        try:
            if number is None:
                raise NotFound("Người dùng")
            return _user_page(request, db, visitor, number, notice=NOTICES.get(msg))
        except KcError as exc:
            return common.refused(request, visitor, exc.status, exc.message)


@router.get("/nguoi-dung/{user_id}/{action}")
def action_address(user_id: str, action: str) -> Response:
    """The address a change was posted to, opened again (reload, Enter): back to the user."""
    number = common.row_id(user_id)
    return RedirectResponse(f"/nguoi-dung/{number}" if number else "/nguoi-dung", status_code=303)


Action = Callable[[DbSession, web_session.Visitor, int], "accounts.Issued | str"]


def _act(request: Request, user_id: str, csrf: str, action: Action) -> Response:
    """The frame of every change on one user: session, CSRF, one transaction, the outcome."""
    number = common.row_id(user_id)
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        db.commit()  # end the look-up's transaction: the change gets its own
        if number is None:
            return common.not_found(request, visitor, NotFound("Người dùng").message)
        try:
            with db.begin():
                outcome = action(db, visitor, number)
        except KcError as exc:
            if exc.status in (403, 404):
                return common.refused(request, visitor, exc.status, exc.message)
            return _user_page(request, db, visitor, number, error=exc.message, status=exc.status)
        if isinstance(outcome, accounts.Issued):  # a password to show once: no redirect
            return _user_page(request, db, visitor, number, issued=outcome)
    if outcome == "signed-out":  # the admin locked their own account
        return RedirectResponse("/", status_code=303)
    return RedirectResponse(f"/nguoi-dung/{number}?msg={outcome}", status_code=303)


@router.post("/nguoi-dung/{user_id}/khoa")
def lock_user(request: Request, user_id: str, csrf: Csrf = "") -> Response:
    def lock(db: DbSession, visitor: web_session.Visitor, number: int) -> str:
        accounts.set_active(db, visitor.scope, number, False, web_session.now_utc())
        return "signed-out" if number == visitor.scope.user_id else "da-khoa"

    return _act(request, user_id, csrf, lock)


@router.post("/nguoi-dung/{user_id}/mo-khoa")
def unlock_user(request: Request, user_id: str, csrf: Csrf = "") -> Response:
    def unlock(db: DbSession, visitor: web_session.Visitor, number: int) -> str:
        accounts.set_active(db, visitor.scope, number, True, web_session.now_utc())
        return "da-mo-khoa"

    return _act(request, user_id, csrf, unlock)


@router.post("/nguoi-dung/{user_id}/cap-lai-mat-khau")
def reset_password(
    request: Request,
    user_id: str,
    password: Annotated[str, Form(max_length=256)] = "",
    must_change: Annotated[str, Form(max_length=8)] = "",
    csrf: Csrf = "",
) -> Response:
    def reset(db: DbSession, visitor: web_session.Visitor, number: int) -> accounts.Issued:
        return accounts.reset_password(
            db,
            visitor.scope,
            number,
            web_session.now_utc(),
            password=password or None,
            must_change=bool(must_change),
        )

    return _act(request, user_id, csrf, reset)


@router.post("/nguoi-dung/{user_id}/vai-tro")
def assign_role(
    request: Request,
    user_id: str,
    role: Annotated[str, Form(max_length=64)] = "",
    unit: Annotated[str, Form(max_length=12)] = "",
    agency: Annotated[str, Form(max_length=12)] = "",
    csrf: Csrf = "",
) -> Response:
    def change(db: DbSession, visitor: web_session.Visitor, number: int) -> str:
        before = accounts.detail(db, visitor.scope, number).account
        after = accounts.assign(
            db, visitor.scope, number, _assignment(role, unit, agency), web_session.now_utc()
        )
        same = (before.role, before.scope_label) == (after.role, after.scope_label)
        return "khong-doi" if same else "da-doi-vai-tro"

    return _act(request, user_id, csrf, change)


# Đổi mật khẩu: every signed-in user, including one whose password an admin just reset.


def _safe_next(target: str) -> str:
    return common.safe_next(target, "/")


@router.get("/doi-mat-khau", response_class=HTMLResponse)
def password_page(request: Request, next: str = "/", da_doi: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db, allow_password_change=True)
        if isinstance(visitor, Response):
            return visitor
        return common.page(
            request,
            "password.html",
            visitor=visitor,
            next=common.landing(visitor.scope.role, _safe_next(next)),
            error=None,
            done=da_doi == "1" and not visitor.must_change_password,
        )


@router.post("/doi-mat-khau")
def change_password(
    request: Request,
    current: Annotated[str, Form(max_length=256)] = "",
    new: Annotated[str, Form(max_length=256)] = "",
    repeat: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    csrf: Csrf = "",
) -> Response:
    context = common.context(request)
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf, allow_password_change=True)
        if isinstance(visitor, Response):
            return visitor
        db.commit()  # end the look-up's transaction: the change gets its own
        try:
            if new != repeat:
                raise KcError("mismatch", "Hai lần nhập mật khẩu mới không giống nhau")
            with db.begin():
                accounts.change_own_password(db, visitor.scope, current, new, web_session.now_utc())
        except KcError as exc:
            return common.page(
                request,
                "password.html",
                400,
                visitor=visitor,
                next=common.landing(visitor.scope.role, _safe_next(next)),
                error=exc.message,
                done=False,
            )
        user = db.get(User, visitor.scope.user_id)
        assert user is not None
        # Every earlier session ended with the change; this browser gets a new one.
        minutes = context.settings.api_token_minutes
        token = web_session.issue(user, context.secret, minutes, web_session.now_utc())
    target = quote(common.landing(visitor.scope.role, _safe_next(next)))
    response = RedirectResponse(f"/doi-mat-khau?da_doi=1&next={target}", status_code=303)
    response.set_cookie(
        web_session.SESSION_COOKIE,
        token,
        max_age=minutes * 60,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


# -- Nhận thông báo: one's own address, channel and quiet hours ------------------------------

PREFERENCE_FIELDS = {
    "bad_email": "email",
    "bad_phone": "dien_thoai",
    "bad_channel": "kenh",
    "bad_quiet_hours": "gio_yen_lang",
}


def _preferences_page(
    request: Request,
    visitor: web_session.Visitor,
    form: dict[str, str],
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> Response:
    settings = common.context(request).settings
    return common.page(
        request,
        "notification_settings.html",
        status,
        visitor=visitor,
        form=form,
        field_errors=errors or {},
        saved=saved,
        default_quiet=(settings.notify_quiet_hours or "").replace("-", "–"),
        webhook=bool(settings.webhook_url),
    )


def _preference_form(own: Any) -> dict[str, str]:
    custom = own.quiet not in ("default", "none")
    start, _, end = own.quiet.partition("-") if custom else ("", "", "")
    return {
        "email": own.email,
        "dien_thoai": own.phone,
        "kenh": own.channel,
        "yen_lang": "rieng" if custom else own.quiet,
        "tu_gio": start,
        "den_gio": end,
    }


@router.get("/nhan-thong-bao", response_class=HTMLResponse)
def notification_settings_page(request: Request, luu: str = "") -> Response:
    from services import notifications

    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            own = notifications.own_preferences(db, visitor.scope)
        except KcError as exc:
            return common.failed(request, visitor, exc)
        return _preferences_page(request, visitor, _preference_form(own), saved=luu == "1")


@router.post("/nhan-thong-bao")
def notification_settings_action(
    request: Request,
    email: Text = "",
    dien_thoai: Annotated[str, Form(max_length=64)] = "",
    kenh: Annotated[str, Form(max_length=16)] = "auto",
    yen_lang: Annotated[str, Form(max_length=16)] = "default",
    tu_gio: Annotated[str, Form(max_length=8)] = "",
    den_gio: Annotated[str, Form(max_length=8)] = "",
    csrf: Csrf = "",
) -> Response:
    from services import notifications

    form = {"email": email, "dien_thoai": dien_thoai, "kenh": kenh, "yen_lang": yen_lang}
    form |= {"tu_gio": tu_gio, "den_gio": den_gio}
    quiet = {"default": "default", "none": "none"}.get(yen_lang, f"{tu_gio}-{den_gio}")
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        db.commit()  # end the look-up's transaction: the change gets its own
        try:
            with db.begin():
                notifications.set_own_preferences(
                    db,
                    visitor.scope,
                    email=email,
                    phone=dien_thoai,
                    channel=kenh,
                    quiet=quiet,
                    now=web_session.now_utc(),
                )
        except KcError as exc:

            def again(errors: dict[str, str], _message: str | None) -> Response:
                return _preferences_page(request, visitor, form, status=400, errors=errors)

            return common.form_refused(request, visitor, exc, again, PREFERENCE_FIELDS)
    return RedirectResponse("/nhan-thong-bao?luu=1", status_code=303)
