"""Excuses (lý do vắng mặt): register, approve, cancel; every change queues its days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any, get_args

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


EXCUSE_COLUMNS = {
    "employee": ["macanbo", "manhanvien", "macbccvc", "employeecode", "employee"],
    "kind": ["loai", "loainghi", "lydo", "kind"],
    "first_day": ["tungay", "ngaybatdau", "from", "firstday"],
    "last_day": ["denngay", "ngayketthuc", "to", "lastday"],
    "sessions": ["buoi", "ca", "sessions"],
    "status": ["trangthai", "status"],
    "note": ["ghichu", "note"],
}


def _kind_of(text: str) -> str | None:
    from kycuong.labels import EXCUSE
    from store.roster import normalise_header

    key = normalise_header(text)
    for kind, label in EXCUSE.items():
        if key in (normalise_header(kind), normalise_header(label)):
            return kind
    aliases = {
        "phep": "annual_leave",
        "om": "sick_leave",
        "congtac": "business_trip",
        "hoctap": "training",
    }
    return aliases.get(key)


def import_excuses(
    db: DbSession,
    path: Any,
    units: frozenset[int] | None,
    by: str = "",
    max_rows: int | None = None,
) -> int:
    """Import leave and trips from CSV or XLSX; all rows or none (ExcuseError lists problems)."""
    from store.roster import RosterError, match_columns, normalise_header, parse_date, read_rows

    # Read no further than the bound: a file of half a million rows is refused at once.
    rows = list(islice(read_rows(path), max_rows + 1 if max_rows is not None else None))
    if max_rows is not None and len(rows) > max_rows:
        raise ExcuseError([f"Tệp có quá nhiều dòng (tối đa {max_rows:,} dòng)".replace(",", ".")])
    if not rows:
        raise ExcuseError(["Tệp không có dòng dữ liệu nào"])
    try:
        cols = match_columns(list(rows[0][1]), EXCUSE_COLUMNS, ["employee", "kind", "first_day"])
    except RosterError as exc:
        raise ExcuseError(exc.problems) from exc
    problems: list[str] = []
    created = 0
    for number, cells in rows:
        code = cells.get(cols["employee"], "")
        kind = _kind_of(cells.get(cols["kind"], ""))
        employee = db.scalar(select(Employee).where(Employee.code == code)) if code else None
        if employee is None or (units is not None and employee.unit_id not in units):
            problems.append(f"Dòng {number}: không tìm thấy cán bộ {code}")
            continue
        if kind is None:
            problems.append(f"Dòng {number}: loại nghỉ không hợp lệ")
            continue
        try:
            first = parse_date(cells.get(cols["first_day"], ""))
            last_text = cells.get(cols.get("last_day", ""), "")
            last = parse_date(last_text) if last_text else first
        except ValueError:
            problems.append(f"Dòng {number}: ngày không hợp lệ (dùng dd/mm/yyyy)")
            continue
        sessions = [
            w.strip() for w in cells.get(cols.get("sessions", ""), "").split(",") if w.strip()
        ] or None
        status = normalise_header(cells.get(cols.get("status", ""), ""))
        try:
            add_excuse(
                db,
                code,
                kind,
                first,
                last,
                sessions=sessions,
                approved=status in ("daduyet", "approved"),
                note=cells.get(cols.get("note", ""), ""),
                by=by,
            )
        except ExcuseError as exc:
            problems.append(f"Dòng {number}: {exc}")
            continue
        created += 1
    if problems:
        raise ExcuseError(problems)
    return created
