"""The scheduler's notification jobs: the unit heads' digests at fixed local times, and Nội
vụ's monthly report on the 1st. Each remembers how far it got (``scheduler_state``) in the
transaction that queues its messages, so a restart, a missed time or a second run neither
skips nor repeats anything."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session as DbSession

from kycuong.labels import EXCUSE, SESSION, VIOLATION
from kycuong.settings import Settings
from notify import links, recipients
from notify.render import minutes_text
from rules.zones import zone
from services import events
from services.notifications import enqueue
from services.scope import subtree_units
from store.db import db_session
from store.models import (
    Employee,
    ExcuseRecord,
    SchedulerState,
    StaffRequest,
    Unit,
    User,
    ViolationRecord,
)

log = logging.getLogger(__name__)
DIGEST_STATE = "notify_digest_until"
MONTHLY_STATE = "notify_monthly_done"  # the last month reported, "YYYY-MM"
DIGEST_LIMIT = 50


def _state(db: DbSession, key: str) -> SchedulerState | None:
    return db.get(SchedulerState, key)


def _remember(db: DbSession, key: str, value: str) -> None:
    state = db.get(SchedulerState, key)
    if state is None:
        db.add(SchedulerState(key=key, value=value))
    else:
        state.value = value


def last_slot(now: datetime, times: list[time], tz: Any) -> datetime | None:
    """The latest of the daily local ``times`` at or before ``now``."""
    local = now.astimezone(tz)
    for back in (0, 1):
        day = local.date() - timedelta(days=back)
        slots = [datetime.combine(day, t, tzinfo=tz) for t in times]
        earlier = [s for s in slots if s <= local]
        if earlier:
            return max(earlier).astimezone(UTC)
    return None


def new_violations(
    db: DbSession, units: frozenset[int], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Violations in ``units`` first detected in (since, until] and standing now."""
    v = ViolationRecord
    rows = db.execute(
        select(v.day, v.session, v.kind, v.minutes, v.provisional, Employee.full_name)
        .join(Employee, Employee.id == v.employee_id)
        .where(
            v.unit_id.in_(units),
            v.active.is_(True),
            v.detected_at > since,
            v.detected_at <= until,
        )
        .order_by(v.day, Employee.full_name, v.session)
    ).all()
    items = []
    for day, session, kind, minutes, provisional, name in rows:
        extra = minutes_text(kind, minutes)
        label = VIOLATION.get(kind, kind) + (f" {extra}" if extra else "")
        label += f", buổi {SESSION.get(session, session).lower()}"
        items.append(
            {"day": f"{day:%d/%m/%Y}", "person": name, "label": label, "provisional": provisional}
        )
    return items


def pending_requests(
    db: DbSession, units: frozenset[int], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Requests waiting for the head, made in (since, until]: leave and trips (xin nghỉ, đi
    công tác) entered for approval, and the staff's own requests (services/requests.py)."""
    x = ExcuseRecord
    rows = db.execute(
        select(x.kind, x.first_day, x.last_day, Employee.full_name)
        .join(Employee, Employee.id == x.employee_id)
        .where(
            Employee.unit_id.in_(units),
            x.status == "pending",
            x.created_at > since,
            x.created_at <= until,
        )
        .order_by(x.first_day, Employee.full_name)
    ).all()
    items = []
    for kind, first, last, name in rows:
        days = f"{first:%d/%m/%Y}" + (f" đến {last:%d/%m/%Y}" if last != first else "")
        items.append({"person": name, "label": f"{EXCUSE.get(kind, kind)} {days}"})
    # Self-service requests (giải trình, bổ sung giờ chấm, xin nghỉ, công tác) in the same list.
    staff = db.execute(
        select(StaffRequest, Employee.full_name)
        .join(Employee, Employee.id == StaffRequest.employee_id)
        .where(
            StaffRequest.unit_id.in_(units),
            StaffRequest.status == "pending",
            StaffRequest.created_at > since,
            StaffRequest.created_at <= until,
        )
        .order_by(StaffRequest.created_at, Employee.full_name)
    ).all()
    for request, name in staff:
        items.append({"person": name, "label": events.request_title(db, request)})
    return items


def unit_digests(db: DbSession, now: datetime, times: list[time], tz: Any, public_url: str) -> int:
    """Queue each unit head's digest for the latest slot passed; returns how many were queued.

    The window runs from the previous digest's slot: nothing new, nothing queued."""
    slot = last_slot(now, times, tz)
    if slot is None:
        return 0
    state = _state(db, DIGEST_STATE)
    since = datetime.fromisoformat(state.value) if state else slot - timedelta(hours=24)
    if slot <= since:
        return 0
    heads = db.scalars(
        select(User).where(
            User.role == "unit_head", User.active.is_(True), User.unit_id.is_not(None)
        )
    ).all()
    queued = 0
    for head in heads:
        assert head.unit_id is not None
        units = subtree_units(db, unit_id=head.unit_id)
        violations = new_violations(db, units, since, slot)
        requests = pending_requests(db, units, since, slot)
        if not violations and not requests:
            continue
        unit = db.get(Unit, head.unit_id)
        made = enqueue(
            db,
            kind="unit_digest",
            recipient=recipients.user(head.id),
            dedupe_key=f"digest:{head.id}:{slot:%Y%m%dT%H%M}",
            template="unit_digest",
            context={
                "unit": unit.name if unit else "",
                "since": since.astimezone(tz).strftime("%H:%M %d/%m/%Y"),
                "at": slot.astimezone(tz).strftime("%H:%M %d/%m/%Y"),
                "violations": violations,
                "requests": requests,
                "limit": DIGEST_LIMIT,
                "link": links.head_queue(public_url),
                "requests_link": links.head_requests(public_url),
            },
            now=now,
        )
        queued += made is not None
    _remember(db, DIGEST_STATE, slot.isoformat())
    if queued:
        log.info("unit digests for %s: %d queued", slot.isoformat(), queued)
    return queued


def previous_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def monthly_reports(db: DbSession, now: datetime, at: time, settings: Settings, tz: Any) -> int:
    """On the 1st (from ``at`` local) or any later day of the month, queue last month's report
    to every Nội vụ account, once; returns how many were queued. The report itself is built
    when sent (notify/reports.py)."""
    local = now.astimezone(tz)
    if local.day == 1 and local.time().replace(tzinfo=None) < at:
        return 0
    month = previous_month(local.date())
    label = f"{month:%Y-%m}"
    state = _state(db, MONTHLY_STATE)
    if state is not None and state.value >= label:
        return 0
    queued = 0
    for account in db.scalars(select(User).where(User.role == "noi_vu", User.active.is_(True))):
        # Only the month and the account: the summary and its XLSX are made when the message
        # is sent (notify/reports.py), so they carry the data as of sending.
        made = enqueue(
            db,
            kind="monthly_summary",
            recipient=recipients.user(account.id),
            dedupe_key=f"monthly:{account.id}:{label}",
            template="monthly_summary",
            context={
                "period": f"tháng {month:%m/%Y}",
                "year": month.year,
                "month": month.month,
                "link": links.summaries(settings.public_url),
            },
            now=now,
        )
        queued += made is not None
    _remember(db, MONTHLY_STATE, label)
    log.info("monthly report of %s: %d queued", label, queued)
    return queued


def parse_times(values: list[str]) -> list[time]:
    return sorted(time.fromisoformat(v.strip()) for v in values if v.strip())


class NotifyJobs:
    """The digests and the monthly report as APScheduler jobs of the one scheduler."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.tz = zone(settings.timezone)
        self.digest_times = parse_times(settings.notify_digest_times)
        self.monthly_at = time.fromisoformat(settings.notify_monthly_at)

    def digest(self) -> int:
        with db_session(self.engine) as db:
            return unit_digests(
                db, self.clock(), self.digest_times, self.tz, self.settings.public_url
            )

    def monthly(self) -> int:
        with db_session(self.engine) as db:
            return monthly_reports(db, self.clock(), self.monthly_at, self.settings, self.tz)

    def install(self, scheduler: Any) -> None:
        """Add the jobs to an APScheduler scheduler (its zone is the agency's)."""
        for t in self.digest_times:
            scheduler.add_job(
                self.digest,
                "cron",
                hour=t.hour,
                minute=t.minute,
                id=f"notify-digest-{t:%H%M}",
                replace_existing=True,
            )
        scheduler.add_job(
            self.monthly,
            "cron",
            day=1,
            hour=self.monthly_at.hour,
            minute=self.monthly_at.minute,
            id="notify-monthly",
            replace_existing=True,
        )

    def catch_up(self) -> None:
        """At start: a digest or a monthly report whose time passed while down."""
        for job in (self.digest, self.monthly):
            try:
                job()
            except Exception:  # the scheduler's own run will try again; never stop the role
                log.exception("notification catch-up %s failed", job.__name__)
