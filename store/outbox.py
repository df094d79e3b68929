"""The outbox (hộp thư đi): queue a message in the caller's transaction, claim due ones for a
sender, mark them sent once, schedule retries, cancel what lost its cause.

Every write is one statement guarded by the row's status (and the claiming sender's token),
so two senders, a restart or a retry from the page cannot send a message twice through
this table; what remains is the window between a channel accepting a message and the
commit of ``mark_sent`` (README: "Notifications").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Date,
    Integer,
    String,
    Table,
    bindparam,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session as DbSession

from store.models import OutboxAttachment, OutboxMessage, ViolationRecord

OUTBOX = cast(Table, OutboxMessage.__table__)
UNSENT = ("queued", "failed", "waiting")
Identity = tuple[int, date, str, str]  # a violation's (employee, day, session, kind)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    media_type: str
    content: bytes


def _insert(db: DbSession) -> Any:
    return (postgresql if db.get_bind().dialect.name == "postgresql" else sqlite).insert(OUTBOX)


def add(
    db: DbSession,
    *,
    kind: str,
    recipient: str,
    dedupe_key: str,
    template: str,
    context: dict[str, Any],
    subject: str | None,
    not_before: datetime,
    now: datetime,
    attachments: Sequence[Attachment] = (),
) -> int | None:
    """Queue one message unless ``dedupe_key`` is already there; its id, or None if it was."""
    stmt = (
        _insert(db)
        .values(
            kind=kind,
            recipient=recipient,
            dedupe_key=dedupe_key,
            subject=subject,
            template=template,
            context=json.dumps(context, ensure_ascii=False, default=str),
            status="queued",
            attempts=0,
            next_attempt_at=not_before,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OUTBOX.c.id)
    )
    new_id = db.execute(stmt).scalar()
    if new_id is None:
        return None
    for a in attachments:
        db.add(
            OutboxAttachment(
                message_id=new_id, filename=a.filename, media_type=a.media_type, content=a.content
            )
        )
    db.flush()
    return int(new_id)


_PG_NOTICES = text(
    "INSERT INTO outbox (kind, recipient, dedupe_key, subject, template, context, status,"
    " attempts, next_attempt_at, created_at) "
    "SELECT 'violation_flagged', 'employee:' || v.employee_id, 'violation:' || v.id, NULL,"
    " 'violation_flagged', '{\"violation_id\": ' || v.id || '}', 'queued', 0, :not_before, :now "
    "FROM unnest(:e, :d, :s, :k) AS k(e, d, s, k) "
    "JOIN violations v ON v.employee_id = k.e AND v.day = k.d AND v.session = k.s"
    " AND v.kind = k.k "
    "ON CONFLICT (dedupe_key) DO UPDATE SET status = 'queued', cancelled_at = NULL,"
    " next_attempt_at = EXCLUDED.next_attempt_at WHERE outbox.status = 'cancelled'"
).bindparams(
    bindparam("e", type_=ARRAY(Integer)),
    bindparam("d", type_=ARRAY(Date)),
    bindparam("s", type_=ARRAY(String)),
    bindparam("k", type_=ARRAY(String)),
)
_PG_CANCEL_NOTICES = text(
    "UPDATE outbox SET status = 'cancelled', cancelled_at = :now, lease_until = NULL "
    "FROM unnest(:e, :d, :s, :k) AS k(e, d, s, k) "
    "JOIN violations v ON v.employee_id = k.e AND v.day = k.d AND v.session = k.s"
    " AND v.kind = k.k "
    "WHERE outbox.dedupe_key = 'violation:' || v.id"
    " AND outbox.status IN ('queued', 'failed', 'waiting')"
).bindparams(
    bindparam("e", type_=ARRAY(Integer)),
    bindparam("d", type_=ARRAY(Date)),
    bindparam("s", type_=ARRAY(String)),
    bindparam("k", type_=ARRAY(String)),
)


def _arrays(wanted: list[Identity]) -> dict[str, list[Any]]:
    return {
        "e": [w[0] for w in wanted],
        "d": [w[1] for w in wanted],
        "s": [w[2] for w in wanted],
        "k": [w[3] for w in wanted],
    }


def violation_notices(
    db: DbSession, identities: Iterable[Identity], not_before: datetime, now: datetime
) -> int:
    """Make sure each violation has its notice to the person (``violation:<id>``), once.

    A notice cancelled when its violation was withdrawn is queued again if it comes back;
    one already queued, sending or sent is left as it is. On PostgreSQL one statement over
    arrays of the identities. Returns the rows written."""
    wanted = sorted(set(identities))
    if not wanted:
        return 0
    if db.get_bind().dialect.name == "postgresql":
        result = db.execute(_PG_NOTICES, {**_arrays(wanted), "not_before": not_before, "now": now})
        return int(getattr(result, "rowcount", 0) or 0)
    v = ViolationRecord
    rows = db.execute(
        select(v.id, v.employee_id).where(
            tuple_(v.employee_id, v.day, v.session, v.kind).in_(wanted)
        )
    ).all()
    if not rows:
        return 0
    stmt = _insert(db)
    stmt = stmt.on_conflict_do_update(
        index_elements=["dedupe_key"],
        set_={"status": "queued", "cancelled_at": None, "next_attempt_at": not_before},
        where=OUTBOX.c.status == "cancelled",
    )
    result = db.execute(
        stmt,
        [
            {
                "kind": "violation_flagged",
                "recipient": f"employee:{employee_id}",
                "dedupe_key": f"violation:{vid}",
                "subject": None,
                "template": "violation_flagged",
                "context": json.dumps({"violation_id": vid}),
                "status": "queued",
                "attempts": 0,
                "next_attempt_at": not_before,
                "created_at": now,
            }
            for vid, employee_id in rows
        ],
    )
    return int(getattr(result, "rowcount", 0) or 0)


def cancel_violation_notices(db: DbSession, identities: Iterable[Identity], now: datetime) -> int:
    """Cancel the unsent notices of withdrawn violations; returns how many."""
    wanted = sorted(set(identities))
    if not wanted:
        return 0
    if db.get_bind().dialect.name == "postgresql":
        result = db.execute(_PG_CANCEL_NOTICES, {**_arrays(wanted), "now": now})
        return int(getattr(result, "rowcount", 0) or 0)
    v = ViolationRecord
    keys = [
        f"violation:{vid}"
        for vid in db.scalars(
            select(v.id).where(tuple_(v.employee_id, v.day, v.session, v.kind).in_(wanted))
        )
    ]
    return cancel(db, keys, now)


def cancel(db: DbSession, dedupe_keys: Sequence[str], now: datetime) -> int:
    """Cancel the messages of ``dedupe_keys`` not sent yet (queued, or failed)."""
    if not dedupe_keys:
        return 0
    result = db.execute(
        update(OUTBOX)
        .where(OUTBOX.c.dedupe_key.in_(dedupe_keys), OUTBOX.c.status.in_(UNSENT))
        .values(status="cancelled", cancelled_at=now, lease_until=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _not_expired(now: datetime) -> Any:
    return OUTBOX.c.expires_at.is_(None) | (OUTBOX.c.expires_at > now)


def _due(now: datetime) -> Any:
    # A message waiting for an address is looked at again at its next check, in case the
    # address came by a path that did not release it (a channel configured since), until
    # it expires.
    queued = (
        (OUTBOX.c.status == "queued") | ((OUTBOX.c.status == "waiting") & _not_expired(now))
    ) & (OUTBOX.c.next_attempt_at <= now)
    # A sender that died holding a message: its lease ran out, another may take it.
    abandoned = (OUTBOX.c.status == "sending") & (OUTBOX.c.lease_until < now)
    return queued | abandoned


def claim(
    db: DbSession, sender: str, now: datetime, lease: timedelta, limit: int
) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages for ``sender`` (status ``sending``, a lease, one
    more attempt), in the caller's transaction.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so concurrent senders take disjoint rows;
    SQLite has one writer at a time, and the status guard does the rest."""
    pick = select(OUTBOX.c.id).where(_due(now)).order_by(OUTBOX.c.next_attempt_at).limit(limit)
    if db.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(
        db.scalars(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(pick.scalar_subquery()), _due(now))
            .values(
                status="sending",
                claimed_by=sender,
                lease_until=now + lease,
                attempts=OUTBOX.c.attempts + 1,
            )
            .returning(OUTBOX.c.id)
        )
    )
    if not ids:
        return []
    return list(
        db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
    )


def _held(message_id: int, sender: str) -> Any:
    return (
        (OUTBOX.c.id == message_id)
        & (OUTBOX.c.status == "sending")
        & (OUTBOX.c.claimed_by == sender)
    )


def mark_sent(
    db: DbSession, message_id: int, sender: str, channel: str, address: str, now: datetime
) -> bool:
    """Record the message sent, if ``sender`` still holds it; False if not (its lease was
    taken over: the message may have gone twice)."""
    result = db.execute(
        update(OUTBOX)
        .where(_held(message_id, sender))
        .values(
            status="sent",
            sent_at=now,
            lease_until=None,
            channel=channel,
            address=address,
            last_error=None,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def mark_failed(
    db: DbSession,
    message_id: int,
    sender: str,
    error: str,
    retry_at: datetime | None,
    channel: str | None = None,
    address: str | None = None,
) -> bool:
    """A failed attempt: queued again at ``retry_at``, or ``failed`` for good when None."""
    values: dict[str, Any] = {
        "status": "queued" if retry_at is not None else "failed",
        "lease_until": None,
        "last_error": error[:2000],
        "channel": channel,
        "address": address,
    }
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    result = db.execute(update(OUTBOX).where(_held(message_id, sender)).values(**values))
    return bool(getattr(result, "rowcount", 0))


def postpone(db: DbSession, message_id: int, sender: str, until: datetime) -> bool:
    """Give back a claimed message untried (quiet hours): the attempt does not count."""
    result = db.execute(
        update(OUTBOX)
        .where(_held(message_id, sender))
        .values(
            status="queued",
            lease_until=None,
            next_attempt_at=until,
            attempts=OUTBOX.c.attempts - 1,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def wait_for_address(
    db: DbSession,
    message_id: int,
    sender: str,
    reason: str,
    recheck_at: datetime,
    expires_at: datetime,
) -> bool:
    """Give back a claimed message whose recipient has no address yet (chờ địa chỉ): not an
    attempt; it goes when the address is added (``release_waiting``) or at ``recheck_at``,
    unless the address comes after ``expires_at`` (kept from the first wait)."""
    result = db.execute(
        update(OUTBOX)
        .where(_held(message_id, sender))
        .values(
            status="waiting",
            lease_until=None,
            next_attempt_at=recheck_at,
            expires_at=func.coalesce(OUTBOX.c.expires_at, expires_at),
            attempts=OUTBOX.c.attempts - 1,
            last_error=reason[:2000],
            channel=None,
            address=None,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def release_waiting(db: DbSession, recipients: Sequence[str], now: datetime) -> int:
    """The messages waiting for these recipients' address are due now (an address was added,
    in the caller's transaction); returns how many. One that waited past its ``expires_at``
    stays unsent: the sender marks it expired."""
    released = 0
    for start in range(0, len(recipients), 500):
        result = db.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.status == "waiting",
                OUTBOX.c.recipient.in_(recipients[start : start + 500]),
                _not_expired(now),
            )
            .values(status="queued", next_attempt_at=now)
        )
        released += int(getattr(result, "rowcount", 0) or 0)
    return released


def expire_waiting(db: DbSession, now: datetime, reason: str) -> int:
    """Mark ``expired`` (hết hạn) the messages that waited for an address past their
    ``expires_at``: they are never sent, whatever address comes later; returns how many."""
    result = db.execute(
        update(OUTBOX)
        .where(OUTBOX.c.status == "waiting", OUTBOX.c.expires_at <= now)
        .values(status="expired", lease_until=None, last_error=reason[:2000])
    )
    return int(getattr(result, "rowcount", 0) or 0)


def cancel_claimed(db: DbSession, message_id: int, sender: str, now: datetime) -> bool:
    """Cancel a claimed message whose cause went away while it waited."""
    result = db.execute(
        update(OUTBOX)
        .where(_held(message_id, sender))
        .values(status="cancelled", cancelled_at=now, lease_until=None)
    )
    return bool(getattr(result, "rowcount", 0))


def retry(db: DbSession, message_id: int, now: datetime) -> bool:
    """Queue a failed (or a waiting, not expired) message again now, with its attempts
    counted afresh (the page's button)."""
    result = db.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.id == message_id,
            (OUTBOX.c.status == "failed") | ((OUTBOX.c.status == "waiting") & _not_expired(now)),
        )
        .values(status="queued", attempts=0, next_attempt_at=now, last_error=None)
    )
    return bool(getattr(result, "rowcount", 0))


def attachments(db: DbSession, message_id: int) -> list[Attachment]:
    rows = db.scalars(
        select(OutboxAttachment)
        .where(OutboxAttachment.message_id == message_id)
        .order_by(OutboxAttachment.id)
    )
    return [Attachment(a.filename, a.media_type, a.content) for a in rows]


def counts(db: DbSession, kind: str | None = None) -> dict[str, int]:
    """Messages per status (of one kind if given), for the page and the metric."""
    query = select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)
    if kind is not None:
        query = query.where(OUTBOX.c.kind == kind)
    return {status: int(n) for status, n in db.execute(query).all()}


def _filtered(status: str | None, kind: str | None) -> list[Any]:
    where = []
    if status is not None:
        where.append(OutboxMessage.status == status)
    if kind is not None:
        where.append(OutboxMessage.kind == kind)
    return where


def page(
    db: DbSession,
    status: str | None,
    limit: int,
    before: int | None,
    *,
    after: int | None = None,
    kind: str | None = None,
) -> list[OutboxMessage]:
    """Messages newest first (optionally of one status and kind), keyset-paginated by id:
    the ``limit`` older than ``before``, or the ``limit`` just newer than ``after``."""
    query = select(OutboxMessage).where(*_filtered(status, kind)).limit(limit)
    if after is not None:
        rows = db.scalars(query.where(OutboxMessage.id > after).order_by(OutboxMessage.id))
        return list(reversed(list(rows)))
    if before is not None:
        query = query.where(OutboxMessage.id < before)
    return list(db.scalars(query.order_by(OutboxMessage.id.desc())))


def exists_beyond(
    db: DbSession,
    status: str | None,
    kind: str | None,
    *,
    newer_than: int | None = None,
    older_than: int | None = None,
) -> bool:
    """Whether a message of the filter lies newer than ``newer_than`` or older than
    ``older_than`` (the page's "Mới hơn" and "Cũ hơn" links)."""
    query = select(OutboxMessage.id).where(*_filtered(status, kind))
    if newer_than is not None:
        query = query.where(OutboxMessage.id > newer_than)
    if older_than is not None:
        query = query.where(OutboxMessage.id < older_than)
    return db.scalar(query.limit(1)) is not None
