"""Writes of the organisation roster (danh sách): agencies, units, people and their cards.

Files are read and planned (preview, all or nothing) in ``services/roster.py``; this module
holds the writes they and the pages share: a card handed over keeps the previous holder's
history, a person's changed dates or unit queue the days they touch for recomputation.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from rules.zones import local_date, zone
from store.models import Agency, Credential, Employee, Punch, Unit
from store.queue import enqueue, enqueue_for_punches


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
    last = min(last, today)
    first = max(first, last - timedelta(days=366))
    if first > last:
        return 0
    days = (last - first).days + 1
    return enqueue(db, [(person.id, first + timedelta(days=i)) for i in range(days)], reason)


def utc_midnight(day: date) -> datetime:
    """The start of a local day as a UTC instant (a card's validity starts there)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=zone()).astimezone(UTC)
