"""Leave and business trips (nghỉ phép, công tác): list, register, approve, cancel, import.

Every change queues the days it covers, so the rules recompute them (store/excuses.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Conflict, Invalid, NotFound
from kycuong.labels import EXCUSE, EXCUSE_STATUS
from services.schemas import Excuse, ExcuseIn, ImportReport
from services.scope import Scope
from services.tabular import Column, Row, normalise_header, parse_day, read_table
from store.excuses import ExcuseError, add_excuse, set_status
from store.models import Employee, ExcuseRecord, Unit

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ExcuseQuery:
    employee_code: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    status: str | None = None
    limit: int = 200
    kind: str | None = None


def to_excuse(record: ExcuseRecord, employee: Employee) -> Excuse:
    return Excuse(
        id=record.id,
        employee_id=employee.id,
        employee_code=employee.code,
        employee_name=employee.full_name,
        kind=record.kind,  # type: ignore[arg-type]
        kind_label=EXCUSE.get(record.kind, record.kind),
        first_day=record.first_day,
        last_day=record.last_day,
        sessions=record.sessions.split(",") if record.sessions else None,
        status=record.status,  # type: ignore[arg-type]
        status_label=EXCUSE_STATUS[record.status],
        note=record.note,
        created_by=record.created_by,
        created_at=record.created_at,
    )


def employee_in_scope(db: DbSession, scope: Scope, code: str) -> Employee:
    """The person with this code, if the caller's scope covers their unit."""
    employee = db.scalar(select(Employee).where(Employee.code == code))
    if employee is None or not scope.sees(employee.unit_id):
        raise NotFound("Cán bộ")
    return employee


def listing(db: DbSession, scope: Scope, query: ExcuseQuery) -> list[Excuse]:
    """Leave and trips in scope, newest first."""
    scope.require("excuses:read")
    sql = select(ExcuseRecord, Employee).join(Employee, Employee.id == ExcuseRecord.employee_id)
    if scope.unit_ids is not None:
        sql = sql.where(Employee.unit_id.in_(scope.unit_ids))
    if query.employee_code is not None:
        sql = sql.where(Employee.code == query.employee_code)
    if query.date_from is not None:
        sql = sql.where(ExcuseRecord.last_day >= query.date_from)
    if query.date_to is not None:
        sql = sql.where(ExcuseRecord.first_day <= query.date_to)
    if query.status is not None:
        sql = sql.where(ExcuseRecord.status == query.status)
    if query.kind is not None:
        sql = sql.where(ExcuseRecord.kind == query.kind)
    sql = sql.order_by(ExcuseRecord.first_day.desc(), ExcuseRecord.id.desc()).limit(query.limit)
    return [to_excuse(record, employee) for record, employee in db.execute(sql).all()]


def detail(db: DbSession, scope: Scope, excuse_id: int) -> Excuse:
    """One leave or trip in scope (``NotFound`` outside it)."""
    scope.require("excuses:read")
    record = db.get(ExcuseRecord, excuse_id)
    employee = db.get(Employee, record.employee_id) if record else None
    if record is None or employee is None or not scope.sees(employee.unit_id):
        raise NotFound("Đơn nghỉ")
    return to_excuse(record, employee)


@dataclass(frozen=True, slots=True)
class Person:
    """Someone leave can be entered for, as a form offers them."""

    code: str
    full_name: str
    unit_name: str


def people(db: DbSession, scope: Scope, limit: int = 5000) -> list[Person]:
    """The people in the caller's scope, by unit and name (for choosing whose leave)."""
    scope.require("excuses:read")
    sql = select(Employee.code, Employee.full_name, Unit.name).join(
        Unit, Unit.id == Employee.unit_id
    )
    if scope.unit_ids is not None:
        sql = sql.where(Employee.unit_id.in_(scope.unit_ids))
    sql = sql.order_by(Unit.name, Employee.full_name, Employee.code).limit(limit)
    return [Person(code, name, unit) for code, name, unit in db.execute(sql)]


def create(db: DbSession, scope: Scope, body: ExcuseIn) -> Excuse:
    """Register leave or a trip for a person in scope (pending unless ``approved``)."""
    scope.require("excuses:write")
    employee = employee_in_scope(db, scope, body.employee_code)
    try:
        record = add_excuse(
            db,
            employee.code,
            body.kind,
            body.first_day,
            body.last_day,
            sessions=list(body.sessions) if body.sessions else None,
            approved=body.approved,
            note=body.note,
            by=scope.username,
        )
    except ExcuseError as exc:
        raise Invalid("invalid_excuse", str(exc)) from exc
    return to_excuse(record, employee)


def change_status(db: DbSession, scope: Scope, excuse_id: int, status: str) -> Excuse:
    """Approve (duyệt) or cancel (hủy); a cancelled one cannot change again."""
    scope.require("excuses:write")
    record = db.get(ExcuseRecord, excuse_id)
    employee = db.get(Employee, record.employee_id) if record else None
    if record is None or employee is None or not scope.sees(employee.unit_id):
        raise NotFound("Đơn nghỉ")
    if record.status == "cancelled":
        raise Conflict("cancelled", "Đơn đã bị hủy, không thể thay đổi")
    set_status(db, excuse_id, status)
    return to_excuse(record, employee)


EXCUSE_COLUMNS = (
    Column(
        "employee",
        "Mã cán bộ",
        ("macb", "manhanvien", "macbccvc", "employeecode", "employee"),
        required=True,
    ),
    Column("kind", "Loại", ("loainghi", "lydo", "kind"), required=True),
    Column("first_day", "Từ ngày", ("ngaybatdau", "from", "firstday"), required=True),
    Column("last_day", "Đến ngày", ("ngayketthuc", "to", "lastday")),
    Column("sessions", "Buổi", ("ca", "sessions")),
    Column("status", "Trạng thái", ("status",)),
    Column("note", "Ghi chú", ("note",)),
)


def import_upload(
    db: DbSession, scope: Scope, filename: str, content: bytes, max_rows: int | None = None
) -> ImportReport:
    """Import a CSV/XLSX of leave; a file with any bad row changes nothing.

    Columns: Mã cán bộ, Loại, Từ ngày, Đến ngày, optional Buổi, Trạng thái, Ghi chú. Read by
    services/tabular.py (UTF-8, UTF-16, Windows-1258; title rows above the header). A file
    longer than ``max_rows`` rows is refused before any row is checked. Long work: an async
    caller runs it off its event loop.
    """
    scope.require("excuses:import")
    if len(content) > MAX_UPLOAD_BYTES:
        raise Invalid("file_too_large", "Tệp quá lớn (tối đa 5 MB)")
    if not filename.lower().endswith((".csv", ".xlsx", ".txt")):
        raise Invalid("unsupported_file", "Chỉ nhận tệp .csv hoặc .xlsx")
    table = read_table(content, filename, EXCUSE_COLUMNS, max_rows=max_rows)
    try:
        created = import_excuses(db, table.rows, scope.unit_ids, by=scope.username)
    except ExcuseError as exc:
        raise Invalid(
            "invalid_file",
            "Tệp có dòng không hợp lệ, chưa nhập gì",
            exc.args[0] if isinstance(exc.args[0], list) else [str(exc)],
        ) from exc
    return ImportReport(created=created, problems=[])


def _period(first: date, last: date) -> str:
    return f"{first:%d/%m/%Y}" if first == last else f"{first:%d/%m/%Y}–{last:%d/%m/%Y}"


def _kind_of(text: str) -> str | None:
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
    rows: Iterable[Row],
    units: frozenset[int] | None,
    by: str = "",
) -> int:
    """Register leave and trips from rows already read; all rows or none (``ExcuseError``
    lists the problems by row)."""
    problems: list[str] = []
    created = 0
    for row in rows:
        number = row.line
        code = row.get("employee")
        kind = _kind_of(row.get("kind"))
        employee = db.scalar(select(Employee).where(Employee.code == code)) if code else None
        if employee is None or (units is not None and employee.unit_id not in units):
            problems.append(f"Dòng {number}: không tìm thấy cán bộ {code}")
            continue
        if kind is None:
            problems.append(f"Dòng {number}: loại nghỉ không hợp lệ")
            continue
        try:
            first = parse_day(row.get("first_day"), "Từ ngày")
            last_text = row.get("last_day")
            last = parse_day(last_text, "Đến ngày") if last_text else first
        except ValueError as exc:
            problems.append(f"Dòng {number}: {exc}")
            continue
        sessions = [w.strip() for w in row.get("sessions").split(",") if w.strip()] or None
        status = normalise_header(row.get("status"))
        try:
            record = add_excuse(
                db,
                code,
                kind,
                first,
                last,
                sessions=sessions,
                approved=status in ("daduyet", "approved"),
                note=row.get("note"),
                by=by,
            )
        except ExcuseError as exc:
            problems.append(f"Dòng {number}: {exc}")
            continue
        # The same file uploaded twice doubled every request: an identical one is refused.
        twin = db.scalar(
            select(ExcuseRecord.id).where(
                ExcuseRecord.employee_id == record.employee_id,
                ExcuseRecord.kind == record.kind,
                ExcuseRecord.first_day == record.first_day,
                ExcuseRecord.last_day == record.last_day,
                ExcuseRecord.sessions.is_(None)
                if record.sessions is None
                else ExcuseRecord.sessions == record.sessions,
                ExcuseRecord.status != "cancelled",
                ExcuseRecord.id != record.id,
            )
        )
        if twin is not None:
            problems.append(
                f"Dòng {number}: {code} đã có đơn {EXCUSE[kind]} "
                f"{_period(first, last)} giống hệt (số {twin}); tệp đã được nhập trước đó?"
            )
            continue
        created += 1
    if problems:
        raise ExcuseError(problems)
    return created
