"""Users who sign in (người dùng), their password hashes (argon2) and their scope."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from store.models import Agency, Employee, Unit, User

ROLES = ("unit_head", "noi_vu", "hr_clerk", "admin", "auditor", "employee")
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
    if role == "employee":
        raise UserError("a staff account is made with create_staff (users create-staff)")
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


def authenticate(db: DbSession, username: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.username == username, User.active.is_(True)))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


# Letters and digits that cannot be mistaken for one another when read out or copied by hand.
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def one_time_code(length: int = 10) -> str:
    """A first password for a staff account, to be changed at the first sign-in."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


def create_staff(db: DbSession, employee: Employee, now: datetime) -> tuple[User, str]:
    """A sign-in account (role ``employee``) for one person, named by their employee code;
    returns it with its one-time code. ``UserError`` if the person already has one."""
    if db.scalar(select(User.id).where(User.employee_id == employee.id)) is not None:
        raise UserError(f"Cán bộ {employee.code} đã có tài khoản")
    if db.scalar(select(User.id).where(User.username == employee.code)) is not None:
        raise UserError(f"Tên đăng nhập {employee.code} đã được dùng")
    code = one_time_code()
    user = User(
        username=employee.code,
        full_name=employee.full_name,
        password_hash=_hasher.hash(code),
        role="employee",
        unit_id=None,
        agency_id=None,
        employee_id=employee.id,
        must_change_password=True,
        active=True,
        created_at=now,
    )
    db.add(user)
    db.flush()
    return user, code


def set_password(db: DbSession, user: User, password: str, now: datetime) -> None:
    """A new password; every session issued before ``now`` ends (tokens_valid_after)."""
    user.password_hash = _hasher.hash(password)
    user.must_change_password = False
    user.tokens_valid_after = now
    db.flush()


def password_matches(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
