"""Import of the organisation roster (danh sách) from CSV or XLSX, Vietnamese headers accepted.

Two files: units (đơn vị) and employees (cán bộ) with their card (số thẻ). Rows are
upserted by code; a card given to someone else closes the previous holder's period. A
file with any bad row is refused whole, with every problem listed by row number.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from rules.zones import local_date, zone
from store.models import Agency, Credential, Employee, Punch, Unit
from store.punches import match_unmatched
from store.queue import enqueue, enqueue_for_punches

UNIT_COLUMNS = {
    "code": ["madonvi", "ma", "code", "unitcode"],
    "name": ["tendonvi", "ten", "name", "unitname"],
    "parent": ["madonvicha", "donvicha", "tructhuoc", "parent", "parentcode"],
    "agency_code": ["macoquan", "coquan", "agency", "agencycode"],
    "agency_name": ["tencoquan", "agencyname"],
}
EMPLOYEE_COLUMNS = {
    "code": ["macanbo", "manhanvien", "macbccvc", "maso", "code", "employeecode"],
    "full_name": ["hovaten", "hoten", "fullname", "name"],
    "unit": ["madonvi", "donvi", "unit", "unitcode"],
    "agency_code": ["macoquan", "coquan", "agency", "agencycode"],
    "title": ["chucvu", "title"],
    "active_from": ["ngaybatdau", "ngayvao", "activefrom"],
    "card": ["sothe", "mathe", "the", "card"],
    "card_valid_from": ["thehieuluctu", "hieuluctu", "cardvalidfrom"],
    "email": ["email", "thudientu", "diachiemail", "diachithudientu"],
    "phone": ["sodienthoai", "dienthoai", "sdt", "phone"],
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9 .]{8,20}$")


def _contacts(person: Employee, cells: dict[str, str], cols: dict[str, str]) -> str | None:
    """Set the e-mail and phone given (a column left out changes nothing); a problem, or None."""
    if "email" in cols:
        email = cells.get(cols["email"], "").strip()
        if email and (len(email) > 255 or not EMAIL.match(email)):
            return f"địa chỉ e-mail “{email[:80]}” không hợp lệ"
        person.email = email or None
    if "phone" in cols:
        phone = cells.get(cols["phone"], "").strip()
        if phone and not PHONE.match(phone):
            return f"số điện thoại “{phone[:40]}” không hợp lệ"
        person.phone = phone or None
    return None


class RosterError(ValueError):
    """The file was refused; ``problems`` lists each bad row in Vietnamese."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(slots=True)
class ImportReport:
    created: int = 0
    updated: int = 0
    cards_assigned: int = 0
    punches_matched: int = 0
    notes: list[str] = field(default_factory=list)


def normalise_header(text: str) -> str:
    """'Mã đơn vị' -> 'madonvi': no diacritics, no spaces, lower case."""
    text = text.replace("đ", "d").replace("Đ", "D")
    stripped = "".join(
        c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
    )
    return "".join(c for c in stripped.lower() if c.isalnum())


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number as the clerk sees it, {header: value}) from CSV or XLSX."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        headers = [str(h or "") for h in next(rows, ())]
        for number, values in enumerate(rows, start=2):
            cells = {h: _cell_text(v) for h, v in zip(headers, values, strict=False)}
            if any(cells.values()):
                yield number, cells
        return
    text = path.read_bytes().decode("utf-8-sig")
    sample = text[:2048]
    dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    for number, record in enumerate(csv.DictReader(io.StringIO(text), dialect=dialect), start=2):
        cells = {k or "": (v or "").strip() for k, v in record.items()}
        if any(cells.values()):
            yield number, cells


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def match_columns(
    headers: list[str], spec: dict[str, list[str]], required: list[str]
) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in headers:
        key = normalise_header(header)
        for field_name, aliases in spec.items():
            if key in aliases and field_name not in found:
                found[field_name] = header
    missing = [f for f in required if f not in found]
    if missing:
        raise RosterError([f"Thiếu cột bắt buộc: {', '.join(missing)}"])
    return found


def parse_date(text: str) -> date:
    """dd/mm/yyyy (as Vietnamese offices write it) or ISO yyyy-mm-dd."""
    text = text.strip()
    if "/" in text:
        day, month, year = (int(p) for p in text.split("/"))
        return date(year, month, day)
    return date.fromisoformat(text)


def import_units(db: DbSession, path: Path) -> ImportReport:
    rows = list(read_rows(path))
    if not rows:
        raise RosterError(["Tệp không có dòng dữ liệu nào"])
    cols = match_columns(list(rows[0][1]), UNIT_COLUMNS, ["code", "name", "agency_code"])
    report = ImportReport()
    problems: list[str] = []
    pending_parents: list[tuple[int, Unit, str]] = []
    for number, cells in rows:
        code = cells.get(cols["code"], "")
        name = cells.get(cols["name"], "")
        agency_code = cells.get(cols["agency_code"], "")
        if not code or not name or not agency_code:
            problems.append(f"Dòng {number}: thiếu mã đơn vị, tên đơn vị hoặc mã cơ quan")
            continue
        agency = db.scalar(select(Agency).where(Agency.code == agency_code))
        if agency is None:
            agency_name = cells.get(cols.get("agency_name", ""), "") or agency_code
            agency = Agency(code=agency_code, name=agency_name)
            db.add(agency)
            db.flush()
            report.notes.append(f"Đã tạo cơ quan {agency_code}")
        unit = db.scalar(select(Unit).where(Unit.agency_id == agency.id, Unit.code == code))
        if unit is None:
            unit = Unit(agency_id=agency.id, code=code, name=name)
            db.add(unit)
            report.created += 1
        else:
            unit.name = name
            report.updated += 1
        db.flush()
        parent = cells.get(cols.get("parent", ""), "")
        if parent:
            pending_parents.append((number, unit, parent))
    for number, unit, parent_code in pending_parents:
        parent = db.scalar(
            select(Unit).where(Unit.agency_id == unit.agency_id, Unit.code == parent_code)
        )
        if parent is None:
            problems.append(f"Dòng {number}: không tìm thấy đơn vị cha {parent_code}")
        elif parent.id == unit.id:
            problems.append(f"Dòng {number}: đơn vị không thể trực thuộc chính nó")
        else:
            unit.parent_id = parent.id
    if problems:
        raise RosterError(problems)
    return report


def import_employees(db: DbSession, path: Path, tz: ZoneInfo | None = None) -> ImportReport:
    tz = tz or zone()
    rows = list(read_rows(path))
    if not rows:
        raise RosterError(["Tệp không có dòng dữ liệu nào"])
    cols = match_columns(list(rows[0][1]), EMPLOYEE_COLUMNS, ["code", "full_name", "unit"])
    report = ImportReport()
    problems: list[str] = []
    now = datetime.now(UTC)
    for number, cells in rows:
        code = cells.get(cols["code"], "")
        full_name = cells.get(cols["full_name"], "")
        unit_code = cells.get(cols["unit"], "")
        if not code or not full_name or not unit_code:
            problems.append(f"Dòng {number}: thiếu mã cán bộ, họ và tên hoặc đơn vị")
            continue
        query = select(Unit).where(Unit.code == unit_code)
        agency_code = cells.get(cols.get("agency_code", ""), "")
        if agency_code:
            query = query.join(Agency).where(Agency.code == agency_code)
        units = list(db.scalars(query))
        if len(units) != 1:
            problems.append(
                f"Dòng {number}: không tìm thấy đơn vị {unit_code}"
                if not units
                else f"Dòng {number}: mã đơn vị {unit_code} có ở nhiều cơ quan, "
                "cần thêm cột Mã cơ quan"
            )
            continue
        try:
            active_from = parse_date(cells.get(cols.get("active_from", ""), "") or "2000-01-01")
            card_from_text = cells.get(cols.get("card_valid_from", ""), "")
            card_from = parse_date(card_from_text) if card_from_text else active_from
        except ValueError:
            problems.append(f"Dòng {number}: ngày không hợp lệ (dùng dd/mm/yyyy)")
            continue
        person = db.scalar(select(Employee).where(Employee.code == code))
        if person is None:
            person = Employee(
                code=code, full_name=full_name, unit_id=units[0].id, active_from=active_from
            )
            db.add(person)
            report.created += 1
        else:
            person.full_name, person.unit_id = full_name, units[0].id
            report.updated += 1
        person.title = cells.get(cols.get("title", ""), "") or None
        contact_problem = _contacts(person, cells, cols)
        if contact_problem:
            problems.append(f"Dòng {number}: {contact_problem}")
            continue
        db.flush()
        card = cells.get(cols.get("card", ""), "")
        if card:
            valid_from = datetime.combine(card_from, time(0), tzinfo=tz).astimezone(UTC)
            try:
                credential = assign_card(db, person, card, valid_from)
            except RosterError as exc:
                problems.extend(f"Dòng {number}: {p}" for p in exc.problems)
                continue
            if credential is not None:
                report.cards_assigned += 1
                matched = match_unmatched(db, credential, now)
                report.punches_matched += len(matched)
                enqueue_for_punches(db, matched, "card_registered")
    if problems:
        raise RosterError(problems)
    return report


def assign_card(
    db: DbSession, person: Employee, card: str, valid_from: datetime, kind: str = "card"
) -> Credential | None:
    """Give ``card`` to ``person`` from ``valid_from``; the previous holder keeps their history.

    Returns the new credential, or None when the person already holds that card.
    """
    current = list(
        db.scalars(
            select(Credential).where(
                Credential.kind == kind, Credential.value == card, Credential.valid_to.is_(None)
            )
        )
    )
    for held in current:
        if held.employee_id == person.id:
            return None
        if valid_from <= held.valid_from:
            raise RosterError(
                [
                    f"Thẻ {card} đã được cấp cho người khác từ {held.valid_from:%d/%m/%Y}, "
                    "ngày hiệu lực mới phải sau ngày đó"
                ]
            )
        held.valid_to = valid_from
    credential = Credential(employee_id=person.id, kind=kind, value=card, valid_from=valid_from)
    db.add(credential)
    db.flush()
    # Punches of this card since the handover change hands: both holders' days are recomputed.
    moved = db.execute(
        select(Punch.id, Punch.punched_at).where(
            Punch.credential_kind == kind,
            Punch.credential_value == card,
            Punch.punched_at >= valid_from,
        )
    ).all()
    if moved:
        tz = zone()
        enqueue(
            db,
            {(held.employee_id, local_date(at, tz)) for held in current for _, at in moved},
            "card_reassigned",
        )
        enqueue_for_punches(db, [punch_id for punch_id, _ in moved], "card_reassigned")
    return credential
