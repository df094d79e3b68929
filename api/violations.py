"""Violations for the people who act on them: list, detail with evidence and history, review."""

from __future__ import annotations

import base64
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.deps import DbSession, require
from api.errors import ApiError, bad_request, not_found, responses
from api.schemas import (
    BulkReviewIn,
    BulkReviewItem,
    EvidencePunch,
    HistoryEvent,
    ReviewIn,
    ReviewOut,
    Violation,
    ViolationDetail,
    ViolationKind,
    ViolationPage,
)
from api.scope import Scope, subtree_units
from kycuong.labels import SESSION, VIOLATION
from store import violations as queries
from store.models import Review

router = APIRouter(prefix="/violations", tags=["Vi phạm"])
Reader = Annotated[Scope, Depends(require("violations:read"))]
Reviewer = Annotated[Scope, Depends(require("violations:review"))]
ViolationPathId = Annotated[int, Path(ge=1, le=2**63 - 1)]
REVIEW_LABELS = {
    None: "Chưa xử lý",
    "confirmed": "Xác nhận",
    "excused": "Có lý do",
    "dismissed": "Bỏ qua",
}


def encode_cursor(day: date, violation_id: int) -> str:
    return base64.urlsafe_b64encode(f"{day.isoformat()}:{violation_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[date, int]:
    try:
        day, violation_id = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        return date.fromisoformat(day), int(violation_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("invalid_cursor", "Con trỏ phân trang không hợp lệ") from exc


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
        review_label=REVIEW_LABELS[row.review],
    )


def to_review(review: Review) -> ReviewOut:
    return ReviewOut(
        id=review.id,
        decision=review.decision,  # type: ignore[arg-type]
        decision_label=REVIEW_LABELS[review.decision],
        previous_decision=review.previous_decision,  # type: ignore[arg-type]
        reason_kind=review.reason_kind,
        note=review.note,
        decided_by=review.decided_by,
        decided_at=review.decided_at,
    )


def units_filter(db: DbSession, scope: Scope, unit_id: int | None) -> frozenset[int] | None:
    if unit_id is None:
        return scope.unit_ids
    if not scope.sees(unit_id):
        raise not_found("Đơn vị")
    return subtree_units(db, unit_id=unit_id)


@router.get(
    "",
    response_model=ViolationPage,
    responses=responses(401, 403, 404, 422),
    summary="Danh sách vi phạm",
)
def list_violations(
    db: DbSession,
    scope: Reader,
    unit_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="a unit and its sub-units")
    ] = None,
    employee_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    kind: ViolationKind | None = None,
    state: Literal["active", "withdrawn", "all"] = "active",
    review: Literal["pending", "confirmed", "excused", "dismissed"] | None = None,
    order: Annotated[Literal["newest", "oldest"], Query(description="by date, then id")] = "newest",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> ViolationPage:
    """In pages of ``limit``, newest or oldest first; ``next_cursor`` fetches the next page
    (pass the same filters and order)."""
    if date_from and date_to and date_to < date_from:
        raise bad_request("invalid_range", "Ngày kết thúc phải sau hoặc bằng ngày bắt đầu")
    where = queries.ViolationFilter(
        units=units_filter(db, scope, unit_id),
        employee_id=employee_id,
        date_from=date_from,
        date_to=date_to,
        kind=kind,
        state=state,
        review=review,
    )
    after = decode_cursor(cursor) if cursor else None
    rows = queries.list_violations(db, where, limit + 1, after, newest_first=order == "newest")
    items = [to_violation(r) for r in rows[:limit]]
    next_cursor = (
        encode_cursor(rows[limit - 1].day, rows[limit - 1].id) if len(rows) > limit else None
    )
    return ViolationPage(items=items, next_cursor=next_cursor)


@router.get(
    "/{violation_id}",
    response_model=ViolationDetail,
    responses=responses(401, 403, 404),
    summary="Chi tiết vi phạm",
)
def get_violation(violation_id: ViolationPathId, db: DbSession, scope: Reader) -> ViolationDetail:
    row = queries.get_violation(db, violation_id, scope.unit_ids)
    if row is None:
        raise not_found("Vi phạm")
    return _detail(db, row)


def _detail(db: DbSession, row: Any) -> ViolationDetail:
    events, reviews = queries.history(db, row)
    return ViolationDetail(
        **to_violation(row).model_dump(),
        evidence=[
            EvidencePunch(
                id=p.id,
                device_id=p.device_id,
                punched_at=p.punched_at,
                device_time=p.device_time,
                direction=p.direction,
                credential_kind=p.credential_kind,
            )
            for p in queries.evidence_punches(db, row.evidence)
        ],
        history=[
            HistoryEvent(at=e.at, action=e.action, minutes=e.minutes, provisional=e.provisional)  # type: ignore[arg-type]
            for e in events
        ],
        reviews=[to_review(r) for r in reviews],
    )


def _review_one(db: DbSession, scope: Scope, violation_id: int, body: ReviewIn) -> Review:
    row = queries.get_violation(db, violation_id, scope.unit_ids)
    if row is None:
        raise not_found("Vi phạm")
    if not row.active:
        raise ApiError(
            409, "withdrawn", "Vi phạm đã được thu hồi (dữ liệu chấm công cho thấy không vi phạm)"
        )
    if body.decision == "excused" and body.reason_kind is None:
        raise bad_request("reason_required", "Cần chọn lý do (reason_kind) khi xác nhận có lý do")
    return queries.review(db, row, body.decision, body.reason_kind, body.note, scope.username)


@router.post(
    "/{violation_id}/review",
    response_model=ReviewOut,
    responses=responses(401, 403, 404, 422) | {409: {"description": "Vi phạm đã được thu hồi"}},
    summary="Xử lý một vi phạm",
)
def review_violation(
    violation_id: int, body: ReviewIn, db: DbSession, scope: Reviewer
) -> ReviewOut:
    """Confirm, excuse (with a reason) or dismiss; every decision is kept with who and when."""
    return to_review(_review_one(db, scope, violation_id, body))


@router.post(
    "/reviews",
    response_model=list[BulkReviewItem],
    responses=responses(401, 403, 422),
    summary="Xử lý nhiều vi phạm",
)
def review_many(body: BulkReviewIn, db: DbSession, scope: Reviewer) -> list[BulkReviewItem]:
    """The same decision for many violations; each gets its own result."""
    results = []
    single = ReviewIn(decision=body.decision, reason_kind=body.reason_kind, note=body.note)
    for violation_id in dict.fromkeys(body.ids):
        try:
            review = _review_one(db, scope, violation_id, single)
        except ApiError as exc:
            if exc.code in ("reason_required",):
                raise
            results.append(BulkReviewItem(id=violation_id, ok=False, error=exc.code))
            continue
        results.append(BulkReviewItem(id=violation_id, ok=True, review=to_review(review)))
    return results
