"""What a bảng chấm công needs from the store: a unit's people and their day records for a
month, with the reviewers' decisions on absences (an excused absence is not marked absent)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Integer,
    and_,
    cast,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.sql.elements import ColumnElement

from store.models import DayRecord, Employee, ReviewState, Unit, ViolationRecord
from store.summaries import DAY_MINUTES


@dataclass(frozen=True, slots=True)
class DayMark:
    """One person's date as the rules recorded it, with the review of its absences."""

    day: date
    status: str
    label: str | None
    excused: tuple[tuple[str, str], ...]  # (session, excuse kind) of approved excuses
    absence_review: str | None  # "excused", "dismissed" when every absence was cleared
    absence_reason: str | None  # the reviewer's reason kind, when excused
    absent_share: float = 0.0  # a partly absent day: the unexcused part (minutes / 480)


@dataclass(frozen=True, slots=True)
class PersonMonth:
    employee_id: int
    code: str
    name: str
    title: str
    unit_id: int
    days: dict[date, DayMark]


@dataclass(frozen=True, slots=True)
class UnitRef:
    id: int
    code: str
    name: str


def unit_refs(db: DbSession, unit_ids: frozenset[int] | None) -> list[UnitRef]:
    """The units in scope, by name."""
    query = select(Unit.id, Unit.code, Unit.name).order_by(Unit.name, Unit.code)
    if unit_ids is not None:
        query = query.where(Unit.id.in_(unit_ids))
    return [UnitRef(i, c, n) for i, c, n in db.execute(query)]


def _excused(text: str | None) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    pairs = (part.split(":", 1) for part in text.split(",") if ":" in part)
    return tuple((s, k) for s, k in pairs)


@contextmanager
def _one_snapshot(db: DbSession) -> Iterator[Connection]:
    """A connection whose statements all read the same committed state.

    ``month_marks`` reads the people, the reviews of absences, the plain days' masks and the
    other day records in several statements; under PostgreSQL's READ COMMITTED a runner's
    commit between two of them could turn a day absent when the masks were read into a plain
    day when the records are: in neither, a blank cell. A REPEATABLE READ READ ONLY
    transaction of its own sees one snapshot (and takes no lock). On SQLite the session's
    connection is used, in a transaction begun now if none is open: the driver begins one
    only before a write, and each read outside one (WAL) sees the latest commit."""
    bind = db.get_bind()
    if bind.dialect.name != "postgresql" or not isinstance(bind, Engine):
        conn = db.connection()
        driver: Any = conn.connection.driver_connection  # sqlite3.Connection on SQLite
        if bind.dialect.name == "sqlite" and not driver.in_transaction:
            conn.exec_driver_sql("BEGIN")  # ended by the session's commit or rollback
        yield conn
        return
    with bind.connect() as conn:
        snapshot = conn.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        with snapshot.begin():
            yield snapshot


def month_marks(
    db: DbSession, unit_ids: frozenset[int] | None, first: date, last: date
) -> list[PersonMonth]:
    """Everyone of the units who was employed during [first, last], with their day records.

    A person is listed under their current unit; day records carry the unit of each date.
    The people are chosen once in SQL and the other queries join that choice (a province's
    30,000 ids as bound parameters cost seconds to send); a day with no absence, nearly all of
    them, takes no review look-up and shares its ``DayMark`` with the same record of others
    (a province's month is half a million records of a few hundred kinds); the plain days
    come as a bit mask per person. Core statements: the ORM's row handling doubled the time.
    The statements read one snapshot (``_one_snapshot``)."""
    with _one_snapshot(db) as conn:
        return _month_marks(conn, unit_ids, first, last)


def _month_marks(
    conn: Connection, unit_ids: frozenset[int] | None, first: date, last: date
) -> list[PersonMonth]:
    employed = [
        Employee.active_from <= last,
        or_(Employee.active_to.is_(None), Employee.active_to >= first),
    ]
    if unit_ids is not None:
        employed.append(Employee.unit_id.in_(unit_ids))
    people = (
        select(Employee.id, Employee.code, Employee.full_name, Employee.title, Employee.unit_id)
        .where(*employed)
        .order_by(Employee.unit_id, Employee.code)
    )
    found = {
        i: PersonMonth(i, code, name, title or "", unit_id, {})
        for i, code, name, title, unit_id in conn.execute(people)
    }
    if not found:
        return []
    chosen = select(Employee.id).where(*employed).scalar_subquery()
    v = ViolationRecord
    reviews: dict[int, dict[date, list[tuple[str | None, str | None]]]] = {}
    missed: dict[tuple[int, date], int] = {}
    absences = (
        select(v.employee_id, v.day, ReviewState.decision, ReviewState.reason_kind, v.minutes)
        .outerjoin(
            ReviewState,
            and_(
                ReviewState.employee_id == v.employee_id,
                ReviewState.day == v.day,
                ReviewState.session == v.session,
                ReviewState.kind == v.kind,
            ),
        )
        .where(
            v.kind == "absent",
            v.active.is_(True),
            v.day >= first,
            v.day <= last,
            v.employee_id.in_(chosen),
        )
    )
    for employee_id, day, decision, reason, minutes in conn.execute(absences):
        reviews.setdefault(employee_id, {}).setdefault(day, []).append((decision, reason))
        if decision in (None, "confirmed"):
            missed[(employee_id, day)] = missed.get((employee_id, day), 0) + minutes
    in_range: list[ColumnElement[bool]] = [
        DayRecord.day >= first,
        DayRecord.day <= last,
        DayRecord.employee_id.in_(chosen),
    ]
    span = (last - first).days + 1
    dates = [first + timedelta(days=i) for i in range(span)]
    marks = _Marks(reviews, missed)
    if span <= 62 and conn.dialect.name == "postgresql":
        # A plain day (present, nothing excused, no label), most of them, comes as a bit of its
        # person's mask: half a million rows for a province's month become thirty thousand.
        # (PostgreSQL's bit_or; the embedded SQLite of a small agency reads every row.)
        plain = and_(
            DayRecord.status == "present", DayRecord.excused.is_(None), DayRecord.label.is_(None)
        )
        bit = literal(1, BigInteger).op("<<")(cast(DayRecord.day - first, Integer))
        masks = (
            select(DayRecord.employee_id, func.bit_or(bit))
            .where(*in_range, plain)
            .group_by(DayRecord.employee_id)
        )
        for employee_id, bits in conn.execute(masks):
            person = found.get(employee_id)
            if person is None:  # a record written after the people were read
                continue
            while bits:
                low = bits & -bits
                bits ^= low
                day = dates[low.bit_length() - 1]
                person.days[day] = marks.get(employee_id, day, "present", None, None)
        in_range.append(not_(plain))
    records = select(
        DayRecord.employee_id, DayRecord.day, DayRecord.status, DayRecord.label, DayRecord.excused
    ).where(*in_range)
    for employee_id, day, status, label, excused in conn.execute(records):
        person = found.get(employee_id)
        if person is not None:
            person.days[day] = marks.get(employee_id, day, status, label, excused)
    return list(found.values())


class _Marks:
    """The ``DayMark`` of a record: shared by the same record of others when no absence of it
    was reviewed (a province's month is half a million records of a few hundred kinds)."""

    def __init__(
        self,
        reviews: dict[int, dict[date, list[tuple[str | None, str | None]]]],
        missed: dict[tuple[int, date], int],
    ) -> None:
        self.reviews = reviews
        self.missed = missed
        self.shared: dict[tuple[date, str, str | None, str | None], DayMark] = {}
        self.parsed: dict[str | None, tuple[tuple[str, str], ...]] = {}

    def get(
        self, employee_id: int, day: date, status: str, label: str | None, excused: str | None
    ) -> DayMark:
        reviewed = self.reviews.get(employee_id)
        decisions = reviewed.get(day) if reviewed else None
        pairs = self.parsed.get(excused)
        if pairs is None:
            pairs = self.parsed[excused] = _excused(excused)
        if not decisions:
            key = (day, status, label, excused)
            mark = self.shared.get(key)
            if mark is None:
                mark = self.shared[key] = DayMark(day, status, label, pairs, None, None)
            return mark
        review = None
        reason = None
        if all(d in ("excused", "dismissed") for d, _ in decisions):
            excusing = [r for d, r in decisions if d == "excused"]
            review = "excused" if excusing else "dismissed"
            reason = next((r for r in excusing if r), None)
        share = round(min(1.0, self.missed.get((employee_id, day), 0) / DAY_MINUTES), 2)
        return DayMark(day, status, label, pairs, review, reason, share)
