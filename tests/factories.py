"""Small factories: every test makes the organisation, people, cards and readers it needs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from devices.provision import create_device, set_enabled
from store.db import db_session
from store.models import Agency, Credential, Employee, Unit


def org(
    engine: Engine,
    *,
    employees: int = 10,
    devices: tuple[str, ...] = ("D1", "D2"),
    disabled: tuple[str, ...] = (),
    card_prefix: str = "C",
) -> dict[str, Any]:
    """An agency with one unit, ``employees`` people with cards, and readers."""
    valid_from = datetime(2024, 1, 1, tzinfo=UTC)
    with db_session(engine) as db:
        agency = Agency(code="AG", name="Sở Thử nghiệm")
        db.add(agency)
        db.flush()
        unit = Unit(agency_id=agency.id, code="P1", name="Phòng Một")
        db.add(unit)
        db.flush()
        cards = []
        for i in range(employees):
            person = Employee(
                code=f"E{i:04d}",
                full_name=f"Nguyễn Văn {i}",
                unit_id=unit.id,
                active_from=date(2024, 1, 1),
            )
            db.add(person)
            db.flush()
            card = f"{card_prefix}{i:06d}"
            db.add(
                Credential(
                    employee_id=person.id,
                    kind="card",
                    value=card,
                    valid_from=datetime(2024, 1, 1, tzinfo=UTC),
                )
            )
            cards.append(card)
        secrets = {
            d: create_device(db, d, site="Cổng", agency_code="AG", registered_at=valid_from)
            for d in devices + disabled
        }
        for d in disabled:
            set_enabled(db, d, False)
    return {"cards": cards, "secrets": secrets}


def punch_payload(
    device_id: str,
    event_id: str,
    card: str | None,
    at: datetime,
    **overrides: Any,
) -> bytes:
    body: dict[str, Any] = {
        "v": 1,
        "event_id": event_id,
        "device_id": device_id,
        "credential_kind": "card",
        "credential_value": card,
        "ts": at.isoformat(),
        "direction": "in",
        "verify_mode": "card",
    }
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def punch_row(card: str, event: str, at: datetime, device: str = "D1") -> dict[str, Any]:
    """A punches row as ingest stores it (for store.bulk and direct inserts): card ``card``
    punched at ``at`` (aware), received at once, clock in step."""
    at = at.astimezone(UTC)
    return {
        "device_id": device,
        "event_id": event,
        "credential_kind": "card",
        "credential_value": card,
        "device_time": at,
        "clock_offset_s": 0.0,
        "punched_at": at,
        "received_at": at,
        "direction": "in",
        "verify_mode": "card",
        "raw": "{}",
    }
