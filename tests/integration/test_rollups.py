"""Person-months kept by the runner and by reviews agree with a rebuild and with the summary
read from the days themselves, on generated months (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from dataclasses import astuple
from datetime import UTC, date, timedelta

import pytest
from pydantic_core import to_json
from sqlalchemy import Engine, func, select

from runner.directory import RulesDirectory
from runner.worker import RecomputeWorker
from services.summaries import line_fields
from store import charts, summaries
from store.db import db_session
from store.excuses import add_excuse
from store.models import PersonMonth, Unit, ViolationRecord
from store.punches import insert_punches
from store.queue import enqueue, enqueue_for_punches, keys_for_days
from store.rollups import rebuild
from store.summaries import (
    Line,
    Thresholds,
    person_lines,
    person_lines_from_days,
    person_lines_from_months,
)
from store.violations import get_violation, review
from tests.factories import org, punch_row
from tests.unit.days import local

FIRST, LAST = date(2026, 9, 1), date(2026, 11, 30)
THRESHOLDS = Thresholds(month_days=2, year_days=4, consecutive_days=3)


def _comparable(lines: list[Line]) -> list[tuple[object, ...]]:
    return [
        tuple(round(v, 6) if isinstance(v, float) else v for v in astuple(line)) for line in lines
    ]


def _generate(engine: Engine, people: int) -> None:
    rng = random.Random(12)
    made = org(engine, employees=people, devices=("D1",))
    rows = []
    day = FIRST
    while day <= LAST:
        if day.weekday() < 5:
            for i, card in enumerate(made["cards"]):
                # E0000 is absent from 28/09 to 02/10: a run across the month's end.
                if i == 0 and date(2026, 9, 28) <= day <= date(2026, 10, 2):
                    continue
                if rng.random() < 0.04:
                    continue  # absent
                arrive = "07:50" if rng.random() < 0.1 else "07:20"
                leave = "16:30" if rng.random() < 0.05 else "17:05"
                for n, hhmm in enumerate((arrive, "11:31", "12:58", leave)):
                    if n == 3 and rng.random() < 0.03:
                        continue  # forgot to punch out
                    rows.append(punch_row(card, f"{card}-{day}-{n}", local(day, hhmm)))
        day += timedelta(days=1)
    with db_session(engine) as db:
        for i in range(0, len(rows), 2000):
            enqueue_for_punches(db, insert_punches(db, rows[i : i + 2000]), "punch")
        enqueue(db, keys_for_days(db, FIRST, LAST), "test")
        add_excuse(db, "E0002", "sick_leave", date(2026, 10, 5), date(2026, 10, 7), approved=True)
        add_excuse(
            db,
            "E0003",
            "business_trip",
            date(2026, 11, 2),
            date(2026, 11, 2),
            sessions=["afternoon"],
            approved=True,
        )


def _judged(engine: Engine, people: int) -> None:
    """Generated months, judged by the runner, then 25 violations reviewed."""
    _generate(engine, people=people)
    now = local(date(2026, 12, 2), "09:00").astimezone(UTC)
    RecomputeWorker(engine, RulesDirectory(max_age_s=0), clock=lambda: now).drain()
    with db_session(engine) as db:  # reviews, decided after the runner wrote the months
        ids = list(db.scalars(select(ViolationRecord.id).order_by(ViolationRecord.id)))
        rng = random.Random(3)
        for vid in rng.sample(ids, 25):
            decision = rng.choice(["confirmed", "excused", "dismissed"])
            violation = get_violation(db, vid, None)
            reason = "other" if decision == "excused" else None
            review(db, violation, decision, reason, "", "truongphong", now)


@pytest.mark.parametrize("engine_name", ["sqlite_engine", "pg_engine"])
def test_person_months_kept_by_runner_and_reviews_equal_a_rebuild_and_the_days(
    engine_name: str, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    _judged(engine, people=12)
    for first, last in ((date(2026, 10, 1), date(2026, 10, 31)), (FIRST, LAST)):
        with db_session(engine) as db:
            kept = person_lines(db, first, last, None, THRESHOLDS)
            from_days = person_lines_from_days(db, first, last, None, THRESHOLDS)
        assert _comparable(kept) == _comparable(from_days)
    with db_session(engine) as db:
        assert rebuild(db) == db.scalar(select(func.count()).select_from(PersonMonth))
        rebuilt = person_lines_from_months(db, FIRST, LAST, None, THRESHOLDS)
    assert _comparable(rebuilt) == _comparable(kept)

    by_code = {line.code: line for line in kept}
    assert by_code["E0000"].max_consecutive_absent_days >= 5  # 28/09 to 02/10 joined
    assert by_code["E0002"].excused_sick == 3
    assert by_code["E0003"].excused_trip == 0.5
    assert sum(line.excused + line.dismissed + line.confirmed for line in kept) == 25
    assert any(line.flags for line in kept)


@pytest.mark.parametrize("engine_name", ["sqlite_engine", "pg_engine"])
def test_periods_not_whole_months_composed_from_months_and_days_equal_the_days(
    engine_name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    _judged(engine, people=12)
    periods = [
        (FIRST, date(2026, 11, 17)),  # a quarter pulled on 18/11: two months and 17 days
        (date(2026, 9, 15), LAST),  # a range starting mid-month
        (date(2026, 9, 30), date(2026, 11, 14)),  # both ends ragged; E0000's run crosses 30/09
        (date(2026, 9, 29), date(2026, 10, 1)),  # no whole month, across the month's end
        (date(2026, 10, 5), date(2026, 10, 20)),  # inside one month
        (date(2026, 10, 1), date(2026, 10, 2)),
    ]
    with db_session(engine) as db:
        units = frozenset(db.scalars(select(Unit.id).order_by(Unit.id).limit(1)))
        from_days = {
            (first, last, scope): person_lines_from_days(db, first, last, scope, THRESHOLDS)
            for first, last in periods
            for scope in (None, units)
        }

    def no_day_pass(*args: object) -> list[Line]:
        raise AssertionError("a period read every day record")

    monkeypatch.setattr(summaries, "person_lines_from_days", no_day_pass)
    for (first, last, scope), expected in from_days.items():
        with db_session(engine) as db:
            composed = person_lines(db, first, last, scope, THRESHOLDS)
            again = person_lines(db, first, last, scope, THRESHOLDS)  # the same transaction
        assert [astuple(line) for line in composed] == [astuple(line) for line in expected]
        assert [astuple(line) for line in again] == [astuple(line) for line in expected]
        written = to_json([line_fields(line, person=True) for line in composed])
        assert written == to_json([line_fields(line, person=True) for line in expected])
        assert composed, (first, last, scope)
    crossing = from_days[(date(2026, 9, 30), date(2026, 11, 14), None)]
    assert {line.code: line for line in crossing}["E0000"].max_consecutive_absent_days >= 3
    assert any(line.flags for lines in from_days.values() for line in lines)


@pytest.mark.parametrize("engine_name", ["sqlite_engine", "pg_engine"])
def test_the_late_arrivals_the_charts_read_from_the_months_equal_the_violations(
    engine_name: str, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    _judged(engine, people=12)
    with db_session(engine) as db:
        units = frozenset(db.scalars(select(Unit.id).order_by(Unit.id).limit(1)))
        for rebuilt in (False, True):
            if rebuilt:
                rebuild(db)
            for first, last in ((FIRST, LAST), (date(2026, 10, 1), date(2026, 10, 31))):
                for scope in (None, units):
                    weekdays, buckets = [0] * 7, [0] * len(charts.LATE_BUCKETS)
                    for day, bucket, n in charts.late_by_day_and_bucket(db, first, last, scope):
                        weekdays[day.weekday()] += n
                        buckets[bucket] += n
                    assert charts.late_shape(db, first, last, scope) == (weekdays, buckets)
                    assert sum(weekdays) > 0 and sum(buckets) == sum(weekdays)
