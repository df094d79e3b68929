"""Credentials people hold (thẻ và mã chấm công) and the unknown ones readers send (thẻ chưa
đăng ký): list, register on a reader or a group of readers, assign an unknown one to a
person, all within the caller's scope. Registering matches the punches already received."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Conflict, Invalid, NotFound
from kycuong.inputs import quoted
from kycuong.labels import CREDENTIAL_KIND
from rules.zones import zone
from services.scope import Scope
from store import credentials as store
from store.models import Agency, Device, DeviceGroup, Employee, Unit

ENROLMENT_KINDS = ("pin", "face", "fingerprint", "qr")


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    code: str
    full_name: str
    unit_name: str
    agency_id: int
    timezone: str


@dataclass(frozen=True, slots=True)
class ScopeChoice:
    """A reader or a group a credential may be scoped to: ``key`` is "device:ID" or
    "group:ID", as the forms send it."""

    key: str
    label: str


@dataclass(frozen=True, slots=True)
class CredentialView:
    id: int
    kind: str
    kind_label: str
    value: str
    scope_label: str
    valid_from: date
    valid_to: date | None  # the last day it is valid, or None (open)
    current: bool


@dataclass(frozen=True, slots=True)
class PersonCredentials:
    person: Person
    credentials: list[CredentialView]
    choices: list[ScopeChoice]


@dataclass(frozen=True, slots=True)
class CredentialIn:
    """A registration as a person types it: the scope as "device:ID", "group:ID" or ""
    (every reader: cards only); dates are local; ``valid_to`` is the last day it holds
    (inclusive), or None."""

    employee_code: str
    kind: str
    value: str
    scope_key: str
    valid_from: date
    valid_to: date | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    credential_id: int | None
    person: Person
    punches_matched: int
    already_held: bool


@dataclass(frozen=True, slots=True)
class UnknownCredential:
    kind: str
    kind_label: str
    value: str
    device_id: str
    device_label: str
    site: str
    first_seen: datetime
    last_seen: datetime
    count: int


def _agencies(db: DbSession, scope: Scope) -> set[int] | None:
    """The agencies whose readers the caller sees: None for every reader."""
    if scope.unit_ids is None:
        return None
    return set(
        db.scalars(select(Unit.agency_id).where(Unit.id.in_(sorted(scope.unit_ids))).distinct())
    )


def find_person(
    db: DbSession, scope: Scope, *, employee_id: int | None = None, code: str = ""
) -> Person:
    query = select(Employee, Unit, Agency).join(Unit, Unit.id == Employee.unit_id).join(Agency)
    if employee_id is not None:
        query = query.where(Employee.id == employee_id)
    else:
        query = query.where(Employee.code == code.strip())
    row = db.execute(query).first()
    if row is None or not scope.sees(row[0].unit_id):
        raise NotFound("Cán bộ")
    person, unit, agency = row
    return Person(person.id, person.code, person.full_name, unit.name, agency.id, agency.timezone)


def _device_label(device: Device) -> str:
    name = device.name if device.name and device.name != device.id else ""
    where = " · ".join(part for part in (device.site, name) if part)
    return f"{device.id} ({where})" if where else device.id


def scope_choices(db: DbSession, agency_id: int | None) -> list[ScopeChoice]:
    """The readers and groups of an agency (and those of no agency), for a form."""
    devices = db.scalars(
        select(Device)
        .where((Device.agency_id == agency_id) | Device.agency_id.is_(None))
        .order_by(Device.id)
    )
    groups = db.scalars(
        select(DeviceGroup)
        .where((DeviceGroup.agency_id == agency_id) | DeviceGroup.agency_id.is_(None))
        .order_by(DeviceGroup.name)
    )
    return [ScopeChoice(f"group:{g.id}", f"Nhóm máy: {g.name}") for g in groups] + [
        ScopeChoice(f"device:{d.id}", f"Máy: {_device_label(d)}") for d in devices
    ]


def _scope_labels(db: DbSession) -> dict[str, str]:
    labels = {f"device:{d.id}": f"Máy {_device_label(d)}" for d in db.scalars(select(Device))}
    labels |= {f"group:{g.id}": f"Nhóm máy {g.name}" for g in db.scalars(select(DeviceGroup))}
    return labels


def of_person(db: DbSession, scope: Scope, employee_id: int, now: datetime) -> PersonCredentials:
    """A person's cards and enrolment numbers, newest first, with the readers to choose from."""
    scope.require("credentials:write")
    person = find_person(db, scope, employee_id=employee_id)
    tz = zone(person.timezone)
    labels = _scope_labels(db)
    views = []
    for c in store.of_employee(db, person.id):
        key = f"device:{c.device_id}" if c.device_id else ""
        key = f"group:{c.group_id}" if c.group_id else key
        until = c.valid_to.astimezone(tz) if c.valid_to else None
        last_day = None
        if until is not None:  # the period ends before ``until``: its last day is the day before
            last_day = (until - _TICK).date()
        views.append(
            CredentialView(
                id=c.id,
                kind=c.kind,
                kind_label=CREDENTIAL_KIND.get(c.kind, c.kind),
                value=c.value,
                scope_label=labels.get(key, "Mọi máy của cơ quan"),
                valid_from=c.valid_from.astimezone(tz).date(),
                valid_to=last_day,
                current=c.valid_from <= now and (c.valid_to is None or now < c.valid_to),
            )
        )
    return PersonCredentials(person, views, scope_choices(db, person.agency_id))


_TICK = timedelta(seconds=1)


def _local_midnight(day: date, tz_name: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone(tz_name)).astimezone(UTC)


def _resolve_scope(
    db: DbSession, scope: Scope, key: str, person: Person
) -> tuple[str | None, int | None, str]:
    """(device id, group id, label) of a form's scope key, checked against the agency."""
    kind, _, ident = key.partition(":")
    visible = _agencies(db, scope)
    if kind == "device":
        device = db.get(Device, ident)
        if device is None or (visible is not None and device.agency_id not in visible):
            raise NotFound("Đầu đọc")
        if device.agency_id not in (None, person.agency_id):
            raise Invalid("other_agency", f"Máy {device.id} thuộc cơ quan khác với cán bộ này.")
        return device.id, None, f"máy {device.id}"
    if kind == "group":
        group = db.get(DeviceGroup, int(ident)) if ident.isdigit() else None
        if group is None or (visible is not None and group.agency_id not in visible | {None}):
            raise NotFound("Nhóm máy")
        return None, group.id, f"nhóm máy {group.name}"
    return None, None, "mọi máy"


def register(db: DbSession, scope: Scope, body: CredentialIn, now: datetime) -> Registration:
    """Register a card (every reader) or an enrolment number (a reader or a group) for a
    person from a local date; matches the punches already received and queues their days.

    Raises ``Invalid`` for a bad kind, value, period or scope; ``NotFound`` for a person or
    reader outside the scope; ``Conflict`` when someone else holds it there then.
    """
    scope.require("credentials:write")
    if body.kind not in CREDENTIAL_KIND:
        accepted = ", ".join(f"{code} ({label})" for code, label in CREDENTIAL_KIND.items())
        raise Invalid("invalid_kind", f"Loại mã không hợp lệ; chọn một trong: {accepted}.")
    value = body.value.strip()
    if not value or len(value) > 128 or not value.isprintable():
        raise Invalid("invalid_value", "Số thẻ hoặc mã chấm công phải có từ 1 đến 128 ký tự.")
    if not body.employee_code.strip():
        raise Invalid("missing_employee", "Hãy nhập mã cán bộ.")
    person = find_person(db, scope, code=body.employee_code)
    device_id, group_id, where = _resolve_scope(db, scope, body.scope_key, person)
    if body.kind == "card" and (device_id or group_id):
        raise Invalid(
            "card_everywhere",
            "Thẻ có hiệu lực trên mọi máy của cơ quan: không chọn máy hay nhóm máy cho thẻ.",
        )
    if body.kind != "card" and not (device_id or group_id):
        raise Invalid(
            "scope_required",
            f"{CREDENTIAL_KIND[body.kind]} chỉ có nghĩa trên máy đã đăng ký nó: hãy chọn máy "
            "hoặc nhóm máy.",
        )
    if body.valid_to is not None and body.valid_to < body.valid_from:
        raise Invalid("invalid_period", "Ngày kết thúc không được trước ngày bắt đầu hiệu lực.")
    try:
        done = store.register(
            db,
            employee_id=person.id,
            kind=body.kind,
            value=value,
            valid_from=_local_midnight(body.valid_from, person.timezone),
            valid_to=(
                _local_midnight(body.valid_to + timedelta(days=1), person.timezone)
                if body.valid_to
                else None
            ),
            device_id=device_id,
            group_id=group_id,
            now=now,
        )
    except store.CredentialClash as clash:
        holder = db.get(Employee, clash.holder_id)
        tz = zone(person.timezone)
        since = clash.since.astimezone(tz).strftime("%d/%m/%Y")
        who = f"{holder.full_name} ({holder.code})" if holder else "người khác"
        label = CREDENTIAL_KIND[body.kind]
        raise Conflict(
            "credential_held",
            f"{label} {quoted(value)} trên {where} đã được cấp cho {who} từ {since}; ngày hiệu "
            "lực mới phải sau ngày đó (bàn giao), hoặc chọn máy khác.",
        ) from clash
    return Registration(
        done.credential.id if done.credential else None,
        person,
        done.punches_matched,
        done.credential is None,
    )


def unknown(db: DbSession, scope: Scope) -> list[UnknownCredential]:
    """Each unknown card or enrolment number per reader: first and last seen, how often."""
    scope.require("credentials:read")
    return [
        UnknownCredential(
            kind=row.kind,
            kind_label=CREDENTIAL_KIND.get(row.kind, row.kind),
            value=row.value,
            device_id=row.device_id,
            device_label=row.device_name if row.device_name else row.device_id,
            site=row.site,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            count=row.count,
        )
        for row in store.unknown(db, _agencies(db, scope))
    ]


@dataclass(frozen=True, slots=True)
class People:
    code: str
    label: str


def people_for(db: DbSession, scope: Scope, limit: int = 5000) -> list[People]:
    """People the caller may give a credential to (for a picker), by code."""
    query = select(Employee.code, Employee.full_name, Employee.unit_id).order_by(Employee.code)
    if scope.unit_ids is not None:
        query = query.where(Employee.unit_id.in_(sorted(scope.unit_ids)))
    return [People(code, f"{code} — {name}") for code, name, _ in db.execute(query.limit(limit))]


def unknown_choices(db: DbSession, scope: Scope, device_id: str) -> list[ScopeChoice]:
    """Where an unknown number seen on ``device_id`` may be registered: that reader or one of
    its groups."""
    visible = _agencies(db, scope)
    device = db.get(Device, device_id)
    if device is None or (visible is not None and device.agency_id not in visible):
        raise NotFound("Đầu đọc")
    return [ScopeChoice(f"device:{device.id}", f"Chỉ máy {_device_label(device)}")] + [
        ScopeChoice(f"group:{g.id}", f"Mọi máy của nhóm {g.name}")
        for g in store.groups_of(db, device.id)
    ]
