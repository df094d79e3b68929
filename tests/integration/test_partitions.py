"""History in monthly partitions (PostgreSQL): rows land in their month, partitions are made
ahead, old months are archived; SQLite keeps working through the same calls."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, func, select, text

from store.db import db_session
from store.models import DayRecord, Punch, ViolationRecord
from store.partitions import archive, ensure, ensure_ahead, partition_name
from store.punches import insert_punches
from tests.factories import org, punch_row


def _violation(day: date) -> ViolationRecord:
    now = datetime.now(UTC)
    return ViolationRecord(
        employee_id=1,
        unit_id=1,
        day=day,
        session="morning",
        kind="late",
        minutes=10,
        evidence="[]",
        provisional=False,
        active=True,
        detected_at=now,
        updated_at=now,
    )


def _day(day: date) -> DayRecord:
    return DayRecord(
        employee_id=1,
        day=day,
        unit_id=1,
        status="late",
        worked_minutes=470,
        closed=True,
        computed_at=datetime.now(UTC),
    )


def _where(engine: Engine, table: str) -> list[tuple[str, date]]:
    with db_session(engine) as db:
        rows = db.execute(text(f"SELECT tableoid::regclass::text, day FROM {table} ORDER BY day"))
        return [(r[0], r[1]) for r in rows]


def test_rows_land_in_their_month_partitions_are_made_ahead_and_old_months_archived(
    pg_engine: Engine,
) -> None:
    with db_session(pg_engine) as db:
        assert ensure(db, date(2025, 1, 1), date(2025, 2, 1)) == 6  # two months, three tables
        assert ensure(db, date(2025, 1, 1), date(2025, 2, 1)) == 0
        assert ensure_ahead(db, date(2031, 5, 17), ahead=2) == 9
        db.add_all([_violation(date(2025, 1, 6)), _violation(date(2025, 2, 3))])
        db.add_all([_day(date(2025, 1, 6)), _violation(date(2019, 3, 4))])
    assert _where(pg_engine, "violations") == [
        ("violations_default", date(2019, 3, 4)),
        ("violations_p2025_01", date(2025, 1, 6)),
        ("violations_p2025_02", date(2025, 2, 3)),
    ]
    assert _where(pg_engine, "day_records") == [("day_records_p2025_01", date(2025, 1, 6))]

    with db_session(pg_engine) as db:
        done = archive(db, date(2025, 2, 1), drop=False)
    assert {(a.partition, a.dropped) for a in done} >= {
        (partition_name("violations", date(2025, 1, 1)), False),
        (partition_name("day_records", date(2025, 1, 1)), False),
    }
    assert all(a.month < date(2025, 2, 1) for a in done)
    assert [d for _, d in _where(pg_engine, "violations")] == [date(2019, 3, 4), date(2025, 2, 3)]
    with db_session(pg_engine) as db:  # detached, not lost: a table of its own to dump
        assert db.scalar(text("SELECT count(*) FROM violations_p2025_01")) == 1
        archive(db, date(2025, 3, 1), drop=True)
        assert db.scalar(text("SELECT to_regclass('violations_p2025_02')")) is None
        assert db.scalar(select(func.count()).select_from(ViolationRecord)) == 1  # the default
        db.execute(text("DROP TABLE violations_p2025_01, day_records_p2025_01, punches_p2025_01"))


def _punch(event: str, at: datetime) -> dict[str, object]:
    return punch_row("C000000", event, at)


@pytest.mark.parametrize("engine_name", ["sqlite_engine", "pg_engine"])
def test_a_redelivered_punch_is_kept_once_even_when_it_names_another_month(
    engine_name: str, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    org(engine, employees=1, devices=("D1",))
    nov = datetime(2026, 11, 30, 16, 59, tzinfo=UTC)
    dec = datetime(2026, 12, 1, 0, 1, tzinfo=UTC)  # a clock correction in between
    with db_session(engine) as db:
        ensure(db, date(2026, 11, 1), date(2026, 12, 1))
        first = insert_punches(db, [_punch("ev-1", nov), _punch("ev-2", nov)])
    with db_session(engine) as db:
        again = insert_punches(db, [_punch("ev-1", dec), _punch("ev-3", dec)])
    assert len(first) == 2 and len(again) == 1
    with db_session(engine) as db:
        stored = db.execute(select(Punch.event_id, Punch.punched_at).order_by(Punch.id)).all()
    assert [(e, at) for e, at in stored] == [("ev-1", nov), ("ev-2", nov), ("ev-3", dec)]
    if engine_name == "pg_engine":
        assert [p for p, _ in _where_at(engine)] == [
            "punches_p2026_11",
            "punches_p2026_11",
            "punches_p2026_12",
        ]


def _where_at(engine: Engine) -> list[tuple[str, datetime]]:
    with db_session(engine) as db:
        rows = db.execute(
            text("SELECT tableoid::regclass::text, punched_at FROM punches ORDER BY id")
        )
        return [(r[0], r[1]) for r in rows]


def test_sqlite_has_no_partitions_and_retention_deletes_old_rows(sqlite_engine: Engine) -> None:
    with db_session(sqlite_engine) as db:
        assert ensure_ahead(db, date(2026, 12, 1)) == 0
        db.add_all([_violation(date(2025, 1, 6)), _violation(date(2025, 2, 3))])
    with db_session(sqlite_engine) as db:
        assert archive(db, date(2025, 2, 1), drop=False) == []
        archive(db, date(2025, 2, 1), drop=True)
        assert list(db.scalars(select(ViolationRecord.day))) == [date(2025, 2, 3)]
