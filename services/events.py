"""Call points for notifications (thông báo), called inside the transaction of the change
that causes them. They do nothing yet: the notifications outbox (issue 12, services/
notifications*) writes its messages here, in the same transaction, when it is wired in."""

from __future__ import annotations

from sqlalchemy.orm import Session as DbSession


def request_created(db: DbSession, request_id: int) -> None:
    """A member of staff sent a request (giải trình, bổ sung giờ chấm, xin nghỉ, công tác)."""
    del db, request_id


def request_decided(db: DbSession, request_id: int) -> None:
    """A unit head approved or refused a request: the person is to be told."""
    del db, request_id


def violation_flagged(db: DbSession, violation_id: int) -> None:
    """A violation of a person was found (late, absent, missing punch): the person is to be
    told once, with a link to explain. Not called yet: the runner writes violations in bulk;
    the outbox hooks there (runner/recompute.py) at merge."""
    del db, violation_id
