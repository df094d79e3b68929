"""Violations (vi phạm) for the people who act on them: a page of the queue, one violation
with its evidence and history, and review decisions (xác nhận / có lý do / bỏ qua)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Conflict, Invalid, KcError, NotFound
from kycuong.labels import REVIEW, SESSION, VIOLATION
from services import requests
from services.schemas import (
    BulkReviewIn,
    BulkReviewItem,
    EvidencePunch,
    HistoryEvent,
    ReviewIn,
    ReviewOut,
    Violation,
    ViolationDetail,
    ViolationPage,
)
from services.scope import Scope, units_filter
from store import violations as queries
from store.models import Review
from store.users import full_names

Order = Literal["newest", "oldest"]


@dataclass(frozen=True, slots=True)
class ViolationQuery:
    """What a reviewer filters the queue by; ``unit_id`` narrows to one unit's subtree."""

    unit_id: int | None = None
    employee_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    kind: str | None = None
    state: queries.State = "active"
    review: queries.ReviewFilter | None = None
    order: Order = "newest"


def encode_cursor(day: date, violation_id: int) -> str:
    return base64.urlsafe_b64encode(f"{day.isoformat()}:{violation_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[date, int]:
    try:
        day, violation_id = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        return date.fromisoformat(day), int(violation_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid(
            "invalid_cursor",
            "Liên kết “Trang sau” này không còn dùng được. Hãy mở lại danh sách từ trang đầu.",
        ) from exc


def to_violation(row: Any) -> Violation:
    return Violation(
        id=row.id,
        employee_id=row.employee_id,
        employee_code=row.employee_code,
        employee_name=row.employee_name,
        unit_id=row.unit_id,
        unit_name=row.unit_name,
        date=row.day,
        session=row.session,
        session_label=SESSION.get(row.session, row.session),
        kind=row.kind,
        kind_label=VIOLATION[row.kind],
        minutes=row.minutes,
        provisional=row.provisional,
        active=row.active,
        pending_excuse_id=row.pending_excuse_id,
        detected_at=row.detected_at,
        withdrawn_at=row.withdrawn_at,
        review=row.review,
        review_label=REVIEW[row.review],
    )


def to_review(review: Review, names: dict[str, str] | None = None) -> ReviewOut:
    return ReviewOut(
        id=review.id,
        decision=review.decision,  # type: ignore[arg-type]
        decision_label=REVIEW[review.decision],
        previous_decision=review.previous_decision,  # type: ignore[arg-type]
        reason_kind=review.reason_kind,
        note=review.note,
        decided_by=review.decided_by,
        decided_by_name=(names or {}).get(review.decided_by, review.decided_by),
        decided_at=review.decided_at,
    )


def page(
    db: DbSession, scope: Scope, query: ViolationQuery, limit: int, cursor: str | None = None
) -> ViolationPage:
    """A page of ``limit`` violations in scope, keyset-paginated by (date, id).

    ``next_cursor`` fetches the next page with the same query; the cost does not grow with
    the page number, so the millionth violation is as fast to reach as the first.
    """
    scope.require("violations:read")
    if query.date_from and query.date_to and query.date_to < query.date_from:
        raise Invalid("invalid_range", "Ngày kết thúc phải sau hoặc bằng ngày bắt đầu")
    where = queries.ViolationFilter(
        units=units_filter(db, scope, query.unit_id),
        employee_id=query.employee_id,
        date_from=query.date_from,
        date_to=query.date_to,
        kind=query.kind,
        state=query.state,
        review=query.review,
    )
    after = decode_cursor(cursor) if cursor else None
    rows = queries.list_violations(
        db, where, limit + 1, after, newest_first=query.order == "newest"
    )
    items = [to_violation(r) for r in rows[:limit]]
    next_cursor = (
        encode_cursor(rows[limit - 1].day, rows[limit - 1].id) if len(rows) > limit else None
    )
    return ViolationPage(items=items, next_cursor=next_cursor)


def detail(db: DbSession, scope: Scope, violation_id: int) -> ViolationDetail:
    """One violation with its evidence punches, its history and every review decision."""
    scope.require("violations:read")
    row = queries.get_violation(db, violation_id, scope.unit_ids)
    if row is None:
        raise NotFound("Vi phạm")
    events, reviews = queries.history(db, row)
    names = full_names(db, {r.decided_by for r in reviews})
    return ViolationDetail(
        **to_violation(row).model_dump(),
        evidence=[
            EvidencePunch(
                id=p.id,
                device_id=p.device_id,
                device_site=site,
                punched_at=p.punched_at,
                device_time=p.device_time,
                direction=p.direction,
                credential_kind=p.credential_kind,
            )
            for p, site in queries.evidence_punches(db, row.evidence)
        ],
        history=[
            HistoryEvent(at=e.at, action=e.action, minutes=e.minutes, provisional=e.provisional)  # type: ignore[arg-type]
            for e in events
        ],
        reviews=[to_review(r, names) for r in reviews],
    )


def brief(db: DbSession, scope: Scope, violation_ids: list[int]) -> dict[int, Violation]:
    """The rows of the given ids that are in scope (at most 100), by id; others left out."""
    scope.require("violations:read")
    found = {}
    for violation_id in violation_ids[:100]:
        row = queries.get_violation(db, violation_id, scope.unit_ids)
        if row is not None:
            found[violation_id] = to_violation(row)
    return found


def review(
    db: DbSession, scope: Scope, violation_id: int, decision: ReviewIn, now: datetime
) -> ReviewOut:
    """Record a decision on one violation in scope; the history keeps the one before it.

    Raises ``NotFound`` outside the scope, ``Conflict`` for a withdrawn violation and
    ``Invalid`` for "có lý do" without a reason.
    """
    scope.require("violations:review")
    if decision.decision == "excused" and decision.reason_kind is None:
        raise Invalid("reason_required", "Cần chọn lý do khi xác nhận vi phạm có lý do")
    row = queries.get_violation(db, violation_id, scope.unit_ids)
    if row is None:
        raise NotFound("Vi phạm")
    if not row.active:
        raise Conflict(
            "withdrawn", "Vi phạm đã được thu hồi (dữ liệu chấm công cho thấy không vi phạm)"
        )
    # A giải trình still waiting on this violation is answered by this decision. Its request
    # is locked before the review is written, in the order approving a giải trình takes
    # (request, then review): the other order deadlocked against a concurrent approval.
    requests.close_by_review(
        db, scope, row.id, decision.decision, decision.reason_kind, decision.note, now
    )
    record = queries.review(
        db, row, decision.decision, decision.reason_kind, decision.note, scope.username, now
    )
    return to_review(record)


def review_many(
    db: DbSession, scope: Scope, body: BulkReviewIn, now: datetime
) -> list[BulkReviewItem]:
    """The same decision for many violations; each gets its own result (one may fail)."""
    scope.require("violations:review")
    single = ReviewIn(decision=body.decision, reason_kind=body.reason_kind, note=body.note)
    if single.decision == "excused" and single.reason_kind is None:
        raise Invalid("reason_required", "Cần chọn lý do khi xác nhận vi phạm có lý do")
    results = []
    for violation_id in dict.fromkeys(body.ids):
        try:
            decided = review(db, scope, violation_id, single, now)
        except KcError as exc:
            results.append(
                BulkReviewItem(id=violation_id, ok=False, error=exc.code, message=exc.message)
            )
            continue
        results.append(BulkReviewItem(id=violation_id, ok=True, review=decided))
    return results
