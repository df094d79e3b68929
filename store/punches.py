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
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session as DbSession

from store.bulk import bulk_insert_keyed
from store.models import (
    Credential,
    DeadLetter,
    DeadLetterTally,
    Device,
    DeviceGroupMember,
    Punch,
    PunchKey,
    UnmatchedPunch,
)

PUNCHES = cast(Table, Punch.__table__)
PUNCH_KEYS = cast(Table, PunchKey.__table__)
UNMATCHED = cast(Table, UnmatchedPunch.__table__)
DEAD_LETTERS = cast(Table, DeadLetter.__table__)
DEVICES = cast(Table, Device.__table__)
TALLIES = cast(Table, DeadLetterTally.__table__)


def insert_punches(db: DbSession, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert punches, skipping those already stored (same device and event id).

    Returns the ids of the rows actually inserted.
    """
    return bulk_insert_keyed(db, PUNCHES, rows, PUNCH_KEYS, ("device_id", "event_id"))


def credential_held() -> ColumnElement[bool]:
    """Join condition: the credential of a punch, held by someone at the punch's time, and
    valid on the punch's reader (a card everywhere; an enrolment number on its reader or
    on a member of its group)."""
    return and_(
        Credential.kind == Punch.credential_kind,
        Credential.value == Punch.credential_value,
        Credential.valid_from <= Punch.punched_at,
        or_(Credential.valid_to.is_(None), Credential.valid_to > Punch.punched_at),
        valid_on(Punch.device_id),
    )


def valid_on(device_id: Any) -> ColumnElement[bool]:
    """The credential's scope includes the reader ``device_id`` (a column or a value)."""
    return or_(
        and_(Credential.device_id.is_(None), Credential.group_id.is_(None)),
        Credential.device_id == device_id,
        and_(
            Credential.group_id.is_not(None),
            exists().where(
                DeviceGroupMember.group_id == Credential.group_id,
                DeviceGroupMember.device_id == device_id,
            ),
        ),
    )


def scope_devices(db: DbSession, credential: Credential) -> set[str] | None:
    """The readers a credential is valid on; None for every reader (a card)."""
    if credential.device_id is not None:
        return {credential.device_id}
    if credential.group_id is not None:
        return set(
            db.scalars(
                select(DeviceGroupMember.device_id).where(
                    DeviceGroupMember.group_id == credential.group_id
                )
            )
        )
    return None


def punch_id_filter(
    db: DbSession, punch_ids: Sequence[int]
) -> tuple[ColumnElement[bool], dict[str, Any]]:
    """``punches.id`` among ``punch_ids``: one array parameter on PostgreSQL, IN elsewhere."""
    if db.get_bind().dialect.name == "postgresql":
        return Punch.id == func.any(bindparam("ids", type_=ARRAY(BigInteger))), {
            "ids": list(punch_ids)
        }
    return Punch.id.in_(bindparam("ids", expanding=True)), {"ids": list(punch_ids)}


# The SQL of ``credential_held()`` for a punch ``p`` and a credential ``c``, for the
# statements written out below (built once: SQLAlchemy's cache key of a composed select
# cost about a millisecond a call, for every batch of ingest).
PG_CREDENTIAL_HELD = (
    "c.kind = p.credential_kind AND c.value = p.credential_value"
    " AND c.valid_from <= p.punched_at AND (c.valid_to IS NULL OR c.valid_to > p.punched_at)"
    " AND ((c.device_id IS NULL AND c.group_id IS NULL) OR c.device_id = p.device_id"
    "  OR (c.group_id IS NOT NULL AND EXISTS (SELECT 1 FROM device_group_members m"
    "   WHERE m.group_id = c.group_id AND m.device_id = p.device_id)))"
)
# The chosen punches, by id and (when known) within [first, last] of ``punched_at``: the
# bounds let PostgreSQL look in the months' partitions that can hold them instead of
# probing the id index of every month kept.
PG_CHOSEN_PUNCHES = (
    "p.id = ANY(CAST(:ids AS bigint[]))"
    " AND p.punched_at >= COALESCE(CAST(:first AS timestamptz), '-infinity')"
    " AND p.punched_at <= COALESCE(CAST(:last AS timestamptz), 'infinity')"
)
_PG_RECORD_UNMATCHED = text(
    "WITH new AS (INSERT INTO unmatched_punches"
    " (punch_id, credential_kind, credential_value, device_id, punched_at)"
    " SELECT p.id, p.credential_kind, p.credential_value, p.device_id, p.punched_at"
    f" FROM punches p WHERE {PG_CHOSEN_PUNCHES}"
    f" AND NOT EXISTS (SELECT 1 FROM credentials c WHERE {PG_CREDENTIAL_HELD})"
    " RETURNING punch_id) SELECT count(*) FROM new"
)


def pg_ids(punch_ids: Sequence[int]) -> str:
    """Punch ids as one PostgreSQL array literal (psycopg dumps a list element by element)."""
    return "{" + ",".join(map(str, punch_ids)) + "}"


def record_unmatched(
    db: DbSession,
    punch_ids: Sequence[int],
    between: tuple[datetime, datetime] | None = None,
) -> int:
    """Mark the given punches whose credential no employee held at the punch time.

    ``between``: the earliest and latest ``punched_at`` among them, when the caller knows
    (on PostgreSQL only the months' partitions that can hold them are read). Returns how
    many were marked."""
    if not punch_ids:
        return 0
    if db.get_bind().dialect.name == "postgresql":
        first, last = between or (None, None)
        params = {"ids": pg_ids(punch_ids), "first": first, "last": last}
        return int(db.execute(_PG_RECORD_UNMATCHED, params).scalar_one())
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


def _dialect_insert(db: DbSession, table: Table) -> Any:
    if db.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_dead_letters(
    db: DbSession, rows: Sequence[Mapping[str, Any]], *, per_device_cap: int = 200
) -> None:
    """Keep refused messages: one row per distinct message, a tally beyond a device's cap.

    Each row carries a ``fingerprint``; a copy already kept (a redelivery, a retained
    message seen again) only raises its ``count``. A device with ``per_device_cap`` rows
    already kept gets its further new messages counted per reason in ``dead_letter_tallies``
    with the latest as a sample, so a flooding device cannot fill the disk.
    """
    if not rows:
        return
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        kept = merged.get(row["fingerprint"])
        if kept is None:
            merged[row["fingerprint"]] = {**row, "count": 1, "last_received_at": row["received_at"]}
        else:
            kept["count"] += 1
            kept["last_received_at"] = max(kept["last_received_at"], row["received_at"])
    devices = {row["device_id"] for row in merged.values()}
    named = [d for d in devices if d is not None]
    which = [DeadLetter.device_id.in_(named)] if named else []
    if None in devices:
        which.append(DeadLetter.device_id.is_(None))
    kept_per_device: dict[str | None, int] = {
        device: count
        for device, count in db.execute(
            select(DeadLetter.device_id, func.count())
            .where(or_(*which))
            .group_by(DeadLetter.device_id)
        ).all()
    }
    budget = {d: per_device_cap - kept_per_device.get(d, 0) for d in devices}
    fresh, over = [], []
    for row in merged.values():
        if budget[row["device_id"]] > 0:
            budget[row["device_id"]] -= 1
            fresh.append(row)
        else:
            over.append(row)
    if fresh:
        stmt = _dialect_insert(db, DEAD_LETTERS)
        stmt = stmt.on_conflict_do_update(
            index_elements=["fingerprint"],
            set_={
                "count": DEAD_LETTERS.c["count"] + stmt.excluded["count"],
                "last_received_at": stmt.excluded.last_received_at,
            },
        )
        db.execute(stmt, fresh)
    for row in over:
        seen_again = db.execute(
            update(DEAD_LETTERS)
            .where(DEAD_LETTERS.c.fingerprint == row["fingerprint"])
            .values(
                count=DEAD_LETTERS.c["count"] + row["count"],
                last_received_at=row["last_received_at"],
            )
        )
        if getattr(seen_again, "rowcount", 0):
            continue
        stmt = _dialect_insert(db, TALLIES).values(
            device_id=row["device_id"] or "",
            reason_code=row["reason_code"],
            count=row["count"],
            first_received_at=row["received_at"],
            last_received_at=row["last_received_at"],
            sample_reason=row["reason"],
            sample_payload=row["payload"],
        )
        db.execute(
            stmt.on_conflict_do_update(
                index_elements=["device_id", "reason_code"],
                set_={
                    "count": TALLIES.c["count"] + stmt.excluded["count"],
                    "last_received_at": stmt.excluded.last_received_at,
                    "sample_reason": stmt.excluded.sample_reason,
                    "sample_payload": stmt.excluded.sample_payload,
                },
            )
        )


def purge_dead_letters(db: DbSession, before: datetime) -> int:
    """Delete dead letters and tallies last seen before ``before`` (the retention period)."""
    last_seen = func.coalesce(DEAD_LETTERS.c.last_received_at, DEAD_LETTERS.c.received_at)
    purged = db.execute(DEAD_LETTERS.delete().where(last_seen < before))
    db.execute(TALLIES.delete().where(TALLIES.c.last_received_at < before))
    return int(getattr(purged, "rowcount", 0) or 0)


def update_devices(db: DbSession, changes: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Apply per-device changes (last seen, clock offset, high-water mark, state).

    In one order of device ids: two ingest workers updating the same readers in different
    orders would deadlock."""
    for device_id, values in sorted(changes, key=lambda change: change[0]):
        db.execute(update(DEVICES).where(DEVICES.c.id == device_id).values(**values))


def match_unmatched(db: DbSession, credential: Credential, now: datetime) -> list[int]:
    """Attach open unmatched punches to a newly registered credential (within its period
    and on the readers of its scope); returns punch ids."""
    conditions = [
        UnmatchedPunch.matched_employee_id.is_(None),
        UnmatchedPunch.credential_kind == credential.kind,
        UnmatchedPunch.credential_value == credential.value,
        UnmatchedPunch.punched_at >= credential.valid_from,
    ]
    if credential.valid_to is not None:
        conditions.append(UnmatchedPunch.punched_at < credential.valid_to)
    readers = scope_devices(db, credential)
    if readers is not None:
        conditions.append(UnmatchedPunch.device_id.in_(sorted(readers)))
    ids = list(db.scalars(select(UnmatchedPunch.punch_id).where(*conditions)))
    if ids:
        db.execute(
            update(UnmatchedPunch)
            .where(UnmatchedPunch.punch_id.in_(ids))
            .values(matched_employee_id=credential.employee_id, matched_at=now)
        )
    return ids
