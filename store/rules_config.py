"""An agency's rules (schedule, policy, calendar overrides) stored, and what they change queued."""

from __future__ import annotations

from datetime import date
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session as DbSession

from rules.config import CalendarDoc, PolicyDoc, ScheduleDoc
from store.models import (
    Agency,
    CalendarDay,
    DisciplinePolicy,
    Employee,
    SchedulerState,
    Unit,
    WorkSchedule,
)
from store.queue import enqueue, keys_for_days

CALENDAR_DAYS = cast(Table, CalendarDay.__table__)


class RulesConfigError(ValueError):
    """A scope that does not exist."""


def _scope(db: DbSession, agency_code: str, unit_code: str | None) -> tuple[Agency, Unit | None]:
    agency = db.scalar(select(Agency).where(Agency.code == agency_code))
    if agency is None:
        raise RulesConfigError(f"Không tìm thấy cơ quan {agency_code}")
    if unit_code is None:
        return agency, None
    unit = db.scalar(select(Unit).where(Unit.agency_id == agency.id, Unit.code == unit_code))
    if unit is None:
        raise RulesConfigError(f"Không tìm thấy đơn vị {unit_code} của {agency_code}")
    return agency, unit


def save_schedule_and_policy(
    db: DbSession,
    agency_code: str,
    unit_code: str | None,
    schedule: ScheduleDoc | None,
    policy: PolicyDoc | None,
) -> None:
    """Give an agency or a unit its own schedule and/or policy (documents stored as JSON)."""
    agency, unit = _scope(db, agency_code, unit_code)
    code = f"{agency.code}/{unit.code}" if unit else agency.code
    target: Agency | Unit = unit if unit is not None else agency
    if schedule is not None:
        target.schedule_id = _save_schedule(db, code, schedule)
    if policy is not None:
        prow = db.scalar(select(DisciplinePolicy).where(DisciplinePolicy.code == code))
        pspec = policy.model_dump_json()
        if prow is None:
            prow = DisciplinePolicy(code=code, name=code, spec=pspec)
            db.add(prow)
        else:
            prow.spec = pspec
        db.flush()
        target.policy_id = prow.id


def save_employee_schedule(db: DbSession, employee_code: str, schedule: ScheduleDoc) -> int:
    """Give one person a schedule of their own (part-time, a shift rota); returns their id."""
    person = db.scalar(select(Employee).where(Employee.code == employee_code))
    if person is None:
        raise RulesConfigError(f"Không tìm thấy cán bộ {employee_code}")
    person.schedule_id = _save_schedule(db, f"employee/{employee_code}", schedule)
    return person.id


def _save_schedule(db: DbSession, code: str, schedule: ScheduleDoc) -> int:
    """Create or replace the schedule document stored under ``code``; returns its id."""
    row = db.scalar(select(WorkSchedule).where(WorkSchedule.code == code))
    spec = schedule.model_dump_json(by_alias=True, exclude_none=True)
    if row is None:
        row = WorkSchedule(code=code, name=schedule.name, spec=spec)
        db.add(row)
    else:
        row.name, row.spec = schedule.name, spec
    db.flush()
    return row.id


def save_calendar(db: DbSession, doc: CalendarDoc, agency_code: str | None) -> list[date]:
    """Replace the overrides of the years the document names; returns the dates it touches."""
    agency_id = _scope(db, agency_code, None)[0].id if agency_code is not None else None
    rows = [
        *[(d.date, "off", d.name) for d in doc.days_off],
        *[(d.date, "work", d.name) for d in doc.working_days],
        *[(d, "not_off", "") for d in doc.not_days_off],
    ]
    touched = sorted({d for d, _, _ in rows})
    if touched:
        scope = (
            CALENDAR_DAYS.c.agency_id.is_(None)
            if agency_id is None
            else CALENDAR_DAYS.c.agency_id == agency_id
        )
        db.execute(delete(CALENDAR_DAYS).where(CALENDAR_DAYS.c.day.in_(touched), scope))
        db.add_all(CalendarDay(agency_id=agency_id, day=d, kind=k, name=n) for d, k, n in rows)
    return touched


RULES_VERSION = "rules_version"


def bump_rules_version(db: DbSession) -> None:
    """Tell every rules runner that schedules, policies or calendars changed (in this commit)."""
    state = db.get(SchedulerState, RULES_VERSION)
    if state is None:
        db.add(SchedulerState(key=RULES_VERSION, value="1"))
    else:
        state.value = str(int(state.value) + 1)


def queue_scope(
    db: DbSession, agency_code: str | None, unit_code: str | None, first: date, last: date
) -> int:
    """Queue every person in scope for every date of the range (after a change of rules)."""
    bump_rules_version(db)
    return enqueue(db, scope_keys(db, agency_code, unit_code, first, last), "rules_changed")


def scope_keys(
    db: DbSession, agency_code: str | None, unit_code: str | None, first: date, last: date
) -> set[tuple[int, date]]:
    """Every (person, date) of an agency or a unit's subtree over the range."""
    agency_id = _scope(db, agency_code, None)[0].id if agency_code else None
    keys = keys_for_days(db, first, last, agency_id)
    if unit_code is not None and agency_code is not None:
        _, unit = _scope(db, agency_code, unit_code)
        assert unit is not None
        members = set(
            db.scalars(select(Employee.id).where(Employee.unit_id.in_(_subtree(db, unit.id))))
        )
        keys = {k for k in keys if k[0] in members}
    return keys


def _subtree(db: DbSession, unit_id: int) -> set[int]:
    children: dict[int | None, list[int]] = {}
    for uid, parent in db.execute(select(Unit.id, Unit.parent_id)).all():
        children.setdefault(parent, []).append(uid)
    found, todo = set(), [unit_id]
    while todo:
        current = todo.pop()
        found.add(current)
        todo.extend(children.get(current, []))
    return found
