"""Violations for the people who act on them: list, detail with evidence and history, review."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.deps import DbSession, require
from api.errors import responses
from kycuong.inputs import Day
from services import violations as service
from services.schemas import (
    BulkReviewIn,
    BulkReviewItem,
    ReviewIn,
    ReviewOut,
    ViolationDetail,
    ViolationKind,
    ViolationPage,
)
from services.scope import Scope

router = APIRouter(prefix="/api/violations", tags=["Vi phạm"])
Reader = Annotated[Scope, Depends(require("violations:read"))]
Reviewer = Annotated[Scope, Depends(require("violations:review"))]
ViolationPathId = Annotated[int, Path(ge=1, le=2**63 - 1)]


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
    date_from: Annotated[Day | None, Query(alias="from")] = None,
    date_to: Annotated[Day | None, Query(alias="to")] = None,
    kind: ViolationKind | None = None,
    state: Literal["active", "withdrawn", "all"] = "active",
    review: Literal["pending", "confirmed", "excused", "dismissed"] | None = None,
    order: Annotated[Literal["newest", "oldest"], Query(description="by date, then id")] = "newest",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> ViolationPage:
    """In pages of ``limit``, newest or oldest first; ``next_cursor`` fetches the next page
    (pass the same filters and order)."""
    query = service.ViolationQuery(
        unit_id=unit_id,
        employee_id=employee_id,
        date_from=date_from,
        date_to=date_to,
        kind=kind,
        state=state,
        review=review,
        order=order,
    )
    return service.page(db, scope, query, limit, cursor)


@router.get(
    "/{violation_id}",
    response_model=ViolationDetail,
    responses=responses(401, 403, 404),
    summary="Chi tiết vi phạm",
)
def get_violation(violation_id: ViolationPathId, db: DbSession, scope: Reader) -> ViolationDetail:
    return service.detail(db, scope, violation_id)


@router.post(
    "/{violation_id}/review",
    response_model=ReviewOut,
    responses=responses(401, 403, 404, 422) | {409: {"description": "Vi phạm đã được thu hồi"}},
    summary="Xử lý một vi phạm",
)
def review_violation(
    violation_id: ViolationPathId, body: ReviewIn, db: DbSession, scope: Reviewer
) -> ReviewOut:
    """Confirm, excuse (with a reason) or dismiss; every decision is kept with who and when."""
    return service.review(db, scope, violation_id, body, datetime.now(UTC))


@router.post(
    "/reviews",
    response_model=list[BulkReviewItem],
    responses=responses(401, 403, 422),
    summary="Xử lý nhiều vi phạm",
)
def review_many(body: BulkReviewIn, db: DbSession, scope: Reviewer) -> list[BulkReviewItem]:
    """The same decision for many violations; each gets its own result."""
    return service.review_many(db, scope, body, datetime.now(UTC))
