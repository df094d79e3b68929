"""Requests of staff (đề nghị), decided by the unit head: giải trình on a violation, a
forgotten punch (đề nghị bổ sung giờ chấm), leave (xin nghỉ) and trips (đi công tác).

A member of staff sends; the head of their unit approves or refuses. A request is never
edited: pending → approved / refused, or superseded by a newer one; each step is a row of
``request_events`` (who, when, before, after). Approval acts through the facts: an
explanation becomes an "excused" review, a forgotten punch a new manual punch, leave or a
trip an approved excuse; each queues the days to recompute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Conflict, Invalid, KcError, NotFound
from kycuong.inputs import quoted
from kycuong.labels import (
    EXCUSE,
    REQUEST_ACTION,
    REQUEST_KIND,
    REQUEST_STATUS,
    REVIEW,
    SESSION,
    VIOLATION,
    vn_number,
)
from rules.config import SessionNameError, resolve_session_names
from runner.directory import RulesDirectory
from services import events
from services.scope import Scope
from store import violations as violation_queries
from store.excuses import ExcuseError, add_excuse
from store.manual_punches import add_manual_punch
from store.models import (
    Attachment,
    Employee,
    RequestEvent,
    StaffRequest,
    Unit,
    User,
    ViolationRecord,
)

Decision = Literal["approved", "refused"]
LEAVE_KINDS = (
    "annual_leave",
    "sick_leave",
    "personal_paid",
    "unpaid_leave",
    "compensatory_day",
    "maternity",
    "other",
)
TRIP_KINDS = ("business_trip", "training", "outside_meeting")
SESSIONS = ("morning", "afternoon")
# Magic bytes → media type: the content decides, never the file's name alone.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
}
MAX_NOTE = 2000
# The calendar of working days (the agency's, with its holidays and làm bù days).
_DIRECTORY = RulesDirectory(max_age_s=60)


@dataclass(frozen=True, slots=True)
class Limits:
    """Settings that bound requests: the giải trình deadline and the attachment size."""

    working_days: int = 3
    attachment_max_bytes: int = 5 * 1024 * 1024
    # Xin nghỉ / công tác: a past day until this many working days after it (the giải trình
    # deadline's by default), a future one at most ``ahead_days`` ahead.
    backdate_working_days: int = 3
    ahead_days: int = 366


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as the browser sent it."""

    filename: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    by: str
    action: str
    action_label: str
    before: str | None
    after: str
    note: str


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request as people read it (labels in Vietnamese, instants in UTC)."""

    id: int
    kind: str
    kind_label: str
    status: str
    status_label: str
    employee_id: int
    employee_code: str
    employee_name: str
    unit_name: str
    violation_id: int | None
    violation_label: str | None
    reason_kind: str | None
    reason_label: str | None
    note: str
    punch_at: datetime | None
    first_day: date | None
    last_day: date | None
    sessions_label: str
    attachment_name: str | None
    created_by: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    punch_id: int | None
    steps: list[Step] = field(default_factory=list)
    # Which punch was forgotten, as the person said it: "Quên chấm công ra (buổi sáng)".
    punch_label: str | None = None
    decided_by_name: str | None = None  # the head's name as people read it ("Chánh Văn phòng")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request of a decision on many: done, or why not."""

    id: int
    ok: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class AttachmentFile:
    filename: str
    media_type: str
    content: bytes


# -- what a person may send ---------------------------------------------------------------


def check_attachment(upload: Upload, max_bytes: int) -> str:
    """The media type of an acceptable attachment (PDF, JPEG, PNG within ``max_bytes``).

    Raises ``Invalid`` with a Vietnamese message otherwise: the type is read from the
    content's first bytes, and the name's extension must agree with it."""
    if not upload.content:
        raise Invalid("empty_file", "Tệp đính kèm rỗng")
    if len(upload.content) > max_bytes:
        raise Invalid(
            "file_too_large",
            f"Tệp đính kèm quá lớn (tối đa {vn_number(max_bytes / (1024 * 1024))} MB)",
        )
    media_type = next((t for magic, t in SIGNATURES if upload.content.startswith(magic)), None)
    name = upload.filename.lower()
    if media_type is None or not name.endswith(EXTENSIONS[media_type]):
        raise Invalid(
            "unsupported_file", "Chỉ nhận tệp PDF, JPEG hoặc PNG (nội dung đúng với đuôi tệp)"
        )
    return media_type


def _safe_name(filename: str) -> str:
    """The name kept for a download: no path, no control characters, at most 120 chars."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if c.isprintable() and c not in '"<>:|?*')
    return (cleaned.strip() or "tep-dinh-kem")[-120:]


def _store_attachment(db: DbSession, content: bytes, media_type: str, now: datetime) -> int:
    """Content-addressed: the same file sent twice is kept once."""
    digest = hashlib.sha256(content).hexdigest()
    found = db.scalar(select(Attachment.id).where(Attachment.sha256 == digest))
    if found is not None:
        return int(found)
    row = Attachment(
        sha256=digest, media_type=media_type, size=len(content), content=content, created_at=now
    )
    db.add(row)
    db.flush()
    return row.id


def _me(db: DbSession, scope: Scope) -> Employee:
    scope.require("requests:create")
    employee = db.get(Employee, scope.employee_id) if scope.employee_id is not None else None
    if employee is None:
        raise NotFound("Cán bộ")
    return employee


def working_days_after(db: DbSession, employee: Employee, day: date, count: int) -> date:
    """The ``count``-th working day after ``day`` in the person's calendar (their agency's
    holidays, swapped days and schedule); ``day`` itself when ``count`` is 0."""
    person = _DIRECTORY.people(db, {employee.id})[employee.id]
    current, found = day, 0
    for _ in range(count * 7 + 60):  # a Tết week and weekends cannot hide more than this
        if found >= count:
            break
        current += timedelta(days=1)
        if _DIRECTORY.plan(person, current).kind == "working":
            found += 1
    return current


def _within_deadline(
    db: DbSession, employee: Employee, day: date, limits: Limits, today: date
) -> None:
    last = working_days_after(db, employee, day, limits.working_days)
    if today > last:
        raise Invalid(
            "too_late",
            f"Đã quá hạn gửi (chậm nhất {limits.working_days} ngày làm việc sau ngày "
            f"{day:%d/%m/%Y}, tức là hết ngày {last:%d/%m/%Y})",
        )


def _note(text: str, message: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise Invalid("note_required", message)
    if len(cleaned) > MAX_NOTE:
        raise Invalid("note_too_long", f"Nội dung tối đa {MAX_NOTE} ký tự")
    return cleaned


def _own_violation(db: DbSession, employee: Employee, violation_id: int) -> ViolationRecord:
    violation = db.get(ViolationRecord, violation_id)
    if violation is None or violation.employee_id != employee.id:
        raise NotFound("Vi phạm")
    return violation


def _create(
    db: DbSession, scope: Scope, employee: Employee, now: datetime, **values: Any
) -> StaffRequest:
    request = StaffRequest(
        employee_id=employee.id,
        unit_id=employee.unit_id,
        status="pending",
        created_by=scope.username,
        created_at=now,
        decision_note="",
        **values,
    )
    db.add(request)
    db.flush()
    _step(db, request, scope.username, "created", None, "pending", "", now)
    events.request_created(db, request.id)
    return request


def _step(
    db: DbSession,
    request: StaffRequest,
    by: str,
    action: str,
    before: str | None,
    after: str,
    note: str,
    now: datetime,
) -> None:
    db.add(
        RequestEvent(
            request_id=request.id,
            at=now,
            by=by,
            action=action,
            before=before,
            after=after,
            note=note,
        )
    )


def _supersede(
    db: DbSession, scope: Scope, employee: Employee, kind: str, violation_id: int, now: datetime
) -> None:
    """A new request on the same violation replaces the person's pending one (kept, marked)."""
    for older in db.scalars(
        select(StaffRequest)
        .where(
            StaffRequest.employee_id == employee.id,
            StaffRequest.kind == kind,
            StaffRequest.violation_id == violation_id,
            StaffRequest.status == "pending",
        )
        .with_for_update()
    ):
        older.status = "superseded"
        _step(db, older, scope.username, "superseded", "pending", "superseded", "", now)


ALREADY_EXCUSED = "Giải trình cho vi phạm này đã được duyệt, không cần gửi lại"


def check_explainable(db: DbSession, violation_id: int) -> None:
    """``Conflict`` when an explanation of the violation was approved already: it is excused,
    a new one would only queue a second decision for the head."""
    approved = db.scalar(
        select(StaffRequest.id).where(
            StaffRequest.violation_id == violation_id,
            StaffRequest.kind == "explanation",
            StaffRequest.status == "approved",
        )
    )
    if approved is not None:
        raise Conflict("already_excused", ALREADY_EXCUSED)


def explain(
    db: DbSession,
    scope: Scope,
    violation_id: int,
    reason_kind: str,
    note: str,
    upload: Upload | None,
    limits: Limits,
    now: datetime,
    today: date,
) -> RequestView:
    """Giải trình on one's own violation, with a reason kind (DOMAIN.md's excuses), a note and
    an optional attachment; until ``limits.working_days`` working days after the violation.

    ``NotFound`` for anyone else's violation; ``Conflict`` for a withdrawn one; ``Invalid``
    for a missing reason or note, a late request or an unacceptable file (nothing stored)."""
    employee = _me(db, scope)
    violation = _own_violation(db, employee, violation_id)
    if not violation.active:
        raise Conflict("withdrawn", "Vi phạm đã được thu hồi, không cần giải trình")
    check_explainable(db, violation.id)
    if reason_kind not in EXCUSE:
        raise Invalid("reason_required", "Hãy chọn loại lý do trong danh sách")
    text = _note(note, "Hãy ghi nội dung giải trình")
    media_type = check_attachment(upload, limits.attachment_max_bytes) if upload else None
    _within_deadline(db, employee, violation.day, limits, today)
    attachment_id = (
        _store_attachment(db, upload.content, media_type, now) if upload and media_type else None
    )
    _supersede(db, scope, employee, "explanation", violation.id, now)
    request = _create(
        db,
        scope,
        employee,
        now,
        kind="explanation",
        violation_id=violation.id,
        reason_kind=reason_kind,
        note=text,
        attachment_id=attachment_id,
        attachment_name=_safe_name(upload.filename) if upload else None,
    )
    return get(db, scope, request.id)


# The side of a forgotten punch as people say it (quên chấm công vào / ra).
PUNCH_SIDE = {"in": "vào", "out": "ra"}


def punch_choices(db: DbSession, scope: Scope, day: date) -> list[tuple[str, str]]:
    """Which punch was forgotten, as the form offers it: ("out:morning", "Quên chấm công ra
    (buổi sáng)") for each session of the person's schedule on ``day`` (a day without one:
    the office day's two sessions, so the form is never empty)."""
    employee = _me(db, scope)
    person = _DIRECTORY.people(db, {employee.id})[employee.id]
    names = [s.name for s in _DIRECTORY.plan(person, day).sessions] or list(SESSIONS)
    return [(f"{side}:{name}", _punch_text(side, name)) for name in names for side in PUNCH_SIDE]


def suggested_punch(db: DbSession, scope: Scope, violation_id: int | None) -> str:
    """The forgotten punch one's own violation suggests ("out:morning" for a missing
    check-out of the morning, "in:…" for a missing check-in, lateness or absence)."""
    if not violation_id:
        return ""
    try:
        violation = _own_violation(db, _me(db, scope), violation_id)
    except KcError:
        return ""
    side = {"missing_out": "out", "missing_in": "in", "absent": "in", "late": "in"}.get(
        violation.kind
    )
    return f"{side}:{violation.session}" if side else ""


def _punch_text(side: str, session: str) -> str:
    return f"Quên chấm công {PUNCH_SIDE[side]} (buổi {SESSION.get(session, session).lower()})"


def punch_label(side: str | None, session: str | None) -> str | None:
    """The forgotten punch as the person said it ("Quên chấm công ra (buổi sáng)"); None
    when they did not say."""
    if not side or side not in PUNCH_SIDE or not session:
        return None
    return _punch_text(side, session)


def _said_punch(
    db: DbSession, employee: Employee, day: date, punched_at: datetime, which: str
) -> tuple[str, str]:
    """``which`` ("out:morning", or "ra:sáng" as people type it) → (side, the schedule's
    session name), checked against the person's sessions that day and their windows."""
    side, _, name = which.strip().partition(":")
    side = {"vao": "in", "vào": "in", "ra": "out"}.get(side.strip().lower(), side.strip())
    if side not in PUNCH_SIDE or not name.strip():
        raise Invalid(
            "punch_side_required",
            "Hãy chọn lượt chấm bị quên: vào hoặc ra, buổi nào (ví dụ: Quên chấm công ra "
            "(buổi sáng))",
        )
    person = _DIRECTORY.people(db, {employee.id})[employee.id]
    sessions = _DIRECTORY.plan(person, day).sessions
    if not sessions:
        raise Invalid(
            "no_session", f"Ngày {day:%d/%m/%Y} không có buổi làm việc nào theo lịch của bạn"
        )
    try:
        (session_name,) = resolve_session_names([name.strip()], [s.name for s in sessions])
    except SessionNameError as exc:
        raise Invalid("unknown_session", str(exc)) from exc
    session = next(s for s in sessions if s.name == session_name)
    if not session.contains(int(punched_at.timestamp())):
        tz = punched_at.tzinfo
        start = datetime.fromtimestamp(session.window_start, tz)
        end = datetime.fromtimestamp(session.window_end, tz)
        raise Invalid(
            "outside_session",
            f"Giờ {punched_at:%H:%M} không thuộc buổi "
            f"{SESSION.get(session_name, session_name).lower()} (giờ chấm của buổi này từ "
            f"{start:%H:%M} đến {end:%H:%M} ngày {end:%d/%m/%Y})",
        )
    return side, session_name


def request_missing_punch(
    db: DbSession,
    scope: Scope,
    punched_at: datetime,
    local_day: date,
    note: str,
    violation_id: int | None,
    limits: Limits,
    now: datetime,
    today: date,
    which: str = "",
) -> RequestView:
    """Đề nghị bổ sung giờ chấm: the actual time (aware, the person's local day), which punch
    it was (``which``: "in:morning" … as the person says it: quên chấm công vào / ra, which
    session) and why. What the person said is kept, and once approved the rules honour it:
    the punch is that session's arrival or departure, never the other side."""
    employee = _me(db, scope)
    if punched_at > now:
        raise Invalid("future_time", "Giờ chấm cần bổ sung không thể ở tương lai")
    if not (employee.active_from <= local_day and (employee.active_to or local_day) >= local_day):
        raise Invalid("out_of_service", "Ngày này nằm ngoài thời gian công tác của bạn")
    side, session = _said_punch(db, employee, local_day, punched_at, which)
    text = _note(note, "Hãy ghi lý do quên chấm công")
    if violation_id is not None:
        violation = _own_violation(db, employee, violation_id)
        if violation.day != local_day:
            raise Invalid("wrong_day", "Giờ chấm bổ sung phải cùng ngày với vi phạm")
    _within_deadline(db, employee, local_day, limits, today)
    if violation_id is not None:
        _supersede(db, scope, employee, "missing_punch", violation_id, now)
    request = _create(
        db,
        scope,
        employee,
        now,
        kind="missing_punch",
        violation_id=violation_id,
        punch_at=punched_at,
        punch_direction=side,
        sessions=session,
        first_day=local_day,
        last_day=local_day,
        note=text,
    )
    return get(db, scope, request.id)


# Kinds a person may register after the fact (DOMAIN.md: sick leave): their window runs
# from the last day of the absence, not its first.
AFTER_THE_FACT = frozenset({"sick_leave"})


def _absence_window(
    db: DbSession,
    employee: Employee,
    excuse_kind: str,
    first_day: date,
    last_day: date,
    limits: Limits,
    today: date,
) -> None:
    """``Invalid`` for a request sent too long after the days it covers (the giải trình
    deadline, in working days) or reaching too far ahead (``limits.ahead_days``)."""
    horizon = today + timedelta(days=limits.ahead_days)
    if last_day > horizon:
        raise Invalid(
            "too_far_ahead",
            f"Chỉ gửi được đề nghị cho những ngày từ nay đến hết ngày {horizon:%d/%m/%Y} "
            f"({limits.ahead_days} ngày tới)",
        )
    after_the_fact = excuse_kind in AFTER_THE_FACT
    counted_from = last_day if after_the_fact else first_day
    if counted_from >= today:
        return
    last = working_days_after(db, employee, counted_from, limits.backdate_working_days)
    if today > last:
        which = (
            f"ngày cuối của đợt nghỉ ({counted_from:%d/%m/%Y})"
            if after_the_fact
            else f"ngày bắt đầu nghỉ ({counted_from:%d/%m/%Y})"
        )
        raise Invalid(
            "too_late",
            f"Đã quá hạn gửi: đề nghị cho ngày đã qua gửi chậm nhất "
            f"{limits.backdate_working_days} ngày làm việc sau {which}, tức là hết ngày "
            f"{last:%d/%m/%Y}. Hãy báo trưởng đơn vị hoặc bộ phận tổ chức cán bộ để ghi nhận.",
        )


def request_absence(
    db: DbSession,
    scope: Scope,
    kind: Literal["leave", "trip"],
    excuse_kind: str,
    first_day: date,
    last_day: date,
    sessions: list[str] | None,
    note: str,
    limits: Limits,
    now: datetime,
    today: date,
) -> RequestView:
    """Xin nghỉ / đi công tác for whole days or some sessions; pending until the head decides.

    A past day only within ``limits.backdate_working_days`` working days (sick leave: after
    the last day), a future one at most ``limits.ahead_days`` ahead (``Invalid`` beyond)."""
    employee = _me(db, scope)
    allowed = LEAVE_KINDS if kind == "leave" else TRIP_KINDS
    if excuse_kind not in allowed:
        raise Invalid("invalid_kind", "Hãy chọn loại trong danh sách")
    if last_day < first_day:
        raise Invalid("invalid_range", "Ngày kết thúc phải sau hoặc bằng ngày bắt đầu")
    if (last_day - first_day).days > 366:
        raise Invalid("invalid_range", "Một đề nghị không quá một năm")
    _absence_window(db, employee, excuse_kind, first_day, last_day, limits, today)
    chosen = [s for s in SESSIONS if s in (sessions or [])]
    text = note.strip()[:MAX_NOTE]
    request = _create(
        db,
        scope,
        employee,
        now,
        kind=kind,
        reason_kind=excuse_kind,
        first_day=first_day,
        last_day=last_day,
        sessions=",".join(chosen) if chosen and len(chosen) < len(SESSIONS) else None,
        note=text,
    )
    return get(db, scope, request.id)


# -- reading -----------------------------------------------------------------------------


def _visible(db: DbSession, scope: Scope, request_id: int) -> tuple[StaffRequest, Employee]:
    """The request if the caller is its author or reads requests of its unit; else NotFound."""
    request = db.get(StaffRequest, request_id)
    employee = db.get(Employee, request.employee_id) if request is not None else None
    if request is None or employee is None:
        raise NotFound("Đề nghị")
    own = scope.employee_id is not None and scope.employee_id == request.employee_id
    if own and scope.may("self:read"):
        return request, employee
    if scope.may("requests:read") and (scope.sees(request.unit_id) or scope.sees(employee.unit_id)):
        return request, employee
    raise NotFound("Đề nghị")


def _violation_label(violation: ViolationRecord | None) -> str | None:
    if violation is None:
        return None
    minutes = f" {violation.minutes} phút" if violation.kind in ("late", "early_leave") else ""
    session = SESSION.get(violation.session, violation.session).lower()
    return f"{VIOLATION[violation.kind]}{minutes}, ngày {violation.day:%d/%m/%Y}, buổi {session}"


def _view(
    db: DbSession, request: StaffRequest, employee: Employee, with_steps: bool = False
) -> RequestView:
    unit = db.get(Unit, request.unit_id)
    violation = db.get(ViolationRecord, request.violation_id) if request.violation_id else None
    sessions = (
        ", ".join(SESSION.get(s, s) for s in request.sessions.split(","))
        if request.sessions
        else "Cả ngày"
    )
    steps = []
    if with_steps:
        steps = [
            Step(
                e.at,
                e.by,
                e.action,
                REQUEST_ACTION.get(e.action, e.action),
                e.before,
                e.after,
                e.note,
            )
            for e in db.scalars(
                select(RequestEvent)
                .where(RequestEvent.request_id == request.id)
                .order_by(RequestEvent.id)
            )
        ]
    return RequestView(
        id=request.id,
        kind=request.kind,
        kind_label=REQUEST_KIND[request.kind],
        status=request.status,
        status_label=REQUEST_STATUS[request.status],
        employee_id=employee.id,
        employee_code=employee.code,
        employee_name=employee.full_name,
        unit_name=unit.name if unit else "",
        violation_id=request.violation_id,
        violation_label=_violation_label(violation),
        reason_kind=request.reason_kind,
        reason_label=EXCUSE.get(request.reason_kind) if request.reason_kind else None,
        note=request.note,
        punch_at=request.punch_at,
        first_day=request.first_day,
        last_day=request.last_day,
        sessions_label=sessions,
        attachment_name=request.attachment_name,
        created_by=request.created_by,
        created_at=request.created_at,
        decided_by=request.decided_by,
        decided_at=request.decided_at,
        decision_note=request.decision_note,
        punch_id=request.punch_id,
        steps=steps,
        punch_label=punch_label(request.punch_direction, request.sessions)
        if request.kind == "missing_punch"
        else None,
        decided_by_name=(
            db.scalar(select(User.full_name).where(User.username == request.decided_by))
            if request.decided_by
            else None
        ),
    )


def get(db: DbSession, scope: Scope, request_id: int) -> RequestView:
    """One request with its steps, for its author or a reader of its unit."""
    request, employee = _visible(db, scope, request_id)
    return _view(db, request, employee, with_steps=True)


def mine(db: DbSession, scope: Scope, limit: int = 200) -> list[RequestView]:
    """The caller's own requests, newest first."""
    employee = _me(db, scope)
    rows = db.scalars(
        select(StaffRequest)
        .where(StaffRequest.employee_id == employee.id)
        .order_by(StaffRequest.created_at.desc(), StaffRequest.id.desc())
        .limit(limit)
    )
    return [_view(db, r, employee) for r in rows]


def queue(
    db: DbSession, scope: Scope, status: str | None = "pending", limit: int = 200
) -> list[RequestView]:
    """Requests of the units in scope (pending by default), oldest first: the head's queue."""
    scope.require("requests:read")
    query = select(StaffRequest, Employee).join(Employee, Employee.id == StaffRequest.employee_id)
    if scope.unit_ids is not None:
        query = query.where(StaffRequest.unit_id.in_(scope.unit_ids))
    if status is not None:
        query = query.where(StaffRequest.status == status)
    query = query.order_by(StaffRequest.created_at, StaffRequest.id).limit(limit)
    return [_view(db, r, e) for r, e in db.execute(query).all()]


def explained(db: DbSession, scope: Scope, violation_ids: Iterable[int]) -> dict[int, str]:
    """For the violations queue: violation id → the status of its latest explanation or
    forgotten-punch request (only those the caller may read)."""
    ids = list(violation_ids)
    if not ids or not scope.may("requests:read"):
        return {}
    query = (
        select(StaffRequest.violation_id, StaffRequest.status)
        .where(StaffRequest.violation_id.in_(ids), StaffRequest.status != "superseded")
        .order_by(StaffRequest.id)
    )
    if scope.unit_ids is not None:
        query = query.where(StaffRequest.unit_id.in_(scope.unit_ids))
    return {int(vid): status for vid, status in db.execute(query).all() if vid is not None}


def for_violation(db: DbSession, scope: Scope, violation_id: int) -> list[RequestView]:
    """The requests about one violation (newest first) that the caller may read."""
    rows = db.scalars(
        select(StaffRequest)
        .where(StaffRequest.violation_id == violation_id)
        .order_by(StaffRequest.id.desc())
    )
    found = []
    for row in rows:
        try:
            request, employee = _visible(db, scope, row.id)
        except NotFound:
            continue
        found.append(_view(db, request, employee))
    return found


def attachment(db: DbSession, scope: Scope, request_id: int) -> AttachmentFile:
    """The file of a request, for its author or a reader of its unit; else NotFound."""
    request, _ = _visible(db, scope, request_id)
    if request.attachment_id is None:
        raise NotFound("Tệp đính kèm")
    stored = db.get(Attachment, request.attachment_id)
    if stored is None:
        raise NotFound("Tệp đính kèm")
    return AttachmentFile(request.attachment_name or "tep", stored.media_type, stored.content)


# -- the head's decision -----------------------------------------------------------------


def decide(
    db: DbSession, scope: Scope, request_id: int, decision: str, note: str, now: datetime
) -> RequestView:
    """Approve (duyệt) or refuse (không duyệt) a pending request of a unit in scope.

    Approval acts: an explanation excuses the violation (a review "có lý do" with the
    request's reason), a forgotten punch adds a manual punch with its provenance, leave or a
    trip becomes an approved excuse; each queues its days for recomputation. A decided
    request cannot change (``Conflict``): the person sends a new one."""
    scope.require("requests:decide")
    if decision not in ("approved", "refused"):
        raise Invalid("decision_required", "Hãy chọn Duyệt hoặc Không duyệt")
    text = note.strip()[:MAX_NOTE]
    if decision == "refused" and not text:
        raise Invalid("note_required", "Cần ghi lý do khi không duyệt")
    request = db.get(StaffRequest, request_id, with_for_update=True)
    employee = db.get(Employee, request.employee_id) if request is not None else None
    if request is None or employee is None or not scope.sees(request.unit_id):
        raise NotFound("Đề nghị")
    if request.status != "pending":
        raise Conflict(
            "decided",
            f"Đề nghị đã ở trạng thái “{REQUEST_STATUS[request.status]}”, không thể thay đổi"
            + (
                "; người gửi có thể gửi đề nghị mới"
                if request.status == "refused" or request.kind != "explanation"
                else ""
            ),
        )
    if decision == "approved":
        _carry_out(db, scope, request, employee, text, now)
    request.status = decision
    request.decided_by = scope.username
    request.decided_at = now
    request.decision_note = text
    _step(db, request, scope.username, decision, "pending", decision, text, now)
    db.flush()
    events.request_decided(db, request.id)
    return _view(db, request, employee, with_steps=True)


def _carry_out(
    db: DbSession,
    scope: Scope,
    request: StaffRequest,
    employee: Employee,
    note: str,
    now: datetime,
) -> None:
    if request.kind == "explanation" and request.violation_id is not None:
        row = violation_queries.get_violation(db, request.violation_id, scope.unit_ids)
        if row is not None and row.active:
            violation_queries.review(
                db,
                row,
                "excused",
                request.reason_kind,
                f"Giải trình được duyệt (đề nghị số {request.id}){': ' + note if note else ''}",
                scope.username,
                now,
            )
    elif request.kind == "missing_punch" and request.punch_at is not None:
        request.punch_id = add_manual_punch(
            db,
            employee,
            request.punch_at,
            request_id=request.id,
            requested_by=request.created_by,
            approved_by=scope.username,
            reason=request.note,
            now=now,
            direction=request.punch_direction,
            session=request.sessions,
        )
    elif request.kind in ("leave", "trip"):
        assert request.first_day is not None and request.last_day is not None
        try:
            excuse = add_excuse(
                db,
                employee.code,
                request.reason_kind or "other",
                request.first_day,
                request.last_day,
                sessions=request.sessions.split(",") if request.sessions else None,
                approved=True,
                note=f"Đề nghị số {request.id}: {request.note}".strip(),
                by=scope.username,
            )
        except ExcuseError as exc:
            raise Invalid("invalid_excuse", str(exc)) from exc
        request.excuse_id = excuse.id


def decide_many(
    db: DbSession, scope: Scope, ids: Iterable[int], decision: str, note: str, now: datetime
) -> list[Outcome]:
    """The same decision on many requests; each has its own outcome (one may fail)."""
    scope.require("requests:decide")
    outcomes = []
    for request_id in dict.fromkeys(ids):
        try:
            with db.begin_nested():
                decide(db, scope, request_id, decision, note, now)
        except KcError as exc:
            outcomes.append(Outcome(request_id, False, exc.message))
            continue
        outcomes.append(Outcome(request_id, True))
    return outcomes


# A decision taken on the violation itself, as the answer to the giải trình about it: an
# excused or dismissed violation is no longer counted against the person (what they asked
# for), a confirmed one is (their explanation was not accepted).
BY_REVIEW: dict[str, Decision] = {
    "excused": "approved",
    "dismissed": "approved",
    "confirmed": "refused",
}


def close_by_review(
    db: DbSession,
    scope: Scope,
    violation_id: int,
    review: str,
    reason_kind: str | None,
    note: str,
    now: datetime,
) -> list[int]:
    """Close the pending giải trình on a violation the unit head has just decided directly
    (one or many, page or API): the request takes the review's outcome, its step records
    who, when, before and after, and the person is told once. Returns the requests closed.

    The review is the decision (DOMAIN.md: the person explains, the head's review decides),
    so the request is not left "chờ duyệt" for a second, contradicting decision. Forgotten-
    punch requests stay pending: they claim a punch, which only their own approval adds."""
    decision = BY_REVIEW[review]
    outcome = REVIEW[review] + (f" ({EXCUSE[reason_kind]})" if reason_kind in EXCUSE else "")
    text = f"Trưởng đơn vị xử lý trực tiếp vi phạm: {outcome}"
    text = (f"{text}. {note.strip()}" if note.strip() else text)[:MAX_NOTE]
    closed = []
    for request in db.scalars(
        select(StaffRequest)
        .where(
            StaffRequest.violation_id == violation_id,
            StaffRequest.kind == "explanation",
            StaffRequest.status == "pending",
        )
        .order_by(StaffRequest.id)
        .with_for_update()
    ):
        request.status = decision
        request.decided_by = scope.username
        request.decided_at = now
        request.decision_note = text
        _step(db, request, scope.username, "by_review", "pending", decision, text, now)
        db.flush()
        events.request_decided(db, request.id)
        closed.append(request.id)
    if closed:
        return closed
    # No giải trình waits, but the last one was answered (by its approval or an earlier
    # review) with the other outcome: this review supersedes that answer, recorded as a step,
    # so the person never reads "Đã duyệt" beside a confirmed violation.
    last = db.scalars(
        select(StaffRequest)
        .where(
            StaffRequest.violation_id == violation_id,
            StaffRequest.kind == "explanation",
            StaffRequest.status.in_(("approved", "refused")),
        )
        .order_by(StaffRequest.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    if last is not None and last.status != decision:
        text = f"Trưởng đơn vị thay đổi quyết định về vi phạm: {outcome}"
        text = (f"{text}. {note.strip()}" if note.strip() else text)[:MAX_NOTE]
        before = last.status
        last.status = decision
        last.decided_by = scope.username
        last.decided_at = now
        last.decision_note = text
        _step(db, last, scope.username, "by_review", before, decision, text, now)
        db.flush()
        events.request_decided(db, last.id)
        closed.append(last.id)
    return closed


def local_instant(day: date, hhmm: str, tz: Any) -> datetime:
    """A time typed as HH:MM on a local day, as an aware instant."""
    try:
        hours, minutes = (int(part) for part in hhmm.strip().split(":"))
        return datetime.combine(day, time(hours, minutes), tzinfo=tz)
    except (ValueError, TypeError) as exc:
        raise Invalid(
            "invalid_time", f"“{quoted(hhmm.strip())}” không phải giờ hợp lệ (dạng HH:MM)"
        ) from exc
