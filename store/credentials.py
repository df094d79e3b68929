"""Credentials (thẻ và mã chấm công) as the store keeps them: registration with handovers and
scope checks, reader groups, and the unknown credentials readers have sent.

A card is valid on every reader; an enrolment number (pin, face, fingerprint id) on one
reader or a group of readers. Registering one matches the punches already received with it
and queues the days they touch for recomputation, as the roster import does for cards.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from rules.zones import local_date, zone
from store.models import Credential, Device, DeviceGroup, DeviceGroupMember, Punch, UnmatchedPunch
from store.punches import match_unmatched, scope_devices
from store.queue import enqueue, enqueue_for_punches


class CredentialClash(ValueError):
    """The credential is held by someone else on an overlapping reader and period."""

    def __init__(
        self, holder_id: int, since: datetime, until: datetime | None, value: str = ""
    ) -> None:
        super().__init__(f"{value} held by employee {holder_id} from {since.isoformat()}")
        self.holder_id, self.since, self.until, self.value = holder_id, since, until, value


@dataclass(frozen=True, slots=True)
class Registered:
    """The outcome of a registration: the new row (None when already held) and what it moved."""

    credential: Credential | None
    punches_matched: int
    handed_over_from: tuple[int, ...] = ()


def _overlaps(a: set[str] | None, b: set[str] | None) -> bool:
    return a is None or b is None or bool(a & b)


def _periods_overlap(
    a_from: datetime, a_to: datetime | None, b_from: datetime, b_to: datetime | None
) -> bool:
    return (b_to is None or a_from < b_to) and (a_to is None or b_from < a_to)


def register(
    db: DbSession,
    *,
    employee_id: int,
    kind: str,
    value: str,
    valid_from: datetime,
    valid_to: datetime | None,
    device_id: str | None,
    group_id: int | None,
    now: datetime,
) -> Registered:
    """Give ``(kind, value)`` to a person on a reader, a group or everywhere, for a period.

    An open credential of another person with the same scope that started earlier is
    handed over (closed at ``valid_from``); any other holder on an overlapping reader and
    period raises ``CredentialClash``. Punches already received with it, in its period and
    scope, are matched and the days they touch (both holders' in a handover) queued.
    """
    new = Credential(
        employee_id=employee_id,
        kind=kind,
        value=value,
        valid_from=valid_from,
        valid_to=valid_to,
        device_id=device_id,
        group_id=group_id,
    )
    readers = scope_devices(db, new)
    handed: list[Credential] = []
    others = db.scalars(
        select(Credential).where(Credential.kind == kind, Credential.value == value)
    ).all()
    for held in others:
        if not _periods_overlap(held.valid_from, held.valid_to, valid_from, valid_to):
            continue
        if not _overlaps(readers, scope_devices(db, held)):
            continue
        same_scope = (held.device_id, held.group_id) == (device_id, group_id)
        mine = held.employee_id == employee_id and same_scope and held.valid_to is None
        if mine and held.valid_from <= valid_from:
            return Registered(None, 0)
        if same_scope and held.valid_to is None and held.valid_from < valid_from:
            handed.append(held)
            continue
        raise CredentialClash(held.employee_id, held.valid_from, held.valid_to)
    for held in handed:
        held.valid_to = valid_from
    db.add(new)
    db.flush()
    matched = match_unmatched(db, new, now)
    enqueue_for_punches(db, matched, "credential_registered")
    if handed:
        # Punches since the handover change hands: both holders' days are recomputed.
        moved = _punches_in_scope(db, new, readers)
        if moved:
            tz = zone()
            enqueue(
                db,
                {(h.employee_id, local_date(at, tz)) for h in handed for _, at in moved},
                "credential_reassigned",
            )
            enqueue_for_punches(db, [pid for pid, _ in moved], "credential_reassigned")
    return Registered(new, len(matched), tuple(h.employee_id for h in handed))


def _punches_in_scope(
    db: DbSession, credential: Credential, readers: set[str] | None
) -> list[tuple[int, datetime]]:
    query = select(Punch.id, Punch.punched_at).where(
        Punch.credential_kind == credential.kind,
        Punch.credential_value == credential.value,
        Punch.punched_at >= credential.valid_from,
    )
    if credential.valid_to is not None:
        query = query.where(Punch.punched_at < credential.valid_to)
    if readers is not None:
        query = query.where(Punch.device_id.in_(sorted(readers)))
    return [(pid, at) for pid, at in db.execute(query).all()]


def group_by_name(db: DbSession, name: str) -> DeviceGroup | None:
    return db.scalar(select(DeviceGroup).where(DeviceGroup.name == name))


def set_group(
    db: DbSession, name: str, device_ids: Collection[str], agency_id: int | None = None
) -> DeviceGroup:
    """Create the group ``name`` or add readers to it (members are only ever added, so a
    credential scoped to the group never loses a reader its punches came from)."""
    group = group_by_name(db, name)
    if group is None:
        group = DeviceGroup(name=name, agency_id=agency_id)
        db.add(group)
        db.flush()
    present = set(
        db.scalars(
            select(DeviceGroupMember.device_id).where(DeviceGroupMember.group_id == group.id)
        )
    )
    for device_id in sorted(set(device_ids) - present):
        db.add(DeviceGroupMember(group_id=group.id, device_id=device_id))
    db.flush()
    # A reader joining the group brings the group's numbers to it: none may clash there.
    for mine in db.scalars(select(Credential).where(Credential.group_id == group.id)):
        readers = scope_devices(db, mine)
        for other in db.scalars(
            select(Credential).where(
                Credential.kind == mine.kind,
                Credential.value == mine.value,
                Credential.id != mine.id,
            )
        ):
            if _periods_overlap(
                mine.valid_from, mine.valid_to, other.valid_from, other.valid_to
            ) and _overlaps(readers, scope_devices(db, other)):
                raise CredentialClash(
                    other.employee_id, other.valid_from, other.valid_to, other.value
                )
    return group


def groups_of(db: DbSession, device_id: str) -> list[DeviceGroup]:
    return list(
        db.scalars(
            select(DeviceGroup)
            .join(DeviceGroupMember, DeviceGroupMember.group_id == DeviceGroup.id)
            .where(DeviceGroupMember.device_id == device_id)
            .order_by(DeviceGroup.name)
        )
    )


@dataclass(frozen=True, slots=True)
class UnknownRow:
    kind: str
    value: str
    device_id: str
    site: str
    device_name: str
    agency_id: int | None
    first_seen: datetime
    last_seen: datetime
    count: int


def unknown(
    db: DbSession, agency_ids: Collection[int] | None, limit: int = 500
) -> list[UnknownRow]:
    """Open unmatched punches grouped by credential and reader, the most recent first;
    ``agency_ids`` None: every reader, else only the readers of those agencies."""
    u = UnmatchedPunch
    query = (
        select(
            u.credential_kind,
            u.credential_value,
            u.device_id,
            Device.site,
            Device.name,
            Device.agency_id,
            func.min(u.punched_at),
            func.max(u.punched_at),
            func.count(),
        )
        .join(Device, Device.id == u.device_id)
        .where(u.matched_employee_id.is_(None))
        .group_by(
            u.credential_kind,
            u.credential_value,
            u.device_id,
            Device.site,
            Device.name,
            Device.agency_id,
        )
        .order_by(func.max(u.punched_at).desc(), u.credential_value)
        .limit(limit)
    )
    if agency_ids is not None:
        query = query.where(Device.agency_id.in_(sorted(agency_ids)))
    return [UnknownRow(*row) for row in db.execute(query).all()]


def of_employee(db: DbSession, employee_id: int) -> list[Credential]:
    return list(
        db.scalars(
            select(Credential)
            .where(Credential.employee_id == employee_id)
            .order_by(Credential.valid_from.desc(), Credential.id.desc())
        )
    )
