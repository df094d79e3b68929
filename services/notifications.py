"""Notifications (thông báo): queue a message from any transaction, and the operator's view
of the outbox (queued, sent, failed with the reason) with a retry.

``enqueue`` is the one call a change makes to tell someone: it writes to the outbox in the
caller's transaction, so the message exists exactly when the change is committed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from kycuong.errors import Conflict, Invalid, NotFound
from kycuong.inputs import quoted
from kycuong.labels import NOTIFICATION_KIND, NOTIFICATION_STATUS
from services.scope import Scope
from store import outbox
from store.models import Employee, NotificationPreference, OutboxMessage, User
from store.outbox import Attachment

STATUS = NOTIFICATION_STATUS
KIND = NOTIFICATION_KIND


def enqueue(
    db: DbSession,
    *,
    kind: str,
    recipient: str,
    dedupe_key: str,
    template: str,
    context: dict[str, Any],
    subject: str | None = None,
    not_before: datetime | None = None,
    attachments: Sequence[Attachment] = (),
    now: datetime | None = None,
) -> int | None:
    """Queue a message in the caller's transaction; its id, or None if ``dedupe_key`` exists.

    ``recipient``: ``notify.recipients.employee(id)`` or ``.user(id)``; ``template``: a name
    under notify/templates (``.subject``, ``.txt``, ``.html``; ``plain`` takes ``title``,
    ``body`` and ``link``); ``subject`` overrides the template's. Sent from ``not_before``
    (default now), later within the person's quiet hours."""
    at = now or datetime.now(UTC)
    return outbox.add(
        db,
        kind=kind,
        recipient=recipient,
        dedupe_key=dedupe_key,
        template=template,
        context=context,
        subject=subject,
        not_before=not_before or at,
        now=at,
        attachments=attachments,
    )


def cancel(db: DbSession, dedupe_keys: Sequence[str], now: datetime | None = None) -> int:
    """Cancel messages not sent yet (their cause went away)."""
    return outbox.cancel(db, dedupe_keys, now or datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    kind: str
    recipient: str
    # Where an admin enters the recipient's address: the person's page, or the account's.
    recipient_path: str | None
    status: str
    attempts: int
    channel: str | None
    address: str | None
    error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    expires_at: datetime | None  # a message waiting for an address is not sent after it


@dataclass(frozen=True, slots=True)
class OutboxPage:
    """One page of the outbox, newest first; ``next_before`` / ``previous_after``: the keys
    of the older / newer page of the same filter (None: there is none)."""

    counts: dict[str, int]
    messages: list[MessageView]
    next_before: int | None
    previous_after: int | None = None


def _names(db: DbSession, refs: set[str]) -> dict[str, str]:
    """``employee:<id>`` → the person's name; ``user:<id>`` → the account's name."""
    ids: dict[str, set[int]] = {"employee": set(), "user": set()}
    for ref in refs:
        kind, _, raw = ref.partition(":")
        if kind in ids and raw.isdigit():
            ids[kind].add(int(raw))
    names: dict[str, str] = {}
    if ids["employee"]:
        for i, name in db.execute(
            select(Employee.id, Employee.full_name).where(Employee.id.in_(ids["employee"]))
        ):
            names[f"employee:{i}"] = name
    if ids["user"]:
        for i, username, full_name in db.execute(
            select(User.id, User.username, User.full_name).where(User.id.in_(ids["user"]))
        ):
            names[f"user:{i}"] = f"{full_name or username} (tài khoản {username})"
    return names


def _recipient_path(ref: str) -> str | None:
    kind, _, raw = ref.partition(":")
    if not raw.isdigit():
        return None
    return {"employee": f"/can-bo/{raw}", "user": f"/nguoi-dung/{raw}"}.get(kind)


def _view(m: OutboxMessage, names: dict[str, str]) -> MessageView:
    return MessageView(
        id=m.id,
        kind=KIND.get(m.kind, m.kind),
        recipient=names.get(m.recipient, m.recipient),
        recipient_path=_recipient_path(m.recipient),
        status=m.status,
        attempts=m.attempts,
        channel=m.channel,
        address=m.address,
        error=m.last_error,
        created_at=m.created_at,
        next_attempt_at=m.next_attempt_at,
        sent_at=m.sent_at,
        expires_at=m.expires_at,
    )


def page(
    db: DbSession,
    scope: Scope,
    status: str | None,
    before: int | None,
    limit: int = 50,
    *,
    after: int | None = None,
    kind: str | None = None,
) -> OutboxPage:
    """A page of messages, newest first, optionally of one status and one kind: the newest,
    those older than ``before`` or those just newer than ``after`` (admins:
    ``notifications:admin``). An unknown status or kind filters nothing."""
    scope.require("notifications:admin")
    chosen = status if status in STATUS else None
    of_kind = kind if kind in KIND else None
    rows = outbox.page(db, chosen, limit, before, after=after, kind=of_kind)
    names = _names(db, {m.recipient for m in rows})
    older = newer = False
    if rows:
        older = outbox.exists_beyond(db, chosen, of_kind, older_than=rows[-1].id)
        newer = outbox.exists_beyond(db, chosen, of_kind, newer_than=rows[0].id)
    return OutboxPage(
        counts=outbox.counts(db, of_kind),
        messages=[_view(m, names) for m in rows],
        next_before=rows[-1].id if older else None,
        previous_after=rows[0].id if newer else None,
    )


def retry(db: DbSession, scope: Scope, message_id: int, now: datetime) -> str:
    """Queue a failed message again now (Gửi lại), or a waiting one for its address to be
    looked up now (Kiểm tra lại ngay: sent if there is one, else it waits on, no attempt
    spent); the status it had (``NotFound``; ``Conflict`` if it is neither, or expired)."""
    scope.require("notifications:admin")
    message = db.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("Thông báo")
    status = message.status
    if not outbox.retry(db, message_id, now):
        raise Conflict(
            "not_failed",
            "Chỉ gửi lại được thông báo đang ở trạng thái gửi không được, hoặc kiểm tra lại "
            "thông báo đang chờ địa chỉ (chưa hết hạn).",
        )
    return status


CHANNELS = {"email": "E-mail", "webhook": "Webhook (Zalo OA, nhóm chat)"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def set_contact(
    db: DbSession,
    recipient: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    channel: str | None = None,
    quiet: str | None = None,
    now: datetime | None = None,
) -> None:
    """Set a person's (``employee:<id>``) or account's (``user:<id>``) e-mail, phone, channel
    (``email``, ``webhook``, ``auto``) and quiet hours (``21:00-06:30``, ``none``, ``default``).
    A value left None is left as it is; ``Invalid`` names what is wrong, in Vietnamese."""
    from notify.quiet import QuietHours

    kind, _, raw = recipient.partition(":")
    target: Employee | User | None = None
    if raw.isdigit():
        target = db.get(Employee, int(raw)) if kind == "employee" else db.get(User, int(raw))
    if target is None or kind not in ("employee", "user"):
        raise NotFound("Người nhận")
    if email is not None:
        email = email.strip()
        if email and (len(email) > 255 or not _EMAIL.match(email)):
            raise Invalid("bad_email", f"Địa chỉ e-mail “{quoted(email)}” không hợp lệ.")
        target.email = email or None
    if phone is not None:
        phone = phone.strip()
        if phone and (len(phone) > 32 or not phone.lstrip("+").replace(" ", "").isdigit()):
            raise Invalid("bad_phone", f"Số điện thoại “{quoted(phone)}” không hợp lệ.")
        target.phone = phone or None
    if target.email or target.phone:
        # The notices that waited for an address (chờ địa chỉ) go now.
        outbox.release_waiting(db, [recipient], now or datetime.now(UTC))
    if channel is None and quiet is None:
        return
    pref = db.get(NotificationPreference, recipient)
    if pref is None:
        pref = NotificationPreference(recipient=recipient, updated_at=now or datetime.now(UTC))
        db.add(pref)
    if channel is not None:
        if channel not in (*CHANNELS, "auto"):
            raise Invalid("bad_channel", "Kênh nhận phải là email, webhook hoặc auto.")
        pref.channel = None if channel == "auto" else channel
    if quiet is not None:
        if quiet == "default":
            pref.quiet_from = pref.quiet_to = None
        elif quiet == "none":
            pref.quiet_from = pref.quiet_to = "00:00"
        else:
            try:
                hours = QuietHours.parse(quiet)
            except ValueError:
                hours = None
            if hours is None:
                raise Invalid(
                    "bad_quiet_hours",
                    f"Giờ yên lặng “{quoted(quiet)}” không hợp lệ (dạng 21:00-06:30).",
                )
            pref.quiet_from, pref.quiet_to = f"{hours.start:%H:%M}", f"{hours.end:%H:%M}"
    pref.updated_at = now or datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class OwnPreferences:
    """What a signed-in person chose for their notifications (cài đặt nhận thông báo)."""

    recipient: str  # "employee:<id>" for staff, "user:<id>" for other accounts
    email: str
    phone: str
    channel: str  # "auto", "email" or "webhook"
    quiet: str  # "default", "none" or "21:00-06:30"


def _own_recipient(scope: Scope) -> str:
    return f"employee:{scope.employee_id}" if scope.employee_id else f"user:{scope.user_id}"


def own_preferences(db: DbSession, scope: Scope) -> OwnPreferences:
    """The visitor's own address, channel and quiet hours: staff read their person's record
    (violation notices go to it), other accounts their account's (digests, reports)."""
    recipient = _own_recipient(scope)
    target: Employee | User | None
    if scope.employee_id:
        target = db.get(Employee, scope.employee_id)
    else:
        target = db.get(User, scope.user_id)
    if target is None:
        raise NotFound("Người nhận")
    pref = db.get(NotificationPreference, recipient)
    quiet = "default"
    if pref is not None and (pref.quiet_from or pref.quiet_to):
        same = pref.quiet_from == pref.quiet_to
        quiet = "none" if same else f"{pref.quiet_from}-{pref.quiet_to}"
    return OwnPreferences(
        recipient=recipient,
        email=target.email or "",
        phone=target.phone or "",
        channel=(pref.channel if pref is not None and pref.channel else "auto"),
        quiet=quiet,
    )


def set_own_preferences(
    db: DbSession,
    scope: Scope,
    *,
    email: str,
    phone: str,
    channel: str,
    quiet: str,
    now: datetime,
) -> None:
    """Save the visitor's own choices; ``Invalid`` (with the field's name in ``code``) names
    what is wrong, in Vietnamese. Notices that waited for an address go once one is given."""
    set_contact(
        db,
        _own_recipient(scope),
        email=email,
        phone=phone,
        channel=channel,
        quiet=quiet,
        now=now,
    )
