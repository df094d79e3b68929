"""Queries on violations for the people who act on them: list, detail, review (xử lý vi phạm)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, cast

from sqlalchemy import Table, and_, select, tuple_
from sqlalchemy.orm import Session as DbSession

from store.bulk import bulk_insert
from store.models import (
    Device,
    Employee,
    Punch,
    Review,
    ReviewState,
    Unit,
    ViolationEvent,
    ViolationRecord,
)
from store.queue import lock_keys
from store.rollups import refresh as refresh_person_months

REVIEW_STATE = cast(Table, ReviewState.__table__)
DECISIONS = ("confirmed", "excused", "dismissed")
State = Literal["active", "withdrawn", "all"]
ReviewFilter = Literal["pending", "confirmed", "excused", "dismissed"]


@dataclass(frozen=True, slots=True)
class ViolationFilter:
    units: frozenset[int] | None = None  # None: every unit
    employee_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    kind: str | None = None
    state: State = "active"
    review: ReviewFilter | None = None


def _identity_join() -> Any:
    return and_(
        ReviewState.employee_id == ViolationRecord.employee_id,
        ReviewState.day == ViolationRecord.day,
        ReviewState.session == ViolationRecord.session,
        ReviewState.kind == ViolationRecord.kind,
    )


def _columns() -> list[Any]:
    return [
        ViolationRecord.id,
        ViolationRecord.employee_id,
        Employee.code.label("employee_code"),
        Employee.full_name.label("employee_name"),
        ViolationRecord.unit_id,
        Unit.name.label("unit_name"),
        ViolationRecord.day,
        ViolationRecord.session,
        ViolationRecord.kind,
        ViolationRecord.minutes,
        ViolationRecord.provisional,
        ViolationRecord.active,
        ViolationRecord.pending_excuse_id,
        ViolationRecord.detected_at,
        ViolationRecord.withdrawn_at,
        ReviewState.decision.label("review"),
    ]


def list_violations(
    db: DbSession,
    where: ViolationFilter,
    limit: int,
    after: tuple[date, int] | None,
    newest_first: bool = True,
) -> list[Any]:
    """A page of violations ordered by (date, id), keyset-paginated after ``after``."""
    query = (
        select(*_columns())
        .join(Employee, Employee.id == ViolationRecord.employee_id)
        .join(Unit, Unit.id == ViolationRecord.unit_id)
        .outerjoin(ReviewState, _identity_join())
    )
    if where.units is not None:
        # IN, not = ANY(array): one unit's IN is its equality, which reads the (unit, day)
        # index in order (0.6 ms); an array parameter made it filter the day index (45 ms)
        query = query.where(ViolationRecord.unit_id.in_(where.units))
    if where.employee_id is not None:
        query = query.where(ViolationRecord.employee_id == where.employee_id)
    if where.date_from is not None:
        query = query.where(ViolationRecord.day >= where.date_from)
    if where.date_to is not None:
        query = query.where(ViolationRecord.day <= where.date_to)
    if where.kind is not None:
        query = query.where(ViolationRecord.kind == where.kind)
    if where.state != "all":
        query = query.where(ViolationRecord.active.is_(where.state == "active"))
    if where.review == "pending":
        query = query.where(ReviewState.decision.is_(None))
    elif where.review is not None:
        query = query.where(ReviewState.decision == where.review)
    key = tuple_(ViolationRecord.day, ViolationRecord.id)
    if after is not None:
        query = query.where(key < tuple_(*after) if newest_first else key > tuple_(*after))
    if newest_first:
        query = query.order_by(ViolationRecord.day.desc(), ViolationRecord.id.desc())
    else:
        query = query.order_by(ViolationRecord.day.asc(), ViolationRecord.id.asc())
    query = query.limit(limit)
    # plain rows through the session's connection: the ORM's row processing was a third of
    # the page's Python time for 51 rows of columns (no entity is loaded)
    return list(db.connection().execute(query).all())


def get_violation(db: DbSession, violation_id: int, units: frozenset[int] | None) -> Any | None:
    query = (
        select(*_columns(), ViolationRecord.evidence)
        .join(Employee, Employee.id == ViolationRecord.employee_id)
        .join(Unit, Unit.id == ViolationRecord.unit_id)
        .outerjoin(ReviewState, _identity_join())
        .where(ViolationRecord.id == violation_id)
    )
    if units is not None:
        query = query.where(ViolationRecord.unit_id.in_(units))
    return db.execute(query).first()


def evidence_punches(db: DbSession, evidence: str) -> list[tuple[Punch, str]]:
    """The punches a violation rests on, each with its reader's site (e.g. "Cổng phụ")."""
    ids = [int(i) for i in json.loads(evidence)]
    if not ids:
        return []
    rows = db.execute(
        select(Punch, Device.site)
        .outerjoin(Device, Device.id == Punch.device_id)
        .where(Punch.id.in_(ids))
        .order_by(Punch.punched_at)
    ).all()
    return [(punch, site or punch.device_id) for punch, site in rows]


def history(db: DbSession, violation: Any) -> tuple[list[ViolationEvent], list[Review]]:
    events = list(
        db.scalars(
            select(ViolationEvent)
            .where(ViolationEvent.violation_id == violation.id)
            .order_by(ViolationEvent.id)
        )
    )
    reviews = list(
        db.scalars(
            select(Review)
            .where(
                Review.employee_id == violation.employee_id,
                Review.day == violation.day,
                Review.session == violation.session,
                Review.kind == violation.kind,
            )
            .order_by(Review.id)
        )
    )
    return events, reviews


def hold_person(db: DbSession, employee_id: int, day: date) -> None:
    """Hold the person until the caller's transaction ends, before their decisions are read:
    two decisions sent together (a double click, two tabs) are written one after the other,
    the second seeing the first, whether or not the violation was ever decided.

    PostgreSQL: the person's row lock, the one the runner takes (``store.queue.lock_keys``).
    SQLite: the database's write lock, taken now (``BEGIN IMMEDIATE``). Its driver begins a
    transaction only at the first write, so the reads before it would each see the database
    as it is, and two requests could both read "chưa xử lý" and both write.
    """
    if db.get_bind().dialect.name == "postgresql":
        lock_keys(db, [(employee_id, day)])
        return
    conn = db.connection()
    driver: Any = conn.connection.driver_connection  # sqlite3.Connection
    if not driver.in_transaction:  # in one already: it has written, so it holds the lock
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def review(
    db: DbSession,
    violation: Any,
    decision: str,
    reason_kind: str | None,
    note: str,
    by: str,
    now: datetime,
) -> Review:
    """Record a decision on a violation: appended to the history, and the current state.

    The same decision sent again by the same person (a double click, the back button and
    "Gửi lại") is the one already recorded: returned, not written twice."""
    identity = (violation.employee_id, violation.day, violation.session, violation.kind)
    # Decisions on one person wait for each other here (before the state is read), so two
    # copies of one form sent together see each other.
    hold_person(db, violation.employee_id, violation.day)
    current = db.get(ReviewState, identity, populate_existing=True)
    if current is not None:
        last = db.get(Review, current.review_id)
        if last is not None and (last.decision, last.reason_kind, last.note, last.decided_by) == (
            decision,
            reason_kind,
            note,
            by,
        ):
            return last
    record = Review(
        employee_id=violation.employee_id,
        day=violation.day,
        session=violation.session,
        kind=violation.kind,
        decision=decision,
        previous_decision=current.decision if current else None,
        reason_kind=reason_kind,
        note=note,
        decided_by=by,
        decided_at=now,
    )
    db.add(record)
    db.flush()
    state = {
        "employee_id": identity[0],
        "day": identity[1],
        "session": identity[2],
        "kind": identity[3],
        "decision": decision,
        "reason_kind": reason_kind,
        "review_id": record.id,
        "decided_by": by,
        "decided_at": now,
    }
    bulk_insert(
        db, REVIEW_STATE, [state], conflict=("update", ("employee_id", "day", "session", "kind"))
    )
    # Summaries count the decision at once: the person's month is rewritten now.
    refresh_person_months(db, [(identity[0], identity[1])])
    return record
