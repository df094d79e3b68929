"""Readers (máy chấm công) as operators see them: online, last seen, clock, backlog, unknown
cards; and the gauges Prometheus scrapes from the database."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from services.schemas import Device
from services.scope import Scope
from store.models import DeadLetter, DeadLetterTally, Punch, RecomputeRequest, UnmatchedPunch
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
