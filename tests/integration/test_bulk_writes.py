"""Bulk writes: a large batch (COPY through a staging table on PostgreSQL) stores exactly what
a small one (array parameters) and SQLite's executemany store."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, select

from store.bulk import COPY_FROM_ROWS, bulk_insert, bulk_insert_logged, bulk_update
from store.db import db_session
from store.models import PersonMonth, ViolationEvent, ViolationRecord

MONTHS = cast(Table, PersonMonth.__table__)
VIOLATIONS = cast(Table, ViolationRecord.__table__)
EVENTS = cast(Table, ViolationEvent.__table__)
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _month(employee_id: int, late: int) -> dict[str, Any]:
    row: dict[str, Any] = {c.name: 0 for c in MONTHS.columns}
    for c in ("absent_days", *(c.name for c in MONTHS.columns if c.name.startswith("excused_"))):
        row[c] = 0.0
    return row | {
        "employee_id": employee_id,
        "month": date(2026, 11, 1),
        "unit_id": 1,
        "late_count": late,
    }


def _violation(employee_id: int) -> dict[str, Any]:
    return {
        "employee_id": employee_id,
        "unit_id": 1,
        "day": date(2026, 11, 19),
        "session": "morning",
        "kind": "late",
        "minutes": employee_id % 60,
        "evidence": '["a \\"quoted\\" id", 7]',
        "provisional": employee_id % 2 == 0,
        "pending_excuse_id": None,
        "active": True,
        "detected_at": NOW,
        "updated_at": NOW,
        "withdrawn_at": None,
    }


@pytest.mark.parametrize("size", [3, COPY_FROM_ROWS + 37])
@pytest.mark.parametrize("backend", ["pg_engine", "sqlite_engine"])
def test_a_batch_of_any_size_is_stored_upserted_and_logged_alike(
    request: pytest.FixtureRequest, backend: str, size: int
) -> None:
    engine: Engine = request.getfixturevalue(backend)
    with db_session(engine) as db:
        # Twice in one transaction: a staging table is empty again for the second batch.
        bulk_insert(db, MONTHS, [_month(e, 1) for e in range(size)])
        new = bulk_insert(
            db,
            MONTHS,
            [_month(e, 2) for e in range(size, 2 * size)],
            returning=("employee_id",),
        )
        assert sorted(r[0] for r in new) == list(range(size, 2 * size))
        bulk_insert(
            db,
            MONTHS,
            [_month(e, 5) for e in range(0, 2 * size, 2)],
            conflict=("update", ("employee_id", "month", "unit_id")),
        )
        assert (
            bulk_insert_logged(
                db,
                VIOLATIONS,
                [_violation(e) for e in range(size)],
                EVENTS,
                "violation_id",
                ("minutes", "provisional"),
                {"at": NOW, "action": "detected", "trigger": "test"},
            )
            == size
        )
    with db_session(engine) as db:
        late = dict(db.execute(select(MONTHS.c.employee_id, MONTHS.c.late_count)).all())
        assert late == {e: 5 if e % 2 == 0 else (1 if e < size else 2) for e in range(2 * size)}
        stored = db.execute(
            select(VIOLATIONS.c.id, VIOLATIONS.c.employee_id, VIOLATIONS.c.evidence)
        ).all()
        assert sorted(r[1] for r in stored) == list(range(size))
        assert {r[2] for r in stored} == {'["a \\"quoted\\" id", 7]'}
        logged = db.execute(
            select(EVENTS.c.violation_id, EVENTS.c.minutes, EVENTS.c.provisional, EVENTS.c.action)
        ).all()
        assert sorted(logged) == sorted(
            (r[0], r[1] % 60, r[1] % 2 == 0, "detected") for r in stored
        )
        bulk_update(
            db,
            VIOLATIONS,
            "id",
            [{"id": r[0], "active": False, "withdrawn_at": NOW} for r in stored],
        )
    with db_session(engine) as db:
        assert db.execute(select(VIOLATIONS.c.active).distinct()).scalars().all() == [False]


def test_a_rolled_back_large_batch_leaves_nothing_and_the_next_one_works(
    pg_engine: Engine,
) -> None:
    rows = [_month(e, 1) for e in range(COPY_FROM_ROWS * 2)]
    with pytest.raises(RuntimeError), db_session(pg_engine) as db:
        bulk_insert(db, MONTHS, rows)
        raise RuntimeError("rolled back")
    with db_session(pg_engine) as db:
        assert db.execute(select(MONTHS.c.employee_id)).all() == []
        bulk_insert(db, MONTHS, rows)
    with db_session(pg_engine) as db:
        assert len(db.execute(select(MONTHS.c.employee_id)).all()) == len(rows)


def test_an_id_filter_reads_its_array_once_even_in_a_sequential_scan(pg_engine: Engine) -> None:
    """The ids of ``among`` reach the plan as an array constant: a sequential scan (the plan
    on a table without statistics) compares each row with it instead of parsing the ids again
    for every row, which cost the rules runner seconds a batch."""
    from sqlalchemy import text

    from store.bulk import among

    with db_session(pg_engine) as db:
        db.execute(text("SET LOCAL enable_indexscan = off"))
        db.execute(text("SET LOCAL enable_bitmapscan = off"))
        bulk_insert(db, MONTHS, [_month(e, 1) for e in range(200)])
        query = select(MONTHS.c.employee_id).where(among(db, MONTHS.c.employee_id, {3, 5, 7}))
        assert sorted(db.scalars(query)) == [3, 5, 7]
        compiled = query.compile(dialect=db.get_bind().dialect)
        explained = db.connection().exec_driver_sql(
            f"EXPLAIN (VERBOSE) {compiled}", compiled.params
        )
        plan = "\n".join(r[0] for r in explained)
        assert "Seq Scan" in plan
        assert "'{3,5,7}'::integer[]" in plan, plan
        assert "character varying" not in plan, plan
