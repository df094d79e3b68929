"""Helpers to write rule tests in local wall-clock time (giờ Hà Nội)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from rules.calendar import Calendar, DayPlan, Schedule, office_hours, plan_day, vietnam_calendar
from rules.evaluate import DayResult, Excuse, PunchFact, evaluate_day
from rules.policy import Policy
from rules.zones import zone

TZ = zone()
OFFICE = office_hours()
CALENDAR = vietnam_calendar([2025, 2026])
MONDAY = date(2026, 11, 23)
DEFAULT_POLICY = Policy()


def local(day: date, hhmm: str) -> datetime:
    hours, minutes, *seconds = (int(p) for p in hhmm.split(":"))
    return datetime.combine(day, time(hours, minutes, seconds[0] if seconds else 0), tzinfo=TZ)


def at(day: date, hhmm: str) -> int:
    return int(local(day, hhmm).timestamp())


def punches(day: date, *times: str) -> list[PunchFact]:
    """Punches at the given local times ("07:29", "17:02:30"; "+1 06:00" for the next day)."""
    facts = []
    for i, text in enumerate(times, start=1):
        when = day
        if text.startswith("+1 "):
            when, text = day + timedelta(days=1), text[3:]
        facts.append(PunchFact(i, at(when, text)))
    return facts


def plan(
    day: date,
    schedule: Schedule = OFFICE,
    calendar: Calendar = CALENDAR,
    policy: Policy = DEFAULT_POLICY,
) -> DayPlan:
    return plan_day(schedule, calendar, day, TZ, policy.margins)


def judge(
    day: date,
    *times: str,
    now: datetime | None = None,
    excuses: Sequence[Excuse] = (),
    policy: Policy = DEFAULT_POLICY,
    schedule: Schedule = OFFICE,
    calendar: Calendar = CALENDAR,
    complete_until: datetime | None = None,
) -> DayResult:
    """Evaluate ``day``; by default at the next morning, when everything is knowable."""
    moment = now or local(day + timedelta(days=1), "06:00")
    return evaluate_day(
        plan(day, schedule, calendar, policy),
        policy,
        punches(day, *times),
        excuses,
        moment,
        complete_until,
    )


def kinds(result: DayResult) -> list[tuple[str, str, int]]:
    return sorted((v.session, v.kind, v.minutes) for v in result.violations)
