"""Manual punches (chấm công bổ sung thủ công): a forgotten punch a unit head accepted becomes
a NEW punch fact from the reserved reader ``kc-manual`` with its provenance in
``manual_punches``; a device's punch is never edited (DOMAIN.md, "A forgotten punch")."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session as DbSession

from store.models import Credential, Device, Employee, ManualPunch
from store.punches import insert_punches
from store.queue import enqueue_for_punches

# Device ids starting "kc-" are reserved (devices/provision.py): no reader can be given this
# one, and it is disabled, so the broker refuses anything published under its name.
MANUAL_DEVICE = "kc-manual"
MANUAL_SITE = "Bổ sung thủ công"
# Not a kind of the MQTT contract (ingest.contract.CredentialKind): no reader can send it.
MANUAL_KIND = "manual"
MANUAL_PUNCHES = cast(Table, ManualPunch.__table__)


def _ensure_reader(db: DbSession, now: datetime) -> None:
    if db.get(Device, MANUAL_DEVICE) is None:
        db.add(
            Device(
                id=MANUAL_DEVICE,
                agency_id=None,
                site=MANUAL_SITE,
                name="Chấm công bổ sung thủ công (đề nghị đã duyệt)",
                direction="both",
                secret_hash="!",  # never a valid hash: nobody signs in as this reader
                enabled=False,  # and it never holds back a unit's high-water mark
                created_at=now,
            )
        )
        db.flush()


def _credential(db: DbSession, employee: Employee) -> str:
    """The person's manual credential (one per person, valid from their start), valid on the
    manual reader only, like any enrolment number on its reader."""
    value = f"employee-{employee.id}"
    found = db.scalar(
        select(Credential.id).where(Credential.kind == MANUAL_KIND, Credential.value == value)
    )
    if found is None:
        db.add(
            Credential(
                employee_id=employee.id,
                kind=MANUAL_KIND,
                value=value,
                valid_from=datetime.combine(employee.active_from, datetime.min.time(), UTC),
                device_id=MANUAL_DEVICE,
            )
        )
        db.flush()
    return value


def add_manual_punch(
    db: DbSession,
    employee: Employee,
    punched_at: datetime,
    *,
    request_id: int,
    requested_by: str,
    approved_by: str,
    reason: str,
    now: datetime,
    direction: str | None = None,
    session: str | None = None,
) -> int:
    """Store the punch and its provenance and queue the day it touches; returns the punch id.

    One manual punch per request (the event id is the request's): approving twice adds none.
    ``direction`` ("in" vào / "out" ra) and ``session`` are what the person said the punch
    was ("Quên chấm công ra (sáng)"); with both, the rules honour them (rules.attribution).
    """
    _ensure_reader(db, now)
    value = _credential(db, employee)
    provenance = {
        "request_id": request_id,
        "requested_by": requested_by,
        "approved_by": approved_by,
        "approved_at": now.isoformat(),
        "reason": reason,
        **({"direction": direction, "session": session} if direction and session else {}),
    }
    ids = insert_punches(
        db,
        [
            {
                "device_id": MANUAL_DEVICE,
                "event_id": f"request-{request_id}",
                "credential_kind": MANUAL_KIND,
                "credential_value": value,
                "device_time": punched_at,
                "clock_offset_s": 0.0,
                "punched_at": punched_at,
                "received_at": now,
                "direction": direction if direction and session else "unknown",
                "verify_mode": "manual",
                "raw": json.dumps(provenance, ensure_ascii=False),
            }
        ],
    )
    if not ids:
        existing = db.scalar(
            select(ManualPunch.punch_id).where(ManualPunch.request_id == request_id)
        )
        return int(existing) if existing is not None else 0
    db.add(
        ManualPunch(
            punch_id=ids[0],
            employee_id=employee.id,
            punched_at=punched_at,
            request_id=request_id,
            requested_by=requested_by,
            approved_by=approved_by,
            approved_at=now,
            reason=reason,
            session=session if direction else None,
        )
    )
    db.flush()
    enqueue_for_punches(db, ids, "manual_punch")
    return ids[0]
