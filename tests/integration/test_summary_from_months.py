"""The fast summary paths give what the slow ones gave: the longest absence joined across
months read from the few months a run touches equals a pass over every person-month, and
the JSON written line by line is the model's own JSON, byte for byte (SQLite, PostgreSQL)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, insert, select

from services import summaries as service
from services.scope import Scope
from store.db import db_session
from store.models import Agency, Employee, PersonMonth, Unit, User
from store.summaries import Thresholds, person_lines_from_months
from store.users import create_user

THRESHOLDS = Thresholds(month_days=2, year_days=4, consecutive_days=3)
MONTHS = [date(2026, m, 1) for m in range(1, 13)]


MonthRow = tuple[int, date, int, int, int, int, int, float]


def _reference(rows: list[MonthRow]) -> dict[int, tuple[float, int]]:
    """The pass over every person-month the summary made before (rows in month order)."""
    months: dict[int, dict[date, float]] = {}
    runs: dict[int, tuple[int, int]] = {}
    for e, month, _unit, working, head, tail, longest_in, absent in rows:
        months.setdefault(e, {})
        months[e][month] = months[e].get(month, 0.0) + absent
        current, longest = runs.get(e, (0, 0))
        if working and head == working:
            current += working
        elif working:
            longest = max(longest, current + head)
            current = tail
        runs[e] = (current, max(longest, current, longest_in))
    return {e: (round(max(months[e].values()), 2), runs[e][1]) for e in months}


def _random_months(engine: Engine, seed: int) -> list[MonthRow]:
    """Person-months of 40 people over a year, shaped to join runs: whole months absent,
    heads and tails, months with no working day, gaps, a second unit in some months."""
    rng = random.Random(seed)
    with db_session(engine) as db:
        agency = Agency(code="AG", name="Sở Thử nghiệm")
        db.add(agency)
        db.flush()
        units = [Unit(agency_id=agency.id, code=f"P{i}", name=f"Phòng {i}") for i in (1, 2)]
        db.add_all(units)
        db.flush()
        people = [
            Employee(
                code=f"E{i:04d}",
                full_name=f"Nguyễn Văn {i}",
                unit_id=units[0].id,
                active_from=date(2024, 1, 1),
            )
            for i in range(40)
        ]
        db.add_all(people)
        db.flush()
        rows = []
        for person in people:
            for month in MONTHS:
                if rng.random() < 0.1:
                    continue  # no row: not employed that month
                for unit in units if rng.random() < 0.1 else units[:1]:
                    working = rng.choice([0, 3, 20, 21, 22, 22])
                    shape = rng.random()
                    if working == 0:
                        head = tail = inside = 0
                    elif shape < 0.25:
                        head = tail = inside = working  # absent throughout
                    elif shape < 0.6:
                        head = rng.randint(0, min(4, working - 1))
                        tail = rng.randint(0, min(4, working - 1 - head))
                        inside = max(head, tail, rng.randint(0, 3))
                    else:
                        head = tail = inside = 0
                    absent = float(inside + rng.choice([0, 0.5]))
                    rows.append(
                        {
                            "employee_id": person.id,
                            "month": month,
                            "unit_id": unit.id,
                            "working_days": working,
                            "present_days": working - inside,
                            "late_count": 0,
                            "late_minutes": 0,
                            "early_count": 0,
                            "early_minutes": 0,
                            "absent_days": absent,
                            "missing_punches": 0,
                            "excused_leave": 0.0,
                            "excused_sick": 0.0,
                            "excused_trip": 0.0,
                            "excused_study": 0.0,
                            "excused_other": 0.0,
                            "confirmed": 0,
                            "excused": 0,
                            "dismissed": 0,
                            "absent_status_days": inside,
                            "absent_run_head": head,
                            "absent_run_tail": tail,
                            "absent_run_max": inside,
                        }
                    )
        db.execute(insert(PersonMonth), rows)
        return [
            (e, month, unit, working, head, tail, inside, absent)
            for e, month, unit, working, head, tail, inside, absent in db.execute(
                select(
                    PersonMonth.employee_id,
                    PersonMonth.month,
                    PersonMonth.unit_id,
                    PersonMonth.working_days,
                    PersonMonth.absent_run_head,
                    PersonMonth.absent_run_tail,
                    PersonMonth.absent_run_max,
                    PersonMonth.absent_days,
                ).order_by(PersonMonth.employee_id, PersonMonth.month, PersonMonth.unit_id)
            )
        ]


@pytest.mark.parametrize("seed", [5, 11, 23])  # the cuts between months read: several draws
@pytest.mark.parametrize("engine_name", ["sqlite_engine", "pg_engine"])
def test_longest_absence_from_run_months_equals_a_pass_over_every_month(
    engine_name: str, seed: int, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    rows = _random_months(engine, seed=seed)
    for first, last in ((MONTHS[0], date(2026, 12, 31)), (MONTHS[3], date(2026, 8, 31))):
        expected = _reference([r for r in rows if first <= r[1] <= last])
        with db_session(engine) as db:
            lines = person_lines_from_months(db, first, last, None, THRESHOLDS)
        found = {
            line.key: (line.max_month_absent_days, line.max_consecutive_absent_days)
            for line in lines
        }
        assert found == expected
        assert any(run > 22 for _, run in found.values())  # some runs joined months
        assert any(flags for flags in (line.flags for line in lines))


@pytest.mark.parametrize("engine_name", ["sqlite_engine", "pg_engine"])
def test_summary_json_is_the_models_json_byte_for_byte(
    engine_name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine: Engine = request.getfixturevalue(engine_name)
    monkeypatch.setattr(service, "CHUNK_LINES", 7)  # several chunks of people and units
    rows = _random_months(engine, seed=9)
    with db_session(engine) as db:
        create_user(db, "noivu", "mat-khau-du-dai-1", "noi_vu")
        user_id = db.scalar(select(User.id).where(User.username == "noivu"))
    assert user_id is not None
    scope = Scope(user_id, "noivu", "noi_vu", None)
    now = datetime(2026, 12, 1, 3, tzinfo=UTC)
    for query in (service.SummaryQuery("month", 2026, 3), service.SummaryQuery("year", 2026)):
        with db_session(engine) as db:
            model = service.summary(db, scope, query, THRESHOLDS, now, "Asia/Ho_Chi_Minh")
            written = b"".join(
                service.summary_json(db, scope, query, THRESHOLDS, now, "Asia/Ho_Chi_Minh")
            )
            flagged = service.summary(
                db, scope, query, THRESHOLDS, now, "Asia/Ho_Chi_Minh", people="flagged"
            )
        assert written == model.model_dump_json().encode()
        first, last = model.period.first_day, model.period.last_day
        staff = len({r[0] for r in rows if first <= r[1] <= last})
        assert len(model.people) == model.total.staff == staff > 7
        assert flagged.people == [p for p in model.people if p.flags] != []
        assert flagged.units == model.units
