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

from rules.calendar import DayPlan, plan_day
from rules.config import RulesDoc
from rules.evaluate import Excuse, PunchFact, evaluate_day
from rules.zones import zone


@dataclass(frozen=True, slots=True)
class ReplayPunch:
    """A punch from a file: ``id`` is the evidence id (a reader's event id, or a line number);
    a manual punch (a forgotten punch the unit head accepted) is marked so in the output."""

    person: str
    at: datetime
    id: int | str
    direction: str = "unknown"
    manual: bool = False
    session: str | None = None  # a manual punch's session as the person said it


@dataclass(frozen=True, slots=True)
class ReplayPerson:
    """Someone to judge, only between their own start and end dates; ``cards`` are the card
    numbers a reader's export names them by."""

    code: str
    first_day: date | None = None
    last_day: date | None = None
    cards: tuple[str, ...] = ()

    def active_on(self, day: date) -> bool:
        return (self.first_day is None or self.first_day <= day) and (
            self.last_day is None or day <= self.last_day
        )


@dataclass(frozen=True, slots=True)
class ReplayReview:
    """A reviewer's decision on a violation, keyed by its identity (person, date, session,
    kind), so a replay reproduces the reviewed state."""

    person: str
    day: date
    session: str
    kind: str
    decision: str
    reason_kind: str | None = None
    by: str = ""
    note: str = ""


def replay(
    rules: RulesDoc,
    punches: Iterable[ReplayPunch],
    excuses: Iterable[tuple[str, Excuse]],
    first: date,
    last: date,
    now: datetime,
    people: Iterable[str | ReplayPerson] = (),
    reviews: Iterable[ReplayReview] = (),
) -> Iterator[dict[str, Any]]:
    """Yield a ``day`` record and its ``violation`` records per person and date, in order.

    With ``people``, only they are judged (each within their dates); without, everyone who
    has a punch or an excuse. Reviews that match no violation are yielded at the end as
    ``review_without_violation`` records, so an auditor sees the difference.
    """
    if last < first:
        raise ValueError("the range ends before it starts")
    tz = zone(rules.timezone)
    schedule, policy = rules.schedule.value(), rules.policy.value()
    calendar = rules.calendar.value(range(first.year - 1, last.year + 2))
    roster = [p if isinstance(p, ReplayPerson) else ReplayPerson(p) for p in people]
    holder = {card: p.code for p in roster for card in p.cards}
    evidence: list[int | str] = []
    manual: set[int] = set()
    by_person: dict[str, list[PunchFact]] = defaultdict(list)
    for p in punches:
        # The core's evidence ids are numbers; the file's ids (strings too) come back out.
        number = len(evidence)
        evidence.append(p.id)
        if p.manual:
            manual.add(number)
        by_person[holder.get(p.person, p.person)].append(
            PunchFact(number, int(p.at.timestamp()), p.direction, p.session if p.manual else None)
        )
    excuses_of: dict[str, list[Excuse]] = defaultdict(list)
    for person, excuse in excuses:
        excuses_of[holder.get(person, person)].append(excuse)
    reviewed = {(r.person, r.day, r.session, r.kind): r for r in reviews}
    matched: set[tuple[str, date, str, str]] = set()
    if roster:
        everyone = sorted({p.code: p for p in roster}.values(), key=lambda p: p.code)
    else:
        everyone = [ReplayPerson(code) for code in sorted(set(by_person) | set(excuses_of))]
    plans = []
    day = first
    while day <= last:
        plans.append(plan_day(schedule, calendar, day, tz, policy.margins))
        day += timedelta(days=1)
    for who in everyone:
        person = who.code
        facts = sorted(by_person.get(person, []), key=lambda p: p.at)
        mine = excuses_of.get(person, [])
        for plan in plans:
            if not who.active_on(plan.day):
                continue
            lo = plan.reads_from if plan.reads_from is not None else _midnight(plan.day, tz)
            hi = (
                plan.reads_until
                if plan.reads_until is not None
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
                "manual_punches": [
                    evidence[p.id] for p in in_range if p.id in manual and _judged(p, plan)
                ],
            }
            for v in result.violations:
                identity: tuple[str, date, str, str] = (person, plan.day, v.session, v.kind)
                review = reviewed.get(identity)
                if review is not None:
                    matched.add(identity)
                yield {
                    "type": "violation",
                    "person": person,
                    "date": plan.day.isoformat(),
                    "session": v.session,
                    "kind": v.kind,
                    "minutes": v.minutes,
                    "evidence": [evidence[i] for i in v.evidence],
                    "manual_evidence": [evidence[i] for i in v.evidence if i in manual],
                    "provisional": v.provisional,
                    "pending_excuse": v.pending_excuse,
                    "review": _review(review),
                }
    for identity, review in sorted(reviewed.items(), key=lambda kv: kv[0]):
        if identity not in matched:
            yield {
                "type": "review_without_violation",
                "person": review.person,
                "date": review.day.isoformat(),
                "session": review.session,
                "kind": review.kind,
                "review": _review(review),
            }


def _judged(punch: PunchFact, plan: DayPlan) -> bool:
    return any(s.contains(punch.at) for s in plan.sessions)


def _review(review: ReplayReview | None) -> dict[str, Any] | None:
    if review is None:
        return None
    return {
        "decision": review.decision,
        "reason_kind": review.reason_kind,
        "by": review.by,
        "note": review.note,
    }


def _midnight(day: date, tz: Any) -> int:
    return int(datetime.combine(day, datetime.min.time(), tzinfo=tz).timestamp())


def _iso(instant: int | None, tz: Any) -> str | None:
    if instant is None:
        return None
    return datetime.fromtimestamp(instant, UTC).astimezone(tz).isoformat()
