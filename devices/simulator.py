"""A simulator of a realistic office day (một ngày làm việc), usable as a load generator.

``office_day`` is pure: it turns a roster into timed events (most arrive on time, some
late, a few absent; lunch punches; double taps; an unknown card; a reader that goes
offline and flushes its backlog later; one malformed payload). ``play`` publishes them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from devices.reader import Reader
from ingest.failover import BrokerAddress
from rules.zones import zone
from store.models import Credential, Device, Employee

log = logging.getLogger(__name__)

EventKind = Literal["punch", "malformed"]


@dataclass(frozen=True, slots=True)
class Badge:
    employee_code: str
    card: str


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One thing a reader does: a punch (at device time ``at``) or a broken message."""

    at: datetime
    device_id: str
    card: str
    direction: str
    event_id: str
    kind: EventKind = "punch"
    publish_at: datetime | None = None  # later than ``at`` when the reader was offline


@dataclass(frozen=True, slots=True)
class OfficeDay:
    day: date
    events: list[SimEvent]
    absent: frozenset[str]
    late: frozenset[str]
    offline_device: str | None
    unknown_card: str
    # when ``offline_device`` was cut off: its punches then are published at ``offline_until``
    offline_from: datetime | None = None
    offline_until: datetime | None = None


def _at(day: date, tz: ZoneInfo, hh: int, mm: int, jitter_s: float) -> datetime:
    base = datetime.combine(day, dtime(hh, mm), tzinfo=tz)
    return base + timedelta(seconds=jitter_s)


def office_day(
    badges: Sequence[Badge],
    device_ids: Sequence[str],
    day: date,
    *,
    tz: ZoneInfo | None = None,
    seed: int = 1,
    late_share: float = 0.10,
    absent_share: float = 0.03,
    double_tap_share: float = 0.05,
    lunch_share: float = 0.9,
) -> OfficeDay:
    """Generate the events of one working day (07:30–11:30, 13:00–17:00) for ``badges``."""
    tz = tz or zone()
    rng = random.Random(seed)
    events: list[SimEvent] = []
    seq = {d: 0 for d in device_ids}
    absent: set[str] = set()
    late: set[str] = set()

    def emit(at: datetime, card: str, direction: str) -> None:
        device = rng.choice(device_ids)
        seq[device] += 1
        event_id = f"{device}-{day:%Y%m%d}-{seq[device]:06d}"
        events.append(SimEvent(at, device, card, direction, event_id))
        if rng.random() < double_tap_share:
            seq[device] += 1
            again = at + timedelta(seconds=rng.uniform(2, 30))
            events.append(
                SimEvent(again, device, card, direction, f"{device}-{day:%Y%m%d}-{seq[device]:06d}")
            )

    for badge in badges:
        roll = rng.random()
        if roll < absent_share:
            absent.add(badge.employee_code)
            continue
        if roll < absent_share + late_share:
            late.add(badge.employee_code)
            arrive = _at(day, tz, 7, 36, rng.uniform(0, 40 * 60))
        else:
            arrive = _at(day, tz, 7, 20, rng.gauss(0, 240))
            arrive = min(arrive, _at(day, tz, 7, 35, 0))
        emit(arrive, badge.card, "in")
        if rng.random() < lunch_share:
            emit(_at(day, tz, 11, 31, rng.uniform(0, 600)), badge.card, "out")
            emit(_at(day, tz, 12, 50, rng.uniform(0, 600)), badge.card, "in")
        leave = _at(day, tz, 17, 2, rng.uniform(0, 900))
        if rng.random() < 0.04:
            leave = _at(day, tz, 16, 20, rng.uniform(0, 1800))
        emit(leave, badge.card, "out")

    unknown_card = "99" + f"{rng.randrange(10**8):08d}"
    device = device_ids[0]
    seq[device] += 1
    events.append(
        SimEvent(
            _at(day, tz, 7, 41, 0),
            device,
            unknown_card,
            "in",
            f"{device}-{day:%Y%m%d}-{seq[device]:06d}",
        )
    )
    events.append(SimEvent(_at(day, tz, 7, 45, 0), device, "", "in", "malformed", kind="malformed"))

    offline = device_ids[-1] if len(device_ids) > 1 else None
    down, up = _at(day, tz, 7, 25, 0), _at(day, tz, 7, 55, 0)
    if offline is not None:
        events = [
            SimEvent(e.at, e.device_id, e.card, e.direction, e.event_id, e.kind, up)
            if e.device_id == offline and down <= e.at < up
            else e
            for e in events
        ]
    events.sort(key=lambda e: (e.publish_at or e.at, e.at))
    return OfficeDay(
        day,
        events,
        frozenset(absent),
        frozenset(late),
        offline,
        unknown_card,
        down if offline else None,
        up if offline else None,
    )


def day_seed(seed: int, day: date) -> int:
    """The seed of one date's plan: each day has its own late and absent people, and the same
    date is the same plan at every run (a day played live, then again whole, stores nothing
    twice: its event ids are the same)."""
    return seed * 1_000_000 + day.toordinal()


def is_working_day(day: date) -> bool:
    """Not a weekend, not a public holiday (the simulator's offices keep Monday to Friday)."""
    import holidays

    return day.weekday() < 5 and day not in holidays.country_holidays("VN", years=day.year)


def due(plan: OfficeDay, now: datetime) -> list[SimEvent]:
    """The events a reader playing ``plan`` has sent by ``now`` (an offline reader's punches
    only once it is back)."""
    return [e for e in plan.events if (e.publish_at or e.at) <= now]


def sent_up_to(plan: OfficeDay, device_id: str, now: datetime) -> datetime:
    """Up to when ``device_id`` has sent everything at ``now``: ``now``, except the reader
    that is offline, which is behind from the moment it went offline until it is back."""
    if (
        device_id == plan.offline_device
        and plan.offline_from is not None
        and plan.offline_until is not None
        and plan.offline_from <= now < plan.offline_until
    ):
        return plan.offline_from
    return now


def badges_from_db(db: DbSession, at: datetime) -> list[Badge]:
    """Every employee's card valid at ``at``."""
    rows = db.execute(
        select(Employee.code, Credential.value)
        .join(Credential, Credential.employee_id == Employee.id)
        .where(Credential.kind == "card", Credential.valid_from <= at)
        .where((Credential.valid_to.is_(None)) | (Credential.valid_to > at))
        .order_by(Employee.code)
    ).all()
    return [Badge(code, card) for code, card in rows]


def device_ids_from_db(db: DbSession) -> list[str]:
    return list(db.scalars(select(Device.id).where(Device.enabled.is_(True)).order_by(Device.id)))


def office_day_from_db(
    db: DbSession, day: date, *, tz: ZoneInfo | None = None, seed: int = 1
) -> OfficeDay | None:
    """The simulated ``day`` for the people with cards and the readers in the database
    (None when there are none yet)."""
    badges = badges_from_db(db, datetime.now(zone()))
    device_ids = device_ids_from_db(db)
    if not badges or not device_ids:
        return None
    return office_day(badges, device_ids, day, tz=tz, seed=seed)


def last_working_day(today: date) -> date:
    """The most recent working day before ``today`` (not a weekend, not a public holiday)."""
    import holidays

    days_off = holidays.country_holidays("VN", years=range(today.year - 1, today.year + 1))
    day = today - timedelta(days=1)
    while day.weekday() >= 5 or day in days_off:
        day -= timedelta(days=1)
    return day


def play(
    plan: OfficeDay,
    host: str | Sequence[BrokerAddress],
    port: int,
    *,
    speed: float = 0.0,
    secrets: dict[str, str] | None = None,
    progress: Callable[[str], None] = log.info,
    receipt_timeout: float = 120.0,
    tls_ca: str | None = None,
) -> int:
    """Publish a day's events over MQTT; ``speed`` > 0 compresses time (600 = 1 h in 6 s).

    Returns the number of messages published; waits up to ``receipt_timeout`` for the
    server's receipts (a reader resends what is not confirmed).
    """
    readers = {
        d: Reader(d, host, port, password=(secrets or {}).get(d), tls_ca=tls_ca)
        for d in {e.device_id for e in plan.events}
    }
    for reader in readers.values():
        reader.connect()
    sent = 0
    started = time.monotonic()
    first = plan.events[0].publish_at or plan.events[0].at if plan.events else None
    offline_reported = False
    try:
        for event in plan.events:
            when = event.publish_at or event.at
            if speed > 0 and first is not None:
                delay = (when - first).total_seconds() / speed - (time.monotonic() - started)
                if delay > 0:
                    time.sleep(delay)
            reader = readers[event.device_id]
            if event.publish_at is not None and not offline_reported:
                progress(f"{event.device_id}: back online, flushing its backlog")
                offline_reported = True
            if event.kind == "malformed":
                reader.publish_raw("punch", b'{"v": 1, "event_id": "broken", "ts": ')
            else:
                reader.punch(event.event_id, event.card, event.at, direction=event.direction)
            sent += 1
            if sent % 200 == 0:
                progress(f"simulator: {sent}/{len(plan.events)} messages published")
        now = datetime.now(zone())
        for device_id, reader in readers.items():
            # Sent up to its last event played (a caller may hold a backlog back); a reader
            # that goes on, as the quickstart's LiveDay, says later it is caught up to now.
            reader.heartbeat(
                now, max((e.at for e in plan.events if e.device_id == device_id), default=None)
            )
            reader.drain(timeout=120)
        for reader in readers.values():
            try:  # the broker's PUBACK is not storage: wait for the server's receipts
                reader.wait_receipts(timeout=receipt_timeout)
            except TimeoutError as exc:
                progress(f"simulator: {exc}")
    finally:
        for reader in readers.values():
            reader.close()
    progress(f"simulator: {sent} messages published, punches confirmed stored by the server")
    return sent


class LiveDay:
    """Today played as it happens, for the quickstart: ``catch_up`` sends at once what the
    readers would have sent by now (a quickstart opened at 09:40 shows the morning's arrivals,
    the late ones, the reader that was offline 07:25–07:55), then ``run`` sends each later
    punch when its time comes and a heartbeat every minute, until ``stop`` is set. Without a
    plan (a weekend, a holiday) the readers only send heartbeats, as idle readers do."""

    def __init__(
        self,
        plan: OfficeDay | None,
        device_ids: Sequence[str],
        host: str | Sequence[BrokerAddress],
        port: int,
        *,
        secrets: dict[str, str] | None = None,
        tls_ca: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.plan = plan
        self.clock = clock or (lambda: datetime.now(zone()))
        self.readers = {
            d: Reader(d, host, port, password=(secrets or {}).get(d), tls_ca=tls_ca)
            for d in device_ids
        }
        self.sent: set[str] = set()

    def connect(self) -> None:
        for reader in self.readers.values():
            reader.connect()

    def catch_up(self) -> int:
        """Send the punches due by now not sent yet, then each reader's heartbeat."""
        now = self.clock()
        sent = 0
        if self.plan is not None:
            for event in due(self.plan, now):
                if event.event_id in self.sent:
                    continue
                self.sent.add(event.event_id)
                reader = self.readers[event.device_id]
                if event.kind == "malformed":
                    reader.publish_raw("punch", b'{"v": 1, "event_id": "broken", "ts": ')
                else:
                    reader.punch(event.event_id, event.card, event.at, direction=event.direction)
                sent += 1
        for device_id, reader in self.readers.items():
            mark = sent_up_to(self.plan, device_id, now) if self.plan is not None else now
            reader.heartbeat(now, mark, backlog=0 if mark == now else 1)
        return sent

    def wait_stored(self, timeout: float = 120.0) -> None:
        for reader in self.readers.values():
            reader.drain(timeout=timeout)
            reader.wait_receipts(timeout=timeout)

    def run(self, stop: threading.Event, every: float = 60.0) -> None:
        """Keep playing until ``stop``: the punches as their time comes, a heartbeat a minute."""
        while not stop.is_set():
            try:
                self.catch_up()
            except Exception:  # a broker restart: the readers reconnect, the next round resends
                log.exception("simulator: a round of today's office day failed")
            stop.wait(self._until_next(every))

    def _until_next(self, every: float) -> float:
        now = self.clock()
        if self.plan is None:
            return every
        later = [(e.publish_at or e.at) for e in self.plan.events if e.event_id not in self.sent]
        wait = min([(t - now).total_seconds() for t in later if t > now], default=every)
        return max(1.0, min(every, wait))

    def close(self) -> None:
        for reader in self.readers.values():
            reader.close()
