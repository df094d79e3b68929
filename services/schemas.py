"""Response and request bodies of the API (pydantic), with examples for the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from kycuong.inputs import Day, FreeText, by_label
from kycuong.labels import EXCUSE
from rules.evaluate import ExcuseKind

# Ids as the database holds them: out-of-range numbers are a 422, never a database error.
BigId = Annotated[int, Field(ge=1, le=2**63 - 1)]
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]

ViolationKind = Literal["late", "early_leave", "absent", "missing_in", "missing_out"]
Decision = Literal["confirmed", "excused", "dismissed"]
# The code or the Vietnamese label ("Nghỉ phép năm"); a refusal lists the accepted values.
ExcuseKindName = Annotated[ExcuseKind, by_label(EXCUSE, "Loại lý do")]


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds")


class Me(BaseModel):
    username: str
    role: str
    unit_ids: list[int] | None = Field(description="units in scope; null: every unit")


class Violation(BaseModel):
    """A violation (vi phạm) with its labels in Vietnamese."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "id": 1042,
                "employee_id": 17,
                "employee_code": "NV00017",
                "employee_name": "Nguyễn Thị Hương",
                "unit_id": 3,
                "unit_name": "Phòng Công chức, viên chức",
                "date": "2026-11-23",
                "session": "morning",
                "session_label": "Sáng",
                "kind": "late",
                "kind_label": "Đi muộn",
                "minutes": 18,
                "provisional": False,
                "active": True,
                "pending_excuse_id": None,
                "detected_at": "2026-11-23T00:48:02Z",
                "withdrawn_at": None,
                "review": None,
                "review_label": "Chưa xử lý",
            }
        }
    )

    id: int
    employee_id: int
    employee_code: str
    employee_name: str
    unit_id: int
    unit_name: str
    date: date
    session: str
    session_label: str
    kind: ViolationKind
    kind_label: str
    minutes: int
    provisional: bool
    active: bool
    pending_excuse_id: int | None
    detected_at: datetime
    withdrawn_at: datetime | None
    review: Decision | None
    review_label: str


class ViolationPage(BaseModel):
    items: list[Violation]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null at the end"
    )


class EvidencePunch(BaseModel):
    id: int
    device_id: str
    device_site: str = Field(description="where the reader stands, e.g. Cổng phụ")
    punched_at: datetime
    device_time: datetime
    direction: str
    credential_kind: str


class HistoryEvent(BaseModel):
    at: datetime
    action: Literal["detected", "updated", "withdrawn", "restored"]
    minutes: int | None
    provisional: bool | None


class ReviewOut(BaseModel):
    id: int
    decision: Decision
    decision_label: str
    previous_decision: Decision | None
    reason_kind: str | None
    note: str
    decided_by: str
    decided_by_name: str = Field(default="", description="the author's full name (họ tên)")
    decided_at: datetime


class ViolationDetail(Violation):
    evidence: list[EvidencePunch]
    history: list[HistoryEvent]
    reviews: list[ReviewOut]


class ReviewIn(BaseModel):
    """A decision: confirm (xác nhận), excuse with a reason (có lý do), dismiss (bỏ qua)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "decision": "excused",
                "reason_kind": "business_trip",
                "note": "Họp tại UBND tỉnh",
            }
        },
    )

    decision: Decision
    reason_kind: ExcuseKindName | None = None
    note: FreeText = Field(default="", max_length=2000)


class BulkReviewIn(ReviewIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"ids": [1042, 1043], "decision": "confirmed", "note": ""}},
    )

    ids: list[BigId] = Field(min_length=1, max_length=500)


class BulkReviewItem(BaseModel):
    id: int
    ok: bool
    error: str | None = None
    message: str | None = None
    review: ReviewOut | None = None


class ExcuseIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "employee_code": "NV00017",
                "kind": "annual_leave",
                "first_day": "2026-11-26",
                "last_day": "2026-11-27",
                "sessions": None,
                "approved": False,
                "note": "Nghỉ phép năm",
            }
        },
    )

    employee_code: str = Field(min_length=1, max_length=64)
    kind: ExcuseKindName
    first_day: Day
    last_day: Day
    # The schedule's own session names, or sáng, chiều, đêm; unknown names are refused.
    sessions: list[str] | None = Field(default=None, max_length=8)
    approved: bool = False
    note: FreeText = Field(default="", max_length=2000)


class Excuse(BaseModel):
    id: int
    employee_id: int
    employee_code: str
    employee_name: str
    kind: ExcuseKindName
    kind_label: str
    first_day: date
    last_day: date
    sessions: list[str] | None
    status: Literal["pending", "approved", "cancelled"]
    status_label: str
    note: str
    created_by: str
    created_at: datetime


class ImportReport(BaseModel):
    created: int
    problems: list[str]


class Device(BaseModel):
    id: str
    site: str
    direction: str
    enabled: bool
    state: str | None
    online: bool
    last_seen_at: datetime | None
    clock_offset_s: float | None
    sent_up_to: datetime | None
    backlog: int | None
    unknown_cards_24h: int


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]


class SigninLock(BaseModel):
    """Failed sign-ins of an account ("user:…") or a client address ("addr:…")."""

    key: str
    failures: int
    last_failure_at: datetime
    locked_until: datetime | None
    lockouts: int


class RosterRowOut(BaseModel):
    """One row of a roster file: what it will do (or did) and why."""

    line: int
    action: Literal["create", "update", "unchanged", "refuse"]
    action_label: str
    code: str
    name: str
    changes: list[str]
    reasons: list[str]
    warnings: list[str]


class RosterPreviewOut(BaseModel):
    """A roster file planned row by row (nothing written), or applied (``applied``)."""

    kind: Literal["units", "employees"]
    summary: str
    notes: list[str]
    rows: list[RosterRowOut]
    digest: str
    applied: bool = False
    cards_assigned: int = 0
    punches_matched: int = 0


class UnitOut(BaseModel):
    id: int
    code: str
    name: str
    agency_code: str
    agency_name: str
    depth: int
    people: int


class PersonOut(BaseModel):
    id: int
    code: str
    full_name: str
    unit_id: int
    unit_name: str
    title: str | None
    active_from: date
    active_to: date | None
