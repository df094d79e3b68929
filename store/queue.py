"""The recompute queue: (person, date) keys whose facts changed, claimed by rules runners."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import cast

from sqlalchemy import BigInteger, Table, bindparam, delete, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session as DbSession

from rules.zones import local_date, zone
from store.bulk import bulk_insert
from store.models import Agency, Credential, Employee, Punch, RecomputeRequest, Unit
from store.punches import credential_held, punch_id_filter

Key = tuple[int, date]
QUEUE = cast(Table, RecomputeRequest.__table__)


def enqueue(db: DbSession, keys: Iterable[Key], reason: str) -> int:
    """Ask for (employee, date) keys to be recomputed; a key already queued stays once."""
    now = datetime.now(UTC)
    rows = [
        {"employee_id": e, "day": d, "reason": reason, "enqueued_at": now} for e, d in set(keys)
    ]
    bulk_insert(db, QUEUE, rows, conflict=("nothing", ("employee_id", "day")))
    return len(rows)


def claim(db: DbSession, limit: int) -> list[Key]:
    """Take up to ``limit`` keys, oldest first, inside the caller's transaction.

    On PostgreSQL, concurrent runners skip each other's rows (FOR UPDATE SKIP LOCKED); if
    the transaction rolls back, the keys are queued again.
    """
    if db.get_bind().dialect.name == "postgresql":
        rows = db.execute(
            text(
                "DELETE FROM recompute_queue WHERE (employee_id, day) IN ("
                " SELECT employee_id, day FROM recompute_queue ORDER BY enqueued_at"
                " LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING employee_id, day"
            ),
            {"limit": limit},
        ).all()
        return [(r[0], r[1]) for r in rows]
    picked = db.execute(
        select(QUEUE.c.employee_id, QUEUE.c.day).order_by(QUEUE.c.enqueued_at).limit(limit)
    ).all()
    keys = [(r[0], r[1]) for r in picked]
    if keys:
        db.execute(delete(QUEUE).where(tuple_(QUEUE.c.employee_id, QUEUE.c.day).in_(keys)))
    return keys


def pending(db: DbSession) -> int:
    return int(db.scalar(select(func.count()).select_from(QUEUE)) or 0)


def keys_for_punches(db: DbSession, punch_ids: Sequence[int]) -> set[Key]:
    """The (holder, local date) keys that new punches touch; unmatched punches touch none."""
    if not punch_ids:
        return set()
    chosen, params = punch_id_filter(db, punch_ids)
    rows = db.execute(
        select(Credential.employee_id, Punch.punched_at, Agency.timezone)
        .select_from(Punch)
        .join(Credential, credential_held())
        .join(Employee, Employee.id == Credential.employee_id)
        .join(Unit, Unit.id == Employee.unit_id)
        .join(Agency, Agency.id == Unit.agency_id)
        .where(chosen),
        params,
    ).all()
    return {(e, local_date(at, zone(tz))) for e, at, tz in rows}


_PG_ENQUEUE_FOR_PUNCHES = text(
    "INSERT INTO recompute_queue (employee_id, day, reason, enqueued_at) "
    "SELECT DISTINCT c.employee_id, (p.punched_at AT TIME ZONE a.timezone)::date, :reason, now() "
    "FROM punches p "
    "JOIN credentials c ON c.kind = p.credential_kind AND c.value = p.credential_value "
    " AND c.valid_from <= p.punched_at AND (c.valid_to IS NULL OR c.valid_to > p.punched_at) "
    "JOIN employees e ON e.id = c.employee_id "
    "JOIN units u ON u.id = e.unit_id "
    "JOIN agencies a ON a.id = u.agency_id "
    "WHERE p.id = ANY(:ids) "
    "ON CONFLICT DO NOTHING"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


def enqueue_for_punches(db: DbSession, punch_ids: Sequence[int], reason: str) -> int:
    """Queue the keys that new punches touch; on PostgreSQL in one statement, in the database."""
    if not punch_ids:
        return 0
    if db.get_bind().dialect.name == "postgresql":
        result = db.execute(_PG_ENQUEUE_FOR_PUNCHES, {"ids": list(punch_ids), "reason": reason})
        return int(getattr(result, "rowcount", 0) or 0)
    return enqueue(db, keys_for_punches(db, punch_ids), reason)


def keys_for_days(db: DbSession, first: date, last: date, agency_id: int | None = None) -> set[Key]:
    """Every employee active on each date of the range (optionally of one agency)."""
    query = select(Employee.id, Employee.active_from, Employee.active_to)
    if agency_id is not None:
        query = query.join(Unit, Unit.id == Employee.unit_id).where(Unit.agency_id == agency_id)
    rows = db.execute(query.where(Employee.active_from <= last)).all()
    keys = set()
    day = first
    while day <= last:
        keys |= {(e, day) for e, start, end in rows if start <= day and (end is None or day <= end)}
        day += timedelta(days=1)
    return keys
