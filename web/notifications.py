"""The outbox for admins (Thông báo): messages queued, sent, failed with the reason, waiting
for an address or expired, a page at a time with the filters kept; a button that sends a
failed one again or looks a waiting one's address up now. Each route: parse, one service
call, render."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kycuong.errors import Forbidden, KcError, NotFound
from services import notifications as service
from web import common
from web import session as web_session

router = APIRouter(include_in_schema=False)

common.nav("/thong-bao", "Thông báo", "notifications:admin", 80)

NOTICES = {
    "gui-lai": "Đã đưa thông báo vào hàng chờ gửi lại.",
    "kiem-tra": (
        "Đã đưa thông báo vào hàng chờ: nếu người nhận đã có địa chỉ, thông báo được gửi "
        "trong ít phút; nếu chưa, thông báo tiếp tục chờ địa chỉ."
    ),
}
FILTERS = ("trang_thai", "loai", "truoc", "sau")


def _query(**values: str) -> str:
    """The page's query string with only the filters that are set."""
    return urlencode({k: v for k, v in values.items() if v})


@router.get("/thong-bao", response_class=HTMLResponse)
def outbox_page(
    request: Request,
    trang_thai: str = "",
    loai: str = "",
    truoc: str = "",
    sau: str = "",
    luu: str = "",
) -> Response:
    with common.db(request) as db:
        visitor = common.signed_in(request, db)
        if isinstance(visitor, Response):
            return visitor
        # a status or kind that is none of the list's: said beside it, every message shown
        chosen, field_errors = common.picked(
            common.ChoiceField("trang_thai", "Trạng thái", trang_thai, service.STATUS),
            common.ChoiceField("loai", "Loại", loai, service.KIND),
        )
        status, kind = chosen["trang_thai"], chosen["loai"]
        try:
            view = service.page(
                db,
                visitor.scope,
                status or None,
                common.link_number(truoc, "Trang thông báo", 2**63 - 1),
                after=common.link_number(sau, "Trang thông báo", 2**63 - 1),
                kind=kind or None,
            )
        except Forbidden as exc:
            return common.refused(request, visitor, 403, exc.message)
        except NotFound as exc:
            return common.not_found(request, visitor, exc.message)
        return common.page(
            request,
            "notifications.html",
            400 if field_errors else 200,
            visitor=visitor,
            field_errors=field_errors,
            view=view,
            chosen=status,
            kind=kind,
            here={"trang_thai": status, "loai": kind, "truoc": truoc, "sau": sau},
            query=_query,
            STATUS=service.STATUS,
            KIND=service.KIND,
            notice=NOTICES.get(luu),
            error=None,
        )


@router.post("/thong-bao/{message_id}/gui-lai")
def retry_action(
    request: Request,
    message_id: str,
    csrf: Annotated[str, Form(max_length=128)] = "",
    trang_thai: Annotated[str, Form(max_length=16)] = "",
    loai: Annotated[str, Form(max_length=32)] = "",
    truoc: Annotated[str, Form(max_length=24)] = "",
    sau: Annotated[str, Form(max_length=24)] = "",
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
    # Back to the page as it was filtered and paged.
    kept = _query(trang_thai=trang_thai, loai=loai, truoc=truoc, sau=sau)
    done = "kiem-tra" if was == "waiting" else "gui-lai"
    return RedirectResponse(f"/thong-bao?{kept + '&' if kept else ''}luu={done}", status_code=303)
