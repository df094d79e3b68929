"""Messages rendered from Jinja2 templates (text and HTML, and a one-line subject), in
Vietnamese, at send time: a violation's notice reads the violation as it stands then."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from kycuong.labels import SESSION, VIOLATION
from notify import links
from notify.recipients import Contact
from rules.zones import zone
from store.models import Agency, OutboxMessage, Unit, ViolationRecord
from store.violations import evidence_punches

TEMPLATES = Path(__file__).resolve().parent / "templates"
_html = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_text = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=False,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


class Gone(Exception):
    """The message's cause went away before it was sent (a withdrawn violation): cancel it."""


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def minutes_text(kind: str, minutes: int) -> str:
    return f"{minutes} phút" if kind in ("late", "early_leave") and minutes else ""


def _violation(db: DbSession, context: dict[str, Any], public_url: str) -> dict[str, Any]:
    violation = db.get(ViolationRecord, int(context["violation_id"]))
    if violation is None or not violation.active:
        raise Gone()
    tz_name = db.scalar(
        select(Agency.timezone)
        .join(Unit, Unit.agency_id == Agency.id)
        .where(Unit.id == violation.unit_id)
    )
    tz = zone(tz_name or "Asia/Ho_Chi_Minh")
    punches = [
        {"time": punch.punched_at.astimezone(tz).strftime("%H:%M"), "site": site}
        for punch, site in evidence_punches(db, violation.evidence)
    ]
    return {
        "kind_label": VIOLATION.get(violation.kind, violation.kind),
        "minutes_text": minutes_text(violation.kind, violation.minutes),
        "session_label": SESSION.get(violation.session, violation.session),
        "day": f"{violation.day:%d/%m/%Y}",
        "provisional": violation.provisional,
        "punches": punches,
        "link": links.person_violation(public_url, violation.id),
    }


def render(
    db: DbSession,
    message: OutboxMessage,
    contact: Contact,
    public_url: str,
    agency: str,
    extra: dict[str, Any] | None = None,
) -> Rendered:
    """The subject, text and HTML of ``message`` for ``contact``; ``Gone`` if its cause is.

    ``extra``: values made at send time (the monthly report's figures)."""
    values: dict[str, Any] = {"name": contact.name, "agency": contact.agency or agency}
    values.update(json.loads(message.context or "{}"))
    values.update(extra or {})
    if message.template == "violation_flagged":
        values.update(_violation(db, values, public_url))
    if "path" in values and "link" not in values:
        values["link"] = links.absolute(public_url, values["path"])
    subject = message.subject or _text.get_template(f"{message.template}.subject").render(values)
    subject = " ".join(subject.split())
    values["subject"] = subject
    return Rendered(
        subject=subject,
        text=_text.get_template(f"{message.template}.txt").render(values),
        html=_html.get_template(f"{message.template}.html").render(values),
    )
