"""Offline replay: evaluate a date range for many people from plain records (pure).

The CLI (`kycuong replay`) reads the files; this module only computes. Operators use it
to audit a reader's export and to try a policy before adopting it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rules.calendar import plan_day
from rules.config import RulesDoc
from rules.evaluate import Excuse, PunchFact, evaluate_day
from rules.zones import zone


@dataclass(frozen=True, slots=True)
class ReplayPunch:
    person: str
    at: datetime
    id: int
    direction: str = "unknown"


def replay(
    rules: RulesDoc,
    punches: Iterable[ReplayPunch],
    excuses: Iterable[tuple[str, Excuse]],
    first: date,
    last: date,
    now: datetime,
    people: Iterable[str] = (),
) -> Iterator[dict[str, Any]]:
    """Yield a ``day`` record and its ``violation`` records per person and date, in order."""
    if last < first:
        raise ValueError("the range ends before it starts")
    tz = zone(rules.timezone)
    schedule, policy = rules.schedule.value(), rules.policy.value()
    calendar = rules.calendar.value(range(first.year - 1, last.year + 2))
    by_person: dict[str, list[PunchFact]] = defaultdict(list)
    for p in punches:
        by_person[p.person].append(PunchFact(p.id, int(p.at.timestamp()), p.direction))
    excuses_of: dict[str, list[Excuse]] = defaultdict(list)
    for person, excuse in excuses:
        excuses_of[person].append(excuse)
    everyone = sorted(set(by_person) | set(excuses_of) | set(people))
    plans = []
    day = first
    while day <= last:
        plans.append(plan_day(schedule, calendar, day, tz, policy.margins))
        day += timedelta(days=1)
    for person in everyone:
        facts = sorted(by_person.get(person, []), key=lambda p: p.at)
        mine = excuses_of.get(person, [])
        for plan in plans:
            lo = plan.window_start if plan.window_start is not None else _midnight(plan.day, tz)
            hi = (
                plan.window_end
                if plan.window_end is not None
                else _midnight(plan.day + timedelta(days=1), tz) - 1
            )
            in_range = [p for p in facts if lo <= p.at <= hi]
            result = evaluate_day(plan, policy, in_range, mine, now)
            yield {
                "type": "day",
                "person": person,
                "date": plan.day.isoformat(),
                "status": result.status,
                "label": result.label,
                "first_in": _iso(result.first_in, tz),
                "last_out": _iso(result.last_out, tz),
                "worked_minutes": result.worked_minutes,
                "excused": [{"session": s, "kind": k} for s, k in result.excused],
                "closed": result.closed,
            }
            for v in result.violations:
                yield {
                    "type": "violation",
                    "person": person,
                    "date": plan.day.isoformat(),
                    "session": v.session,
                    "kind": v.kind,
                    "minutes": v.minutes,
                    "evidence": list(v.evidence),
                    "provisional": v.provisional,
                    "pending_excuse": v.pending_excuse,
                }


def _midnight(day: date, tz: Any) -> int:
    return int(datetime.combine(day, datetime.min.time(), tzinfo=tz).timestamp())


def _iso(instant: int | None, tz: Any) -> str | None:
    if instant is None:
        return None
    return datetime.fromtimestamp(instant, UTC).astimezone(tz).isoformat()
