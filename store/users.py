"""Users who sign in (người dùng), their password hashes (argon2) and their scope."""

from __future__ import annotations

from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from store.models import Agency, Unit, User

ROLES = ("unit_head", "noi_vu", "hr_clerk", "admin", "auditor")
_hasher = PasswordHasher()
# Verifying against this keeps a wrong username as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password")


class UserError(ValueError):
    """A user that cannot be created as asked."""


def create_user(
    db: DbSession,
    username: str,
    password: str,
    role: str,
    *,
    full_name: str = "",
    agency_code: str | None = None,
    unit_code: str | None = None,
) -> User:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise UserError("password must have at least 8 characters")
    if db.scalar(select(User).where(User.username == username)) is not None:
        raise UserError(f"user {username!r} exists")
    agency_id = unit_id = None
    if agency_code is not None:
        agency_id = db.scalar(select(Agency.id).where(Agency.code == agency_code))
        if agency_id is None:
            raise UserError(f"no agency {agency_code!r}")
    if unit_code is not None:
        query = select(Unit.id).where(Unit.code == unit_code)
        if agency_id is not None:
            query = query.where(Unit.agency_id == agency_id)
        units = list(db.scalars(query))
        if len(units) != 1:
            raise UserError(f"unit {unit_code!r} not found (or ambiguous: give --agency)")
        unit_id = units[0]
    if role == "unit_head" and unit_id is None:
        raise UserError("a unit head needs --unit")
    user = User(
        username=username,
        full_name=full_name,
        password_hash=_hasher.hash(password),
        role=role,
        unit_id=unit_id,
        agency_id=agency_id,
        active=True,
        created_at=datetime.now(UTC),
    )
    db.add(user)
    db.flush()
    return user


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(user: User, password: str) -> bool:
    try:
        return bool(_hasher.verify(user.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def authenticate(db: DbSession, username: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.username == username, User.active.is_(True)))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user
