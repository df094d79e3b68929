"""The outbox for admins (Thông báo): messages queued, sent and failed with the reason, and a
button that sends a failed one again. Each route: parse, one service call, render."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kycuong.errors import Forbidden, KcError, NotFound
from services import notifications as service
from web import common
from web import session as web_session

router = APIRouter(include_in_schema=False)

common.nav("/thong-bao", "Thông báo", "notifications:admin", 80)

NOTICES = {"gui-lai": "Đã đưa thông báo vào hàng chờ gửi lại."}


@router.get("/thong-bao", response_class=HTMLResponse)
def outbox_page(
    request: Request, trang_thai: str = "", truoc: str = "", luu: str = "", loi: str = ""
) -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        try:
            view = service.page(db, visitor.scope, trang_thai or None, common.row_id(truoc))
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        return common.page(
            request,
            "notifications.html",
            visitor=visitor,
            view=view,
            chosen=trang_thai if trang_thai in service.STATUS else "",
            STATUS=service.STATUS,
            notice=NOTICES.get(luu),
            error=None,
        )


@router.post("/thong-bao/{message_id}/gui-lai")
def retry_action(
    request: Request, message_id: str, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    with common.db(request) as db, db.begin():
        visitor = common.signed_in_form(request, db, csrf)
        if isinstance(visitor, Response):
            return visitor
        number = common.row_id(message_id, 2**63 - 1)
        try:
            if number is None:
                raise NotFound("Thông báo")
            was = service.retry(db, visitor.scope, number, web_session.now_utc())
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except KcError as exc:
            return common.refused(request, visitor, 409, exc.message)
    return RedirectResponse(f"/thong-bao?trang_thai={was}&luu=gui-lai", status_code=303)
