"""Who works when, and under which policy: resolves each person's schedule, policy, zone
and calendar from the organisation tree, with caches for the hot path."""

from __future__ import annotations

import json
import threading
import time as clock
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from rules.calendar import (
    Calendar,
    DayPlan,
    Schedule,
    calendar_with,
    office_hours,
    plan_day,
    vietnam_calendar,
)
from rules.config import PolicyDoc, ScheduleDoc
from rules.policy import Policy
from rules.zones import zone
from store.bulk import among
from store.models import (
    Agency,
    CalendarDay,
    DisciplinePolicy,
    Employee,
    SchedulerState,
    Unit,
    WorkSchedule,
)

DEFAULT_SCHEDULE = office_hours()
DEFAULT_POLICY = Policy()


@dataclass(frozen=True, slots=True)
class Person:
    """Everything the runner needs to plan someone's day."""

    employee_id: int
    unit_id: int
    agency_id: int
    tz: ZoneInfo
    schedule_key: int | None  # None: the built-in administrative hours
    policy_key: int | None
    active_from: date  # the later of their own start and the agency's tracking start
    active_to: date | None

    def active_on(self, day: date) -> bool:
        return self.active_from <= day and (self.active_to is None or day <= self.active_to)


class RulesDirectory:
    """Organisation, schedules, policies and calendars, reloaded every ``max_age_s``.

    ``invalidate()`` drops the caches at once (after an edit in this process).
    """

    def __init__(self, max_age_s: float = 60.0) -> None:
        self._max_age_s = max_age_s
        self._loaded_at = float("-inf")
        self._version: str | None = None
        self._lock = threading.Lock()
        self._units: dict[int, Unit] = {}
        self._agencies: dict[int, Agency] = {}
        self._schedules: dict[int, Schedule] = {}
        self._policies: dict[int, Policy] = {}
        self._overrides: dict[int | None, list[tuple[date, str, str]]] = {}
        self._calendars: dict[tuple[int, int], Calendar] = {}
        self._plans: dict[tuple[int | None, int | None, int, str, date], DayPlan] = {}
        self._neighbours: dict[tuple[int | None, int | None, int, str, date], tuple[date, ...]] = {}
        self._resolved: dict[tuple[int, int | None, date], tuple[Any, ...]] = {}
        self._people: dict[Any, Person] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = float("-inf")

    def _refresh(self, db: DbSession) -> None:
        # A change of rules in any process bumps the version: reload at once, not after the TTL.
        version = db.scalar(
            select(SchedulerState.value).where(SchedulerState.key == "rules_version")
        )
        if version == self._version and clock.monotonic() - self._loaded_at < self._max_age_s:
            return
        self._version = version
        with self._lock:
            units = {u.id: u for u in db.scalars(select(Unit))}
            agencies = {a.id: a for a in db.scalars(select(Agency))}
            schedules = {
                s.id: ScheduleDoc.model_validate(json.loads(s.spec)).value()
                for s in db.scalars(select(WorkSchedule))
            }
            policies = {
                p.id: PolicyDoc.model_validate(json.loads(p.spec)).value()
                for p in db.scalars(select(DisciplinePolicy))
            }
            overrides: dict[int | None, list[tuple[date, str, str]]] = {}
            for row in db.scalars(select(CalendarDay)):
                overrides.setdefault(row.agency_id, []).append((row.day, row.kind, row.name))
            for obj in (*units.values(), *agencies.values()):
                db.expunge(obj)
            self._units, self._agencies = units, agencies
            self._schedules, self._policies, self._overrides = schedules, policies, overrides
            self._calendars.clear()
            self._plans.clear()
            self._neighbours.clear()
            self._resolved.clear()
            self._people.clear()
            self._loaded_at = clock.monotonic()

    def people(self, db: DbSession, employee_ids: set[int]) -> dict[int, Person]:
        """Resolve the given employees (unknown ids are left out)."""
        self._refresh(db)
        # Core rows through the session's connection (no ORM loading: a batch is thousands
        # of rows), and one Person per distinct row, kept until the next reload.
        rows = (
            db.connection()
            .execute(
                select(
                    Employee.id,
                    Employee.unit_id,
                    Employee.schedule_id,
                    Employee.active_from,
                    Employee.active_to,
                ).where(among(db, Employee.id, employee_ids))
            )
            .all()
        )  # fetched at once: iterating fetched the rows one by one
        known = self._people
        found: dict[int, Person] = {}
        for row in rows:
            person = known.get(row)
            if person is None:
                person = self._person(*row)
                if len(known) > 50_000:
                    known.clear()
                known[row] = person
            found[row[0]] = person
        return found

    def _person(
        self,
        employee_id: int,
        unit_id: int,
        schedule_id: int | None,
        active_from: date,
        active_to: date | None,
    ) -> Person:
        # Everyone of a unit resolves alike: walk the tree once per unit, schedule and start.
        key = (unit_id, schedule_id, active_from)
        resolved = self._resolved.get(key)
        if resolved is None:
            resolved = self._resolve(unit_id, schedule_id, active_from)
            if len(self._resolved) > 100_000:
                self._resolved.clear()
            self._resolved[key] = resolved
        agency_id, tz, schedule_key, policy_key, start = resolved
        return Person(
            employee_id, unit_id, agency_id, tz, schedule_key, policy_key, start, active_to
        )

    def _resolve(
        self, unit_id: int, schedule_id: int | None, active_from: date
    ) -> tuple[int, ZoneInfo, int | None, int | None, date]:
        schedule_key, policy_key = schedule_id, None
        unit: Unit | None = self._units.get(unit_id)
        agency_id = unit.agency_id if unit else 0
        while unit is not None:
            schedule_key = schedule_key or unit.schedule_id
            policy_key = policy_key or unit.policy_id
            unit = self._units.get(unit.parent_id) if unit.parent_id else None
        agency: Agency | None = self._agencies.get(agency_id)
        tz = zone(agency.timezone) if agency else zone()
        while agency is not None:
            schedule_key = schedule_key or agency.schedule_id
            policy_key = policy_key or agency.policy_id
            # Ngày bắt đầu theo dõi of the agency (or of a parent): no day before it is judged.
            if agency.tracking_start is not None and agency.tracking_start > active_from:
                active_from = agency.tracking_start
            agency = self._agencies.get(agency.parent_id) if agency.parent_id else None
        return agency_id, tz, schedule_key, policy_key, active_from

    def policy(self, person: Person) -> Policy:
        return (
            self._policies.get(person.policy_key, DEFAULT_POLICY)
            if person.policy_key
            else DEFAULT_POLICY
        )

    def schedule(self, person: Person) -> Schedule:
        if person.schedule_key is None:
            return DEFAULT_SCHEDULE
        return self._schedules.get(person.schedule_key, DEFAULT_SCHEDULE)

    def calendar(self, agency_id: int, year: int) -> Calendar:
        key = (agency_id, year)
        calendar = self._calendars.get(key)
        if calendar is None:
            calendar = _calendar_with(
                [*self._overrides.get(None, []), *self._overrides.get(agency_id, [])], year
            )
            self._calendars[key] = calendar
        return calendar

    def plan(self, person: Person, day: date) -> DayPlan:
        key = (person.schedule_key, person.policy_key, person.agency_id, person.tz.key, day)
        plan = self._plans.get(key)
        if plan is None:
            policy = self.policy(person)
            plan = plan_day(
                self.schedule(person),
                self.calendar(person.agency_id, day.year),
                day,
                person.tz,
                policy.margins,
            )
            if len(self._plans) > 100_000:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def neighbours(self, person: Person, day: date) -> tuple[date, ...]:
        """The other dates (two either side) whose punch window reaches into ``day``: a night
        shift, or sessions whose windows overlap across midnight."""
        key = (person.schedule_key, person.policy_key, person.agency_id, person.tz.key, day)
        found = self._neighbours.get(key)
        if found is None:
            lo = int(datetime.combine(day, time.min, tzinfo=person.tz).timestamp())
            hi = int(
                datetime.combine(day + timedelta(days=1), time.min, tzinfo=person.tz).timestamp()
            )
            found = tuple(
                other.day
                for shift in (-2, -1, 1, 2)
                if (other := self.plan(person, day + timedelta(days=shift))).reads_from is not None
                and other.reads_until is not None
                and other.reads_from < hi
                and other.reads_until >= lo
            )
            if len(self._neighbours) > 100_000:
                self._neighbours.clear()
            self._neighbours[key] = found
        return found


@lru_cache(maxsize=256)
def _national(year: int) -> Calendar:
    return vietnam_calendar(range(year - 1, year + 2))


def national_calendar(year: int) -> Calendar:
    """The national calendar around ``year`` (Tết, public holidays), built once a process."""
    return _national(year)


def _calendar_with(overrides: list[tuple[date, str, str]], year: int) -> Calendar:
    if not overrides:
        return _national(year)
    return calendar_with(overrides, range(year - 1, year + 2))
