"""Readers (máy chấm công) as operators see them: online, last seen, clock, backlog, unknown
cards; and the gauges Prometheus scrapes from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from devices import provision
from kycuong.errors import NotFound
from kycuong.labels import dead_letter_label
from services.schemas import Device
from services.scope import Scope
from store.models import (
    DeadLetter,
    DeadLetterTally,
    Punch,
    RecomputeRequest,
    Unit,
    UnmatchedPunch,
)
from store.models import Device as DeviceRow

ONLINE_WITHIN = timedelta(minutes=3)


def status(db: DbSession, scope: Scope, now: datetime) -> list[Device]:
    """Every reader with its state; online means heard from within three minutes."""
    scope.require("devices:read")
    unknown = dict(
        db.execute(
            select(UnmatchedPunch.device_id, func.count())
            .where(UnmatchedPunch.punched_at >= now - timedelta(days=1))
            .group_by(UnmatchedPunch.device_id)
        ).all()
    )
    result = []
    for d in db.scalars(select(DeviceRow).order_by(DeviceRow.id)):
        online = (
            d.last_seen_at is not None
            and now - d.last_seen_at <= ONLINE_WITHIN
            and d.state != "offline"
        )
        result.append(
            Device(
                id=d.id,
                site=d.site,
                direction=d.direction,
                enabled=d.enabled,
                state=d.state,
                online=online,
                last_seen_at=d.last_seen_at,
                clock_offset_s=d.clock_offset_s,
                sent_up_to=d.sent_up_to,
                backlog=d.backlog,
                unknown_cards_24h=int(unknown.get(d.id, 0)),
            )
        )
    return result


def site_names(db: DbSession) -> dict[str, str]:
    """Reader id → the site people know it by ("Cổng phụ"); the id where no site is set."""
    return {d: (s or d) for d, s in db.execute(select(DeviceRow.id, DeviceRow.site))}


def gauges(db: DbSession, now: datetime) -> dict[str, float | dict[str, float]]:
    """What the database says about the pipeline, for /metrics (no scope: operators only)."""
    # Refused messages kept (each with its repeat count) or counted beyond a device's cap.
    dead: dict[str, float] = {}
    for table in (DeadLetter, DeadLetterTally):
        for reason, count in db.execute(
            select(table.reason_code, func.sum(table.count)).group_by(table.reason_code)
        ):
            dead[reason] = dead.get(reason, 0.0) + float(count or 0)
    queue = db.scalar(select(func.count()).select_from(RecomputeRequest)) or 0
    unmatched = (
        db.scalar(
            select(func.count())
            .select_from(UnmatchedPunch)
            .where(UnmatchedPunch.matched_employee_id.is_(None))
        )
        or 0
    )
    last = db.scalar(select(func.max(Punch.received_at)))
    online = offline = 0
    for seen, enabled in db.execute(select(DeviceRow.last_seen_at, DeviceRow.enabled)):
        if enabled and seen is not None and now - seen <= ONLINE_WITHIN:
            online += 1
        elif enabled:
            offline += 1
    result: dict[str, float | dict[str, float]] = {
        "dead_letters": dead,
        "queue": float(queue),
        "unmatched": float(unmatched),
        "devices": {"online": float(online), "offline": float(offline)},
    }
    if last is not None:
        result["since_last_punch"] = (now - last).total_seconds()
    return result


# -- the readers page (Đầu đọc): status within the caller's agencies, enable, disable, rotate --


@dataclass(frozen=True, slots=True)
class Reader:
    """A reader as the readers page shows it."""

    id: str
    name: str
    site: str
    direction: str
    enabled: bool
    online: bool
    last_seen_at: datetime | None
    clock_offset_s: float | None
    sent_up_to: datetime | None
    backlog: int | None
    unknown_open: int  # unknown cards and numbers not yet registered (all time)


@dataclass(frozen=True, slots=True)
class RefusedMessage:
    """A dead letter (tin bị từ chối): its Vietnamese reason by code, the stored detail."""

    id: int
    device_id: str | None
    reason_code: str
    reason_label: str
    detail: str
    topic: str
    received_at: datetime
    last_received_at: datetime
    count: int


@dataclass(frozen=True, slots=True)
class RefusedTally:
    """Refused messages beyond a reader's cap, counted per reason."""

    device_id: str
    reason_code: str
    reason_label: str
    count: int
    first_received_at: datetime
    last_received_at: datetime


def _agencies(db: DbSession, scope: Scope) -> set[int] | None:
    if scope.unit_ids is None:
        return None
    return set(
        db.scalars(select(Unit.agency_id).where(Unit.id.in_(sorted(scope.unit_ids))).distinct())
    )


def _visible(db: DbSession, scope: Scope, device_id: str) -> DeviceRow:
    device = db.get(DeviceRow, device_id)
    agencies = _agencies(db, scope)
    if device is None or (agencies is not None and device.agency_id not in agencies):
        raise NotFound("Đầu đọc")
    return device


def readers(db: DbSession, scope: Scope, now: datetime) -> list[Reader]:
    """The readers of the caller's agencies (every reader for an unrestricted scope)."""
    scope.require("devices:read")
    agencies = _agencies(db, scope)
    unknown = dict(
        db.execute(
            select(
                UnmatchedPunch.device_id, func.count(func.distinct(UnmatchedPunch.credential_value))
            )
            .where(UnmatchedPunch.matched_employee_id.is_(None))
            .group_by(UnmatchedPunch.device_id)
        ).all()
    )
    query = select(DeviceRow).order_by(DeviceRow.site, DeviceRow.id)
    if agencies is not None:
        query = query.where(DeviceRow.agency_id.in_(sorted(agencies)))
    return [
        Reader(
            id=d.id,
            name=d.name if d.name != d.id else "",
            site=d.site,
            direction=d.direction,
            enabled=d.enabled,
            online=d.enabled
            and d.last_seen_at is not None
            and now - d.last_seen_at <= ONLINE_WITHIN
            and d.state != "offline",
            last_seen_at=d.last_seen_at,
            clock_offset_s=d.clock_offset_s,
            sent_up_to=d.sent_up_to,
            backlog=d.backlog,
            unknown_open=int(unknown.get(d.id, 0)),
        )
        for d in db.scalars(query)
    ]


def set_enabled(db: DbSession, scope: Scope, device_id: str, enabled: bool) -> None:
    """Enable or disable (khóa) a reader: a disabled reader's messages become dead letters
    and the built-in broker refuses its sign-in."""
    scope.require("devices:write")
    _visible(db, scope, device_id).enabled = enabled


def rotate(db: DbSession, scope: Scope, device_id: str) -> str:
    """A new broker password for a reader; returned once, only its hash is kept."""
    scope.require("devices:write")
    _visible(db, scope, device_id)
    return provision.rotate_secret(db, device_id)


def refused(
    db: DbSession, scope: Scope, device_id: str | None = None, limit: int = 200
) -> tuple[list[RefusedMessage], list[RefusedTally]]:
    """The most recent dead letters (and tallies beyond the cap), with Vietnamese reasons;
    an agency-scoped caller sees those of its readers only."""
    scope.require("devices:read")
    agencies = _agencies(db, scope)
    letters = select(DeadLetter).order_by(
        func.coalesce(DeadLetter.last_received_at, DeadLetter.received_at).desc(),
        DeadLetter.id.desc(),
    )
    tallies = select(DeadLetterTally).order_by(DeadLetterTally.last_received_at.desc())
    if agencies is not None:
        theirs = select(DeviceRow.id).where(DeviceRow.agency_id.in_(sorted(agencies)))
        letters = letters.where(DeadLetter.device_id.in_(theirs))
        tallies = tallies.where(DeadLetterTally.device_id.in_(theirs))
    if device_id:
        letters = letters.where(DeadLetter.device_id == device_id)
        tallies = tallies.where(DeadLetterTally.device_id == device_id)
    return (
        [
            RefusedMessage(
                id=d.id,
                device_id=d.device_id,
                reason_code=d.reason_code,
                reason_label=dead_letter_label(d.reason_code),
                detail=d.reason,
                topic=d.topic,
                received_at=d.received_at,
                last_received_at=d.last_received_at or d.received_at,
                count=d.count,
            )
            for d in db.scalars(letters.limit(limit))
        ],
        [
            RefusedTally(
                device_id=t.device_id,
                reason_code=t.reason_code,
                reason_label=dead_letter_label(t.reason_code),
                count=t.count,
                first_received_at=t.first_received_at,
                last_received_at=t.last_received_at,
            )
            for t in db.scalars(tallies.limit(limit))
        ],
    )
