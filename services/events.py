"""Call points for notifications (thông báo), called inside the transaction of the change
that causes them: the message is queued in the outbox (services/notifications.py) with the
change, or not at all. Violations are told by the runner (notify/violations.py); the unit
head learns of new requests from the digest (notify/jobs.py reads the pending ones)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from kycuong.labels import EXCUSE, REQUEST_KIND, REQUEST_STATUS, VIOLATION
from notify import links, recipients
from services import notifications
from store.models import StaffRequest, User, ViolationRecord


def request_created(db: DbSession, request_id: int) -> None:
    """A member of staff sent a request (giải trình, bổ sung giờ chấm, xin nghỉ, công tác).

    Nothing is queued: the head's digest lists pending requests (notify.jobs.pending_requests).
    """
    del db, request_id


def request_title(db: DbSession, request: StaffRequest) -> str:
    """What a request is about, as its author reads it: "Giải trình: Đi muộn, ngày 23/11/2026"."""
    kind = REQUEST_KIND.get(request.kind, request.kind)
    if request.violation_id is not None:
        violation = db.get(ViolationRecord, request.violation_id)
        if violation is not None:
            what = VIOLATION.get(violation.kind, violation.kind)
            return f"{kind}: {what}, ngày {violation.day:%d/%m/%Y}"
    if request.first_day is not None:
        days = f"{request.first_day:%d/%m/%Y}"
        if request.last_day is not None and request.last_day != request.first_day:
            days += f" đến {request.last_day:%d/%m/%Y}"
        reason = EXCUSE.get(request.reason_kind or "", "")
        # "Đi công tác 07/12/2026", not "Đi công tác (Đi công tác) …"
        shown = f" ({reason})" if reason and reason != kind else ""
        return f"{kind}{shown} {days}"
    return kind


def request_decided(db: DbSession, request_id: int) -> None:
    """A unit head approved or refused a request: the person is told once (``request_decided``
    template, a link to their requests)."""
    request = db.get(StaffRequest, request_id)
    if request is None or request.status not in ("approved", "refused"):
        return
    head = request.decided_by or ""
    name = db.scalar(select(User.full_name).where(User.username == head)) if head else None
    notifications.enqueue(
        db,
        kind="request_decided",
        recipient=recipients.employee(request.employee_id),
        dedupe_key=f"request:{request.id}:{request.status}",
        template="request_decided",
        context={
            "title": request_title(db, request),
            "decision": REQUEST_STATUS[request.status],
            "decided_by": name or head,
            "note": request.decision_note,
            "path": links.MY_REQUESTS_PATH,
        },
        now=request.decided_at,
    )
