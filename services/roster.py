"""The roster (danh sách đơn vị, cán bộ, thẻ): import with a preview, then all or nothing.

``preview`` reads a file (services/tabular.py) and plans every row as created, updated,
unchanged or refused with its reasons and warnings, writing nothing; ``apply`` plans again and
writes only if no row is refused (and, when given the preview's digest, only if the plan is
still the one the clerk saw). The CLI, the JSON API and the page all call these two.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg import IntegrityError as DriverIntegrityError  # store/bulk.py's statements
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Conflict, Invalid
from kycuong.inputs import name_text, quoted
from kycuong.labels import ROSTER_ACTION, ROSTER_KIND
from rules.zones import local_date, zone
from services.scope import Scope, subtree_units
from services.tabular import CardFormat, Column, Row, Table, normalise_card, parse_day, read_table
from store.models import Agency, Credential, Employee, ImportUpload, Unit, User
from store.outbox import release_waiting
from store.queue import enqueue
from store.roster import (
    CardGrant,
    RosterError,
    assign_cards,
    day_keys,
    first_judged_day,
    insert_people,
    update_people,
    utc_midnight,
)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
UPLOAD_KEEP = timedelta(days=1)
DEFAULT_START = date(2000, 1, 1)  # a person without "Ngày bắt đầu": worked here before

UNIT_COLUMNS = (
    Column("agency_code", "Mã cơ quan", ("coquan", "agency", "agencycode"), required=True),
    Column("agency_name", "Tên cơ quan", ("agencyname",)),
    Column("code", "Mã đơn vị", ("ma", "code", "unitcode"), required=True),
    Column("name", "Tên đơn vị", ("ten", "name", "unitname", "donvi"), required=True),
    Column("parent", "Mã đơn vị cha", ("donvicha", "tructhuoc", "parent", "parentcode")),
)
EMPLOYEE_COLUMNS = (
    Column(
        "code",
        "Mã cán bộ",
        ("macb", "manhanvien", "manv", "macbccvc", "maso", "code", "employeecode"),
        required=True,
    ),
    Column("full_name", "Họ và tên", ("hoten", "fullname", "name"), required=True),
    Column("unit", "Đơn vị", ("madonvi", "tendonvi", "unit", "unitcode"), required=True),
    Column("agency_code", "Mã cơ quan", ("coquan", "agency", "agencycode")),
    Column("title", "Chức vụ", ("title", "position")),
    Column("active_from", "Ngày bắt đầu", ("ngayvao", "ngaybatdaulamviec", "activefrom", "start")),
    Column("active_to", "Ngày kết thúc", ("ngaynghiviec", "ngaythoiviec", "activeto", "end")),
    Column("card", "Số thẻ", ("mathe", "the", "card", "cardnumber")),
    Column("card_valid_from", "Thẻ hiệu lực từ", ("hieuluctu", "cardvalidfrom")),
    # Contacts for notifications (thông báo): a column left out of the file changes nothing.
    Column("email", "E-mail", ("email", "thudientu", "diachiemail", "diachithudientu")),
    Column("phone", "Số điện thoại", ("sodienthoai", "dienthoai", "sdt", "phone")),
)
CONTACTS = (
    ("email", "E-mail", re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), 255),
    ("phone", "Số điện thoại", re.compile(r"^\+?[0-9 .]{8,20}$"), 32),
)
COLUMNS = {"units": UNIT_COLUMNS, "employees": EMPLOYEE_COLUMNS}


@dataclass(frozen=True, slots=True)
class RowPlan:
    """What one row of the file will do: ``action`` (create, update, unchanged, refuse)."""

    line: int
    action: str
    code: str
    name: str
    changes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def action_label(self) -> str:
        return ROSTER_ACTION[self.action]


@dataclass(frozen=True, slots=True)
class Preview:
    """A file planned row by row; ``digest`` identifies this exact plan (for "Áp dụng")."""

    kind: str
    rows: tuple[RowPlan, ...]
    notes: tuple[str, ...]
    digest: str

    @property
    def kind_label(self) -> str:
        return ROSTER_KIND[self.kind]

    @property
    def refused(self) -> int:
        return self.count("refuse")

    @property
    def warnings(self) -> int:
        return sum(len(r.warnings) for r in self.rows)

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    def lines(self) -> list[str]:
        """The preview as text (CLI), one line per row, in Vietnamese."""
        out = [*self.notes]
        for r in self.rows:
            detail = "; ".join(r.reasons or r.changes)
            out.append(
                f"Dòng {r.line}: {r.action_label} {r.code} {r.name}".rstrip()
                + (f" ({detail})" if detail else "")
            )
            out.extend(f"    Cảnh báo: {w}" for w in r.warnings)
        out.append(self.summary())
        return out

    def summary(self) -> str:
        return (
            f"{self.count('create')} tạo mới, {self.count('update')} cập nhật, "
            f"{self.count('unchanged')} không đổi, {self.refused} từ chối, "
            f"{self.warnings} cảnh báo"
        )


@dataclass(frozen=True, slots=True)
class Applied:
    """What an applied file did."""

    preview: Preview
    cards_assigned: int
    punches_matched: int


# A planned write, run by ``apply`` in order once no row is refused.
Step = Callable[[DbSession, "_Tally"], None]


@dataclass(slots=True)
class _Tally:
    cards: int = 0
    matched: int = 0
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


def read(
    content: bytes, filename: str, kind: str, encoding: str = "", max_rows: int | None = None
) -> Table:
    """The file as a table of the roster ``kind`` ("units" or "employees")."""
    if kind not in COLUMNS:
        raise Invalid("invalid_kind", "Loại danh sách phải là Đơn vị hoặc Cán bộ")
    if len(content) > MAX_UPLOAD_BYTES:
        raise Invalid("file_too_large", "Tệp quá lớn (tối đa 5 MB)")
    return read_table(content, filename, COLUMNS[kind], encoding=encoding, max_rows=max_rows)


def preview(db: DbSession, scope: Scope, kind: str, table: Table, today: date) -> Preview:
    """Plan every row of ``table``; writes nothing."""
    scope.require("roster:write")
    return _plan(db, scope, kind, table, today)[0]


def apply(
    db: DbSession,
    scope: Scope,
    kind: str,
    table: Table,
    today: date,
    expected_digest: str | None = None,
) -> Applied:
    """Write the whole file, or nothing: ``Invalid`` when a row is refused (details: the
    reasons per row), ``Conflict`` when the plan is no longer the previewed one."""
    scope.require("roster:write")
    plan, steps = _plan(db, scope, kind, table, today)
    if plan.refused:
        raise Invalid(
            "invalid_file",
            f"Tệp có {plan.refused} dòng bị từ chối, chưa nhập gì",
            [f"Dòng {r.line}: {'; '.join(r.reasons)}" for r in plan.rows if r.reasons],
        )
    if expected_digest is not None and expected_digest != plan.digest:
        raise Conflict(
            "stale_preview",
            "Dữ liệu đã thay đổi kể từ lúc xem trước (hoặc tệp đã được áp dụng): "
            "hãy xem lại bản xem trước rồi áp dụng.",
        )
    tally = _Tally()
    try:
        for step in steps:
            step(db, tally)
        db.flush()
    except (IntegrityError, DriverIntegrityError) as exc:  # the same code added meanwhile
        raise Conflict(
            "roster_changed",
            "Danh sách vừa được thay đổi trong lúc nhập, chưa nhập gì: "
            "hãy xem trước lại rồi áp dụng.",
        ) from exc
    return Applied(plan, tally.cards, tally.matched)


def _plan(
    db: DbSession, scope: Scope, kind: str, table: Table, today: date
) -> tuple[Preview, list[Step]]:
    planner = _plan_units if kind == "units" else _plan_employees
    rows, steps = planner(db, scope, table, today)
    notes = tuple(table.notes)
    digest = hashlib.sha256(
        json.dumps(
            [kind, [[r.line, r.action, r.code, r.changes, r.reasons] for r in rows]],
            ensure_ascii=False,
        ).encode()
    ).hexdigest()
    return Preview(kind, tuple(rows), notes, digest), steps


def agencies_in_scope(db: DbSession, scope: Scope) -> frozenset[int] | None:
    """The agencies whose roster the caller keeps (None: every one, and may add agencies)."""
    if scope.unit_ids is None:
        return None
    user = db.get(User, scope.user_id)
    if user is not None and user.agency_id is not None:
        found: set[int] = set()
        pending = [user.agency_id]
        parents = db.execute(select(Agency.id, Agency.parent_id)).all()
        while pending:
            current = pending.pop()
            found.add(current)
            pending.extend(a for a, p in parents if p == current)
        return frozenset(found)
    units = db.scalars(select(Unit.agency_id).where(Unit.id.in_(scope.unit_ids)))
    return frozenset(units)


def _plan_units(
    db: DbSession, scope: Scope, table: Table, today: date
) -> tuple[list[RowPlan], list[Step]]:
    agencies_ok = agencies_in_scope(db, scope)
    agencies = {a.code: a for a in db.scalars(select(Agency))}
    existing = {(u.agency_id, u.code): u for u in db.scalars(select(Unit))}
    new_agencies: dict[str, str] = {}
    seen: dict[tuple[str, str], int] = {}
    parents: dict[tuple[str, str], tuple[str, int]] = {}  # (agency, code) -> (parent, line)
    plans: dict[int, RowPlan] = {}
    pending_parent: list[tuple[Row, str, str]] = []
    for row in table.rows:
        agency_code, code, name = row.get("agency_code"), row.get("code"), row.get("name")
        missing = _missing(row, UNIT_COLUMNS)
        if missing:
            plans[row.line] = RowPlan(row.line, "refuse", code, name, reasons=(missing,))
            continue
        agency = agencies.get(agency_code)
        if agency is not None and agencies_ok is not None and agency.id not in agencies_ok:
            outside = f"Cơ quan {agency_code} không có hoặc nằm ngoài phạm vi của bạn"
            plans[row.line] = RowPlan(row.line, "refuse", code, name, reasons=(outside,))
            continue
        changes: list[str] = []
        if agency is None:
            if agencies_ok is not None:
                outside = f"Cơ quan {agency_code} không có hoặc nằm ngoài phạm vi của bạn"
                plans[row.line] = RowPlan(row.line, "refuse", code, name, reasons=(outside,))
                continue
            if agency_code not in new_agencies:
                new_agencies[agency_code] = row.get("agency_name") or agency_code
                changes.append(
                    f"tạo cơ quan {agency_code}, ngày bắt đầu theo dõi "
                    f"{_first_tracked_day(today):%d/%m/%Y}"
                )
        key = (agency_code, code)
        if key in seen:
            twice = f"Mã đơn vị {code} trùng với dòng {seen[key]}"
            plans[row.line] = RowPlan(row.line, "refuse", code, name, reasons=(twice,))
            continue
        seen[key] = row.line
        unit = existing.get((agency.id, code)) if agency is not None else None
        if unit is None:
            action = "create"
        else:
            action = "update" if unit.name != name else "unchanged"
            if unit.name != name:
                changes.append(f"Tên: {unit.name} → {name}")
        plans[row.line] = RowPlan(row.line, action, code, name, tuple(changes))
        parent = row.get("parent")
        if parent:
            parents[key] = (parent, row.line)
            pending_parent.append((row, agency_code, parent))
    # Parents: in the same agency, from the database or from this file; no cycles.
    final_parent: dict[tuple[str, str], str | None] = {}
    for (agency_id, code), unit in existing.items():
        agency_code = next((c for c, a in agencies.items() if a.id == agency_id), "")
        parent_unit = next((u for u in existing.values() if u.id == unit.parent_id), None)
        final_parent[(agency_code, code)] = parent_unit.code if parent_unit else None
    for key in seen:
        final_parent.setdefault(key, None)
    for key, (parent, _) in parents.items():
        final_parent[key] = parent
    for row, agency_code, parent in pending_parent:
        plan = plans[row.line]
        if plan.action == "refuse":
            continue
        reason: str | None = None
        if parent == plan.code:
            reason = "Đơn vị không thể trực thuộc chính nó"
        elif (agency_code, parent) not in final_parent:
            reason = f"Không tìm thấy đơn vị cha {parent} trong cơ quan {agency_code}"
        elif _cycle(final_parent, (agency_code, plan.code)):
            reason = f"Đơn vị cha {parent} tạo thành vòng lặp (đơn vị trực thuộc chính cấp dưới)"
        if reason:
            plans[row.line] = RowPlan(row.line, "refuse", plan.code, plan.name, reasons=(reason,))
            continue
        agency = agencies.get(agency_code)
        unit = existing.get((agency.id, plan.code)) if agency else None
        current = None
        if unit is not None and unit.parent_id is not None:
            current = next((u.code for u in existing.values() if u.id == unit.parent_id), None)
        if unit is not None and current != parent:
            moved = (*plan.changes, f"Đơn vị cha: {current or '(không)'} → {parent}")
            plans[row.line] = RowPlan(row.line, "update", plan.code, plan.name, moved)
    rows = [plans[r.line] for r in table.rows]
    if any(r.action == "refuse" for r in rows):
        return rows, []

    def write(db: DbSession, tally: _Tally) -> None:
        for agency_code, agency_name in new_agencies.items():
            agency = Agency(
                code=agency_code, name=agency_name, tracking_start=_first_tracked_day(today)
            )
            db.add(agency)
            db.flush()
            agencies[agency_code] = agency
        by_key: dict[tuple[str, str], Unit] = {}
        for row in table.rows:
            agency = agencies[row.get("agency_code")]
            unit = existing.get((agency.id, row.get("code")))
            if unit is None:
                unit = Unit(agency_id=agency.id, code=row.get("code"), name=row.get("name"))
                db.add(unit)
            else:
                unit.name = row.get("name")
            by_key[(row.get("agency_code"), row.get("code"))] = unit
        db.flush()
        for (agency_code, code), (parent, _) in parents.items():
            target = (
                by_key.get((agency_code, parent)) or existing[(agencies[agency_code].id, parent)]
            )
            by_key[(agency_code, code)].parent_id = target.id

    return rows, [write]


def _usual_card_length(values: Iterable[str]) -> int | None:
    """The length most card numbers have, when they are digits and nearly all alike.

    Without an agency card format a card that lost its leading zeros (``2000101`` among
    ``0002000101``) is still noticed: at least 3 numbers of digits, 2 in 3 of one length.
    """
    lengths = Counter(len(v) for v in values if v.isdigit())
    total = sum(lengths.values())
    if total < 3:
        return None
    length, count = lengths.most_common(1)[0]
    return length if count * 3 >= total * 2 else None


def _first_tracked_day(today: date) -> date:
    """The tracking start of an agency the import creates: tomorrow (ngày bắt đầu theo dõi).

    A new install must not judge anyone for the days before its readers and roster were in
    place, nor for the day of its setup: the first scheduler run would otherwise flag every
    person absent for the day before (its catch-up) and the nightly reconciliation for the
    day of the import. An earlier date is set on purpose, with its preview
    (`kycuong agencies set-start`, the page "Quy định").
    """
    return today + timedelta(days=1)


def _cycle(parents: dict[tuple[str, str], str | None], start: tuple[str, str]) -> bool:
    agency, current = start
    seen: set[str] = set()
    step: str | None = current
    while step is not None:
        if step in seen:
            return True
        seen.add(step)
        step = parents.get((agency, step))
    return False


# The longest value each field may hold (the database columns): longer is refused, not cut.
MAX_LENGTHS = {"agency_code": 64, "code": 64, "parent": 64, "card": 128}
MAX_LENGTH = 255


def _missing(row: Row, columns: tuple[Column, ...]) -> str | None:
    """Why the row cannot be read as it is (a required value absent, a value too long)."""
    absent = [c.label for c in columns if c.required and not row.get(c.field)]
    if absent:
        return f"Thiếu {', '.join(absent)}"
    long = [
        f"{c.label} quá dài (tối đa {MAX_LENGTHS.get(c.field, MAX_LENGTH)} ký tự)"
        for c in columns
        if len(row.get(c.field)) > MAX_LENGTHS.get(c.field, MAX_LENGTH)
    ]
    # Names, codes and titles as every list, file and e-mail shows them: a hidden character
    # (a bidi override pasted from elsewhere, a line break in a cell) refuses this row only.
    hidden = []
    for c in columns:
        try:
            name_text(row.get(c.field), c.label)
        except Invalid as exc:
            hidden.append(exc.message)
    return "; ".join([*long, *hidden]) or None


def _plan_employees(
    db: DbSession, scope: Scope, table: Table, today: date
) -> tuple[list[RowPlan], list[Step]]:
    visible = [
        (unit, agency)
        for unit, agency in db.execute(select(Unit, Agency).join(Agency)).all()
        if scope.sees(unit.id)
    ]
    rows: list[RowPlan] = []
    writes: list[_PersonWrite] = []
    judged_since: dict[int, date | None] = {}  # agency id -> its first judged day
    codes_seen: dict[str, int] = {}
    cards_seen: dict[str, int] = {}
    # Two queries for the whole file, not two a row: the people named and the open cards.
    codes = {row.get("code") for row in table.rows if row.get("code")}
    by_code = {
        e.code: e
        for chunk in _chunks(sorted(codes))
        for e in db.scalars(select(Employee).where(Employee.code.in_(chunk)))
    }
    open_cards: dict[str, list[tuple[Credential, Employee]]] = {}
    for credential, holder in db.execute(
        select(Credential, Employee)
        .join(Employee, Employee.id == Credential.employee_id)
        .where(Credential.kind == "card", Credential.valid_to.is_(None))
    ).all():
        open_cards.setdefault(credential.value, []).append((credential, holder))
    usual = _usual_card_length(
        [*open_cards, *(row.get("card").strip() for row in table.rows if row.get("card"))]
    )
    for row in table.rows:
        code, full_name = row.get("code"), row.get("full_name")
        reasons: list[str] = []
        warnings: list[str] = []
        changes: list[str] = []
        missing = _missing(row, EMPLOYEE_COLUMNS)
        if missing:
            reasons.append(missing)
        if code in codes_seen:
            reasons.append(f"Mã cán bộ {code} trùng với dòng {codes_seen[code]}")
        elif code:
            codes_seen[code] = row.line
        unit_text, agency_code = row.get("unit"), row.get("agency_code")
        match = _unit_named(visible, unit_text, agency_code) if unit_text else ([], None)
        units, unit_problem = match
        if unit_problem:
            reasons.append(unit_problem)
        unit, agency = units[0] if len(units) == 1 else (None, None)
        try:
            start = _day(row, "active_from", "Ngày bắt đầu")
            end = _day(row, "active_to", "Ngày kết thúc")
            card_from = _day(row, "card_valid_from", "Thẻ hiệu lực từ")
        except ValueError as exc:
            reasons.append(str(exc))
            start = end = card_from = None
        person = by_code.get(code)
        if person is not None and not scope.sees(person.unit_id):
            reasons.append(
                f"Mã cán bộ {code} đã được dùng cho một cán bộ ngoài phạm vi của bạn "
                "(liên hệ quản trị hệ thống)"
            )
        first_day = start or (person.active_from if person else DEFAULT_START)
        last_day = end if end is not None else (person.active_to if person else None)
        if last_day is not None and last_day < first_day:
            reasons.append(
                f"Ngày kết thúc {last_day:%d/%m/%Y} trước ngày bắt đầu {first_day:%d/%m/%Y}"
            )
        card = ""
        card_text = row.get("card")
        if card_text and agency is not None:
            try:
                card, notes = normalise_card(
                    card_text, "card" in row.numeric, CardFormat(agency.card_digits)
                )
                warnings.extend(notes)
                if (
                    agency.card_digits is None
                    and not notes
                    and usual is not None
                    and card.isdigit()
                    and len(card) < usual
                ):
                    warnings.append(
                        f"Số thẻ {card} có {len(card)} chữ số, các thẻ khác có {usual} chữ số: "
                        "có thể Excel đã bỏ số 0 ở đầu; hãy kiểm tra, hoặc đặt “Định dạng số "
                        "thẻ” ở trang Đơn vị để số 0 được tự thêm"
                    )
            except ValueError as exc:
                reasons.append(str(exc))
        if card and card in cards_seen:
            reasons.append(f"Số thẻ {card} trùng với dòng {cards_seen[card]}")
        elif card:
            cards_seen[card] = row.line
        contacts: dict[str, str | None] = {}
        for name, label, pattern, longest in CONTACTS:
            if name in table.fields:
                value = row.get(name).strip()
                if value and (len(value) > longest or not pattern.match(value)):
                    reasons.append(f"{label} “{quoted(value)}” không hợp lệ")
                contacts[name] = value or None
        holder_note = None
        card_start = card_from or first_day
        if card and not reasons:
            held = open_cards.get(card, [])
            holder_note, card_problem = _card_holders(scope, held, person, card, card_start)
            if card_problem:
                reasons.append(card_problem)
        if reasons:
            rows.append(RowPlan(row.line, "refuse", code, full_name, reasons=tuple(reasons)))
            continue
        assert unit is not None
        if unit.agency_id not in judged_since:
            judged_since[unit.agency_id] = first_judged_day(db, unit.agency_id)
        since = judged_since[unit.agency_id]
        title = row.get("title")
        new_from: date = start or (person.active_from if person else DEFAULT_START)
        new_to = end if end is not None else (person.active_to if person else None)
        after: dict[str, Any] = {
            "code": code,
            "full_name": full_name,
            "unit_id": unit.id,
            "title": title or (person.title if person else None) or None,
            "active_from": new_from,
            "active_to": new_to,
            "email": contacts.get("email", person.email if person else None),
            "phone": contacts.get("phone", person.phone if person else None),
        }
        if person is None:
            action = "create"
            changes.append(f"Đơn vị: {unit.name}")
            if start is None:
                warnings.append(
                    "Không có Ngày bắt đầu: coi như đã làm việc từ trước khi bắt đầu theo dõi"
                )
            days = _new_person_days(new_from, new_to, today, since)
        else:
            if person.full_name != full_name:
                changes.append(f"Họ và tên: {person.full_name} → {full_name}")
            if person.unit_id != unit.id:
                old = next((u.name for u, _ in visible if u.id == person.unit_id), "")
                changes.append(f"Đơn vị: {old} → {unit.name}")
            if title and title != (person.title or ""):
                changes.append(f"Chức vụ: {person.title or '(trống)'} → {title}")
            if start is not None and start != person.active_from:
                changes.append(f"Ngày bắt đầu: {person.active_from:%d/%m/%Y} → {start:%d/%m/%Y}")
            if end is not None and end != person.active_to:
                before = f"{person.active_to:%d/%m/%Y}" if person.active_to else "(trống)"
                changes.append(f"Ngày kết thúc: {before} → {end:%d/%m/%Y}")
            for name, label, _, _ in CONTACTS:
                old_value = getattr(person, name)
                if name in contacts and contacts[name] != old_value:
                    changes.append(
                        f"{label}: {old_value or '(trống)'} → {contacts[name] or '(trống)'}"
                    )
            action = "update"
            days = _changed_days(
                (person.unit_id, person.active_from, person.active_to),
                (unit.id, new_from, new_to),
                today,
                since,
            )
        judged = _days_note(days, today, dates_changed=person is None or bool(start or end))
        if judged:
            changes.append(judged)
        if holder_note is not None:
            changes.append(holder_note)
            if "chuyển" in holder_note:
                warnings.append(holder_note)
        if person is not None and not changes:
            action = "unchanged"
        rows.append(RowPlan(row.line, action, code, full_name, tuple(changes), (), tuple(warnings)))
        unchanged_values = person is not None and all(
            getattr(person, name) == value for name, value in after.items()
        )
        writes.append(
            _PersonWrite(
                code,
                person.id if person else None,
                None if unchanged_values else after,
                tuple(days),
                card,
                card_start,
                person is not None
                and any(
                    after[name] and after[name] != getattr(person, name)
                    for name in ("email", "phone")
                ),
            )
        )
    if any(r.action == "refuse" for r in rows):
        return rows, []
    return rows, [lambda db, tally: _write_people(db, tally, writes, today)]


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _day(row: Row, name: str, label: str) -> date | None:
    text = row.get(name)
    return parse_day(text, label) if text else None


def _unit_named(
    visible: list[tuple[Unit, Agency]], text: str, agency_code: str
) -> tuple[list[tuple[Unit, Agency]], str | None]:
    """The unit a row names by code or by its exact name, within the caller's scope."""
    pool = [(u, a) for u, a in visible if not agency_code or a.code == agency_code]
    found = [(u, a) for u, a in pool if u.code == text]
    if not found:
        folded = text.casefold()
        found = [(u, a) for u, a in pool if u.name.casefold() == folded]
    if not found:
        return [], f"Không tìm thấy đơn vị {text} trong phạm vi của bạn"
    if len(found) > 1:
        return found, f"Đơn vị {text} có ở nhiều cơ quan: cần thêm cột Mã cơ quan"
    return found, None


def _card_holders(
    scope: Scope,
    held: list[tuple[Credential, Employee]],
    person: Employee | None,
    card: str,
    start: date,
) -> tuple[str | None, str | None]:
    """What giving ``card`` from ``start`` does: (a note for the preview, or a refusal)."""
    note = f"Nhận thẻ {card} từ {start:%d/%m/%Y}"
    for credential, holder in held:
        if person is not None and holder.id == person.id:
            return None, None
        since = local_date(credential.valid_from, zone())
        if utc_midnight(start) <= credential.valid_from:
            return None, (
                f"Thẻ {card} đã được cấp cho người khác từ {since:%d/%m/%Y}: "
                "Thẻ hiệu lực từ phải sau ngày đó"
            )
        who = f"{holder.full_name} ({holder.code})" if scope.sees(holder.unit_id) else "người khác"
        note = f"Thẻ {card} chuyển từ {who} sang cán bộ này từ {start:%d/%m/%Y}"
    return note, None


@dataclass(frozen=True, slots=True)
class _PersonWrite:
    """One planned row of a people file; the file's rows are written together."""

    code: str
    person_id: int | None  # None: a new person
    values: dict[str, Any] | None  # the person's columns after the import (None: as they are)
    days: tuple[tuple[date, date], ...]  # ranges of past days to judge anew
    card: str
    card_start: date
    contact_added: bool = False  # an e-mail or phone where there was none, or another one


def _write_people(db: DbSession, tally: _Tally, writes: list[_PersonWrite], today: date) -> None:
    """Write a planned people file set-based: one insert of the new people, one update of the
    changed ones, one enqueue of the days to judge, the cards in a few statements."""
    new = [w.values for w in writes if w.person_id is None and w.values is not None]
    ids = insert_people(db, new)
    update_people(
        db,
        [
            {"id": w.person_id, **{k: v for k, v in w.values.items() if k != "code"}}
            for w in writes
            if w.person_id is not None and w.values is not None
        ],
    )
    keys = []
    grants = []
    for w in writes:
        person_id = w.person_id if w.person_id is not None else ids[w.code]
        for first, last in w.days:
            keys.extend(day_keys(person_id, first, last, today))
        if w.card:
            grants.append(CardGrant(person_id, w.card, utc_midnight(w.card_start)))
    enqueue(db, keys, "roster")
    # Notices that waited for an address (chờ địa chỉ) go once the file gives one.
    release_waiting(db, [f"employee:{w.person_id}" for w in writes if w.contact_added], tally.now)
    try:
        given = assign_cards(db, grants, tally.now)
    except RosterError as exc:  # planned as free; another writer took it meanwhile
        raise Conflict("card_taken", "; ".join(exc.problems)) from exc
    tally.cards += given.created
    tally.matched += given.matched
    db.expire_all()  # the people and cards loaded by the plan were written around the ORM


def _new_person_days(
    start: date, end: date | None, today: date, since: date | None
) -> list[tuple[date, date]]:
    """The past days of a person added now: from their start, not before the agency's first
    judged day (ngày bắt đầu theo dõi), to their end or today; none when nothing is judged
    yet. Without them, a person imported with a start date in the past is never judged on
    the days between (the runner's triggers name only the days that come)."""
    if since is None:
        return []
    first, last = max(start, since), min(end or today, today)
    return [(first, last)] if first <= last else []


def _changed_days(
    before: tuple[int, date, date | None],
    after: tuple[int, date, date | None],
    today: date,
    since: date | None,
) -> list[tuple[date, date]]:
    """The days a change of unit or of start/end dates touches, from the first judged day."""
    (unit, start, end), (new_unit, new_start, new_end) = before, after
    ranges: list[tuple[date, date]] = []
    if unit != new_unit:
        ranges.append((today - timedelta(days=62), today))
    if start != new_start:
        ranges.append((min(start, new_start), max(start, new_start)))
    if end != new_end:
        edges = [d for d in (end, new_end) if d is not None]
        ranges.append((min(edges), max(max(edges), today)))
    if since is None:
        return []
    clamped = [(max(first, since), min(last, today)) for first, last in ranges]
    return [(first, last) for first, last in clamped if first <= last]


def _days_note(ranges: list[tuple[date, date]], today: date, dates_changed: bool) -> str | None:
    """ "Sẽ tính lại N ngày (từ … đến …)" for the preview, when a person's dates open or
    close past days (a move between units is recomputed without a word, as before)."""
    days = {k[1] for first, last in ranges for k in day_keys(0, first, last, today)}
    if not days or not dates_changed:
        return None
    first, last = min(days), max(days)
    span = f"ngày {first:%d/%m/%Y}" if first == last else f"từ {first:%d/%m/%Y} đến {last:%d/%m/%Y}"
    return f"Sẽ tính lại {len(days)} ngày đã qua ({span})"


def _requeue_changes(
    db: DbSession, person: Employee, before: tuple[int, date, date | None], today: date
) -> None:
    """Queue the days a change of unit or of start/end dates touches (the person's page)."""
    unit = db.get(Unit, person.unit_id)
    since = first_judged_day(db, unit.agency_id) if unit is not None else None
    after = (person.unit_id, person.active_from, person.active_to)
    keys = [
        key
        for first, last in _changed_days(before, after, today, since)
        for key in day_keys(person.id, first, last, today)
    ]
    enqueue(db, keys, "roster")


# The people (cán bộ) and units (đơn vị) pages.


@dataclass(frozen=True, slots=True)
class UnitNode:
    """A unit in the tree of the caller's scope, with its depth and head count."""

    id: int
    code: str
    name: str
    agency_code: str
    agency_name: str
    depth: int
    people: int


@dataclass(frozen=True, slots=True)
class AgencyFormat:
    id: int
    code: str
    name: str
    card_digits: int | None


def unit_tree(db: DbSession, scope: Scope) -> list[UnitNode]:
    """Every unit the caller sees, depth-first under each agency, with active head counts."""
    scope.require("roster:read")
    from sqlalchemy import func

    grouped = db.execute(select(Employee.unit_id, func.count()).group_by(Employee.unit_id))
    counts: dict[int, int] = {unit_id: number for unit_id, number in grouped}
    rows = [(u, a) for u, a in db.execute(select(Unit, Agency).join(Agency)).all()]
    seen = {u.id for u, _ in rows if scope.sees(u.id)}
    children: dict[int | None, list[tuple[Unit, Agency]]] = {}
    for unit, agency in sorted(rows, key=lambda r: (r[1].code, r[0].code)):
        if unit.id not in seen:
            continue
        parent = unit.parent_id if unit.parent_id in seen else None
        children.setdefault(parent, []).append((unit, agency))
    out: list[UnitNode] = []

    def walk(parent: int | None, depth: int) -> None:
        for unit, agency in children.get(parent, []):
            out.append(
                UnitNode(
                    unit.id,
                    unit.code,
                    unit.name,
                    agency.code,
                    agency.name,
                    depth,
                    counts.get(unit.id, 0),
                )
            )
            walk(unit.id, depth + 1)

    walk(None, 0)
    return out


def agency_formats(db: DbSession, scope: Scope) -> list[AgencyFormat]:
    """The agencies whose roster the caller reads, with their card format."""
    scope.require("roster:read")
    allowed = agencies_in_scope(db, scope)
    agencies = db.scalars(select(Agency).order_by(Agency.code))
    return [
        AgencyFormat(a.id, a.code, a.name, a.card_digits)
        for a in agencies
        if allowed is None or a.id in allowed
    ]


def set_card_digits(db: DbSession, scope: Scope, agency_id: int, digits: int | None) -> None:
    """Set how an agency's readers write card numbers (None: as written)."""
    from kycuong.errors import NotFound

    scope.require("roster:write")
    allowed = agencies_in_scope(db, scope)
    agency = db.get(Agency, agency_id)
    if agency is None or (allowed is not None and agency.id not in allowed):
        raise NotFound("Cơ quan")
    if digits is not None and not 4 <= digits <= 20:
        raise Invalid("invalid_card_digits", "Số chữ số của thẻ phải từ 4 đến 20")
    agency.card_digits = digits


def keep_upload(
    db: DbSession,
    scope: Scope,
    kind: str,
    encoding: str,
    filename: str,
    content: bytes,
    now: datetime,
) -> str:
    """Keep a previewed file for "Áp dụng"; returns its SHA-256 (the only handle sent back)."""
    scope.require("roster:write")
    digest = hashlib.sha256(content).hexdigest()
    db.query(ImportUpload).filter(ImportUpload.created_at < now - UPLOAD_KEEP).delete()
    db.query(ImportUpload).filter(
        ImportUpload.user_id == scope.user_id, ImportUpload.sha256 == digest
    ).delete()
    db.add(
        ImportUpload(
            user_id=scope.user_id,
            sha256=digest,
            kind=kind,
            encoding=encoding,
            filename=filename[:255],
            content=content,
            created_at=now,
        )
    )
    db.flush()
    return digest


def kept_upload(db: DbSession, scope: Scope, sha256: str) -> ImportUpload:
    """The caller's own kept file by its hash (``Invalid`` when gone or never theirs)."""
    scope.require("roster:write")
    upload = db.scalar(
        select(ImportUpload).where(
            ImportUpload.user_id == scope.user_id, ImportUpload.sha256 == sha256
        )
    )
    if upload is None or hashlib.sha256(upload.content).hexdigest() != sha256:
        raise Invalid(
            "upload_gone",
            "Không còn tệp đã xem trước (đã áp dụng hoặc quá một ngày): hãy tải tệp lên lại.",
        )
    return upload


def forget_upload(db: DbSession, upload: ImportUpload) -> None:
    db.delete(upload)


@dataclass(frozen=True, slots=True)
class PersonRow:
    id: int
    code: str
    full_name: str
    unit_id: int
    unit_name: str
    title: str | None
    active_from: date
    active_to: date | None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class CardView:
    kind: str
    value: str
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True, slots=True)
class PersonView:
    person: PersonRow
    agency_name: str
    cards: tuple[CardView, ...]


@dataclass(frozen=True, slots=True)
class PeoplePage:
    items: list[PersonRow]
    total: int
    page: int
    pages: int


def people(
    db: DbSession,
    scope: Scope,
    search: str = "",
    unit_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> PeoplePage:
    """People in scope (or in one unit's subtree), searched by name, code or unit name."""
    from sqlalchemy import func

    from kycuong.errors import NotFound
    from services.people import fold

    scope.require("roster:read")
    sql = select(Employee, Unit).join(Unit, Unit.id == Employee.unit_id)
    if unit_id is not None:
        if not scope.sees(unit_id):
            raise NotFound("Đơn vị")
        sql = sql.where(Employee.unit_id.in_(subtree_units(db, unit_id=unit_id)))
    if scope.unit_ids is not None:
        sql = sql.where(Employee.unit_id.in_(scope.unit_ids))
    words = fold(search.strip()[:100])
    if words:
        # Diacritics and case optional ("nguyen" finds "Nguyễn", "do" finds "Đỗ"): SQL's
        # lower() knows neither, so the names in scope are folded here (the search of the
        # violations pages does the same), then only the page's people are read.
        named = sql.with_only_columns(
            Employee.id, Employee.full_name, Employee.code, Unit.name, Unit.code
        ).order_by(Unit.name, Employee.full_name, Employee.id)
        ids = [row[0] for row in db.execute(named) if any(words in fold(text) for text in row[1:])]
        pages = max(1, -(-len(ids) // per_page))
        page = min(max(page, 1), pages)
        shown = ids[(page - 1) * per_page : page * per_page]
        got = list(db.execute(sql.where(Employee.id.in_(shown))).all()) if shown else []
        order = {person_id: n for n, person_id in enumerate(shown)}
        got.sort(key=lambda row: order[row[0].id])
        return PeoplePage([_person_row(e, u) for e, u in got], len(ids), page, pages)
    total = db.scalar(select(func.count()).select_from(sql.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    found = db.execute(
        sql.order_by(Unit.name, Employee.full_name, Employee.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return PeoplePage([_person_row(e, u) for e, u in found], total, page, pages)


def _person_row(person: Employee, unit: Unit) -> PersonRow:
    return PersonRow(
        person.id,
        person.code,
        person.full_name,
        unit.id,
        unit.name,
        person.title,
        person.active_from,
        person.active_to,
        person.email,
        person.phone,
    )


def person(db: DbSession, scope: Scope, person_id: int) -> PersonView:
    """One person in scope with their unit and cards (``NotFound`` outside the scope)."""
    from kycuong.errors import NotFound

    scope.require("roster:read")
    found = db.get(Employee, person_id)
    if found is None or not scope.sees(found.unit_id):
        raise NotFound("Cán bộ")
    unit = db.get(Unit, found.unit_id)
    assert unit is not None
    agency = db.get(Agency, unit.agency_id)
    tz = zone()
    cards = tuple(
        CardView(
            c.kind,
            c.value,
            local_date(c.valid_from, tz),
            local_date(c.valid_to, tz) if c.valid_to else None,
        )
        for c in db.scalars(
            select(Credential)
            .where(Credential.employee_id == found.id)
            .order_by(Credential.valid_from.desc())
        )
    )
    return PersonView(_person_row(found, unit), agency.name if agency else "", cards)


@dataclass(frozen=True, slots=True)
class PersonEdit:
    """The fields a clerk edits on a person's page (already parsed)."""

    unit_id: int | None
    title: str
    active_from: date | None
    active_to: date | None
    email: str | None = None  # None: left as it is; "": cleared
    phone: str | None = None


def edit_person(
    db: DbSession, scope: Scope, person_id: int, change: PersonEdit, today: date
) -> PersonView:
    """Change a person's unit, title, start and end dates; queue the days this touches."""
    from kycuong.errors import NotFound

    scope.require("roster:write")
    found = db.get(Employee, person_id)
    if found is None or not scope.sees(found.unit_id):
        raise NotFound("Cán bộ")
    if change.unit_id is None or not scope.sees(change.unit_id) or not db.get(Unit, change.unit_id):
        raise Invalid("invalid_unit", "Hãy chọn một đơn vị trong phạm vi của bạn")
    if change.active_from is None:
        raise Invalid("invalid_date", "Ngày bắt đầu là bắt buộc (dạng dd/mm/yyyy)")
    if change.active_to is not None and change.active_to < change.active_from:
        raise Invalid(
            "invalid_date",
            f"Ngày kết thúc {change.active_to:%d/%m/%Y} trước ngày bắt đầu "
            f"{change.active_from:%d/%m/%Y}",
        )
    if len(change.title) > 255:
        raise Invalid("invalid_title", "Chức vụ quá dài (tối đa 255 ký tự)")
    title = name_text(change.title, "Chức vụ")
    before = (found.unit_id, found.active_from, found.active_to)
    found.unit_id = change.unit_id
    found.title = title or None
    found.active_from, found.active_to = change.active_from, change.active_to
    if change.email is not None or change.phone is not None:
        from services.notifications import set_contact

        # Validated there, and the notices waiting for an address (chờ địa chỉ) go now.
        set_contact(db, f"employee:{found.id}", email=change.email, phone=change.phone)
    db.flush()
    _requeue_changes(db, found, before, today)
    return person(db, scope, person_id)
