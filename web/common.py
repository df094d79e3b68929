"""What every page module shares: the templates, the signed-in visitor, dates as people type
and read them (dd/mm/yyyy, local time), the page response and the menu.

A page module (``web/<area>.py``) owns an ``APIRouter``, registers its menu entries with
:func:`nav` and is listed in :data:`web.ROUTERS`; each route parses its input, makes one
service call and renders (DESIGN.md: pages and API over one service layer).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Invalid, KcError, NotFound, Unauthorized
from kycuong.inputs import choice, parse_day, quoted
from kycuong.labels import EXCUSE, REQUEST_STATUS, REVIEW, VIOLATION, vn_number
from rules.zones import zone
from services.scope import Scope
from web import session as web_session

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")

CSRF_MESSAGE = "Biểu mẫu không hợp lệ hoặc đã hết hạn. Vui lòng tải lại trang rồi thử lại."


def context(request: Request) -> Any:
    return request.app.state.context


def tz(request: Request) -> Any:
    return zone(context(request).settings.timezone)


def local_time(value: datetime | None, tz: Any) -> str:
    """``dd/mm/yyyy HH:MM`` in the agency's zone; empty for None."""
    return value.astimezone(tz).strftime("%d/%m/%Y %H:%M") if value else ""


def local_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def vn_decimal(value: float) -> str:
    """A number as Vietnamese write it, without needless zeros: 4,5 · 0,5 · 27."""
    return vn_number(value)


def parse_date(text: str | None, field: str) -> date | None:
    """A date as people type it: dd/mm/yyyy (or ISO); a Vietnamese error names the field."""
    if not text or not text.strip():
        return None
    return parse_day(text, field)


def date_range(tu: str, den: str) -> tuple[dict[str, date | None], dict[str, str]]:
    """The Từ ngày / Đến ngày of a filter as typed (dd/mm/yyyy): the dates read, and for a
    date that cannot be read its message, shown beside its field (the form keeps the text)."""
    dates: dict[str, date | None] = {}
    errors: dict[str, str] = {}
    for name, label, text in (("tu", "Từ ngày", tu), ("den", "Đến ngày", den)):
        try:
            dates[name] = parse_date(text, label)
        except KcError as exc:
            dates[name] = None
            errors[name] = exc.message.removeprefix(f"{label}: ")
    return dates, errors


@dataclass(frozen=True, slots=True)
class NumberField:
    """A whole number typed in a form (tháng, quý, năm) and the range it must be in."""

    name: str
    label: str
    text: str
    low: int
    high: int
    default: int


def numbers(*fields: NumberField) -> tuple[dict[str, int], dict[str, str]]:
    """Each field's number, or its default with a message beside the field when the text is
    not a whole number in range (the page shows the default's data and keeps the text)."""
    values: dict[str, int] = {}
    errors: dict[str, str] = {}
    for f in fields:
        raw = f.text.strip()
        if raw.isdigit() and f.low <= int(raw) <= f.high:
            values[f.name] = int(raw)
            continue
        values[f.name] = f.default
        if raw:
            errors[f.name] = (
                f"{f.label} phải là một số từ {f.low} đến {f.high}; "
                f"“{quoted(raw, 20)}” không hợp lệ"
            )
    return values, errors


# The "Tất cả" entry of a filter's list: the filter is off.
ALL = "Tất cả"


@dataclass(frozen=True, slots=True)
class ChoiceField:
    """A value picked from a list (a filter's select, a link's format): ``text`` as sent,
    ``choices`` (code → Vietnamese label) it must be one of, ``default`` when it is empty."""

    name: str
    label: str
    text: str
    choices: Mapping[str, str]
    default: str = ""


def picked(*fields: ChoiceField) -> tuple[dict[str, str], dict[str, str]]:
    """Each field's code (sent as its code or its label, any case, with or without diacritics),
    or its default with a message beside the field naming what is accepted: a value that is
    none of them is said, never silently read as another (``dinh_dang=zzz`` is not XLSX)."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for f in fields:
        values[f.name] = f.default
        if not f.text.strip():
            continue
        try:
            values[f.name] = choice(f.choices, f.text, f.label)
        except Invalid as exc:
            errors[f.name] = exc.message.removeprefix(f"{f.label}: ")
    return values, errors


def pick(choices: Mapping[str, str], text: str, label: str, default: str) -> str:
    """A choice of a link or a button (no field to mark it beside): its code, ``default`` when
    empty; ``Invalid`` (400) naming the accepted values when it is none of them."""
    return choice(choices, text, label) if text.strip() else default


def link_number(text: str, what: str, limit: int = 2**31 - 1) -> int | None:
    """The id a link carries (a person, a unit, a page): None when empty; a value that is not
    one is ``NotFound(what)`` (404), as an id outside the scope is: never the page without
    it (``can_bo=abc`` is not every person)."""
    if not text.strip():
        return None
    number = row_id(text.strip(), limit)
    if number is None:
        raise NotFound(what)
    return number


def unit_id(text: str) -> int | None:
    """The ``don_vi`` of a page or a link: None for every unit in scope (see ``link_number``)."""
    return link_number(text, "Đơn vị")


FIX_MARKED = "Hãy sửa ô được đánh dấu rồi bấm lại."


def beside(
    error: KcError, by_code: dict[str, str], by_label: dict[str, str] | None = None
) -> dict[str, str]:
    """A refusal as a message beside the field it is about: the field named by its code, or
    by the label its message starts with ("Từ ngày: …", the label then dropped); empty when
    it is about no one field (the page shows it above the form)."""
    if error.code in by_code:
        return {by_code[error.code]: error.message}
    for label, name in (by_label or {}).items():
        if error.message.startswith(f"{label}: "):
            return {name: error.message.removeprefix(f"{label}: ")}
    return {}


def row_id(text: str | None, limit: int = 2**31 - 1) -> int | None:
    """An id typed or linked by a person: a positive number within the column's range."""
    return int(text) if text and text.isdigit() and 0 < int(text) <= limit else None


def db(request: Request) -> DbSession:
    session: DbSession = context(request).sessions()
    return session


def visitor(
    request: Request, session: DbSession, *, allow_password_change: bool = False
) -> web_session.Visitor:
    """The signed-in browser of this request (``Unauthorized`` when there is none).

    A visitor whose password an admin reset gets ``PasswordChangeRequired`` (an
    ``Unauthorized``: every page sends them to sign-in, which sends them to Đổi mật khẩu)
    unless the page is that one (``allow_password_change``).
    """
    cookie = request.cookies.get(web_session.SESSION_COOKIE)
    who = web_session.visitor(session, cookie, context(request).secret)
    if who.must_change_password and not allow_password_change:
        raise web_session.PasswordChangeRequired()
    return who


def signed_in(
    request: Request, session: DbSession, *, allow_password_change: bool = False
) -> web_session.Visitor | Response:
    """The page preamble: the signed-in visitor, or the answer that sends the browser to
    sign in (which sends one who must replace a one-time password to Đổi mật khẩu).

    A page returns the answer as it is::

        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
    """
    try:
        return visitor(request, session, allow_password_change=allow_password_change)
    except Unauthorized:
        return sign_in_redirect(request)


def signed_in_form(
    request: Request,
    session: DbSession,
    csrf: str,
    *,
    allow_password_change: bool = False,
) -> web_session.Visitor | Response:
    """:func:`signed_in` for a form's POST: also the form's CSRF token, refused (403, the
    stale-form page) when it is not this session's."""
    who = signed_in(request, session, allow_password_change=allow_password_change)
    if isinstance(who, web_session.Visitor) and not web_session.same(csrf, who.csrf):
        return refused(request, who, 403, CSRF_MESSAGE)
    return who


# A member of staff (role employee) reads only their own pages: the start page is their month.
STAFF_PAGES = ("/cua-toi", "/de-nghi/", "/doi-mat-khau")


def landing(role: str, requested: str) -> str:
    """Where a browser goes after signing in (or changing a password): the page asked for,
    except that a member of staff goes to their own month unless they asked for a page of
    their own."""
    if role == "employee" and not requested.startswith(STAFF_PAGES):
        return "/cua-toi"
    return requested


def safe_next(target: str, default: str = "/vi-pham") -> str:
    """A ``?next=`` target that stays on this site: a path, never another host.

    Browsers read ``/\\evil.example`` as ``//evil.example`` and drop tabs and newlines, so a
    target with a backslash, a control character or a space is refused as well as ``//…``.
    """
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch == "\\" or ch.isspace() or not ch.isprintable() for ch in target):
        return default
    return target


def _form_page(request: Request) -> str:
    """The page a POST's form was on (its Referer on this host), or "" when unknown."""
    referer = urlsplit(request.headers.get("referer", ""))
    if not referer.path or referer.netloc != request.headers.get("host", request.url.netloc):
        return ""
    page = referer.path + (f"?{referer.query}" if referer.query else "")
    return page if safe_next(page, "") else ""


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method not in ("GET", "HEAD"):
        # A form sent after the session ended: its action answers no GET (405, or 404 for
        # /vi-pham/xu-ly-nhieu), so after sign-in go back to the page the form was on.
        target = _form_page(request)
    location = f"/?next={quote(target)}" if target else "/"
    if request.method not in ("GET", "HEAD"):  # the sign-in page says it was not saved
        location += "&het_han=1" if target else "?het_han=1"
    if request.headers.get("HX-Request") == "true":
        # A part of a page refreshed in place (Hôm nay's board): a plain redirect would paste
        # the whole sign-in page into it; htmx sends the browser to sign-in instead.
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


ERROR_TITLES = {
    400: "Dữ liệu không hợp lệ",
    401: "Cần đăng nhập",
    403: "Không có quyền",
    404: "Không tìm thấy",
    405: "Thao tác không được hỗ trợ",
    409: "Không thực hiện được",
    422: "Dữ liệu không hợp lệ",
    429: "Thử lại sau",
    500: "Lỗi hệ thống",
}


def error_title(status: int) -> str:
    """The heading of an error page: what kind of problem it is (400 is not 404)."""
    return ERROR_TITLES.get(status, "Không thực hiện được")


def back_link(request: Request) -> str:
    """The page the visitor came from when it is one of ours, else the start page."""
    referer = urlsplit(request.headers.get("referer", ""))
    same_site = referer.netloc in ("", request.url.netloc)
    if referer.path.startswith("/") and same_site and referer.path != request.url.path:
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return "/"


def page(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    shared = {"tz": tz(request), "local_time": local_time, "status": status}
    if status >= 400:
        shared |= {"error_title": error_title(status), "back": back_link(request)}
    response = templates.TemplateResponse(request, name, shared | values, status_code=status)
    # A signed-in page must not come back from the cache after sign-out (Back button).
    response.headers["Cache-Control"] = "no-store"
    return response


def not_found(request: Request, who: web_session.Visitor | None, message: str) -> Response:
    return page(request, "not_found.html", 404, visitor=who, message=message)


def failed(request: Request, who: web_session.Visitor | None, error: KcError) -> Response:
    """The error page of a domain error with its status: 400 bad input, 403 no right, 404
    absent or outside the scope, 409 a state that forbids it."""
    return page(request, "not_found.html", error.status, visitor=who, message=error.message)


def refused(
    request: Request, who: web_session.Visitor | None, status: int, message: str
) -> Response:
    """The error page with ``status`` (400 bad input, 403 no right or a stale form)."""
    return page(request, "not_found.html", status, visitor=who, message=message)


def form_refused(
    request: Request,
    who: web_session.Visitor,
    error: KcError,
    again: Callable[[dict[str, str], str | None], Response],
    by_code: dict[str, str],
    by_label: dict[str, str] | None = None,
    *,
    above: bool = False,
) -> Response:
    """A form's refusal: no right (403) is the error page; a message about one field (see
    ``beside``) is ``again(field_errors, None)``, the form once more with the message beside
    it; any other is ``again({}, message)`` when the form shows a message above it
    (``above``), else the error page with the refusal's status."""
    if error.status == 403:
        return refused(request, who, 403, error.message)
    field_errors = beside(error, by_code, by_label)
    if field_errors or above:
        return again(field_errors, None if field_errors else error.message)
    return failed(request, who, error)


@dataclass(frozen=True, slots=True)
class NavItem:
    """One menu entry: shown to a visitor whose role holds ``permission`` (services.scope)."""

    href: str
    label: str
    permission: str
    order: int


_NAV: list[NavItem] = []


def nav(href: str, label: str, permission: str, order: int) -> None:
    """Register a menu entry (called once by each page module at import)."""
    if all(item.href != href for item in _NAV):
        _NAV.append(NavItem(href, label, permission, order))
        _NAV.sort(key=lambda item: item.order)


def nav_for(who: web_session.Visitor | None) -> list[NavItem]:
    if who is None:
        return []
    return [item for item in _NAV if who.scope.may(item.permission)]


# On a phone the menu shows this many entries, the rest under "Thêm" (base.html).
MENU_SHOWN = 4


def nav_current(items: list[NavItem], path: str) -> str:
    """The menu entry the page belongs to: the longest entry that is the path or a parent of
    it (/cua-toi/de-nghi is "Đề nghị của tôi", not "Tháng này của tôi"); "" for none."""
    matches = [i.href for i in items if path == i.href or path.startswith(i.href + "/")]
    return max(matches, key=len, default="")


def home(who: web_session.Visitor) -> str:
    """Where a visitor starts: the queue for those who decide on violations, the report for
    those who read it (Nội vụ, auditors), else the first page of their menu (HR clerks): never
    a page their role may not open."""
    if who.scope.may("violations:review"):
        return "/vi-pham"
    if who.scope.may("summaries:read"):
        return "/bao-cao"
    items = nav_for(who)
    return items[0].href if items else "/doi-mat-khau"


templates.env.filters["vn_date"] = local_date
templates.env.filters["vn_decimal"] = vn_decimal
templates.env.filters["request_status"] = lambda code: REQUEST_STATUS.get(code, code)
templates.env.globals["VIOLATION"] = VIOLATION
templates.env.globals["zip"] = zip
templates.env.globals["REVIEW"] = REVIEW
templates.env.globals["EXCUSE"] = EXCUSE
templates.env.globals["nav_for"] = nav_for
templates.env.globals["nav_current"] = nav_current
templates.env.globals["MENU_SHOWN"] = MENU_SHOWN


def person_code(db: DbSession, scope: Scope, typed: str) -> str:
    """The code of the person a picker's text names: "NV001 — Nguyễn Văn A" as the list
    suggests it, a code, or a full name typed as the placeholder invites ("Gõ mã hoặc tên"),
    when exactly one person in scope has it. Two with that name: the refusal says so."""
    from sqlalchemy import func, select

    from store.models import Employee

    text = unicodedata.normalize("NFC", typed.split("—", 1)[0]).strip()
    if not text or db.scalar(select(Employee.id).where(Employee.code == text)) is not None:
        return text
    named = [
        (code, unit_id)
        for code, unit_id in db.execute(
            select(Employee.code, Employee.unit_id).where(
                func.lower(Employee.full_name) == func.lower(text)  # one lower() on both sides
            )
        )
        if scope.sees(unit_id)
    ]
    if len(named) > 1:
        codes = ", ".join(sorted(code for code, _ in named))
        raise KcError(
            "ambiguous_person",
            f"Có {len(named)} cán bộ tên “{quoted(text)}” ({codes}): hãy chọn theo mã trong "
            "danh sách",
        )
    return named[0][0] if named else text
