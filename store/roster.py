"""Writes of the organisation roster (danh sách): agencies, units, people and their cards.

Files are read and planned (preview, all or nothing) in ``services/roster.py``; this module
holds the writes they and the pages share: a card handed over keeps the previous holder's
history, a person's changed dates or unit queue the days they touch for recomputation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session as DbSession

from rules.zones import local_date, zone
from store.bulk import bulk_insert, bulk_update
from store.models import Agency, Credential, DayRecord, Employee, Punch, Unit, UnmatchedPunch
from store.queue import Key, enqueue, enqueue_for_punches

EMPLOYEES = cast(Table, Employee.__table__)
CREDENTIALS = cast(Table, Credential.__table__)
MAX_REQUEUE_DAYS = 366


class RosterError(ValueError):
    """A write was refused; ``problems`` lists why, in Vietnamese."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _zone_of(db: DbSession, person: Employee) -> ZoneInfo:
    """The zone of a person's agency: the dates people read in messages are local."""
    name = db.scalar(
        select(Agency.timezone)
        .join(Unit, Unit.agency_id == Agency.id)
        .where(Unit.id == person.unit_id)
    )
    return zone(name) if name else zone()


def assign_card(
    db: DbSession, person: Employee, card: str, valid_from: datetime, kind: str = "card"
) -> Credential | None:
    """Give ``card`` to ``person`` from ``valid_from``; the previous holder keeps their history.

    Returns the new credential, or None when the person already holds that card.
    """
    current = list(
        db.scalars(
            select(Credential).where(
                Credential.kind == kind, Credential.value == card, Credential.valid_to.is_(None)
            )
        )
    )
    for held in current:
        if held.employee_id == person.id:
            return None
        if valid_from <= held.valid_from:
            raise RosterError(
                [
                    f"Thẻ {card} đã được cấp cho người khác từ "
                    f"{local_date(held.valid_from, _zone_of(db, person)):%d/%m/%Y}, "
                    "ngày hiệu lực mới phải sau ngày đó"
                ]
            )
        held.valid_to = valid_from
    credential = Credential(employee_id=person.id, kind=kind, value=card, valid_from=valid_from)
    db.add(credential)
    db.flush()
    # Punches of this card since the handover change hands: both holders' days are recomputed.
    moved = db.execute(
        select(Punch.id, Punch.punched_at).where(
            Punch.credential_kind == kind,
            Punch.credential_value == card,
            Punch.punched_at >= valid_from,
        )
    ).all()
    if moved:
        tz = _zone_of(db, person)
        enqueue(
            db,
            {(held.employee_id, local_date(at, tz)) for held in current for _, at in moved},
            "card_reassigned",
        )
        enqueue_for_punches(db, [punch_id for punch_id, _ in moved], "card_reassigned")
    return credential


def requeue_person(
    db: DbSession, person: Employee, first: date, last: date, today: date, reason: str
) -> int:
    """Queue a person's days from ``first`` to ``last`` (at most a year, none after today).

    Called when their unit or their start or end date changed: those days are judged anew.
    """
    return enqueue(db, day_keys(person.id, first, last, today), reason)


def day_keys(person_id: int, first: date, last: date, today: date) -> list[Key]:
    """A person's days from ``first`` to ``last``, at most a year and none after today."""
    last = min(last, today)
    first = max(first, last - timedelta(days=MAX_REQUEUE_DAYS))
    if first > last:
        return []
    return [(person_id, first + timedelta(days=i)) for i in range((last - first).days + 1)]


def first_judged_day(db: DbSession, agency_id: int) -> date | None:
    """The first day the agency's people can be judged on (ngày bắt đầu theo dõi).

    Its tracking start, or the latest of its parents'; without one, the first day judged for
    anyone of it so far. None when nothing was judged yet: a person added then has no past
    day to judge (the runner judges the days from now on as they come).
    """
    starts: list[date] = []
    current: int | None = agency_id
    seen: set[int] = set()
    while current is not None and current not in seen:
        seen.add(current)
        row = db.execute(
            select(Agency.tracking_start, Agency.parent_id).where(Agency.id == current)
        ).first()
        if row is None:
            break
        if row.tracking_start is not None:
            starts.append(row.tracking_start)
        current = row.parent_id
    if starts:
        return max(starts)
    first: date | None = None
    # One index lookup per unit (ix_day_records_unit_day), not a scan of the agency's days.
    for unit_id in db.scalars(select(Unit.id).where(Unit.agency_id == agency_id)):
        day = db.scalar(select(func.min(DayRecord.day)).where(DayRecord.unit_id == unit_id))
        if day is not None and (first is None or day < first):
            first = day
    return first


def insert_people(db: DbSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert people (every row with the same keys, ``code`` among them); their ids by code.

    One statement over arrays on PostgreSQL (store/bulk.py), not a flush per person."""
    made = bulk_insert(db, EMPLOYEES, rows, returning=("id", "code"))
    return {code: person_id for person_id, code in made}


def update_people(db: DbSession, rows: Sequence[dict[str, Any]]) -> None:
    """Update people by id (every row with the same keys): one statement on PostgreSQL."""
    bulk_update(db, EMPLOYEES, "id", rows)


@dataclass(frozen=True, slots=True)
class CardGrant:
    """A card given to a person from a local midnight (``valid_from``, UTC)."""

    employee_id: int
    card: str
    valid_from: datetime


@dataclass(frozen=True, slots=True)
class CardsGiven:
    created: int
    matched: int


def assign_cards(
    db: DbSession, grants: Iterable[CardGrant], now: datetime, kind: str = "card"
) -> CardsGiven:
    """``assign_card`` for many cards at once (each card once): a few statements per batch of
    cards instead of several per card. Previous holders keep their history, the punches of
    a card since its handover are queued for both holders, the punches already received
    with a card nobody held are matched (thẻ chưa đăng ký). ``RosterError`` when a card was
    given to someone else from the same date or later meanwhile."""
    wanted = {g.card: g for g in grants}
    if not wanted:
        return CardsGiven(0, 0)
    cards = sorted(wanted)
    open_held: dict[str, list[Credential]] = {}
    for chunk in _chunks(cards):
        for held in db.scalars(
            select(Credential).where(
                Credential.kind == kind, Credential.value.in_(chunk), Credential.valid_to.is_(None)
            )
        ):
            open_held.setdefault(held.value, []).append(held)
    closing: list[dict[str, Any]] = []
    previous: dict[str, list[int]] = {}
    fresh: list[CardGrant] = []
    problems: list[str] = []
    for card in cards:
        grant = wanted[card]
        current = open_held.get(card, [])
        if any(h.employee_id == grant.employee_id for h in current):
            continue
        for held in current:
            if grant.valid_from <= held.valid_from:
                problems.append(
                    f"Thẻ {card} đã được cấp cho người khác từ "
                    f"{local_date(held.valid_from, zone()):%d/%m/%Y}, "
                    "ngày hiệu lực mới phải sau ngày đó"
                )
            closing.append({"id": held.id, "valid_to": grant.valid_from})
            previous.setdefault(card, []).append(held.employee_id)
        fresh.append(grant)
    if problems:
        raise RosterError(problems)
    if closing:
        bulk_update(db, CREDENTIALS, "id", closing)
        db.expire_all()  # the credentials loaded above now end at the handover
    bulk_insert(
        db,
        CREDENTIALS,
        [
            {
                "employee_id": g.employee_id,
                "kind": kind,
                "value": g.card,
                "valid_from": g.valid_from,
            }
            for g in fresh
        ],
    )
    given = {g.card: g for g in fresh}
    # Punches of a handed-over card since the handover change hands: both holders' days.
    moved_ids: list[int] = []
    old_keys: set[Key] = set()
    zones = _zones_of(db, {e for holders in previous.values() for e in holders})
    for chunk in _chunks(sorted(previous)):
        for punch_id, value, at in db.execute(
            select(Punch.id, Punch.credential_value, Punch.punched_at).where(
                Punch.credential_kind == kind, Punch.credential_value.in_(chunk)
            )
        ):
            if at >= given[value].valid_from:
                moved_ids.append(punch_id)
                old_keys |= {(e, local_date(at, zones[e])) for e in previous[value]}
    if old_keys:
        enqueue(db, old_keys, "card_reassigned")
    enqueue_for_punches(db, moved_ids, "card_reassigned")
    # Punches received with a card nobody held (a card is valid on every reader).
    matched: dict[int, list[int]] = {}
    u = UnmatchedPunch
    for chunk in _chunks(sorted(given)):
        for punch_id, value, at in db.execute(
            select(u.punch_id, u.credential_value, u.punched_at).where(
                u.matched_employee_id.is_(None),
                u.credential_kind == kind,
                u.credential_value.in_(chunk),
            )
        ):
            grant = given[value]
            if at >= grant.valid_from:
                matched.setdefault(grant.employee_id, []).append(punch_id)
    for employee_id, ids in matched.items():
        for chunk_ids in _chunks(ids):
            db.execute(
                update(u)
                .where(u.punch_id.in_(chunk_ids))
                .values(matched_employee_id=employee_id, matched_at=now)
            )
    all_matched = [i for ids in matched.values() for i in ids]
    enqueue_for_punches(db, all_matched, "card_registered")
    return CardsGiven(len(fresh), len(all_matched))


def _zones_of(db: DbSession, people: set[int]) -> dict[int, ZoneInfo]:
    """The zone of each person's agency (the local date of their punches)."""
    found: dict[int, ZoneInfo] = {}
    for chunk in _chunks(sorted(people)):
        for person_id, name in db.execute(
            select(Employee.id, Agency.timezone)
            .join(Unit, Unit.id == Employee.unit_id)
            .join(Agency, Agency.id == Unit.agency_id)
            .where(Employee.id.in_(chunk))
        ):
            found[person_id] = zone(name) if name else zone()
    return found


def _chunks(values: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def utc_midnight(day: date) -> datetime:
    """The start of a local day as a UTC instant (a card's validity starts there)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=zone()).astimezone(UTC)
