"""Clock triggers: which (person, date) keys a passing deadline makes knowable.

A session's deadline (start + the absent-after-late threshold) makes absences knowable; a
day's close makes early departures and missing punches knowable. ``tick`` enqueues the
keys of every deadline in (last tick, now], remembered in the database, so a runner that
was down catches up on what it missed and a second tick does nothing twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from runner.directory import Person, RulesDirectory
from store.models import Employee, SchedulerState, ViolationRecord
from store.queue import Key, enqueue, keys_for_days

log = logging.getLogger(__name__)

STATE_KEY = "deadlines_until"
FIRST_RUN_LOOKBACK = timedelta(hours=36)


def deadlines(directory: RulesDirectory, person: Person, day: date) -> list[int]:
    """The instants (epoch seconds) at which something about ``day`` becomes knowable."""
    plan = directory.plan(person, day)
    if not plan.sessions:
        return []
    threshold = directory.policy(person).absent_after_late_s
    instants = [s.start + threshold for s in plan.sessions]
    if plan.closes_at is not None:
        instants.append(plan.closes_at)
    return instants


def all_people(db: DbSession, directory: RulesDirectory) -> list[Person]:
    return list(directory.people(db, set(db.scalars(select(Employee.id)))).values())


def due_keys(
    db: DbSession, directory: RulesDirectory, since: datetime, until: datetime
) -> set[Key]:
    """Keys with a deadline in (since, until]."""
    lo, hi = int(since.timestamp()), int(until.timestamp())
    groups: dict[tuple[object, ...], list[Person]] = defaultdict(list)
    for person in all_people(db, directory):
        groups[(person.schedule_key, person.policy_key, person.agency_id, person.tz.key)].append(
            person
        )
    keys: set[Key] = set()
    # Shifts across midnight close the next day: look one day back from the window.
    day, last = (
        since.astimezone(UTC).date() - timedelta(days=2),
        until.astimezone(UTC).date() + timedelta(days=1),
    )
    while day <= last:
        for members in groups.values():
            if any(lo < t <= hi for t in deadlines(directory, members[0], day)):
                keys |= {(p.employee_id, day) for p in members if p.active_on(day)}
        day += timedelta(days=1)
    return keys


def provisional_keys(db: DbSession) -> set[Key]:
    """Keys with a provisional violation: a reader catching up may settle them."""
    rows = db.execute(
        select(ViolationRecord.employee_id, ViolationRecord.day).where(
            ViolationRecord.provisional.is_(True), ViolationRecord.active.is_(True)
        )
    ).all()
    return {(e, d) for e, d in rows}


def tick(db: DbSession, directory: RulesDirectory, now: datetime) -> int:
    """Enqueue the keys of every deadline since the last tick; returns how many."""
    state = db.get(SchedulerState, STATE_KEY)
    since = datetime.fromisoformat(state.value) if state else now - FIRST_RUN_LOOKBACK
    if now <= since:
        return 0
    keys = due_keys(db, directory, since, now) | provisional_keys(db)
    count = enqueue(db, keys, "deadline")
    if state is None:
        db.add(SchedulerState(key=STATE_KEY, value=now.isoformat()))
    else:
        state.value = now.isoformat()
    if count:
        log.info(
            "deadlines %s .. %s: %d keys to recompute", since.isoformat(), now.isoformat(), count
        )
    return count


def nightly(db: DbSession, day: date) -> int:
    """Reconcile a whole date for everyone (đối soát cuối ngày): recompute every key."""
    count = enqueue(db, keys_for_days(db, day, day), "nightly")
    log.info("nightly reconciliation of %s: %d keys", day.isoformat(), count)
    return count


def upcoming_deadlines(
    db: DbSession, directory: RulesDirectory, now: datetime, hours: int = 36
) -> list[datetime]:
    """Distinct deadline instants in the coming hours, for the scheduler's exact triggers."""
    groups: dict[tuple[object, ...], Person] = {}
    for person in all_people(db, directory):
        groups.setdefault(
            (person.schedule_key, person.policy_key, person.agency_id, person.tz.key), person
        )
    lo, hi = int(now.timestamp()), int((now + timedelta(hours=hours)).timestamp())
    instants: set[int] = set()
    day = now.astimezone(UTC).date() - timedelta(days=1)
    while day <= (now + timedelta(hours=hours)).astimezone(UTC).date() + timedelta(days=1):
        for person in groups.values():
            instants |= {t for t in deadlines(directory, person, day) if lo < t <= hi}
        day += timedelta(days=1)
    return [datetime.fromtimestamp(t, UTC) for t in sorted(instants)]
