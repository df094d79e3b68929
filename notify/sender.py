"""The sender: claims due messages from the outbox, renders and sends each, marks it sent once.

Runs in the scheduler role (``kycuong rules``) or alone (``kycuong notify send``). Delivery
is at least once, with one narrow window: a process that dies after a channel accepted a
message and before ``mark_sent`` commits leaves the message ``sending``; when its lease runs
out another sender sends it again, with the same Message-ID (and webhook id), which the
receiving side can use to drop the copy. Nothing else sends twice: claims are row-locked
and every status change is guarded by the claiming sender's token.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from kycuong.labels import vn_number
from kycuong.metrics import NOTIFY_FAILURES, NOTIFY_LEASE_LOST, NOTIFY_OUTBOX, NOTIFY_SENT
from kycuong.settings import Settings
from notify import reports
from notify.channels import (
    Channel,
    EmailChannel,
    Outgoing,
    SendError,
    SmtpConfig,
    WebhookChannel,
    WebhookConfig,
)
from notify.quiet import QuietHours
from notify.recipients import Contact, contact
from notify.render import Gone, render
from rules.zones import zone
from store import outbox
from store.db import db_session
from store.models import OutboxMessage

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
STATUSES = ("queued", "waiting", "sending", "sent", "failed", "cancelled", "expired")
NO_ADDRESS = (
    "Người nhận chưa có địa chỉ e-mail: thông báo chờ và được gửi ngay khi có địa chỉ "
    "(Nhập danh sách cột E-mail, trang Cán bộ hoặc kycuong notify contact)."
)


def expired_reason(wait: timedelta) -> str:
    """Why a notice that waited for an address too long is not sent (the page shows it)."""
    days = wait.total_seconds() / 86400
    span = (
        f"{vn_number(days)} ngày" if days >= 1 else f"{vn_number(wait.total_seconds() / 3600)} giờ"
    )
    return (
        f"Người nhận vẫn chưa có địa chỉ sau {span} chờ: thông báo đã hết hạn và sẽ không "
        "được gửi, kể cả khi có địa chỉ sau này."
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class SendStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    postponed: int = 0
    cancelled: int = 0
    waiting: int = 0
    expired: int = 0


@dataclass(frozen=True, slots=True)
class SenderConfig:
    public_url: str = "http://127.0.0.1:8000"
    agency_name: str = ""
    timezone: str = "Asia/Ho_Chi_Minh"
    quiet: QuietHours | None = None
    max_attempts: int = 8
    backoff_s: float = 30.0
    backoff_max_s: float = 6 * 3600.0
    lease: timedelta = timedelta(minutes=5)
    # A message waiting for an address is released when one is added; checked again this
    # often anyway (an address set by a path that does not release, a channel configured).
    address_recheck: timedelta = timedelta(hours=1)
    # A message waiting that long for an address expires (hết hạn): it would arrive stale.
    address_wait: timedelta = timedelta(days=7)
    batch: int = 20
    poll_s: float = 5.0
    reports: reports.ReportOptions = field(default_factory=reports.ReportOptions)

    def backoff(self, attempts: int) -> timedelta:
        """30 s, 1 min, 2 min… after the 1st, 2nd, 3rd failed attempt, up to the ceiling."""
        return timedelta(
            seconds=min(self.backoff_s * 2 ** max(attempts - 1, 0), self.backoff_max_s)
        )


def channels_from(settings: Settings) -> dict[str, Channel]:
    return {
        "email": EmailChannel(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                starttls=settings.smtp_starttls,
                use_ssl=settings.smtp_ssl,
                user=settings.smtp_user,
                password=settings.smtp_password,
                sender=settings.smtp_from,
                timeout_s=settings.smtp_timeout_s,
            )
        ),
        "webhook": WebhookChannel(
            WebhookConfig(
                url=settings.webhook_url,
                secret=settings.webhook_secret,
                timeout_s=settings.webhook_timeout_s,
            )
        ),
    }


def config_from(settings: Settings) -> SenderConfig:
    return SenderConfig(
        public_url=settings.public_url,
        agency_name=settings.agency_name,
        timezone=settings.timezone,
        quiet=QuietHours.parse(settings.notify_quiet_hours),
        max_attempts=settings.notify_max_attempts,
        backoff_s=settings.notify_backoff_s,
        backoff_max_s=settings.notify_backoff_max_s,
        lease=timedelta(seconds=settings.notify_lease_s),
        poll_s=settings.notify_poll_s,
        address_wait=timedelta(days=settings.notify_address_wait_days),
        reports=reports.ReportOptions(
            thresholds=settings.thresholds,
            timezone=settings.timezone,
            recipient=settings.report_recipient,
            issuer_fallback=settings.report_issuer,
            place=settings.report_place,
        ),
    )


class Sender:
    """One sender; several may run against PostgreSQL (each claims its own rows)."""

    def __init__(
        self,
        engine: Engine,
        channels: Mapping[str, Channel],
        config: SenderConfig | None = None,
        *,
        clock: Clock = utc_now,
        name: str | None = None,
    ) -> None:
        self.engine = engine
        self.channels = dict(channels)
        self.config = config or SenderConfig()
        self.clock = clock
        self.name = name or f"sender-{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="notify-sender", daemon=True)

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings, clock: Clock = utc_now) -> Sender:
        return cls(engine, channels_from(settings), config_from(settings), clock=clock)

    def choose(self, who: Contact) -> Channel:
        """The person's channel if it can reach them; else e-mail if they have one; else the
        webhook if there is one; else e-mail (which then says what is missing)."""
        wanted = self.channels.get(who.channel or "")
        if wanted is not None and wanted.address(who):
            return wanted
        for name in ("email", "webhook"):
            channel = self.channels.get(name)
            if channel is not None and channel.address(who):
                return channel
        return self.channels.get("email") or next(iter(self.channels.values()))

    def run_once(self) -> SendStats:
        """Claim one batch of due messages and send each."""
        stats = SendStats()
        now = self.clock()
        with db_session(self.engine) as db:
            stats.expired = outbox.expire_waiting(db, now, expired_reason(self.config.address_wait))
            claimed = outbox.claim(db, self.name, now, self.config.lease, self.config.batch)
        stats.claimed = len(claimed)
        for message in claimed:
            self._one(message, stats)
        return stats

    def drain(self, limit: int = 10_000) -> SendStats:
        """Send until nothing is due (messages waiting for a later time stay)."""
        total = SendStats()
        while total.claimed < limit:
            stats = self.run_once()
            for name in SendStats.__slots__:
                setattr(total, name, getattr(total, name) + getattr(stats, name))
            if not stats.claimed:
                break
        return total

    def _one(self, message: OutboxMessage, stats: SendStats) -> None:
        now = self.clock()
        channel: Channel | None = None
        address: str | None = None
        try:
            with db_session(self.engine) as db:
                who = contact(db, message.recipient, self.config.quiet)
                if who is None:
                    raise SendError("Người nhận không còn trong hệ thống.", permanent=True)
                release = who.quiet.release(now, zone(self.config.timezone)) if who.quiet else None
                if release is not None:
                    outbox.postpone(db, message.id, self.name, release)
                    stats.postponed += 1
                    return
                channel = self.choose(who)
                address = channel.address(who)
                if address is None:
                    recheck = now + self.config.address_recheck
                    outbox.wait_for_address(
                        db,
                        message.id,
                        self.name,
                        NO_ADDRESS,
                        recheck,
                        now + self.config.address_wait,
                    )
                    stats.waiting += 1
                    return
                try:
                    built = reports.at_send(db, message, now, self.config.reports)
                except reports.ReportUnavailable as exc:
                    raise SendError(str(exc), permanent=True) from exc
                extra, made = built if built is not None else ({}, [])
                try:
                    rendered = render(
                        db, message, who, self.config.public_url, self.config.agency_name, extra
                    )
                except Gone:
                    outbox.cancel_claimed(db, message.id, self.name, now)
                    stats.cancelled += 1
                    return
                files = tuple(made or outbox.attachments(db, message.id))
            outgoing = Outgoing(message.id, message.dedupe_key, message.kind, rendered, files)
            channel.send(outgoing, who)
        except SendError as exc:
            self._failed(message, exc, channel, address, stats)
            return
        except Exception as exc:
            log.exception("notification %d could not be prepared", message.id)
            self._failed(
                message,
                SendError(f"Lỗi khi soạn thông báo ({type(exc).__name__})."),
                channel,
                address,
                stats,
            )
            return
        with db_session(self.engine) as db:
            held = outbox.mark_sent(db, message.id, self.name, channel.name, address or "", now)
        NOTIFY_SENT.labels(channel.name).inc()
        stats.sent += 1
        if not held:
            NOTIFY_LEASE_LOST.inc()
            log.warning("notification %d was sent after its claim was taken over", message.id)

    def _failed(
        self,
        message: OutboxMessage,
        error: SendError,
        channel: Channel | None,
        address: str | None,
        stats: SendStats,
    ) -> None:
        final = error.permanent or message.attempts >= self.config.max_attempts
        retry_at = None if final else self.clock() + self.config.backoff(message.attempts)
        name = channel.name if channel is not None else None
        with db_session(self.engine) as db:
            outbox.mark_failed(db, message.id, self.name, error.message, retry_at, name, address)
        NOTIFY_FAILURES.labels(name or "none", "failed" if final else "retry").inc()
        if final:
            stats.failed += 1
            log.warning("notification %d failed for good: %s", message.id, error.message)
        else:
            stats.retried += 1
            log.info("notification %d failed, retrying at %s: %s", message.id, retry_at, error)

    def refresh_gauge(self) -> None:
        with db_session(self.engine) as db:
            counts = outbox.counts(db)
        for status in STATUSES:
            NOTIFY_OUTBOX.labels(status).set(counts.get(status, 0))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                stats = self.run_once()
                self.refresh_gauge()
            except Exception:
                log.exception("the notification sender failed; retrying")
                self._stop.wait(self.config.poll_s)
                continue
            if stats.claimed < self.config.batch:
                self._stop.wait(self.config.poll_s)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
