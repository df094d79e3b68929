"""Users who sign in (người dùng), their password hashes (argon2) and their scope."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from store.models import Agency, Unit, User

ROLES = ("unit_head", "noi_vu", "hr_clerk", "admin", "auditor", "employee")


PASSWORD_PROFILES = {
    "rfc9106_low_memory": profiles.RFC_9106_LOW_MEMORY,
    "cheapest": profiles.CHEAPEST,
}


@cache
def hasher_for(profile: str) -> PasswordHasher:
    """The argon2id hasher of one of PASSWORD_PROFILES (KeyError for another name).

    A stored hash carries its own parameters, so one made under another profile still verifies.
    """
    return PasswordHasher.from_parameters(PASSWORD_PROFILES[profile])


def _hasher() -> PasswordHasher:
    """The hasher of KC_PASSWORD_HASH_PROFILE (RFC 9106 low-memory unless the tests say)."""
    from kycuong.settings import get_settings

    return hasher_for(get_settings().password_hash_profile)


@cache
def _dummy_hash() -> str:
    """Verifying against this keeps a wrong username as slow as a wrong password."""
    return _hasher().hash("not-a-password")


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
        raise UserError(f"Vai trò không hợp lệ; chọn một trong: {', '.join(ROLES)}")
    if len(password) < 8:
        raise UserError("Mật khẩu cần ít nhất 8 ký tự")
    if db.scalar(select(User).where(User.username == username)) is not None:
        raise UserError(f"Tài khoản {username} đã tồn tại")
    agency_id = unit_id = None
    if agency_code is not None:
        agency_id = db.scalar(select(Agency.id).where(Agency.code == agency_code))
        if agency_id is None:
            raise UserError(f"Không tìm thấy cơ quan {agency_code}")
    if unit_code is not None:
        query = select(Unit.id).where(Unit.code == unit_code)
        if agency_id is not None:
            query = query.where(Unit.agency_id == agency_id)
        units = list(db.scalars(query))
        if len(units) != 1:
            raise UserError(
                f"Không tìm thấy đơn vị {unit_code} (hoặc trùng mã ở nhiều cơ quan: thêm --agency)"
            )
        unit_id = units[0]
    if role == "employee":
        raise UserError("Tài khoản cán bộ tạo bằng lệnh users create-staff (gắn với một cán bộ)")
    if role == "unit_head" and unit_id is None:
        raise UserError("Trưởng đơn vị cần có đơn vị (--unit)")
    user = User(
        username=username,
        full_name=full_name,
        password_hash=_hasher().hash(password),
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
    return _hasher().hash(password)


def password_matches(user: User, password: str) -> bool:
    try:
        return bool(_hasher().verify(user.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def authenticate(db: DbSession, username: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.username == username, User.active.is_(True)))
    try:
        _hasher().verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def full_names(db: DbSession, usernames: set[str]) -> dict[str, str]:
    """The full name of each username that has one (a decision's author as people know them)."""
    if not usernames:
        return {}
    rows = db.execute(
        select(User.username, User.full_name).where(User.username.in_(sorted(usernames)))
    )
    return {username: name for username, name in rows if name}
