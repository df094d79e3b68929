"""Person-months moved by differences (PostgreSQL) equal person-months summed from their rows,
after every kind of change a day can go through: first judgement, a backlog that changes a
status and withdraws violations, a review, a later punch that shortens a reviewed lateness,
an approved leave (excused days: the month is rewritten), a move to another unit."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from store.db import db_session
from store.excuses import add_excuse
from store.models import Employee, PersonMonth, Unit, ViolationRecord
from store.punches import insert_punches
from store.queue import enqueue, enqueue_for_punches, keys_for_days
from store.rollups import PERSON_MONTHS, partial_rows
from store.violations import get_violation, review
from tests.factories import org, punch_row
from tests.unit.days import local

FIRST, LAST = date(2026, 11, 2), date(2026, 11, 13)  # two working weeks of one month
NOW = local(date(2026, 11, 16), "09:00").astimezone(UTC)


def _punch(card: str, day: date, hhmm: str, n: str) -> dict[str, Any]:
    return punch_row(card, f"{card}-{day}-{n}", local(day, hhmm))


def _punch_in(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with db_session(engine) as db:
        enqueue_for_punches(db, insert_punches(db, rows), "punch")


def _drain(engine: Engine) -> None:
    RecomputeWorker(engine, RulesDirectory(max_age_s=0), clock=lambda: NOW).drain()


def _months(engine: Engine) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """The stored person-months of November, and the same summed from their rows now."""
    columns = [c.name for c in PERSON_MONTHS.columns]

    def values(row: Any) -> tuple[Any, ...]:
        return tuple(round(v, 9) if isinstance(v, float) else v for v in row)

    with db_session(engine) as db:
        kept = {
            values(r)
            for r in db.execute(
                select(*PERSON_MONTHS.columns).where(PersonMonth.month == date(2026, 11, 1))
            ).all()
        }
        fresh = {
            values(tuple(r[c] for c in columns))
            for r in partial_rows(db, date(2026, 11, 1), date(2026, 11, 30), None)
        }
    return kept, fresh


def test_person_months_moved_by_differences_equal_their_rows_after_each_change(
    pg_engine: Engine,
) -> None:
    made = org(pg_engine, employees=4, devices=("D1",))
    cards = made["cards"]
    rows = []
    day = FIRST
    while day <= LAST:
        if day.weekday() < 5:
            for i, card in enumerate(cards):
                if i == 1 and day in (date(2026, 11, 4), date(2026, 11, 5)):
                    continue  # E0001 absent two days (a run), her backlog comes later
                arrive = "07:52" if (i + day.day) % 3 == 0 else "07:21"
                for n, hhmm in enumerate((arrive, "11:32", "12:58", "17:04")):
                    rows.append(_punch(card, day, hhmm, str(n)))
        day += timedelta(days=1)
    _punch_in(pg_engine, rows)
    with db_session(pg_engine) as db:
        enqueue(db, keys_for_days(db, FIRST, LAST), "test")
    _drain(pg_engine)
    kept, fresh = _months(pg_engine)
    assert kept == fresh and len(kept) == 4
    assert any(r[columns_index("absent_status_days")] for r in kept)

    # A backlog: E0001 was there on 04/11 (late); the absence is withdrawn, a lateness found.
    _punch_in(
        pg_engine,
        [_punch(cards[1], date(2026, 11, 4), t, f"b{n}") for n, t in enumerate(("08:02", "17:10"))],
    )
    _drain(pg_engine)
    assert _months(pg_engine)[0] == _months(pg_engine)[1]

    # A review excuses a lateness; a later-found earlier punch shortens it (counted nowhere),
    # another shows the person was on time.
    with db_session(pg_engine) as db:
        late = db.scalars(
            select(ViolationRecord.id).where(
                ViolationRecord.kind == "late", ViolationRecord.active.is_(True)
            )
        ).first()
        assert late is not None
        violation = get_violation(db, late, None)
        assert violation is not None
        review(db, violation, "excused", "other", "", "truongphong", NOW)
        card = cards[violation.employee_id - min_employee(db)]
        vday = violation.day
    _punch_in(pg_engine, [_punch(card, vday, "07:40", "early")])
    _drain(pg_engine)
    kept, fresh = _months(pg_engine)
    assert kept == fresh
    assert sum(r[columns_index("excused")] for r in kept) == 1
    # An even earlier one: on time after all, the reviewed lateness is withdrawn.
    _punch_in(pg_engine, [_punch(card, vday, "07:20", "earlier")])
    _drain(pg_engine)
    kept, fresh = _months(pg_engine)
    assert kept == fresh
    assert sum(r[columns_index("excused")] for r in kept) == 0

    # An approved sick leave on two days with punches: excused days, the month rewritten.
    with db_session(pg_engine) as db:
        add_excuse(db, "E0002", "sick_leave", date(2026, 11, 9), date(2026, 11, 10), approved=True)
    _drain(pg_engine)
    kept, fresh = _months(pg_engine)
    assert kept == fresh
    assert sum(r[columns_index("excused_sick")] for r in kept) > 0

    # E0003 moves to another unit; her days are recomputed: rows of two units, as summed.
    with db_session(pg_engine) as db:
        first = db.scalars(select(Unit)).first()
        assert first is not None
        other = Unit(agency_id=first.agency_id, code="P2", name="Phòng Hai")
        db.add(other)
        db.flush()
        db.execute(update(Employee).where(Employee.code == "E0003").values(unit_id=other.id))
        mover = db.scalars(select(Employee.id).where(Employee.code == "E0003")).one()
        enqueue(db, [(mover, date(2026, 11, 12)), (mover, date(2026, 11, 13))], "test")
    _drain(pg_engine)
    kept, fresh = _months(pg_engine)
    assert kept == fresh
    assert len(kept) == 5

    # Everyone's days again: E0003's other days follow her to the new unit; once more, and
    # nothing changes.
    for _ in range(2):
        with db_session(pg_engine) as db:
            enqueue(db, keys_for_days(db, FIRST, LAST), "test")
        _drain(pg_engine)
        again, summed = _months(pg_engine)
        assert again == summed
    # her working days all counted in the new unit (violations keep the unit they were found in)
    assert [r[3] for r in again if r[0] == mover and r[2] == other.id] == [10]


def columns_index(name: str) -> int:
    return [c.name for c in PERSON_MONTHS.columns].index(name)


def min_employee(db: Any) -> int:
    return int(db.scalar(select(Employee.id).order_by(Employee.id).limit(1)))
