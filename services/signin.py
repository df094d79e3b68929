"""Signing in (đăng nhập), protected against guessing: per account and per client address.

Both adapters call ``sign_in``: the API's token route and the web sign-in form. Failures are
counted per account and per address in the database (so every replica sees them); enough of
them in the window lock the key, for a time that doubles with each lockout. While locked,
even the right password is refused. Admins list the locks and may lift one.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from store.db import db_session
from store.models import SigninThrottle, User
from store.users import authenticate

log = logging.getLogger(__name__)
THROTTLE = cast(Table, SigninThrottle.__table__)


@dataclass(frozen=True, slots=True)
class Policy:
    """How many failures lock what, for how long (defaults: settings ``signin_*``)."""

    account_failures: int = 10
    address_failures: int = 50  # offices sign in from behind one address
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=5)
    max_lockout: timedelta = timedelta(hours=4)


class Throttled(Exception):
    """Too many failed sign-ins: answered 429 with a Vietnamese message and Retry-After."""

    code = "too_many_attempts"

    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after.total_seconds()))
        minutes = math.ceil(self.retry_after_s / 60)
        self.message = (
            "Đăng nhập sai quá nhiều lần; tài khoản tạm khóa. "
            f"Vui lòng thử lại sau {minutes} phút hoặc liên hệ quản trị viên."
        )
        super().__init__(self.message)


@dataclass(frozen=True, slots=True)
class Lock:
    """A throttled key as admins see it."""

    key: str
    failures: int
    last_failure_at: datetime
    locked_until: datetime | None
    lockouts: int


def _keys(username: str, address: str | None) -> list[str]:
    keys = [f"user:{username.strip().lower()[:120]}"]
    if address:
        keys.append(f"addr:{address[:120]}")
    return keys


def sign_in(
    engine: Engine,
    username: str,
    password: str,
    address: str | None,
    now: datetime,
    policy: Policy = Policy(),
) -> User | None:
    """The user whose password this is, None for a wrong one; raises ``Throttled`` when locked.

    Runs its own short transactions: a failure is recorded even though the request fails.
    Call it off the event loop (argon2 takes tens of milliseconds on purpose).
    """
    keys = _keys(username, address)
    with db_session(engine) as db:
        rows = list(db.scalars(select(SigninThrottle).where(SigninThrottle.key.in_(keys))))
    locked = [r.locked_until for r in rows if r.locked_until is not None and r.locked_until > now]
    if locked:
        log.warning("sign-in refused while locked: user=%r address=%s", username, address)
        raise Throttled(max(locked) - now)
    with db_session(engine) as db:
        user = authenticate(db, username, password)
        if user is not None:
            db.expunge(user)
    if user is not None:
        with db_session(engine) as db:
            db.execute(delete(SigninThrottle).where(SigninThrottle.key == keys[0]))
        return user
    limits = [policy.account_failures, policy.address_failures]
    with db_session(engine) as db:
        for key, limit in zip(keys, limits, strict=False):
            _record_failure(db, key, limit, now, policy)
    log.warning("sign-in failed: user=%r address=%s", username, address)
    return None


def _record_failure(db: Any, key: str, limit: int, now: datetime, policy: Policy) -> None:
    insert: Any = (
        postgresql.insert(THROTTLE)
        if db.get_bind().dialect.name == "postgresql"
        else sqlite.insert(THROTTLE)
    )
    db.execute(
        insert.values(
            key=key,
            failures=0,
            window_started_at=now,
            last_failure_at=now,
            locked_until=None,
            lockouts=0,
        ).on_conflict_do_nothing(index_elements=["key"])
    )
    row = db.scalars(
        select(SigninThrottle).where(SigninThrottle.key == key).with_for_update()
    ).one()
    if now - row.window_started_at > policy.window:
        row.failures, row.window_started_at = 0, now
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= limit:
        lockout = min(policy.lockout * (2**row.lockouts), policy.max_lockout)
        row.locked_until = now + lockout
        row.lockouts += 1
        row.failures, row.window_started_at = 0, now
        log.warning("sign-in locked: %s for %s after %d failures", key, lockout, limit)


def locks(engine: Engine) -> list[Lock]:
    """Keys with recent failures or a lock, most recent first (for admins)."""
    with db_session(engine) as db:
        rows = db.scalars(select(SigninThrottle).order_by(SigninThrottle.last_failure_at.desc()))
        return [
            Lock(r.key, r.failures, r.last_failure_at, r.locked_until, r.lockouts) for r in rows
        ]


def unlock(engine: Engine, key: str) -> bool:
    """Lift a lock (an admin's decision); True when there was one."""
    with db_session(engine) as db:
        result = db.execute(delete(SigninThrottle).where(SigninThrottle.key == key))
    log.warning("sign-in unlocked by an admin: %s", key)
    return bool(getattr(result, "rowcount", 0))
