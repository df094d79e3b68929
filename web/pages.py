"""The pages: sign-in (Đăng nhập), the violations queue (Vi phạm chờ xử lý), one violation
with its evidence in local time, and the review decision. Each route: parse, one service
call, render; domain errors become a Vietnamese alert or the 404 page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Literal, cast
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Forbidden, Invalid, KcError, NotFound, Unauthorized
from kycuong.inputs import HIDDEN_CHARACTERS, hidden_characters_message, quoted
from kycuong.labels import DAY_STATUS, VIOLATION
from services import days as day_service
from services import people, signin
from services import requests as request_service
from services import summaries as summary_service
from services import violations as violation_service
from services.schemas import BulkReviewIn, ReviewIn, Violation
from services.scope import Scope, scope_of
from services.summaries import WEEKDAY_LABELS
from store.models import User
from store.violations import ReviewFilter, State
from web import common
from web import session as web_session
from web.charts import counts, trend, unit_rates

router = APIRouter(include_in_schema=False)

common.nav("/hom-nay", "Hôm nay", "violations:read", 10)
common.nav("/vi-pham", "Vi phạm", "violations:read", 20)
common.nav("/bang-thang", "Bảng tháng", "violations:read", 30)
common.nav("/bao-cao", "Báo cáo", "summaries:read", 40)


# A form sent after the session ended (``?het_han=1``, from common.sign_in_redirect).
EXPIRED_MESSAGE = (
    "Phiên đăng nhập đã kết thúc nên việc vừa gửi chưa được lưu. Hãy đăng nhập lại rồi làm lại."
)


@router.get("/", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str = "", het_han: str = "") -> Response:
    with common.db(request) as db:
        try:
            visitor = common.visitor(request, db)
            target = _safe_next(next)
            if target == "/":  # no page asked for: the visitor's first page, not a 403
                target = common.home(visitor)
            return RedirectResponse(common.landing(visitor.scope.role, target), 303)
        except web_session.PasswordChangeRequired:
            return RedirectResponse(
                f"/doi-mat-khau?next={quote(_safe_next(next) or '/')}", status_code=303
            )
        except Unauthorized:
            pass
    return _login(request, next, EXPIRED_MESSAGE if het_han else None, 200)


@router.get("/favicon.ico")
def favicon() -> Response:
    """The tab icon browsers ask for by default (an SVG: no 404 in every log line)."""
    return Response(
        (common.HERE / "static" / "favicon.svg").read_bytes(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/redoc", response_class=HTMLResponse)
def redoc_page(request: Request) -> Response:
    """ReDoc is not served (its bundle loads a logo from the Internet, blank on an office
    LAN): a Vietnamese page pointing to /docs, which works offline."""
    with common.db(request) as db:
        who = common.signed_in(request, db)
    docs = common.context(request).settings.api_docs
    return common.page(
        request,
        "api_docs.html",
        200 if docs else 404,
        visitor=who if isinstance(who, web_session.Visitor) else None,
        docs=docs,
    )


def _safe_next(target: str) -> str:
    # Only paths of this site: never an open redirect to another host. "/" (nothing asked
    # for) leads to the visitor's start page (common.home) once signed in.
    return common.safe_next(target, "/")


def _login(request: Request, next_url: str, error: str | None, status: int) -> Response:
    token = web_session.new_prelogin_token()
    response = common.page(
        request,
        "sign_in.html",
        status,
        visitor=None,
        csrf=token,
        next=_safe_next(next_url),
        error=error,
    )
    response.set_cookie(
        web_session.PRELOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/dang-nhap")
def sign_in(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if not web_session.same(csrf, request.cookies.get(web_session.PRELOGIN_COOKIE)):
        return _login(request, next, "Phiên của biểu mẫu đã hết hạn, vui lòng đăng nhập lại.", 403)
    context = common.context(request)
    address = request.client.host if request.client else None
    try:  # the API's throttle: failures count per account and per address, wherever made
        user = signin.sign_in(
            context.engine,
            username.strip(),
            password,
            address,
            web_session.now_utc(),
            context.signin_policy,
        )
    except signin.Throttled as exc:
        refused = _login(request, next, exc.message, 429)
        refused.headers["Retry-After"] = str(exc.retry_after_s)
        return refused
    if user is None:
        return _login(request, next, "Sai tên đăng nhập hoặc mật khẩu.", 401)
    minutes = context.settings.api_token_minutes
    token = web_session.issue(user, context.secret, minutes, web_session.now_utc())
    target = _safe_next(next)
    if target == "/":  # no page asked for: the first one this role may open, not a 403
        with common.db(request) as db:
            target = common.home(web_session.Visitor(scope_of(db, user), "", ""))
    target = common.landing(user.role, target)
    if user.must_change_password:  # a one-time password: a password of their own first
        target = f"/doi-mat-khau?next={quote(target)}"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        web_session.SESSION_COOKIE,
        token,
        max_age=minutes * 60,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(web_session.PRELOGIN_COOKIE)
    return response


@router.post("/dang-xuat")
def sign_out(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    token = request.cookies.get(web_session.SESSION_COOKIE) or ""
    if token and not web_session.same(
        csrf, web_session.csrf_for(token, common.context(request).secret)
    ):
        return common.page(
            request, "not_found.html", 403, visitor=None, message=common.CSRF_MESSAGE
        )
    if token:  # ended on the server too: the cookie, if copied, no longer works anywhere
        with common.db(request) as db, db.begin():
            try:
                who = web_session.visitor(db, token, common.context(request).secret)
            except Unauthorized:
                who = None
            user = db.get(User, who.scope.user_id) if who is not None else None
            if user is not None:
                user.tokens_valid_after = web_session.now_utc()
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(web_session.SESSION_COOKIE)
    return response


def _saved_notice(code: str) -> str | None:
    """The result of a bulk decision, from counts in the link (never free text)."""
    done, _, total = code.partition("-")
    if done.isdigit() and total.isdigit() and int(done) <= int(total) <= 500:
        return f"Đã lưu quyết định cho {done}/{total} vi phạm."
    return None


# Why a row of a bulk decision was not saved, by the service's error code (the link carries
# only the id and the code, never free text).
BULK_FAILURES = {
    "withdrawn": "đã được thu hồi (dữ liệu chấm công cho thấy không vi phạm), không cần xử lý",
    "not_found": "không tồn tại hoặc nằm ngoài phạm vi của bạn",
    "forbidden": "tài khoản của bạn không có quyền xử lý",
}
BULK_SHOWN = 50


@dataclass(frozen=True, slots=True)
class FailedRow:
    """One ticked row whose decision was not saved, and why."""

    id: int
    reason: str
    violation: Violation | None


def _failed_rows(db: DbSession, scope: Scope, codes: list[str]) -> list[FailedRow]:
    """The failures named in the link (``<id>.<code>``), with the row when it is in scope."""
    wanted: dict[int, str] = {}
    for code in codes[:BULK_SHOWN]:
        raw_id, _, reason = code.partition(".")
        number = common.row_id(raw_id, 2**63 - 1)
        if number is not None:
            wanted[number] = BULK_FAILURES.get(reason, "không lưu được, hãy thử lại")
    found = violation_service.brief(db, scope, list(wanted))
    return [FailedRow(i, reason, found.get(i)) for i, reason in wanted.items()]


# The queue's lists as its form offers them (code → label); "all" turns the filter off.
REVIEW_CHOICES = {
    "pending": "Chưa xử lý",
    "confirmed": "Xác nhận",
    "excused": "Có lý do",
    "dismissed": "Bỏ qua",
    "all": common.ALL,
}
STATE_CHOICES = {"active": "Đang hiệu lực", "withdrawn": "Đã thu hồi", "all": common.ALL}
KIND_CHOICES = {"": common.ALL, **VIOLATION}
_DECISION_MESSAGE = (
    "Hãy chọn một quyết định (Xác nhận, Có lý do hoặc Bỏ qua) và một lý do trong danh sách."
)


@router.get("/vi-pham", response_class=HTMLResponse)
def violations_page(
    request: Request,
    tu: str = "",
    den: str = "",
    loai: str = "",
    xu_ly: str = "pending",
    trang_thai: str = "active",
    can_bo: str = "",
    tim: Annotated[str, Query(max_length=100)] = "",
    trang: str | None = None,
    luu: str = "",
    loi: Annotated[list[str] | None, Query(max_length=40)] = None,
) -> Response:
    filters = QueueFilters(tu, den, loai, xu_ly, trang_thai, can_bo, tim, trang or "")
    return _queue_page(request, filters, luu, loi or [])


@dataclass(frozen=True, slots=True)
class QueueFilters:
    """The queue's filters as typed (the bulk form carries them back to show the same rows)."""

    tu: str = ""
    den: str = ""
    loai: str = ""
    xu_ly: str = "pending"
    trang_thai: str = "active"
    can_bo: str = ""
    tim: str = ""
    trang: str = ""


@dataclass(frozen=True, slots=True)
class BulkForm:
    """A bulk decision refused: the ticked rows, what was chosen and typed, and why, by field."""

    ids: frozenset[int]
    decision: str
    reason_kind: str
    note: str
    field_errors: dict[str, str]


def _queue_page(
    request: Request,
    filters_in: QueueFilters,
    luu: str = "",
    loi: list[str] | None = None,
    bulk: BulkForm | None = None,
) -> Response:
    tu, den, loai, xu_ly = filters_in.tu, filters_in.den, filters_in.loai, filters_in.xu_ly
    trang_thai, can_bo, tim = filters_in.trang_thai, filters_in.can_bo, filters_in.tim[:100]
    trang = filters_in.trang or None
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        error = None
        page = None
        everyone, chosen, matches = None, None, []
        # a date or a choice that cannot be read is shown beside its field, the rest of the
        # form kept, and no rows: never the rows of another filter than the one asked for
        dates, field_errors = common.date_range(tu, den)
        chosen_in, choice_errors = common.picked(
            common.ChoiceField("loai", "Loại", loai, KIND_CHOICES, ""),
            common.ChoiceField("xu_ly", "Xử lý", xu_ly, REVIEW_CHOICES, "pending"),
            common.ChoiceField("trang_thai", "Hiệu lực", trang_thai, STATE_CHOICES, "active"),
        )
        field_errors |= choice_errors
        loai, xu_ly, trang_thai = chosen_in["loai"], chosen_in["xu_ly"], chosen_in["trang_thai"]
        try:
            if field_errors:
                raise KcError("invalid_filter", "Hãy sửa ô được đánh dấu trong phần lọc.")
            everyone = people.choices(db, visitor.scope)
            number = common.link_number(can_bo, "Cán bộ")
            if number is not None:
                chosen = people.one(db, visitor.scope, number)
            elif tim.strip():
                matches = people.search(db, visitor.scope, tim)
                if not matches:
                    raise KcError(
                        "no_person",
                        f"Không có cán bộ nào có tên hoặc mã “{quoted(tim.strip())}” trong phạm vi "
                        "của bạn. Hãy gõ lại (có thể gõ không dấu).",
                    )
                chosen = matches[0] if len(matches) == 1 else None
            query = violation_service.ViolationQuery(
                employee_id=chosen.id if chosen else None,
                state=cast(State, trang_thai),
                date_from=dates["tu"],
                date_to=dates["den"],
                kind=loai or None,
                review=None if xu_ly == "all" else cast(ReviewFilter, xu_ly),
            )
            if len(matches) <= 1:  # several people match: pick one first
                page = violation_service.page(db, visitor.scope, query, 50, trang or None)
        except (NotFound, Forbidden) as exc:
            return common.failed(request, visitor, exc)
        except KcError as exc:
            if exc.code == "invalid_range":
                field_errors["den"] = exc.message
            error = exc.message
        # Tạm tính as on Hôm nay: the readers behind now, named with the same words.
        unsettled = {v.unit_id for v in page.items if v.provisional and v.active} if page else set()
        return common.page(
            request,
            "violations.html",
            400 if error or bulk else 200,
            visitor=visitor,
            bulk=bulk,
            page=page,
            any_provisional=bool(unsettled),
            lagging_sites=day_service.lagging_sites(db, unsettled, web_session.now_utc())
            if unsettled
            else [],
            error=None if field_errors else error,
            field_errors=field_errors,
            notice=_saved_notice(luu),
            failed=_failed_rows(db, visitor.scope, loi or []) if luu else [],
            may_review=visitor.scope.may("violations:review"),
            everyone=everyone,
            chosen=chosen,
            matches=matches if len(matches) > 1 else [],
            explained=request_service.explained(
                db, visitor.scope, [v.id for v in page.items] if page else []
            ),
            kind_choices=KIND_CHOICES,
            review_choices=REVIEW_CHOICES,
            state_choices=STATE_CHOICES,
            filters={
                "tu": tu,
                "den": den,
                "loai": loai,
                "xu_ly": xu_ly,
                "can_bo": chosen.id if chosen else "",
                "tim": chosen.code if chosen else tim.strip(),
                "trang_thai": trang_thai,
                "trang": trang or "",
            },
        )


@router.get("/vi-pham/{violation_id}", response_class=HTMLResponse)
def violation_page(request: Request, violation_id: str, msg: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        number = common.row_id(violation_id, 2**63 - 1)
        try:
            if number is None:
                raise NotFound("Vi phạm")
            detail = violation_service.detail(db, visitor.scope, number)
        except KcError as exc:
            return common.failed(request, visitor, exc)
        return common.page(
            request,
            "violation.html",
            visitor=visitor,
            v=detail,
            may_review=visitor.scope.may("violations:review"),
            saved=msg == "da-luu",
            error=None,
            requests=request_service.for_violation(db, visitor.scope, number),
        )


# The field of the decision form a refusal is about (services.violations.review).
DECISION_FIELDS = {"reason_required": "reason_kind", "hidden_characters": "note"}


@router.post("/vi-pham/{violation_id}/xu-ly")
def review_action(
    request: Request,
    violation_id: str,
    decision: Annotated[str, Form(max_length=16)] = "",
    reason_kind: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    with common.db(request) as db, db.begin():
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        number = common.row_id(violation_id, 2**63 - 1)
        try:
            if number is None:
                raise NotFound("Vi phạm")
            body = _review_in(decision, reason_kind, note)
            violation_service.review(db, visitor.scope, number, body, web_session.now_utc())
            return RedirectResponse(f"/vi-pham/{number}?msg=da-luu", status_code=303)
        except NotFound as exc:
            return common.failed(request, visitor, exc)
        except KcError as exc:
            refusal = exc

    def again(field_errors: dict[str, str], message: str | None) -> Response:
        assert number is not None
        with common.db(request) as db:
            detail = violation_service.detail(db, visitor.scope, number)
            requests = request_service.for_violation(db, visitor.scope, number)
        return common.page(
            request,
            "violation.html",
            400,
            visitor=visitor,
            v=detail,
            may_review=True,
            saved=False,
            error=message,
            field_errors=field_errors,
            # what was chosen and typed comes back with the message: nothing to type twice
            values={"decision": decision, "reason_kind": reason_kind, "note": note},
            requests=requests,
        )

    return common.form_refused(request, visitor, refusal, again, DECISION_FIELDS, above=True)


def _review_in(decision: str, reason_kind: str, note: str) -> ReviewIn:
    """The decision form as the API's model reads it; a refusal as a domain error."""
    try:
        return ReviewIn(decision=decision, reason_kind=reason_kind or None, note=note)  # type: ignore[arg-type]
    except ValidationError as exc:
        if hidden := hidden_characters_message(exc.errors()):
            raise Invalid(HIDDEN_CHARACTERS, hidden) from None
        raise Invalid("invalid_decision", _DECISION_MESSAGE) from None


@router.get("/bao-cao", response_class=HTMLResponse)
def summary_page(
    request: Request,
    ky: str = "month",
    nam: str = "",
    thang: str = "",
    quy: str = "",
    don_vi: str = "",
    trang: str = "",
) -> Response:
    """The summary of a period: the units' ranking a page of ``UNITS_PER_PAGE`` at a time
    (``trang``: the page, 1 first), the charts and the people a threshold flags."""
    context = common.context(request)
    now = web_session.now_utc()
    today = now.astimezone(common.tz(request)).date()
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            query, field_errors = _summary_fields(ky, nam, thang, quy, today, don_vi)
            number, page_errors = common.numbers(
                common.NumberField("trang", "Trang", trang, 1, 100_000, 1)
            )
            if page_errors:  # a link's value, no field to mark: refused
                raise Invalid("invalid_page", page_errors["trang"])
            shown = summary_service.summary_page(
                db,
                visitor.scope,
                query,
                context.settings.thresholds,
                now,
                context.settings.timezone,
                number["trang"],
                summary_service.UNITS_PER_PAGE,
            )
        except KcError as exc:
            return common.failed(request, visitor, exc)
        extra = summary_service.charts(db, visitor.scope, query, now, context.settings.timezone)
        report = shown.report
        flagged = report.people
        params = (
            f"ky={query.period}&nam={query.year}"
            f"&thang={query.month or ''}&quy={query.quarter or ''}&don_vi={query.unit_id or ''}"
        )
        return common.page(
            request,
            "summary.html",
            400 if field_errors else 200,
            visitor=visitor,
            field_errors=field_errors,
            typed={"nam": nam, "thang": thang, "quy": quy},
            report=report,
            flagged=flagged,
            charts=extra,
            ranking=shown,
            units=day_service.units_for(db, visitor.scope),
            query=query,
            params=params,
            vn_number=vn_number,
        )


@router.get("/bao-cao/bieu-do.svg")
def summary_chart(
    request: Request,
    ky: str = "month",
    nam: str = "",
    thang: str = "",
    quy: str = "",
    don_vi: str = "",
    kho: str = "",
) -> Response:
    """The chart of the summary page as its own SVG (an <img>), so the page's strict CSP
    stays strict while the SVG keeps the inline styles pygal writes (``kho=hep``: drawn for
    a phone's width)."""
    context = common.context(request)
    now = web_session.now_utc()
    with common.db(request) as db:
        try:
            visitor = common.visitor(request, db)
            narrow = common.pick(WIDTHS, kho, "Khổ", "") == "hep"
            query = _summary_query(
                ky, nam, thang, quy, now.astimezone(common.tz(request)).date(), don_vi
            )
            report = summary_service.summary(
                db,
                visitor.scope,
                query,
                context.settings.thresholds,
                now,
                context.settings.timezone,
                people="flagged",
            )
        except Unauthorized:
            return Response(status_code=401)
        except KcError as exc:
            return Response(status_code=exc.status)
    # The page's <figcaption> names the chart: no second title inside the picture.
    rates = [(u.name, u.rate_per_100_days) for u in report.units]
    return _svg(unit_rates(rates, narrow=narrow))


def _svg(svg: str) -> Response:
    # Its own policy: pygal writes inline styles, which the pages' CSP does not allow.
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "Cache-Control": "no-store",
        },
    )


CHARTS = ("xu-huong", "theo-thu", "theo-phut")


@router.get("/bao-cao/bieu-do-{name}.svg")
def summary_extra_chart(
    request: Request,
    name: str,
    ky: str = "month",
    nam: str = "",
    thang: str = "",
    quy: str = "",
    don_vi: str = "",
    kho: str = "",
) -> Response:
    """The trend and the two lateness charts of the summary page, each its own SVG
    (``kho=hep``: drawn for a phone's width)."""
    if name not in CHARTS:
        return Response(status_code=404)
    context = common.context(request)
    now = web_session.now_utc()
    with common.db(request) as db:
        try:
            visitor = common.visitor(request, db)
            narrow = common.pick(WIDTHS, kho, "Khổ", "") == "hep"
            query = _summary_query(
                ky, nam, thang, quy, now.astimezone(common.tz(request)).date(), don_vi
            )
            found = summary_service.charts(db, visitor.scope, query, now, context.settings.timezone)
        except Unauthorized:
            return Response(status_code=401)
        except KcError as exc:
            return Response(status_code=exc.status)
    # The page's <figcaption> names the chart: no second title inside the picture.
    if name == "xu-huong":
        return _svg(trend([(p.label, p.value) for p in found.trend], narrow=narrow))
    points = found.late_by_weekday if name == "theo-thu" else found.late_by_minutes
    return _svg(counts([(p.label, p.value) for p in points], narrow=narrow))


@router.get("/bao-cao/tai-ve")
def summary_download(
    request: Request,
    ky: str = "month",
    nam: str = "",
    thang: str = "",
    quy: str = "",
    don_vi: str = "",
    dinh_dang: str = "xlsx",
) -> Response:
    context = common.context(request)
    now = web_session.now_utc()
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            file_format = common.pick(SUMMARY_FORMATS, dinh_dang, "Định dạng tệp", "xlsx")
            query = _summary_query(
                ky, nam, thang, quy, now.astimezone(common.tz(request)).date(), don_vi
            )
            file = summary_service.summary_file(
                db,
                visitor.scope,
                query,
                context.settings.thresholds,
                now,
                context.settings.timezone,
                cast(Literal["csv", "pdf", "xlsx"], file_format),
                recipient=context.settings.report_recipient,
                issuer_fallback=context.settings.report_issuer,
                place=context.settings.report_place,
            )
        except KcError as exc:
            return common.failed(request, visitor, exc)
    return Response(
        file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


# The summary's periods and files as its form and links offer them (code → label).
PERIODS = {"month": "Tháng", "quarter": "Quý", "year": "Năm"}
SUMMARY_FORMATS = {"xlsx": "Excel (XLSX)", "pdf": "PDF", "csv": "CSV"}
# A chart drawn for a phone's width (``kho=hep``) or, without it, for a desk's.
WIDTHS = {"hep": "Hẹp (điện thoại)"}


def _summary_fields(
    kind: str, year: str, month: str, quarter: str, today: date, unit: str = ""
) -> tuple[summary_service.SummaryQuery, dict[str, str]]:
    """The period as the form sends it, and a message per field that cannot be read (its
    default used meanwhile); by default the month of the last closed day (on the 1st, last
    month: the new one has no finished day yet)."""
    today = today - timedelta(days=1)
    chosen, errors = common.picked(common.ChoiceField("ky", "Kỳ", kind, PERIODS, "month"))
    period = cast(summary_service.PeriodKind, chosen["ky"])
    values, number_errors = common.numbers(
        common.NumberField("nam", "Năm", year, 2000, 2100, today.year),
        common.NumberField("thang", "Tháng", month, 1, 12, today.month),
        common.NumberField("quy", "Quý", quarter, 1, 4, (today.month - 1) // 3 + 1),
    )
    query = summary_service.SummaryQuery(
        period,
        values["nam"],
        values["thang"] if period == "month" else None,
        values["quy"] if period == "quarter" else None,
        common.unit_id(unit),
    )
    return query, errors | number_errors


def _summary_query(
    kind: str, year: str, month: str, quarter: str, today: date, unit: str = ""
) -> summary_service.SummaryQuery:
    """The period of a chart or a file (a link, no field to mark): a bad value refused."""
    query, errors = _summary_fields(kind, year, month, quarter, today, unit)
    if errors:
        raise Invalid("invalid_period", "; ".join(errors.values()))
    return query


def vn_number(value: float, digits: int = 0) -> str:
    """Vietnamese separators: 1.234,5 (dot for thousands, comma for decimals)."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


@router.get("/hom-nay", response_class=HTMLResponse)
def today_page(
    request: Request, don_vi: str = "", ngay: Annotated[str, Query(max_length=32)] = ""
) -> Response:
    """Hôm nay: the unit's day so far, or an earlier date picked (``ngay``, dd/mm/yyyy) with
    ← Hôm trước / Hôm sau →; a date that cannot be read or has not come yet is said beside
    the field and today is shown."""
    now = web_session.now_utc()
    today = now.astimezone(common.tz(request)).date()
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        field_errors: dict[str, str] = {}
        try:
            day = common.parse_date(ngay, "Ngày") or today
        except KcError as exc:
            day, field_errors = today, {"ngay": exc.message.removeprefix("Ngày: ")}
        try:
            unit = common.unit_id(don_vi)
            try:
                board = day_service.today(db, visitor.scope, unit, day, now)
            except Invalid as exc:  # a date to come: today instead, the reason beside the field
                if exc.code != "future_day":
                    raise
                day, field_errors = today, {"ngay": exc.message}
                board = day_service.today(db, visitor.scope, unit, day, now)
            units = day_service.units_for(db, visitor.scope)
        except KcError as exc:
            return common.failed(request, visitor, exc)
        partial = request.headers.get("HX-Request") == "true"
        return common.page(
            request,
            "_today_board.html" if partial else "today.html",
            400 if field_errors and not partial else 200,
            visitor=visitor,
            board=board,
            units=units,
            unit_id=unit,
            is_today=day == today,
            weekday=WEEKDAY_LABELS[day.weekday()],
            previous_day=day - timedelta(days=1),
            next_day=day + timedelta(days=1) if day < today else None,
            typed_day=ngay if field_errors else common.local_date(day),
            field_errors=field_errors,
            labels=DAY_STATUS,
        )


@router.get("/bang-thang", response_class=HTMLResponse)
def month_page(request: Request, don_vi: str = "", thang: str = "", nam: str = "") -> Response:
    today = web_session.now_utc().astimezone(common.tz(request)).date()
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        # a month or year that cannot be read: said beside its field, this month shown
        values, field_errors = common.numbers(
            common.NumberField("thang", "Tháng", thang, 1, 12, today.month),
            common.NumberField("nam", "Năm", nam, 2000, 2100, today.year),
        )
        try:
            unit = common.unit_id(don_vi)
            grid = day_service.month(db, visitor.scope, unit, values["nam"], values["thang"])
            units = day_service.units_for(db, visitor.scope)
        except KcError as exc:
            return common.failed(request, visitor, exc)
        return common.page(
            request,
            "month.html",
            400 if field_errors else 200,
            visitor=visitor,
            grid=grid,
            units=units,
            legend=day_service.legend(),
            weekday=lambda d: ["T2", "T3", "T4", "T5", "T6", "T7", "CN"][d.weekday()],
            field_errors=field_errors,
            typed={"thang": thang, "nam": nam},
        )


WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")


@router.get("/bang-thang/ngay", response_class=HTMLResponse)
def person_day_page(request: Request, can_bo: str = "", ngay: str = "") -> Response:
    """A cell of the month grid opened: that person's punches and violations of the day."""
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            number = common.row_id(can_bo)
            day = common.parse_date(ngay, "Ngày")
            if number is None:
                raise NotFound("Cán bộ")
            if day is None:
                raise KcError("invalid_date", "Ngày: hãy chọn một ngày (dạng dd/mm/yyyy)")
            found = day_service.person_day(db, visitor.scope, number, day, common.tz(request))
        except KcError as exc:
            return common.failed(request, visitor, exc)
        return common.page(
            request,
            "day.html",
            visitor=visitor,
            d=found,
            unit_id=found.unit_id,
            weekday_name=WEEKDAYS[day.weekday()],
        )


# The queue's filters a bulk decision returns to (the bulk form carries them hidden).
QUEUE_FILTERS = ("tu", "den", "loai", "xu_ly", "trang_thai", "can_bo", "tim")


@router.post("/vi-pham/xu-ly-nhieu")
async def review_many_action(request: Request) -> Response:
    """A decision for the ticked rows of the queue; each row gets its own result. A decision
    refused as a whole shows the queue again, rows still ticked, the reason beside its field."""
    form = await request.form()
    raw = [str(v) for v in form.getlist("ids")]
    ids = [int(v) for v in raw if v.isdigit() and 0 < int(v) < 2**63][:500]
    decision = str(form.get("decision") or "")[:16]
    reason_kind = str(form.get("reason_kind") or "")[:32]
    note = str(form.get("note") or "")[:2000]
    csrf = str(form.get("csrf") or "")
    with common.db(request) as db, db.begin():
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        field_errors: dict[str, str] = {}
        if not ids:
            field_errors["ids"] = "Hãy đánh dấu ít nhất một vi phạm trong bảng."
        else:
            try:
                body = BulkReviewIn(
                    ids=ids,
                    decision=decision,  # type: ignore[arg-type]
                    reason_kind=reason_kind or None,  # type: ignore[arg-type]
                    note=note,
                )
                results = violation_service.review_many(
                    db, visitor.scope, body, web_session.now_utc()
                )
                done = sum(1 for r in results if r.ok)
                failed = "".join(
                    f"&loi={r.id}.{r.error}" for r in results if not r.ok
                )  # the first BULK_SHOWN are named on the page; the counts cover all
                # back to the queue as it was filtered (the form carries its filters), from
                # its first page: the decided rows may have left this filter
                kept = urlencode(
                    {k: str(form.get(k) or "")[:200] for k in QUEUE_FILTERS if form.get(k)}
                )
                return RedirectResponse(
                    f"/vi-pham?{kept + '&' if kept else ''}luu={done}-{len(results)}"
                    f"{failed[: BULK_SHOWN * 40]}",
                    status_code=303,
                )
            except ValidationError as exc:
                if hidden := hidden_characters_message(exc.errors()):
                    field_errors["note"] = hidden
                elif decision not in ("confirmed", "excused", "dismissed"):
                    field_errors["decision"] = "Hãy chọn Xác nhận, Có lý do hoặc Bỏ qua."
                else:
                    field_errors["reason_kind"] = "Hãy chọn một lý do trong danh sách."
            except Forbidden as exc:
                return common.failed(request, visitor, exc)
            except KcError as exc:
                field_errors |= common.beside(exc, {"reason_required": "reason_kind"}) or {
                    "ids": exc.message
                }
    filters = QueueFilters(
        *(str(form.get(name) or default)[:100] for name, default in QUEUE_FIELDS)
    )
    bulk = BulkForm(frozenset(ids), decision, reason_kind, note, field_errors)
    return _queue_page(request, filters, bulk=bulk)


# The queue's filters the bulk form carries back, with their defaults.
QUEUE_FIELDS = (
    ("tu", ""),
    ("den", ""),
    ("loai", ""),
    ("xu_ly", "pending"),
    ("trang_thai", "active"),
    ("can_bo", ""),
    ("tim", ""),
    ("trang", ""),
)
