"""The recompute queue: (person, date) keys whose facts changed, claimed by rules runners."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.orm import Session as DbSession

from rules.zones import local_date, zone
from store.bulk import bulk_insert, pg_array
from store.models import Agency, Credential, Employee, Punch, RecomputeRequest, Unit
from store.punches import (
    PG_CHOSEN_PUNCHES,
    PG_CREDENTIAL_HELD,
    credential_held,
    pg_ids,
    punch_id_filter,
)

Key = tuple[int, date]
QUEUE = cast(Table, RecomputeRequest.__table__)


def enqueue(db: DbSession, keys: Iterable[Key], reason: str) -> int:
    """Ask for (employee, date) keys to be recomputed, in the caller's transaction.

    Each call adds rows of its own, even for keys already queued: merging into a queued row
    would lose the request if a runner claimed that row before this transaction commits.
    """
    now = datetime.now(UTC)
    rows = [
        {"employee_id": e, "day": d, "reason": reason, "enqueued_at": now}
        for e, d in sorted(set(keys))
    ]
    bulk_insert(db, QUEUE, rows)
    return len(rows)


_PG_CLAIM = text(
    "WITH claimed AS ("
    " DELETE FROM recompute_queue WHERE id IN ("
    "  SELECT id FROM recompute_queue ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)"
    " RETURNING employee_id, day) "
    "SELECT employee_id, day, count(*) FROM claimed GROUP BY employee_id, day"
)


def claim(db: DbSession, limit: int) -> list[Key]:
    """``claim_counted``'s keys."""
    return claim_counted(db, limit)[0]


def claim_counted(db: DbSession, limit: int) -> tuple[list[Key], int]:
    """Take up to ``limit`` requests, oldest first, inside the caller's transaction; their
    distinct keys.

    On PostgreSQL, concurrent runners skip each other's rows (FOR UPDATE SKIP LOCKED); if
    the transaction rolls back, the requests are queued again. A request is claimable only
    once the transaction that wrote it (and its facts) has committed. Also returns the
    number of requests taken (``limit`` when more may be waiting).
    """
    if db.get_bind().dialect.name == "postgresql":
        rows = db.execute(_PG_CLAIM, {"limit": limit}).all()
        return sorted((r[0], r[1]) for r in rows), sum(r[2] for r in rows)
    picked = db.execute(
        select(QUEUE.c.id, QUEUE.c.employee_id, QUEUE.c.day).order_by(QUEUE.c.id).limit(limit)
    ).all()
    if picked:
        db.execute(delete(QUEUE).where(QUEUE.c.id.in_([r[0] for r in picked])))
    return sorted({(r[1], r[2]) for r in picked}), len(picked)


_PG_LOCK_PEOPLE = text(
    "SELECT count(*) FROM (SELECT id FROM employees WHERE id = ANY(CAST(:e AS integer[]))"
    " ORDER BY id FOR NO KEY UPDATE) AS locked"
)


def lock_keys(db: DbSession, keys: Iterable[Key]) -> None:
    """Hold the keys' people until the caller's transaction ends (PostgreSQL).

    Two runners (or a runner and a review) that hold requests of the same person wait for
    each other instead of writing the same days and person-months from two snapshots. Row
    locks on ``employees``, taken in id order: they cannot deadlock, take no room in the
    server's lock table however large the batch (advisory locks ran out at 12,500 keys),
    and do not block readers. SQLite has one writer at a time and needs none.
    """
    if db.get_bind().dialect.name != "postgresql":
        return
    people = sorted({e for e, _ in keys})
    if people:
        db.execute(_PG_LOCK_PEOPLE, {"e": pg_array(people)})


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
    f"FROM punches p JOIN credentials c ON {PG_CREDENTIAL_HELD} "
    "JOIN employees e ON e.id = c.employee_id "
    "JOIN units u ON u.id = e.unit_id "
    "JOIN agencies a ON a.id = u.agency_id "
    f"WHERE {PG_CHOSEN_PUNCHES}"
)


def enqueue_for_punches(
    db: DbSession,
    punch_ids: Sequence[int],
    reason: str,
    between: tuple[datetime, datetime] | None = None,
) -> int:
    """Queue the keys that new punches touch; on PostgreSQL in one statement, in the database.

    ``between``: the earliest and latest ``punched_at`` of the punches, when the caller
    knows (only the months' partitions that can hold them are read). Returns the number of
    requests queued."""
    if not punch_ids:
        return 0
    if db.get_bind().dialect.name == "postgresql":
        first, last = between or (None, None)
        params = {"ids": pg_ids(punch_ids), "reason": reason, "first": first, "last": last}
        result = db.execute(_PG_ENQUEUE_FOR_PUNCHES, params)
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
