"""Writes of the punch pipeline: punches, unmatched punches, dead letters, device sightings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session as DbSession

from store.bulk import bulk_insert_keyed
from store.models import Credential, DeadLetter, Device, Punch, PunchKey, UnmatchedPunch

PUNCHES = cast(Table, Punch.__table__)
PUNCH_KEYS = cast(Table, PunchKey.__table__)
UNMATCHED = cast(Table, UnmatchedPunch.__table__)
DEAD_LETTERS = cast(Table, DeadLetter.__table__)
DEVICES = cast(Table, Device.__table__)


def insert_punches(db: DbSession, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert punches, skipping those already stored (same device and event id).

    Returns the ids of the rows actually inserted.
    """
    return bulk_insert_keyed(db, PUNCHES, rows, PUNCH_KEYS, ("device_id", "event_id"))


def credential_held() -> ColumnElement[bool]:
    """Join condition: the credential of a punch, held by someone at the punch's time."""
    return and_(
        Credential.kind == Punch.credential_kind,
        Credential.value == Punch.credential_value,
        Credential.valid_from <= Punch.punched_at,
        or_(Credential.valid_to.is_(None), Credential.valid_to > Punch.punched_at),
    )


def punch_id_filter(
    db: DbSession, punch_ids: Sequence[int]
) -> tuple[ColumnElement[bool], dict[str, Any]]:
    """``punches.id`` among ``punch_ids``: one array parameter on PostgreSQL, IN elsewhere."""
    if db.get_bind().dialect.name == "postgresql":
        return Punch.id == func.any(bindparam("ids", type_=ARRAY(BigInteger))), {
            "ids": list(punch_ids)
        }
    return Punch.id.in_(bindparam("ids", expanding=True)), {"ids": list(punch_ids)}


def record_unmatched(db: DbSession, punch_ids: Sequence[int]) -> int:
    """Mark the given punches whose credential no employee held at the punch time."""
    if not punch_ids:
        return 0
    held = exists().where(credential_held())
    chosen, params = punch_id_filter(db, punch_ids)
    source = select(
        Punch.id,
        Punch.credential_kind,
        Punch.credential_value,
        Punch.device_id,
        Punch.punched_at,
    ).where(chosen, ~held)
    stmt = (
        UNMATCHED.insert()
        .from_select(
            ["punch_id", "credential_kind", "credential_value", "device_id", "punched_at"], source
        )
        .returning(UNMATCHED.c.punch_id)
    )
    # Counted from RETURNING: psycopg's rowcount for INSERT … SELECT is not reliable here.
    return len(db.execute(stmt, params).all())


def insert_dead_letters(db: DbSession, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        db.execute(DEAD_LETTERS.insert(), list(rows))


def update_devices(db: DbSession, changes: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Apply per-device changes (last seen, clock offset, high-water mark, state).

    In one order of device ids: two ingest workers updating the same readers in different
    orders would deadlock."""
    for device_id, values in sorted(changes, key=lambda change: change[0]):
        db.execute(update(DEVICES).where(DEVICES.c.id == device_id).values(**values))


def match_unmatched(db: DbSession, credential: Credential, now: datetime) -> list[int]:
    """Attach open unmatched punches to a newly registered credential; returns punch ids."""
    conditions = [
        UnmatchedPunch.matched_employee_id.is_(None),
        UnmatchedPunch.credential_kind == credential.kind,
        UnmatchedPunch.credential_value == credential.value,
        UnmatchedPunch.punched_at >= credential.valid_from,
    ]
    if credential.valid_to is not None:
        conditions.append(UnmatchedPunch.punched_at < credential.valid_to)
    ids = list(db.scalars(select(UnmatchedPunch.punch_id).where(*conditions)))
    if ids:
        db.execute(
            update(UnmatchedPunch)
            .where(UnmatchedPunch.punch_id.in_(ids))
            .values(matched_employee_id=credential.employee_id, matched_at=now)
        )
    return ids
