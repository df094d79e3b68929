"""Who a message goes to: ``employee:<id>`` or ``user:<id>``, their contacts and preferences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from notify.quiet import QuietHours
from store.models import Agency, Employee, NotificationPreference, Unit, User


def employee(employee_id: int) -> str:
    return f"employee:{employee_id}"


def user(user_id: int) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class Contact:
    """What a channel needs, and no more: a name to greet, an address, the agency's name."""

    recipient: str
    name: str
    email: str | None
    phone: str | None
    agency: str
    channel: str | None  # chosen by the person; None: e-mail when there is one
    quiet: QuietHours | None


def contact(db: DbSession, recipient: str, default_quiet: QuietHours | None) -> Contact | None:
    """The recipient's contact, or None if the person or account is gone."""
    kind, _, raw = recipient.partition(":")
    if not raw.isdigit():
        return None
    row: Any
    if kind == "employee":
        row = db.execute(
            select(Employee.full_name, Employee.email, Employee.phone, Agency.name)
            .join(Unit, Unit.id == Employee.unit_id)
            .join(Agency, Agency.id == Unit.agency_id)
            .where(Employee.id == int(raw))
        ).first()
    elif kind == "user":
        account = db.get(User, int(raw))
        if account is None or not account.active:
            return None
        agency_id = account.agency_id
        if agency_id is None and account.unit_id is not None:
            agency_id = db.scalar(select(Unit.agency_id).where(Unit.id == account.unit_id))
        agency = db.scalar(select(Agency.name).where(Agency.id == agency_id)) if agency_id else ""
        row = (account.full_name or account.username, account.email, account.phone, agency or "")
    else:
        return None
    if row is None:
        return None
    pref = db.get(NotificationPreference, recipient)
    quiet = default_quiet
    if pref is not None and (pref.quiet_from or pref.quiet_to):
        quiet = QuietHours.parse(f"{pref.quiet_from or ''}-{pref.quiet_to or ''}")
    return Contact(
        recipient=recipient,
        name=row[0],
        email=row[1] or None,
        phone=row[2] or None,
        agency=row[3] or "",
        channel=pref.channel if pref is not None else None,
        quiet=quiet,
    )
