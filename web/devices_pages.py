"""The readers pages: "Đầu đọc" (online, last seen in local time, clock offset, backlog,
high-water mark, unknown cards; enable, disable, a new broker password shown once) and
"Tin bị từ chối" (dead letters with their Vietnamese reason by code)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kycuong.errors import Forbidden, KcError, NotFound
from services import devices as service
from web import common
from web import session as web_session

router = APIRouter(include_in_schema=False)

common.nav("/dau-doc", "Đầu đọc", "devices:read", 70)

_NOTICES = {
    "khoa": "Đã khóa đầu đọc {id}: tin của nó sẽ bị từ chối và giữ lại.",
    "mo": "Đã mở khóa đầu đọc {id}.",
}


def clock_offset(seconds: float | None) -> str:
    """A reader's clock offset as people read it: "nhanh 7 phút", "chậm 3 giây", "đúng giờ"."""
    if seconds is None:
        return "chưa đo"
    if abs(seconds) < 1:
        return "đúng giờ"
    way = "nhanh" if seconds > 0 else "chậm"
    size = abs(seconds)
    if size < 90:
        return f"{way} {size:.0f} giây"
    if size < 5400:
        return f"{way} {size / 60:.0f} phút"
    return f"{way} {size / 3600:.1f} giờ".replace(".", ",")


@router.get("/dau-doc", response_class=HTMLResponse)
def readers_page(request: Request, xong: str = "", may: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            rows = service.readers(db, visitor.scope, web_session.now_utc())
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        known = {r.id for r in rows}
        template = _NOTICES.get(xong)
        notice = template.format(id=may) if template and may in known else None
        return common.page(
            request,
            "readers.html",
            visitor=visitor,
            rows=rows,
            notice=notice,
            clock_offset=clock_offset,
            may_write=visitor.scope.may("devices:write"),
            may_unknown=visitor.scope.may("credentials:read"),
        )


def _action(request: Request, device_id: str, csrf: str, what: str) -> Response:
    """Enable, disable or rotate one reader: one service call in one transaction."""
    with common.db(request) as db:
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        db.rollback()
        try:
            with db.begin():
                if what == "rotate":
                    secret = service.rotate(db, visitor.scope, device_id)
                else:
                    service.set_enabled(db, visitor.scope, device_id, what == "mo")
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)
        except KcError as exc:
            return common.refused(request, visitor, 400, exc.message)
        if what != "rotate":
            return RedirectResponse(f"/dau-doc?xong={what}&may={device_id}", status_code=303)
        # Shown once, in this answer only (never in a link, never stored in clear).
        return common.page(
            request, "reader_secret.html", visitor=visitor, device_id=device_id, secret=secret
        )


@router.post("/dau-doc/{device_id}/khoa")
def disable(
    request: Request, device_id: str, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    return _action(request, device_id, csrf, "khoa")


@router.post("/dau-doc/{device_id}/mo-khoa")
def enable(
    request: Request, device_id: str, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    return _action(request, device_id, csrf, "mo")


@router.post("/dau-doc/{device_id}/doi-mat-khau")
def rotate(
    request: Request, device_id: str, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    return _action(request, device_id, csrf, "rotate")


@router.get("/dau-doc/tin-bi-tu-choi", response_class=HTMLResponse)
def refused_page(request: Request, may: str = "") -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            letters, tallies = service.refused(db, visitor.scope, may[:64] or None)
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        return common.page(
            request,
            "dead_letters.html",
            visitor=visitor,
            letters=letters,
            tallies=tallies,
            device=may[:64],
        )
