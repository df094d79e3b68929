"""Excuses (lý do vắng mặt): register, approve, cancel; every change queues its days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import get_args

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from rules.config import RulesDoc, ScheduleDoc, SessionNameError, resolve_session_names
from rules.evaluate import ExcuseKind
from store.models import Agency, Employee, ExcuseRecord, Unit, WorkSchedule
from store.queue import enqueue

EXCUSE_KINDS: tuple[str, ...] = get_args(ExcuseKind)


class ExcuseError(ValueError):
    """An excuse that cannot be saved; the message is for the person who entered it."""


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def add_excuse(
    db: DbSession,
    employee_code: str,
    kind: str,
    first_day: date,
    last_day: date,
    *,
    sessions: list[str] | None = None,
    approved: bool = False,
    note: str = "",
    by: str = "",
) -> ExcuseRecord:
    if kind not in EXCUSE_KINDS:
        raise ExcuseError(f"Loại lý do không hợp lệ: {kind}")
    if last_day < first_day:
        raise ExcuseError("Ngày kết thúc phải sau hoặc bằng ngày bắt đầu")
    if (last_day - first_day).days > 366:
        raise ExcuseError("Một lý do vắng mặt không quá một năm")
    employee = db.scalar(select(Employee).where(Employee.code == employee_code))
    if employee is None:
        raise ExcuseError(f"Không tìm thấy cán bộ {employee_code}")
    if sessions:
        try:
            sessions = sorted(resolve_session_names(sessions, _session_names(db, employee)))
        except SessionNameError as exc:
            raise ExcuseError(str(exc)) from exc
    now = datetime.now(UTC)
    record = ExcuseRecord(
        employee_id=employee.id,
        kind=kind,
        first_day=first_day,
        last_day=last_day,
        sessions=",".join(sessions) if sessions else None,
        status="approved" if approved else "pending",
        note=note,
        created_by=by,
        created_at=now,
        updated_at=now,
    )
    db.add(record)
    db.flush()
    enqueue(db, [(employee.id, d) for d in _days(first_day, last_day)], "excuse")
    return record


def _session_names(db: DbSession, employee: Employee) -> list[str]:
    """The session names of the schedule someone works (their own, their unit's, their
    agency's, up the trees; the built-in hours otherwise), as the rules runner resolves it."""
    schedule_id = employee.schedule_id
    unit = db.get(Unit, employee.unit_id)
    agency = db.get(Agency, unit.agency_id) if unit is not None else None
    while schedule_id is None and unit is not None:
        schedule_id = unit.schedule_id
        unit = db.get(Unit, unit.parent_id) if unit.parent_id else None
    while schedule_id is None and agency is not None:
        schedule_id = agency.schedule_id
        agency = db.get(Agency, agency.parent_id) if agency.parent_id else None
    row = db.get(WorkSchedule, schedule_id) if schedule_id is not None else None
    doc = ScheduleDoc.model_validate_json(row.spec) if row is not None else RulesDoc().schedule
    return doc.session_names()


def set_status(db: DbSession, excuse_id: int, status: str) -> ExcuseRecord:
    """Approve (duyệt) or cancel (hủy) an excuse and queue the days it covers."""
    if status not in ("approved", "cancelled", "pending"):
        raise ExcuseError(f"Trạng thái không hợp lệ: {status}")
    record = db.get(ExcuseRecord, excuse_id)
    if record is None:
        raise ExcuseError(f"Không tìm thấy lý do vắng mặt số {excuse_id}")
    record.status = status
    record.updated_at = datetime.now(UTC)
    enqueue(
        db, [(record.employee_id, d) for d in _days(record.first_day, record.last_day)], "excuse"
    )
    return record
